//! The rules that tie orders to stock: placing an order takes stock from its listing in the same
//! step that prices it; cancelling or declining gives the stock back; an offline sale takes from the
//! selling device's quota first; quotas move stock in and out of a device's keeping.
//!
//! Storage backends and the device's store load the rows, call these functions, and save what they
//! return, all inside one transaction. Because every check happens before anything changes, a
//! refused order leaves the listing exactly as it was.

use crate::error::{Error, Field, FieldError};
use crate::ids::OrderId;
use crate::listing::Listing;
use crate::order::{Buyer, Channel, Fulfilment, NewOrder, Order, OrderAction, OrderLine, PaymentMethod, StreamRef};
use crate::quantity::Quantity;
use crate::time::Timestamp;

/// Everything about a buyer's order except the product, whose price and stock come from the
/// listing and nowhere else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    pub id: OrderId,
    pub quantity: Quantity,
    pub buyer: Buyer,
    pub fulfilment: Fulfilment,
    pub payment_method: PaymentMethod,
    pub channel: Channel,
    pub note: String,
    /// The live stream ordered from (channel `live`), checked by the caller.
    pub stream: Option<StreamRef>,
}

/// Places `request` against `listing`: checks the order, then takes the stock. On any refusal the
/// listing is unchanged.
pub fn place(listing: &mut Listing, request: OrderRequest, now: Timestamp) -> Result<Order, Vec<FieldError>> {
    let quantity = request.quantity;
    let line = OrderLine::price(listing, quantity).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    let mut order = Order::new(
        NewOrder {
            id: request.id,
            lines: vec![line],
            buyer: request.buyer,
            fulfilment: request.fulfilment,
            payment_method: request.payment_method,
            channel: request.channel,
            note: request.note,
        },
        now,
    )?;
    listing.take(quantity, now).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    order.stream = request.stream;
    Ok(order)
}

/// Applies `action` to `order`; when the action ends the order without delivery (cancel, decline),
/// the stock of each line goes back to its listing, which `listing_for` finds. A decline keeps its
/// reason in the order's note.
pub fn step(
    order: &mut Order,
    action: OrderAction,
    reason: Option<&str>,
    now: Timestamp,
    mut listing_for: impl FnMut(&OrderLine) -> Option<Listing>,
) -> Result<Vec<Listing>, Error> {
    let held = order.status.holds_stock();
    let mut next = order.clone();
    next.apply(action, now)?;
    if let Some(reason) = reason {
        next.note = crate::text::clean_optional(reason, crate::order::MAX_NOTE_CHARS, crate::text::Lines::Many)?;
    }
    let mut released = Vec::new();
    if held && !next.status.holds_stock() {
        for line in &next.lines {
            // A listing that no longer exists has nothing to take the stock back.
            if let Some(mut listing) = listing_for(line) {
                listing.put_back(line.quantity, now)?;
                released.push(listing);
            }
        }
    }
    *order = next;
    Ok(released)
}

/// A sale the farmer or the co-op took themselves (on the phone, or face to face), possibly offline.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct OfflineSale {
    pub order_id: OrderId,
    pub listing_id: crate::ids::ListingId,
    pub quantity: Quantity,
    pub buyer: Buyer,
    pub fulfilment: Fulfilment,
    pub payment_method: PaymentMethod,
    /// `phone` or `in_person`.
    pub channel: Channel,
    pub note: String,
}

