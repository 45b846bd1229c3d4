//! The changes a device records locally and later sends to the marketplace, and how each one
//! applies to a set of listings, orders and quotas.
//!
//! Each local change is one [`Mutation`]. The store writes it to the outbox in the same transaction
//! as its local effect; sync sends it to the server, which applies it again under its own rules. On
//! the wire and in the outbox a mutation is a `name` and its `args` as JSON, e.g.
//! `{"name":"listing.create","args":{...}}`; names are stable, like error codes.
//!
//! [`apply`] is the one definition of what a mutation does. The device runs it for its optimistic
//! local view (and again over fresh server data for changes still waiting to be sent); the server
//! runs it, after checking who may, as the authoritative change. Same rules on both sides, so a
//! device and the marketplace agree once everything is sent.
//!
//! Conflict rules, all following from "the marketplace is the truth":
//! - stock moves by differences (`listing.stock`), never by absolute values, so a device cannot undo
//!   buyers' orders it has not seen; a fall below zero stops at zero;
//! - a listing edit replaces text, price and order rules, never stock; of two edits, the later to
//!   arrive wins, and the devices see the result on their next pull;
//! - an order step that is no longer valid (the buyer cancelled meanwhile) is refused with its
//!   reason, and the refusal goes back to the device that made it;
//! - an offline sale takes the device's quota first, then stock, and flags what neither covered.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::checkout::{self, OfflineSale};
use crate::error::{Error, Field, FieldError};
use crate::ids::{ListingId, MemberId, OrderId};
use crate::listing::{Listing, ListingChange, ListingDetails, PhotoRef};
use crate::money::Money;
use crate::order::{Order, OrderAction};
use crate::quantity::Quantity;
use crate::time::Timestamp;

/// One change made on a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, utoipa::ToSchema)]
#[serde(tag = "name", content = "args")]
pub enum Mutation {
    /// A new listing, on sale at once unless it has no stock. Staff name the farmer it is for.
    #[serde(rename = "listing.create")]
    ListingCreate { listing_id: ListingId, farmer_id: Option<MemberId>, details: ListingDetails },
    /// New text, price or order rules. The stock in `details` is not applied: see `listing.stock`.
    #[serde(rename = "listing.edit")]
    ListingEdit { listing_id: ListingId, details: ListingDetails },
    /// The stock goes up or down by `delta`.
    #[serde(rename = "listing.stock")]
    ListingStock { listing_id: ListingId, delta: Quantity },
    #[serde(rename = "listing.pause")]
    ListingPause { listing_id: ListingId },
    #[serde(rename = "listing.resume")]
    ListingResume { listing_id: ListingId },
    /// A photo for the listing, by the content hash of its JPEG. The device uploads the photo
    /// before it pushes this, so the marketplace can check it has it.
    #[serde(rename = "listing.photo")]
    ListingPhoto { listing_id: ListingId, photo: PhotoRef },
    /// A sale taken on the phone or face to face.
    #[serde(rename = "order.record")]
    OrderRecord { sale: OfflineSale },
    #[serde(rename = "order.step")]
    OrderStep { order_id: OrderId, action: OrderAction, reason: Option<String> },
    #[serde(rename = "order.payment")]
    OrderPayment { order_id: OrderId, amount: Money },
    /// Asks for part of a listing's stock to sell while offline.
    #[serde(rename = "quota.request")]
    QuotaRequest { listing_id: ListingId, quantity: Quantity },
    /// Gives unsold quota back to the listing.
    #[serde(rename = "quota.return")]
    QuotaReturn { listing_id: ListingId, quantity: Quantity },
}

impl Mutation {
    /// The stable name, as stored in the outbox's `name` column.
    pub fn name(&self) -> &'static str {
        match self {
            Mutation::ListingCreate { .. } => "listing.create",
            Mutation::ListingEdit { .. } => "listing.edit",
            Mutation::ListingStock { .. } => "listing.stock",
            Mutation::ListingPause { .. } => "listing.pause",
            Mutation::ListingResume { .. } => "listing.resume",
            Mutation::ListingPhoto { .. } => "listing.photo",
            Mutation::OrderRecord { .. } => "order.record",
            Mutation::OrderStep { .. } => "order.step",
            Mutation::OrderPayment { .. } => "order.payment",
            Mutation::QuotaRequest { .. } => "quota.request",
            Mutation::QuotaReturn { .. } => "quota.return",
        }
    }

    /// What the mutation is about: the listing, or the order.
    pub fn target(&self) -> Target {
        match self {
            Mutation::ListingCreate { listing_id, .. }
            | Mutation::ListingEdit { listing_id, .. }
            | Mutation::ListingStock { listing_id, .. }
            | Mutation::ListingPause { listing_id }
            | Mutation::ListingResume { listing_id }
            | Mutation::ListingPhoto { listing_id, .. }
            | Mutation::QuotaRequest { listing_id, .. }
            | Mutation::QuotaReturn { listing_id, .. } => Target::Listing(*listing_id),
            Mutation::OrderRecord { sale } => Target::Order(sale.order_id),
            Mutation::OrderStep { order_id, .. } | Mutation::OrderPayment { order_id, .. } => Target::Order(*order_id),
        }
    }
}

