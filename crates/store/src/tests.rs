//! Store tests on real database files in a temporary directory.

use domain::ids::{ListingId, MutationId, OrderId, PickupPointId};
use domain::listing::{Listing, ListingInput};
use domain::mutation::Mutation;
use domain::order::{Buyer, Channel, Fulfilment, NewOrder, Order, OrderAction, OrderLine, PaymentMethod};
use domain::quantity::Quantity;
use domain::time::Timestamp;
use uuid::Uuid;

use crate::Store;

fn corn(n: u128) -> Listing {
    let input = ListingInput {
        title: format!("Corn {n}"),
        unit: "jin".into(),
        currency: "CNY".into(),
        price: "3.50".into(),
        stock: "50".into(),
        ..Default::default()
    };
    Listing::new(ListingId(Uuid::from_u128(n)), input.parse().unwrap(), Timestamp(n as i64))
}

fn create(store: &mut Store, listing: &Listing) -> u64 {
    let change = store.change().unwrap();
    change.put_listing(listing).unwrap();
    let mutation = Mutation::ListingCreate { listing_id: listing.id, details: listing.details.clone() };
    change.commit(&mutation, MutationId(Uuid::now_v7()), listing.created_at).unwrap().seq
}

fn open_temp() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("fieldcast.db")).unwrap();
    (dir, store)
}

#[test]
fn opens_with_wal_full_sync_and_foreign_keys() {
    let (_dir, store) = open_temp();
    let pragma = |name: &str| -> String {
        store.conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0)).map(|v| format!("{v:?}")).unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(2)", "2 is FULL");
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("busy_timeout"), "Integer(5000)");
    store.integrity_check().unwrap();
}

#[test]
fn a_change_writes_its_row_and_its_outbox_entry() {
    let (_dir, mut store) = open_temp();
    let listing = corn(1);
    assert_eq!(create(&mut store, &listing), 1);
    assert_eq!(store.listings().unwrap(), std::slice::from_ref(&listing));
    let outbox = store.outbox(10).unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].seq, 1);
    assert_eq!(outbox[0].mutation, Mutation::ListingCreate { listing_id: listing.id, details: listing.details });
}

#[test]
fn a_dropped_change_leaves_nothing_and_uses_no_seq() {
    let (_dir, mut store) = open_temp();
    {
        let change = store.change().unwrap();
        change.put_listing(&corn(1)).unwrap();
        assert!(change.listing(corn(1).id).unwrap().is_some(), "a change sees its own writes");
    }
    assert_eq!(store.listings().unwrap(), []);
    assert_eq!(store.outbox_len().unwrap(), 0);
    assert_eq!(create(&mut store, &corn(2)), 1, "the rolled back change did not take a seq");
    assert_eq!(create(&mut store, &corn(3)), 2);
}

#[test]
fn seq_keeps_growing_after_the_outbox_empties_and_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fieldcast.db");
    let mut store = Store::open(&path).unwrap();
    let client_id = store.client_id();
    create(&mut store, &corn(1));
    store.conn.execute("DELETE FROM outbox", []).unwrap();
    drop(store);
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.client_id(), client_id, "the device keeps its identity");
    assert_eq!(create(&mut store, &corn(2)), 2);
    assert_eq!(store.listings().unwrap().len(), 2);
}

#[test]
fn edits_replace_the_row_in_place() {
    let (_dir, mut store) = open_temp();
    let mut listing = corn(1);
    create(&mut store, &listing);
    let change = store.change().unwrap();
    let mut details = change.listing(listing.id).unwrap().unwrap().details;
    details.title = "Corn, fresh".into();
    listing.edit(details.clone(), Timestamp(99));
    change.put_listing(&listing).unwrap();
    change.commit(&Mutation::ListingEdit { listing_id: listing.id, details }, MutationId(Uuid::now_v7()), Timestamp(99)).unwrap();
    assert_eq!(store.listing(listing.id).unwrap(), Some(listing));
    assert_eq!(store.listings().unwrap().len(), 1);
    assert_eq!(store.outbox(10).unwrap().iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
}

#[test]
fn orders_round_trip_with_their_lines() {
    let (_dir, mut store) = open_temp();
    let listing = corn(1);
    let line = OrderLine::price(&listing, Quantity::whole(4).unwrap()).unwrap();
    let new = |id: u128, fulfilment| NewOrder {
        id: OrderId(Uuid::from_u128(id)),
        lines: vec![line.clone(), line.clone()],
        buyer: Buyer::parse("王芳", "13800138000").unwrap(),
        fulfilment,
        payment_method: PaymentMethod::BankTransfer,
        channel: Channel::Phone,
        note: "leave at the gate".into(),
    };
    let mut pickup = Order::new(new(1, Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(5)) }), Timestamp(10)).unwrap();
    pickup.apply(OrderAction::Confirm, Timestamp(11)).unwrap();
    let delivery = Order::new(new(2, Fulfilment::Delivery { address: "1 Village Road".into() }), Timestamp(20)).unwrap();
    for order in [&pickup, &delivery] {
        let change = store.change().unwrap();
        change.put_order(order).unwrap();
        change.commit(&Mutation::ListingEdit { listing_id: listing.id, details: listing.details.clone() }, MutationId(Uuid::now_v7()), Timestamp(1)).unwrap();
    }
    assert_eq!(store.orders().unwrap(), [delivery.clone(), pickup.clone()], "newest first");
    assert_eq!(store.order(pickup.id).unwrap(), Some(pickup.clone()));
    // Saving again replaces the lines rather than adding to them.
    let change = store.change().unwrap();
    change.put_order(&pickup).unwrap();
    change.commit(&Mutation::ListingEdit { listing_id: listing.id, details: listing.details.clone() }, MutationId(Uuid::now_v7()), Timestamp(1)).unwrap();
    assert_eq!(store.order(pickup.id).unwrap().unwrap().lines.len(), 2);
    assert_eq!(store.order(OrderId(Uuid::from_u128(77))).unwrap(), None);
}

#[test]
fn the_schema_refuses_what_the_domain_would_never_write() {
    let (_dir, mut store) = open_temp();
    let mut listing = corn(1);
    listing.details.stock = Quantity::from_milli(-1);
    let change = store.change().unwrap();
    assert!(change.put_listing(&listing).is_err(), "negative stock violates a CHECK");
}

#[test]
fn unreadable_rows_are_reported_not_panicked_on() {
    let (_dir, mut store) = open_temp();
    create(&mut store, &corn(1));
    store.conn.execute("UPDATE listings SET unit = 'furlong'", []).unwrap();
    assert!(matches!(store.listings(), Err(crate::Error::Corrupt { .. })));
}
