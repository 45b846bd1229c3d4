//! Store tests on real database files in a temporary directory.

use domain::ids::{ListingId, OrderId, PickupPointId};
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
    let mutation = Mutation::ListingCreate { listing_id: listing.id, farmer_id: None, details: listing.details.clone() };
    change.commit(&[mutation], listing.created_at).unwrap()[0].seq
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
    assert_eq!(outbox[0].mutation, Mutation::ListingCreate { listing_id: listing.id, farmer_id: None, details: listing.details });
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
    change.commit(&[Mutation::ListingEdit { listing_id: listing.id, details }], Timestamp(99)).unwrap();
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
        change.commit(&[Mutation::ListingEdit { listing_id: listing.id, details: listing.details.clone() }], Timestamp(1)).unwrap();
    }
    assert_eq!(store.orders().unwrap(), [delivery.clone(), pickup.clone()], "newest first");
    assert_eq!(store.order(pickup.id).unwrap(), Some(pickup.clone()));
    // Saving again replaces the lines rather than adding to them.
    let change = store.change().unwrap();
    change.put_order(&pickup).unwrap();
    change.commit(&[Mutation::ListingEdit { listing_id: listing.id, details: listing.details.clone() }], Timestamp(1)).unwrap();
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

// --- Sync ---------------------------------------------------------------------------------------

mod sync {
    use domain::checkout::OfflineSale;
    use domain::ids::{ListingId, MemberId, OrderId, PickupPointId};
    use domain::listing::{Listing, ListingStatus};
    use domain::mutation::Mutation;
    use domain::order::{Buyer, Channel, Fulfilment, PaymentMethod};
    use domain::quantity::Quantity;
    use domain::sync::{EntryResult, ListingVersion, PullResponse, QuotaVersion, Verdict};
    use domain::time::Timestamp;
    use uuid::Uuid;

    use super::{corn, open_temp};
    use crate::{RecordError, Store};

    fn units(n: i64) -> Quantity {
        Quantity::whole(n).unwrap()
    }

    fn applied(entry: &crate::OutboxEntry) -> EntryResult {
        EntryResult { seq: entry.seq, mutation_id: entry.mutation_id, verdict: Verdict::Applied { moved: None, shortfall: None } }
    }

    fn refused(entry: &crate::OutboxEntry) -> EntryResult {
        EntryResult {
            seq: entry.seq,
            mutation_id: entry.mutation_id,
            verdict: Verdict::Refused { code: "forbidden".into(), field: None, message: "not yours".into() },
        }
    }

    /// A pull page holding `listing` at `version`, with the server's last applied seq.
    fn page(listing: &Listing, version: i64, last_applied_seq: u64, quotas: Vec<QuotaVersion>) -> PullResponse {
        PullResponse {
            listings: vec![ListingVersion { listing: listing.clone(), farmer_id: MemberId(Uuid::from_u128(9)), code: "abc2345".into(), version }],
            orders: vec![],
            quotas,
            pickup_points: vec![],
            last_applied_seq,
            cursor: version,
            more: false,
        }
    }

    fn create(store: &mut Store, listing: &Listing) -> crate::OutboxEntry {
        let mutation = Mutation::ListingCreate { listing_id: listing.id, farmer_id: None, details: listing.details.clone() };
        store.record(&[mutation], Timestamp(1)).unwrap().entries.remove(0)
    }

    fn sale(listing: ListingId, units_sold: i64, n: u128) -> Mutation {
        Mutation::OrderRecord {
            sale: OfflineSale {
                order_id: OrderId(Uuid::from_u128(1000 + n)),
                listing_id: listing,
                quantity: units(units_sold),
                buyer: Buyer::parse("Walk-up", "13900139000").unwrap(),
                fulfilment: Fulfilment::Pickup { point_id: PickupPointId(Uuid::from_u128(5)) },
                payment_method: PaymentMethod::CashAtPickup,
                channel: Channel::InPerson,
                note: String::new(),
            },
        }
    }

    #[test]
    fn recording_applies_locally_and_queues_or_writes_nothing() {
        let (_dir, mut store) = open_temp();
        let listing = corn(1);
        create(&mut store, &listing);
        store.record(&[Mutation::ListingStock { listing_id: listing.id, delta: units(5) }], Timestamp(2)).unwrap();
        assert_eq!(store.listing(listing.id).unwrap().unwrap().details.stock, units(55));
        let bad = Mutation::ListingStock { listing_id: listing.id, delta: Quantity::from_milli(500) };
        let good = Mutation::ListingPause { listing_id: listing.id };
        assert!(matches!(store.record(&[good, bad], Timestamp(3)), Err(RecordError::Refused(_))));
        assert_eq!(store.listing(listing.id).unwrap().unwrap().status, ListingStatus::Active, "all or nothing");
        assert_eq!(store.outbox_len().unwrap(), 2);
    }