/// The entity a mutation changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    Listing(ListingId),
    Order(OrderId),
}

/// The listings, orders and quotas a mutation reads and writes: the device's store, or the
/// marketplace's storage for one device. Quotas are the ones of the device the mutation comes from.
pub trait State {
    type Error;
    fn listing(&mut self, id: ListingId) -> Result<Option<Listing>, Self::Error>;
    fn put_listing(&mut self, listing: &Listing) -> Result<(), Self::Error>;
    fn order(&mut self, id: OrderId) -> Result<Option<Order>, Self::Error>;
    fn put_order(&mut self, order: &Order) -> Result<(), Self::Error>;
    fn quota(&mut self, listing: ListingId) -> Result<Quantity, Self::Error>;
    fn set_quota(&mut self, listing: ListingId, quantity: Quantity) -> Result<(), Self::Error>;
}

/// Why a mutation did not apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError<E> {
    /// A rule refused it; nothing changed. The reason goes back to the person.
    Refused(Vec<FieldError>),
    /// The state underneath failed.
    State(E),
}

impl<E> From<Vec<FieldError>> for ApplyError<E> {
    fn from(errors: Vec<FieldError>) -> Self {
        ApplyError::Refused(errors)
    }
}

/// What an applied mutation produced worth telling the person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// For `quota.request` and `quota.return`: how much actually moved.
    pub moved: Option<Quantity>,
    /// For `order.record`: what neither quota nor stock covered.
    pub shortfall: Option<Quantity>,
}

fn refused<E>(field: Field, error: Error) -> ApplyError<E> {
    ApplyError::Refused(vec![FieldError::new(field, error)])
}

