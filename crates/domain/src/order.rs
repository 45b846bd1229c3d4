//! Orders: what a buyer takes, at which price, how it is handed over, and where it stands.
//!
//! Prices are snapshotted into each [`OrderLine`] from the listing when the order is made, so a later
//! price change never alters an order. The status only moves along [`OrderStatus::after`]:
//!
//! ```text
//! placed ─▶ confirmed ─▶ packed ─▶ shipped ────────────▶ delivered
//!    │          │                 └▶ ready_for_pickup ─▶ delivered
//!    └──────────┴─▶ cancelled | declined
//! ```
//!
//! Shipping is for delivery orders and "ready for pickup" for pickup orders. Payment is recorded
//! beside the status, not as a status, because cash changes hands at different steps.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{Error, Field, FieldError, Problems};
use crate::ids::{ListingId, OrderId, PickupPointId, StreamId};
use crate::listing::Listing;
use crate::money::Money;
use crate::quantity::{Quantity, Unit};
use crate::text::{self, Lines};
use crate::time::Timestamp;

pub const MAX_BUYER_NAME_CHARS: usize = 80;
pub const MAX_ADDRESS_CHARS: usize = 300;
pub const MAX_NOTE_CHARS: usize = 500;
/// More lines than any one buyer's basket; a bound on work per order.
pub const MAX_LINES: usize = 50;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Placed,
    Confirmed,
    Packed,
    Shipped,
    ReadyForPickup,
    Delivered,
    Cancelled,
    Declined,
}

/// A step someone takes on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderAction {
    Confirm,
    Pack,
    Ship,
    MarkReady,
    Deliver,
    Cancel,
    Decline,
}

/// How the goods reach the buyer, as a kind (the details live in [`Fulfilment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentKind {
    Pickup,
    Delivery,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Placed,
        OrderStatus::Confirmed,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::ReadyForPickup,
        OrderStatus::Delivered,
        OrderStatus::Cancelled,
        OrderStatus::Declined,
    ];

    pub fn code(self) -> &'static str {
        match self {
            OrderStatus::Placed => "placed",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::ReadyForPickup => "ready_for_pickup",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Cancelled => "cancelled",
            OrderStatus::Declined => "declined",
        }
    }

    pub fn parse(code: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The state machine: the status after `action`, or why it is not allowed.
    pub fn after(self, action: OrderAction, fulfilment: FulfilmentKind) -> Result<OrderStatus, Error> {
        use FulfilmentKind::{Delivery, Pickup};
        use OrderAction as A;
        use OrderStatus as S;
        let next = match (self, action, fulfilment) {
            (S::Placed, A::Confirm, _) => S::Confirmed,
            (S::Confirmed, A::Pack, _) => S::Packed,
            (S::Packed, A::Ship, Delivery) => S::Shipped,
            (S::Packed, A::MarkReady, Pickup) => S::ReadyForPickup,
            (S::Shipped, A::Deliver, Delivery) | (S::ReadyForPickup, A::Deliver, Pickup) => S::Delivered,
            (S::Placed | S::Confirmed, A::Cancel, _) => S::Cancelled,
            (S::Placed | S::Confirmed, A::Decline, _) => S::Declined,
            (from, action, _) => return Err(Error::InvalidTransition { from, action }),
        };
        Ok(next)
    }

    /// Whether the order is over and nothing more happens to it.
    pub fn is_final(self) -> bool {
        matches!(self, OrderStatus::Delivered | OrderStatus::Cancelled | OrderStatus::Declined)
    }

    /// Whether the order still holds its stock. Cancelled and declined orders gave it back.
    pub fn holds_stock(self) -> bool {
        !matches!(self, OrderStatus::Cancelled | OrderStatus::Declined)
    }
}

impl OrderAction {
    pub const ALL: [OrderAction; 7] = [
        OrderAction::Confirm,
        OrderAction::Pack,
        OrderAction::Ship,
        OrderAction::MarkReady,
        OrderAction::Deliver,
        OrderAction::Cancel,
        OrderAction::Decline,
    ];
}