    #[test]
    fn acknowledging_removes_entries_and_a_refused_create_leaves_the_view() {
        let (_dir, mut store) = open_temp();
        let kept = create(&mut store, &corn(1));
        let phantom = create(&mut store, &corn(2));
        let done = store.acknowledge(&[applied(&kept), refused(&phantom)], Timestamp(5)).unwrap();
        assert_eq!((done.acked, done.pending, done.refused.len()), (2, 0, 1));
        assert_eq!(done.refused[0].code, "forbidden");
        assert_eq!(store.refusals(10).unwrap()[0].name, "listing.create");
        assert!(store.listing(corn(2).id).unwrap().is_none(), "the server refused it, so it is gone from the view");
        assert!(store.listing(corn(1).id).unwrap().is_some(), "applied but not pulled yet: still shown");
        let again = store.acknowledge(&[applied(&kept)], Timestamp(6)).unwrap();
        assert_eq!(again.acked, 0, "a second answer for the same entry changes nothing");
    }

    #[test]
    fn an_answer_naming_another_mutation_is_not_trusted() {
        let (_dir, mut store) = open_temp();
        let entry = create(&mut store, &corn(1));
        let forged = EntryResult { mutation_id: domain::ids::MutationId(Uuid::from_u128(77)), ..applied(&entry) };
        assert!(store.acknowledge(&[forged], Timestamp(2)).is_err());
        assert_eq!(store.outbox_len().unwrap(), 1);
    }

    #[test]
    fn a_pull_rebuilds_the_view_from_the_server_plus_pending_changes() {
        let (_dir, mut store) = open_temp();
        let listing = corn(1);
        let created = create(&mut store, &listing);
        store.acknowledge(&[applied(&created)], Timestamp(2)).unwrap();
        // While the device adds 5 jin (not sent yet), buyers take 20 on the server.
        store.record(&[Mutation::ListingStock { listing_id: listing.id, delta: units(5) }], Timestamp(3)).unwrap();
        let mut on_server = listing.clone();
        on_server.take(units(20), Timestamp(3)).unwrap();
        store.apply_pull(&page(&on_server, 10, 1, vec![]), Timestamp(4)).unwrap();
        let view = store.listing(listing.id).unwrap().unwrap();
        assert_eq!(view.details.stock, units(35), "50 - 20 on the server, + 5 pending here");
        let shown = store.listings().unwrap();
        assert_eq!(shown.len(), 1);
        assert_eq!(store.sync_state().unwrap().cursor, 10);
    }

    #[test]
    fn a_change_the_server_already_applied_is_not_counted_twice() {
        let (_dir, mut store) = open_temp();
        let listing = corn(1);
        let created = create(&mut store, &listing);
        store.acknowledge(&[applied(&created)], Timestamp(2)).unwrap();
        store.record(&[Mutation::ListingStock { listing_id: listing.id, delta: units(5) }], Timestamp(3)).unwrap();
        // The push was applied (seq 2) but its answer was lost; the pull already shows +5.
        let mut on_server = listing.clone();
        on_server.details.stock = units(55);
        store.apply_pull(&page(&on_server, 11, 2, vec![]), Timestamp(4)).unwrap();
        assert_eq!(store.listing(listing.id).unwrap().unwrap().details.stock, units(55));
        assert_eq!(store.outbox_len().unwrap(), 1, "the entry stays until its answer comes");
    }

    #[test]
    fn an_older_version_never_overwrites_a_newer_one() {
        let (_dir, mut store) = open_temp();
        let listing = corn(1);
        let created = create(&mut store, &listing);
        store.acknowledge(&[applied(&created)], Timestamp(2)).unwrap();
        let mut newer = listing.clone();
        newer.details.title = "Newer".into();
        store.apply_pull(&page(&newer, 20, 1, vec![]), Timestamp(3)).unwrap();
        let mut older = listing.clone();
        older.details.title = "Older".into();
        store.apply_pull(&page(&older, 15, 1, vec![]), Timestamp(4)).unwrap();
        assert_eq!(store.listing(listing.id).unwrap().unwrap().details.title, "Newer");
        assert_eq!(store.sync_state().unwrap().cursor, 20, "the cursor never goes back");
    }

    #[test]
    fn offline_sales_use_the_quota_and_survive_a_rebuild() {
        let (_dir, mut store) = open_temp();
        let listing = corn(1);
        let created = create(&mut store, &listing);
        store.acknowledge(&[applied(&created)], Timestamp(2)).unwrap();
        // The server granted this device 10 of the 50 jin.
        let mut on_server = listing.clone();
        on_server.details.stock = units(40);
        let quota = QuotaVersion { listing_id: listing.id, quantity: units(10), version: 12 };
        store.apply_pull(&page(&on_server, 12, 1, vec![quota]), Timestamp(3)).unwrap();
        assert_eq!((store.quota(listing.id).unwrap(), store.listing(listing.id).unwrap().unwrap().details.stock), (units(10), units(40)));
        let recorded = store.record(&[sale(listing.id, 12, 1)], Timestamp(4)).unwrap();
        assert_eq!(recorded.outcomes[0].shortfall, Some(Quantity::ZERO));
        assert_eq!((store.quota(listing.id).unwrap(), store.listing(listing.id).unwrap().unwrap().details.stock), (Quantity::ZERO, units(38)));
        // A pull in between (buyers took 8 more on the server) keeps the pending sale in the view.
        on_server.details.stock = units(32);
        store.apply_pull(&page(&on_server, 13, 1, vec![]), Timestamp(5)).unwrap();
        assert_eq!(store.listing(listing.id).unwrap().unwrap().details.stock, units(30));
        assert_eq!(store.orders().unwrap().len(), 1);
        assert!(store.pending_targets().unwrap().contains(&OrderId(Uuid::from_u128(1001)).to_string()));
    }
}