/// Records an offline sale against `listing`, taking first from `quota` (the stock this device
/// holds for sales without a network), then from the listing's stock. What neither covers becomes
/// the order's shortfall: the order is kept and flagged, never lost, and stock never goes below
/// zero. Unlike a buyer's order, a paused or sold-out listing still records the sale: the goods
/// already changed hands.
pub fn place_offline(listing: &mut Listing, quota: &mut Quantity, sale: OfflineSale, now: Timestamp) -> Result<Order, Vec<FieldError>> {
    if !matches!(sale.channel, Channel::Phone | Channel::InPerson) {
        return Err(vec![FieldError::new(Field::Channel, Error::NotForSale)]);
    }
    let quantity = sale.quantity;
    let line = OrderLine::price(listing, quantity).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    let mut order = Order::new(
        NewOrder {
            id: sale.order_id,
            lines: vec![line],
            buyer: sale.buyer,
            fulfilment: sale.fulfilment,
            payment_method: sale.payment_method,
            channel: sale.channel,
            note: sale.note,
        },
        now,
    )?;
    let from_quota = quantity.min(*quota);
    let rest = quantity.checked_sub(from_quota).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    let from_stock = rest.min(listing.details.stock).max(Quantity::ZERO);
    let shortfall = rest.checked_sub(from_stock).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    *quota = quota.checked_sub(from_quota).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    if from_stock.is_positive() {
        let stock = listing.details.stock.checked_sub(from_stock).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
        listing.set_stock_unchecked(stock, now);
    }
    order.shortfall = shortfall;
    debug_assert!(listing.details.stock >= Quantity::ZERO && *quota >= Quantity::ZERO);
    Ok(order)
}

/// Moves up to `wanted` of the listing's stock into a device's quota, in whole order steps; returns
/// what was granted (possibly nothing, when no stock is left).
pub fn grant_quota(listing: &mut Listing, quota: &mut Quantity, wanted: Quantity, now: Timestamp) -> Result<Quantity, Error> {
    if !wanted.is_positive() {
        return Err(Error::MustBePositive);
    }
    let step = listing.details.rules.step.milli();
    let available = wanted.min(listing.details.stock).milli();
    let granted = Quantity::from_milli(available - available % step);
    let stock = listing.details.stock.checked_sub(granted)?;
    *quota = quota.checked_add(granted)?;
    listing.set_stock_unchecked(stock, now);
    Ok(granted)
}

/// Gives up to `returned` of a device's quota back to the listing's stock; returns what moved.
pub fn return_quota(listing: &mut Listing, quota: &mut Quantity, returned: Quantity, now: Timestamp) -> Result<Quantity, Error> {
    if !returned.is_positive() {
        return Err(Error::MustBePositive);
    }
    let moved = returned.min(*quota);
    *quota = quota.checked_sub(moved)?;
    let stock = listing.details.stock.checked_add(moved)?;
    listing.set_stock_unchecked(stock, now);
    Ok(moved)
}