/// How the buyer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CashOnDelivery,
    CashAtPickup,
    BankTransfer,
}

impl PaymentMethod {
    /// Cash is paid where the goods change hands, so each cash method fits one fulfilment.
    pub fn fits(self, fulfilment: FulfilmentKind) -> bool {
        match self {
            PaymentMethod::CashOnDelivery => fulfilment == FulfilmentKind::Delivery,
            PaymentMethod::CashAtPickup => fulfilment == FulfilmentKind::Pickup,
            PaymentMethod::BankTransfer => true,
        }
    }
}

/// Where the order came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The product card of a live stream.
    Live,
    /// An order link or its QR code.
    OrderLink,
    /// Taken by the farmer or the co-op on the phone.
    Phone,
    /// Someone who walked up to the field or the office.
    InPerson,
}

/// How the goods reach the buyer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Fulfilment {
    Pickup { point_id: PickupPointId },
    Delivery { address: String },
}

impl Fulfilment {
    pub fn kind(&self) -> FulfilmentKind {
        match self {
            Fulfilment::Pickup { .. } => FulfilmentKind::Pickup,
            Fulfilment::Delivery { .. } => FulfilmentKind::Delivery,
        }
    }
}

/// Who to hand the order to and how to reach them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Buyer {
    pub name: String,
    /// Digits with an optional leading `+`, as typed minus spaces and dashes.
    pub phone: String,
}

impl Buyer {
    /// Validates a buyer's name and phone number as typed.
    pub fn parse(name: &str, phone: &str) -> Result<Buyer, Vec<FieldError>> {
        let mut problems = Problems::default();
        let name = problems.check(Field::BuyerName, text::clean(name, MAX_BUYER_NAME_CHARS, Lines::One));
        let phone = problems.check(Field::BuyerPhone, normalize_phone(phone));
        problems.into_result(|| Buyer { name: name.unwrap_or_default(), phone: phone.unwrap_or_default() })
    }
}

/// Accepts the ways people write phone numbers ("+86 138-0013-8000", "(06) 1234 5678") and keeps only
/// the leading `+` and the digits.
fn normalize_phone(phone: &str) -> Result<String, Error> {
    let phone = phone.trim();
    if phone.is_empty() {
        return Err(Error::Empty);
    }
    let (plus, rest) = match phone.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", phone),
    };
    if !rest.chars().all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.')) {
        return Err(Error::InvalidPhone);
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if !(5..=20).contains(&digits.len()) {
        return Err(Error::InvalidPhone);
    }
    Ok(format!("{plus}{digits}"))
}

/// One product in an order, with the price it had when ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct OrderLine {
    pub listing_id: ListingId,
    pub title: String,
    pub unit: Unit,
    pub quantity: Quantity,
    pub unit_price: Money,
    pub total: Money,
}

impl OrderLine {
    /// Prices `quantity` of `listing` at its current price. Only the listing's price counts; whatever
    /// a buyer's page claims a price is never reaches this function.
    pub fn price(listing: &Listing, quantity: Quantity) -> Result<OrderLine, Error> {
        listing.details.rules.check(quantity)?;
        let unit_price = listing.details.price;
        Ok(OrderLine {
            listing_id: listing.id,
            title: listing.details.title.clone(),
            unit: listing.details.unit,
            quantity,
            unit_price,
            total: unit_price.times(quantity)?,
        })
    }
}

/// What it takes to make an order; [`Order::new`] checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub id: OrderId,
    pub lines: Vec<OrderLine>,
    pub buyer: Buyer,
    pub fulfilment: Fulfilment,
    pub payment_method: PaymentMethod,
    pub channel: Channel,
    pub note: String,
}

