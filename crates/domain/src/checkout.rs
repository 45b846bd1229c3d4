//! The server-side rules that tie orders to stock: placing an order takes stock from its listing in
//! the same step that prices it; cancelling or declining gives the stock back.
//!
//! Storage backends load the rows, call these functions, and save what they return, all inside one
//! transaction. Because every check happens before anything changes, a refused order leaves the
//! listing exactly as it was.

use crate::error::{Error, Field, FieldError};
use crate::ids::OrderId;
use crate::listing::Listing;
use crate::order::{Buyer, Channel, Fulfilment, NewOrder, Order, OrderAction, OrderLine, PaymentMethod};
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
}

/// Places `request` against `listing`: checks the order, then takes the stock. On any refusal the
/// listing is unchanged.
pub fn place(listing: &mut Listing, request: OrderRequest, now: Timestamp) -> Result<Order, Vec<FieldError>> {
    let quantity = request.quantity;
    let line = OrderLine::price(listing, quantity).map_err(|e| vec![FieldError::new(Field::Quantity, e)])?;
    let order = Order::new(
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

    #[test]
    fn ordinary_steps_release_nothing() {
        let mut listing = corn("10");
        let mut order = place(&mut listing, request(4), Timestamp(5)).unwrap();
        let released = step(&mut order, OrderAction::Confirm, None, Timestamp(6), |_| panic!("no listing is needed")).unwrap();
        assert!(released.is_empty());
        assert_eq!(order.status, OrderStatus::Confirmed);
    }
}