/// Moves a listing's stock by `delta`, as a device reports a change it made (a harvest, a loss).
/// The marketplace's stock is the truth, so a change applies as a difference, never as an absolute
/// value that would undo buyers' orders the device has not seen; a fall below zero stops at zero.
pub fn adjust_stock(listing: &mut Listing, delta: Quantity, now: Timestamp) -> Result<(), Vec<FieldError>> {
    let wanted = listing.details.stock.checked_add(delta).map_err(|e| vec![FieldError::new(Field::Stock, e)])?;
    let stock = wanted.max(Quantity::ZERO);
    let details = crate::listing::ListingDetails { stock, ..listing.details.clone() };
    details.check()?;
    listing.set_stock_unchecked(stock, now);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ListingId, PickupPointId};
    use crate::listing::{ListingInput, ListingStatus};
    use crate::money::{Currency, Money};
    use crate::order::OrderStatus;
    use uuid::Uuid;

    fn corn(stock: &str) -> Listing {
        let input = ListingInput {
            title: "Corn".into(),
            unit: "jin".into(),
            currency: "CNY".into(),
            price: "3.50".into(),
            stock: stock.into(),
            ..Default::default()
        };
        Listing::new(ListingId(Uuid::from_u128(1)), input.parse().unwrap(), Timestamp(0))
    }

    fn request(units: i64) -> OrderRequest {
        OrderRequest {
            id: OrderId(Uuid::from_u128(2)),
            quantity: Quantity::whole(units).unwrap(),
            buyer: Buyer::parse("Li", "13800138000").unwrap(),
            fulfilment: Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(3)) },
            payment_method: PaymentMethod::CashAtPickup,
            channel: Channel::OrderLink,
            note: String::new(),
            stream: None,
        }
    }

    #[test]
    fn placing_prices_from_the_listing_and_takes_stock() {
        let mut listing = corn("10");
        let order = place(&mut listing, request(4), Timestamp(5)).unwrap();
        assert_eq!(order.total, Money::new(1400, Currency::CNY));
        assert_eq!(listing.details.stock, Quantity::whole(6).unwrap());
    }

    #[test]
    fn a_refused_order_leaves_the_listing_alone() {
        let mut listing = corn("3");
        let before = listing.clone();
        let fields = |r: Result<Order, Vec<FieldError>>| r.unwrap_err().into_iter().map(|e| (e.field, e.error)).collect::<Vec<_>>();
        assert_eq!(fields(place(&mut listing, request(4), Timestamp(5))), [(Field::Quantity, Error::InsufficientStock)]);
        let bad_payment = OrderRequest { payment_method: PaymentMethod::CashOnDelivery, ..request(1) };
        assert_eq!(fields(place(&mut listing, bad_payment, Timestamp(5))), [(Field::PaymentMethod, Error::PaymentMethodUnavailable)]);
        assert_eq!(fields(place(&mut listing, request(0), Timestamp(5))), [(Field::Quantity, Error::MustBePositive)]);
        assert_eq!(listing, before);
    }

    #[test]
    fn the_last_units_sell_out_the_listing() {
        let mut listing = corn("2");
        place(&mut listing, request(2), Timestamp(5)).unwrap();
        assert_eq!(listing.status, ListingStatus::SoldOut);
        assert_eq!(place(&mut listing, request(1), Timestamp(6)).unwrap_err()[0].error, Error::SoldOut);
    }

    #[test]
    fn cancelling_gives_stock_back_once() {
        let mut listing = corn("10");
        let mut order = place(&mut listing, request(4), Timestamp(5)).unwrap();
        let released = step(&mut order, OrderAction::Decline, Some("no more today"), Timestamp(6), |_| Some(listing.clone())).unwrap();
        assert_eq!(order.status, OrderStatus::Declined);
        assert_eq!(order.note, "no more today");
        assert_eq!(released.len(), 1);
        assert_eq!(released[0].details.stock, Quantity::whole(10).unwrap());
        // A declined order cannot be cancelled, so the stock cannot come back twice.
        assert!(step(&mut order, OrderAction::Cancel, None, Timestamp(7), |_| Some(released[0].clone())).is_err());
    }

    fn sale(units: i64) -> OfflineSale {
        OfflineSale {
            order_id: OrderId(Uuid::from_u128(5)),
            listing_id: ListingId(Uuid::from_u128(1)),
            quantity: Quantity::whole(units).unwrap(),
            buyer: Buyer::parse("Walk-up", "13900139000").unwrap(),
            fulfilment: Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(3)) },
            payment_method: PaymentMethod::CashAtPickup,
            channel: Channel::InPerson,
            note: String::new(),
        }
    }

    #[test]
    fn an_offline_sale_takes_the_quota_first_then_stock_then_flags_the_rest() {
        let units = |n| Quantity::whole(n).unwrap();
        let mut listing = corn("5");
        let mut quota = units(3);
        let order = place_offline(&mut listing, &mut quota, sale(2), Timestamp(1)).unwrap();
        assert_eq!((quota, listing.details.stock, order.shortfall), (units(1), units(5), Quantity::ZERO));
        let order = place_offline(&mut listing, &mut quota, sale(4), Timestamp(2)).unwrap();
        assert_eq!((quota, listing.details.stock, order.shortfall), (Quantity::ZERO, units(2), Quantity::ZERO));
        let order = place_offline(&mut listing, &mut quota, sale(5), Timestamp(3)).unwrap();
        assert_eq!((listing.details.stock, order.shortfall), (Quantity::ZERO, units(3)));
        assert!(order.needs_attention());
        assert_eq!(listing.status, ListingStatus::SoldOut);
        assert_eq!(order.total, Money::new(1750, Currency::CNY), "the buyer pays for what was handed over");
    }

    #[test]
    fn an_offline_sale_is_by_phone_or_in_person_and_follows_the_order_rules() {
        let mut listing = corn("5");
        let mut quota = Quantity::ZERO;
        let web = OfflineSale { channel: Channel::OrderLink, ..sale(1) };
        assert_eq!(place_offline(&mut listing, &mut quota, web, Timestamp(1)).unwrap_err()[0].field, Field::Channel);
        let half = OfflineSale { quantity: Quantity::from_milli(500), ..sale(1) };
        assert_eq!(place_offline(&mut listing, &mut quota, half, Timestamp(1)).unwrap_err()[0].error, Error::NotStepMultiple);
        assert_eq!(listing.details.stock, Quantity::whole(5).unwrap());
    }

    #[test]
    fn quotas_move_stock_in_whole_steps_and_back() {
        let units = |n| Quantity::whole(n).unwrap();
        let mut listing = corn("10");
        let mut quota = Quantity::ZERO;
        assert_eq!(grant_quota(&mut listing, &mut quota, units(4), Timestamp(1)), Ok(units(4)));
        assert_eq!((listing.details.stock, quota), (units(6), units(4)));
        assert_eq!(grant_quota(&mut listing, &mut quota, units(100), Timestamp(2)), Ok(units(6)), "no more than the stock");
        assert_eq!(listing.status, ListingStatus::SoldOut);
        assert_eq!(return_quota(&mut listing, &mut quota, units(3), Timestamp(3)), Ok(units(3)));
        assert_eq!(return_quota(&mut listing, &mut quota, units(30), Timestamp(4)), Ok(units(7)), "no more than the quota");
        assert_eq!((listing.details.stock, quota), (units(10), Quantity::ZERO));
        assert_eq!(grant_quota(&mut listing, &mut quota, Quantity::ZERO, Timestamp(5)), Err(Error::MustBePositive));
    }

    #[test]
    fn stock_moves_by_differences_and_stops_at_zero() {
        let units = |n| Quantity::whole(n).unwrap();
        let mut listing = corn("10");
        adjust_stock(&mut listing, units(5), Timestamp(1)).unwrap();
        assert_eq!(listing.details.stock, units(15));
        adjust_stock(&mut listing, units(-40), Timestamp(2)).unwrap();
        assert_eq!((listing.details.stock, listing.status), (Quantity::ZERO, ListingStatus::SoldOut));
        assert_eq!(adjust_stock(&mut listing, Quantity::from_milli(500), Timestamp(3)).unwrap_err()[0].error, Error::NotStepMultiple);
    }

    proptest::proptest! {
        #[test]
        fn offline_sales_and_quotas_never_make_stock_or_quota_negative(ops in proptest::collection::vec((0u8..3, 1i64..8), 0..40)) {
            let mut listing = corn("20");
            let mut quota = Quantity::ZERO;
            for (i, (op, n)) in ops.into_iter().enumerate() {
                let n = Quantity::whole(n).unwrap();
                let now = Timestamp(i as i64);
                let _ = match op {
                    0 => place_offline(&mut listing, &mut quota, OfflineSale { quantity: n, ..sale(1) }, now).map(|_| ()).map_err(|_| ()),
                    1 => grant_quota(&mut listing, &mut quota, n, now).map(|_| ()).map_err(|_| ()),
                    _ => return_quota(&mut listing, &mut quota, n, now).map(|_| ()).map_err(|_| ()),
                };
                proptest::prop_assert!(listing.details.stock >= Quantity::ZERO && quota >= Quantity::ZERO);
            }
        }
    }

    #[test]
    fn ordinary_steps_release_nothing() {
        let mut listing = corn("10");
        let mut order = place(&mut listing, request(4), Timestamp(5)).unwrap();
        let released = step(&mut order, OrderAction::Confirm, None, Timestamp(6), |_| panic!("no listing is needed")).unwrap();
        assert!(released.is_empty());
        assert_eq!(order.status, OrderStatus::Confirmed);
    }
}