/// An order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub buyer: Buyer,
    pub fulfilment: Fulfilment,
    pub payment_method: PaymentMethod,
    pub channel: Channel,
    pub status: OrderStatus,
    /// What has been paid so far.
    pub paid: Money,
    /// A note from the buyer, or the reason given when the order was declined.
    pub note: String,
    /// How much of an offline sale neither the device's quota nor the stock covered when it reached
    /// the marketplace. Non-zero means the co-op must look at it; the order is kept, never lost.
    pub shortfall: Quantity,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The live stream the buyer ordered from, for sales per stream; `None` for every other order.
    #[serde(default)]
    pub stream: Option<StreamRef>,
}

/// A live stream as an order remembers it: its title as it was when the buyer ordered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
pub struct StreamRef {
    pub id: StreamId,
    pub title: String,
}

impl Order {
    /// A placed order. Lines must share one currency; the total is their sum.
    pub fn new(new: NewOrder, now: Timestamp) -> Result<Order, Vec<FieldError>> {
        let mut problems = Problems::default();
        let total = problems.check(Field::Lines, order_total(&new.lines));
        if !new.payment_method.fits(new.fulfilment.kind()) {
            problems.push(Field::PaymentMethod, Error::PaymentMethodUnavailable);
        }
        let fulfilment = match new.fulfilment {
            Fulfilment::Delivery { address } => problems
                .check(Field::Address, text::clean(&address, MAX_ADDRESS_CHARS, Lines::Many))
                .map(|address| Fulfilment::Delivery { address }),
            pickup => Some(pickup),
        };
        let note = problems.check(Field::Note, text::clean_optional(&new.note, MAX_NOTE_CHARS, Lines::Many));
        let (Some(total), Some(fulfilment), Some(note)) = (total, fulfilment, note) else {
            return Err(problems.into_result(|| ()).expect_err("a check failed"));
        };
        problems.into_result(|| Order {
            id: new.id,
            lines: new.lines,
            total,
            buyer: new.buyer,
            fulfilment,
            payment_method: new.payment_method,
            channel: new.channel,
            status: OrderStatus::Placed,
            paid: Money::zero(total.currency),
            note,
            shortfall: Quantity::ZERO,
            created_at: now,
            updated_at: now,
            stream: None,
        })
    }

    /// Moves the order along the state machine.
    pub fn apply(&mut self, action: OrderAction, now: Timestamp) -> Result<(), Error> {
        self.status = self.status.after(action, self.fulfilment.kind())?;
        self.updated_at = now;
        Ok(())
    }

    /// Records money received. The running total may not exceed what is owed, and a cancelled or
    /// declined order takes no payment.
    pub fn record_payment(&mut self, amount: Money, now: Timestamp) -> Result<(), Error> {
        if !self.status.holds_stock() {
            return Err(Error::NotPayable);
        }
        if amount.minor <= 0 {
            return Err(Error::MustBePositive);
        }
        let paid = self.paid.checked_add(amount)?;
        if paid.minor > self.total.minor {
            return Err(Error::Overpaid);
        }
        self.paid = paid;
        self.updated_at = now;
        Ok(())
    }

    pub fn is_paid(&self) -> bool {
        self.paid.minor >= self.total.minor
    }

    pub fn needs_attention(&self) -> bool {
        self.shortfall.is_positive()
    }
}