/// Applies `mutation` to `state`. Every check happens before any write, so a refusal leaves the
/// state as it was. Re-applying a create whose entity exists changes nothing, which makes replays
/// harmless.
pub fn apply<S: State>(mutation: &Mutation, state: &mut S, now: Timestamp) -> Result<Outcome, ApplyError<S::Error>> {
    let listing = |state: &mut S, id: ListingId| -> Result<Listing, ApplyError<S::Error>> {
        state.listing(id).map_err(ApplyError::State)?.ok_or_else(|| refused(Field::Code, Error::Empty))
    };
    let order = |state: &mut S, id: OrderId| -> Result<Order, ApplyError<S::Error>> {
        state.order(id).map_err(ApplyError::State)?.ok_or_else(|| refused(Field::Code, Error::Empty))
    };
    let mut outcome = Outcome::default();
    match mutation {
        Mutation::ListingCreate { listing_id, details, .. } => {
            if state.listing(*listing_id).map_err(ApplyError::State)?.is_none() {
                details.check()?;
                state.put_listing(&Listing::new(*listing_id, details.clone(), now)).map_err(ApplyError::State)?;
            }
        }
        Mutation::ListingEdit { listing_id, details } => {
            let mut current = listing(state, *listing_id)?;
            let details = ListingDetails { stock: current.details.stock, ..details.clone() };
            current.change(ListingChange::Edit(details), now)?;
            state.put_listing(&current).map_err(ApplyError::State)?;
        }
        Mutation::ListingStock { listing_id, delta } => {
            let mut current = listing(state, *listing_id)?;
            checkout::adjust_stock(&mut current, *delta, now)?;
            state.put_listing(&current).map_err(ApplyError::State)?;
        }
        Mutation::ListingPause { listing_id } | Mutation::ListingResume { listing_id } => {
            let mut current = listing(state, *listing_id)?;
            let change = if matches!(mutation, Mutation::ListingPause { .. }) { ListingChange::Pause } else { ListingChange::Resume };
            current.change(change, now)?;
            state.put_listing(&current).map_err(ApplyError::State)?;
        }
        Mutation::ListingPhoto { listing_id, photo } => {
            let mut current = listing(state, *listing_id)?;
            photo.check().map_err(|e| refused(Field::Photos, e))?;
            current.change(ListingChange::AddPhoto(photo.clone()), now)?;
            state.put_listing(&current).map_err(ApplyError::State)?;
        }
        Mutation::OrderRecord { sale } => {
            if state.order(sale.order_id).map_err(ApplyError::State)?.is_none() {
                let mut current = listing(state, sale.listing_id)?;
                let mut quota = state.quota(sale.listing_id).map_err(ApplyError::State)?;
                let placed = checkout::place_offline(&mut current, &mut quota, sale.clone(), now)?;
                outcome.shortfall = Some(placed.shortfall);
                state.put_listing(&current).map_err(ApplyError::State)?;
                state.set_quota(sale.listing_id, quota).map_err(ApplyError::State)?;
                state.put_order(&placed).map_err(ApplyError::State)?;
            }
        }
        Mutation::OrderStep { order_id, action, reason } => {
            let mut current = order(state, *order_id)?;
            let mut load_error = None;
            let released = checkout::step(&mut current, *action, reason.as_deref(), now, |line| {
                match state.listing(line.listing_id) {
                    Ok(found) => found,
                    Err(error) => {
                        load_error = Some(error);
                        None
                    }
                }
            })
            .map_err(|e| refused(Field::Status, e))?;
            if let Some(error) = load_error {
                return Err(ApplyError::State(error));
            }
            for listing in &released {
                state.put_listing(listing).map_err(ApplyError::State)?;
            }
            state.put_order(&current).map_err(ApplyError::State)?;
        }
        Mutation::OrderPayment { order_id, amount } => {
            let mut current = order(state, *order_id)?;
            current.record_payment(*amount, now).map_err(|e| refused(Field::Price, e))?;
            state.put_order(&current).map_err(ApplyError::State)?;
        }
        Mutation::QuotaRequest { listing_id, quantity } | Mutation::QuotaReturn { listing_id, quantity } => {
            let mut current = listing(state, *listing_id)?;
            let mut quota = state.quota(*listing_id).map_err(ApplyError::State)?;
            let moved = if matches!(mutation, Mutation::QuotaRequest { .. }) {
                checkout::grant_quota(&mut current, &mut quota, *quantity, now)
            } else {
                checkout::return_quota(&mut current, &mut quota, *quantity, now)
            }
            .map_err(|e| refused(Field::Quantity, e))?;
            outcome.moved = Some(moved);
            state.put_listing(&current).map_err(ApplyError::State)?;
            state.set_quota(*listing_id, quota).map_err(ApplyError::State)?;
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::convert::Infallible;

    use super::*;
    use crate::checkout::OfflineSale;
    use crate::ids::PickupPointId;
    use crate::listing::{ListingInput, ListingStatus};
    use crate::order::{Buyer, Channel, Fulfilment, OrderStatus, PaymentMethod};
    use uuid::Uuid;

    /// A state in memory, as a test double of the store and the server's storage.
    #[derive(Default, Clone, PartialEq, Debug)]
    struct Memory {
        listings: HashMap<ListingId, Listing>,
        orders: HashMap<OrderId, Order>,
        quotas: HashMap<ListingId, Quantity>,
    }

    impl State for Memory {
        type Error = Infallible;
        fn listing(&mut self, id: ListingId) -> Result<Option<Listing>, Infallible> {
            Ok(self.listings.get(&id).cloned())
        }
        fn put_listing(&mut self, listing: &Listing) -> Result<(), Infallible> {
            self.listings.insert(listing.id, listing.clone());
            Ok(())
        }
        fn order(&mut self, id: OrderId) -> Result<Option<Order>, Infallible> {
            Ok(self.orders.get(&id).cloned())
        }
        fn put_order(&mut self, order: &Order) -> Result<(), Infallible> {
            self.orders.insert(order.id, order.clone());
            Ok(())
        }
        fn quota(&mut self, listing: ListingId) -> Result<Quantity, Infallible> {
            Ok(self.quotas.get(&listing).copied().unwrap_or_default())
        }
        fn set_quota(&mut self, listing: ListingId, quantity: Quantity) -> Result<(), Infallible> {
            self.quotas.insert(listing, quantity);
            Ok(())
        }
    }

    const CORN: ListingId = ListingId(Uuid::from_u128(1));

    fn details(stock: &str) -> ListingDetails {
        ListingInput { title: "Corn".into(), unit: "jin".into(), currency: "CNY".into(), price: "3.50".into(), stock: stock.into(), ..Default::default() }
            .parse()
            .unwrap()
    }

    fn units(n: i64) -> Quantity {
        Quantity::whole(n).unwrap()
    }

    fn sale(n: u128, quantity: i64) -> Mutation {
        Mutation::OrderRecord {
            sale: OfflineSale {
                order_id: OrderId(Uuid::from_u128(100 + n)),
                listing_id: CORN,
                quantity: units(quantity),
                buyer: Buyer::parse("Walk-up", "13900139000").unwrap(),
                fulfilment: Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(9)) },
                payment_method: PaymentMethod::CashAtPickup,
                channel: Channel::InPerson,
                note: String::new(),
            },
        }
    }

    fn run(state: &mut Memory, mutations: &[Mutation]) -> Vec<Result<Outcome, ApplyError<Infallible>>> {
        mutations.iter().enumerate().map(|(i, m)| apply(m, state, Timestamp(i as i64))).collect()
    }

    #[test]
    fn a_day_at_the_field() {
        let mut state = Memory::default();
        let results = run(&mut state, &[
            Mutation::ListingCreate { listing_id: CORN, farmer_id: None, details: details("50") },
            Mutation::QuotaRequest { listing_id: CORN, quantity: units(10) },
            sale(1, 4),
            Mutation::ListingStock { listing_id: CORN, delta: units(20) },
            Mutation::OrderStep { order_id: OrderId(Uuid::from_u128(101)), action: OrderAction::Confirm, reason: None },
            Mutation::OrderPayment { order_id: OrderId(Uuid::from_u128(101)), amount: Money::new(1400, crate::money::Currency::CNY) },
            Mutation::QuotaReturn { listing_id: CORN, quantity: units(100) },
        ]);
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        assert_eq!(results[1].as_ref().unwrap().moved, Some(units(10)));
        assert_eq!(results[6].as_ref().unwrap().moved, Some(units(6)));
        let corn = &state.listings[&CORN];
        assert_eq!(corn.details.stock, units(40 + 20 + 6));
        assert_eq!(state.quotas[&CORN], Quantity::ZERO);
        let order = &state.orders[&OrderId(Uuid::from_u128(101))];
        assert_eq!((order.status, order.is_paid()), (OrderStatus::Confirmed, true));
    }

    #[test]
    fn edits_keep_the_stock_and_stock_moves_by_differences() {
        let mut state = Memory::default();
        run(&mut state, &[Mutation::ListingCreate { listing_id: CORN, farmer_id: None, details: details("50") }]);
        let mut edited = details("999");
        edited.title = "Sweet corn".into();
        apply(&Mutation::ListingEdit { listing_id: CORN, details: edited }, &mut state, Timestamp(1)).unwrap();
        assert_eq!(state.listings[&CORN].details.title, "Sweet corn");
        assert_eq!(state.listings[&CORN].details.stock, units(50), "an edit never sets stock");
        apply(&Mutation::ListingStock { listing_id: CORN, delta: units(-80) }, &mut state, Timestamp(2)).unwrap();
        assert_eq!((state.listings[&CORN].details.stock, state.listings[&CORN].status), (Quantity::ZERO, ListingStatus::SoldOut));
    }

    #[test]
    fn replays_of_creates_change_nothing() {
        let mut state = Memory::default();
        let create = Mutation::ListingCreate { listing_id: CORN, farmer_id: None, details: details("50") };
        run(&mut state, &[create.clone(), sale(1, 5)]);
        let before = state.clone();
        run(&mut state, &[create, sale(1, 5)]);
        assert_eq!(state, before);
    }

    #[test]
    fn refusals_change_nothing_and_say_why() {
        let mut state = Memory::default();
        run(&mut state, &[Mutation::ListingCreate { listing_id: CORN, farmer_id: None, details: details("5") }]);
        let before = state.clone();
        let unknown_order = Mutation::OrderStep { order_id: OrderId(Uuid::from_u128(7)), action: OrderAction::Confirm, reason: None };
        let mut bad_price = details("5");
        bad_price.price = Money::new(0, crate::money::Currency::CNY);
        for mutation in [
            unknown_order,
            Mutation::ListingEdit { listing_id: CORN, details: bad_price },
            Mutation::ListingResume { listing_id: CORN },
            Mutation::QuotaRequest { listing_id: CORN, quantity: Quantity::ZERO },
            Mutation::ListingStock { listing_id: ListingId(Uuid::from_u128(99)), delta: units(1) },
        ] {
            assert!(matches!(apply(&mutation, &mut state, Timestamp(5)), Err(ApplyError::Refused(_))), "{}", mutation.name());
        }
        assert_eq!(state, before);
        run(&mut state, &[sale(1, 1)]);
        let deliver = Mutation::OrderStep { order_id: OrderId(Uuid::from_u128(101)), action: OrderAction::Deliver, reason: None };
        let Err(ApplyError::Refused(reason)) = apply(&deliver, &mut state, Timestamp(6)) else { panic!("placed cannot be delivered") };
        assert_eq!(reason[0].error.code(), "invalid_transition");
    }

    #[test]
    fn the_wire_form_is_name_and_args() {
        let mutation = Mutation::ListingStock { listing_id: CORN, delta: units(-3) };
        let json = serde_json::to_value(&mutation).unwrap();
        assert_eq!(json["name"], "listing.stock");
        assert_eq!(json["args"]["delta"], -3000);
        assert_eq!(serde_json::from_value::<Mutation>(json).unwrap(), mutation);
        assert_eq!(mutation.target(), Target::Listing(CORN));
    }
}