fn order_total(lines: &[OrderLine]) -> Result<Money, Error> {
    let (first, rest) = lines.split_first().ok_or(Error::NoLines)?;
    if lines.len() > MAX_LINES {
        return Err(Error::TooLarge);
    }
    rest.iter().try_fold(first.total, |sum, line| sum.checked_add(line.total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::ListingInput;
    use crate::money::Currency;
    use uuid::Uuid;
    use FulfilmentKind::{Delivery, Pickup};
    use OrderAction as A;
    use OrderStatus as S;

    /// The whole state machine written out as a table, independent of the `match` it checks.
    const ALLOWED: &[(OrderStatus, OrderAction, FulfilmentKind, OrderStatus)] = &[
        (S::Placed, A::Confirm, Pickup, S::Confirmed),
        (S::Placed, A::Confirm, Delivery, S::Confirmed),
        (S::Confirmed, A::Pack, Pickup, S::Packed),
        (S::Confirmed, A::Pack, Delivery, S::Packed),
        (S::Packed, A::Ship, Delivery, S::Shipped),
        (S::Packed, A::MarkReady, Pickup, S::ReadyForPickup),
        (S::Shipped, A::Deliver, Delivery, S::Delivered),
        (S::ReadyForPickup, A::Deliver, Pickup, S::Delivered),
        (S::Placed, A::Cancel, Pickup, S::Cancelled),
        (S::Placed, A::Cancel, Delivery, S::Cancelled),
        (S::Confirmed, A::Cancel, Pickup, S::Cancelled),
        (S::Confirmed, A::Cancel, Delivery, S::Cancelled),
        (S::Placed, A::Decline, Pickup, S::Declined),
        (S::Placed, A::Decline, Delivery, S::Declined),
        (S::Confirmed, A::Decline, Pickup, S::Declined),
        (S::Confirmed, A::Decline, Delivery, S::Declined),
    ];

    #[test]
    fn the_state_machine_is_exactly_the_table() {
        let mut checked = 0;
        for from in OrderStatus::ALL {
            for action in OrderAction::ALL {
                for kind in [Pickup, Delivery] {
                    let expected = ALLOWED
                        .iter()
                        .find(|(f, a, k, _)| (*f, *a, *k) == (from, action, kind))
                        .map(|(.., to)| *to)
                        .ok_or(Error::InvalidTransition { from, action });
                    assert_eq!(from.after(action, kind), expected, "{from:?} {action:?} {kind:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 8 * 7 * 2);
    }

    #[test]
    fn final_states_have_no_way_out() {
        for from in OrderStatus::ALL.into_iter().filter(|s| s.is_final()) {
            for action in OrderAction::ALL {
                assert!(from.after(action, Pickup).is_err() && from.after(action, Delivery).is_err());
            }
        }
    }

    #[test]
    fn codes_round_trip() {
        for status in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(status.code()), Some(status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.code());
        }
    }

    fn corn() -> Listing {
        let input = ListingInput {
            title: "Corn".into(),
            unit: "jin".into(),
            currency: "CNY".into(),
            price: "3.50".into(),
            stock: "50".into(),
            ..Default::default()
        };
        Listing::new(ListingId(Uuid::from_u128(1)), input.parse().unwrap(), Timestamp(0))
    }

    fn new_order(lines: Vec<OrderLine>, fulfilment: Fulfilment, payment_method: PaymentMethod) -> NewOrder {
        NewOrder {
            id: OrderId(Uuid::from_u128(9)),
            lines,
            buyer: Buyer::parse("Li Wei", "+86 138-0013-8000").unwrap(),
            fulfilment,
            payment_method,
            channel: Channel::OrderLink,
            note: String::new(),
        }
    }

    fn pickup() -> Fulfilment {
        Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(3)) }
    }

    #[test]
    fn lines_snapshot_the_listing_price() {
        let mut listing = corn();
        let line = OrderLine::price(&listing, Quantity::whole(3).unwrap()).unwrap();
        listing.details.price = Money::new(999, Currency::CNY);
        assert_eq!(line.unit_price, Money::new(350, Currency::CNY));
        assert_eq!(line.total, Money::new(1050, Currency::CNY));
        assert_eq!(OrderLine::price(&listing, Quantity::from_milli(500)), Err(Error::NotStepMultiple));
    }

    #[test]
    fn an_order_totals_its_lines_and_follows_its_fulfilment() {
        let line = OrderLine::price(&corn(), Quantity::whole(2).unwrap()).unwrap();
        let mut order = Order::new(new_order(vec![line.clone(), line], pickup(), PaymentMethod::CashAtPickup), Timestamp(5)).unwrap();
        assert_eq!(order.total, Money::new(1400, Currency::CNY));
        assert_eq!(order.status, OrderStatus::Placed);
        assert_eq!(order.buyer.phone, "+8613800138000");
        for action in [A::Confirm, A::Pack, A::MarkReady, A::Deliver] {
            order.apply(action, Timestamp(6)).unwrap();
        }
        assert_eq!(order.status, OrderStatus::Delivered);
        assert_eq!(order.apply(A::Cancel, Timestamp(7)), Err(Error::InvalidTransition { from: S::Delivered, action: A::Cancel }));
        assert_eq!(order.updated_at, Timestamp(6));
    }

    #[test]
    fn a_bad_order_is_refused_field_by_field() {
        let line = OrderLine::price(&corn(), Quantity::whole(1).unwrap()).unwrap();
        let euro_line = OrderLine { total: Money::new(1, Currency::EUR), ..line.clone() };
        let errors = |new: NewOrder| -> Vec<_> { Order::new(new, Timestamp(0)).unwrap_err().into_iter().map(|e| (e.field, e.error)).collect() };
        assert_eq!(errors(new_order(vec![], pickup(), PaymentMethod::BankTransfer)), [(Field::Lines, Error::NoLines)]);
        assert_eq!(errors(new_order(vec![line.clone(), euro_line], pickup(), PaymentMethod::BankTransfer)), [(Field::Lines, Error::CurrencyMismatch)]);
        assert_eq!(
            errors(new_order(vec![line.clone()], pickup(), PaymentMethod::CashOnDelivery)),
            [(Field::PaymentMethod, Error::PaymentMethodUnavailable)]
        );
        assert_eq!(
            errors(new_order(vec![line.clone()], Fulfilment::Delivery { address: " ".into() }, PaymentMethod::CashOnDelivery)),
            [(Field::Address, Error::Empty)]
        );
        assert_eq!(
            errors(new_order(vec![line; MAX_LINES + 1], pickup(), PaymentMethod::BankTransfer)),
            [(Field::Lines, Error::TooLarge)]
        );
    }

    #[test]
    fn buyers_need_a_name_and_a_plausible_phone() {
        let fields = |name, phone| -> Vec<_> { Buyer::parse(name, phone).map(|_| vec![]).unwrap_or_else(|e| e.into_iter().map(|e| (e.field, e.error)).collect()) };
        assert_eq!(fields("Anna", "(06) 1234-5678"), []);
        assert_eq!(fields("", "12345"), [(Field::BuyerName, Error::Empty)]);
        assert_eq!(fields("Anna", "1234"), [(Field::BuyerPhone, Error::InvalidPhone)]);
        assert_eq!(fields("Anna", "call me"), [(Field::BuyerPhone, Error::InvalidPhone)]);
        assert_eq!(fields("Anna", "++123456"), [(Field::BuyerPhone, Error::InvalidPhone)]);
        assert_eq!(fields("Anna", ""), [(Field::BuyerPhone, Error::Empty)]);
    }

    #[test]
    fn payments_add_up_to_the_total_and_no_further() {
        let line = OrderLine::price(&corn(), Quantity::whole(2).unwrap()).unwrap();
        let mut order = Order::new(new_order(vec![line], pickup(), PaymentMethod::CashAtPickup), Timestamp(0)).unwrap();
        let cny = |minor| Money::new(minor, Currency::CNY);
        assert_eq!(order.record_payment(cny(0), Timestamp(1)), Err(Error::MustBePositive));
        assert_eq!(order.record_payment(Money::new(100, Currency::EUR), Timestamp(1)), Err(Error::CurrencyMismatch));
        order.record_payment(cny(300), Timestamp(1)).unwrap();
        assert!(!order.is_paid());
        assert_eq!(order.record_payment(cny(401), Timestamp(2)), Err(Error::Overpaid));
        order.record_payment(cny(400), Timestamp(2)).unwrap();
        assert!(order.is_paid());
        let mut cancelled = order.clone();
        cancelled.status = OrderStatus::Cancelled;
        assert_eq!(cancelled.record_payment(cny(1), Timestamp(3)), Err(Error::NotPayable));
    }
}
