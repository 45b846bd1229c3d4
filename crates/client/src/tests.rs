//! Client tests against a real store file in a temporary directory, with a fixed clock.

use domain::error::Field;
use domain::ids::ListingId;
use domain::listing::{ListingInput, ListingStatus};
use domain::money::{Currency, Money};
use domain::time::{Clock, Timestamp};
use uuid::Uuid;

use crate::{ApiError, Client, ClientError};

struct FixedClock(i64);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0)
    }
}

fn corn() -> ListingInput {
    ListingInput {
        title: "甜玉米".into(),
        unit: "jin".into(),
        currency: "CNY".into(),
        price: "3.50".into(),
        stock: "50".into(),
        ..Default::default()
    }
}

fn open(dir: &std::path::Path) -> Client {
    Client::open_with_clock(dir, Box::new(FixedClock(1_700_000_000_000))).unwrap()
}

#[test]
fn produce_added_is_listed_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let added = open(dir.path()).add_produce(&corn()).unwrap();
    assert_eq!(added.details.price, Money::new(350, Currency::CNY));
    assert_eq!(added.status, ListingStatus::Active);
    assert_eq!(added.created_at, Timestamp(1_700_000_000_000));
    let client = open(dir.path());
    assert_eq!(client.list_produce().unwrap(), [added]);
    assert_eq!(client.status().unwrap().pending_changes, 1);
}

#[test]
fn invalid_produce_writes_nothing_and_names_each_field() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let input = ListingInput { title: "x".repeat(500), price: "-1".into(), unit: "furlong".into(), ..corn() };
    let error = client.add_produce(&input).unwrap_err();
    let api = ApiError::from(error);
    assert_eq!(api.code, "invalid");
    let fields: Vec<_> = api.fields.iter().map(|f| (f.field, f.code.as_str())).collect();
    assert_eq!(fields, [(Field::Title, "too_long"), (Field::Unit, "unknown_unit"), (Field::Price, "negative")]);
    assert_eq!(client.list_produce().unwrap(), []);
    assert_eq!(client.status().unwrap().pending_changes, 0);
}

#[test]
fn editing_changes_the_listing_and_queues_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let added = client.add_produce(&corn()).unwrap();
    let edited = client.edit_produce(added.id, &ListingInput { price: "4".into(), stock: "0".into(), ..corn() }).unwrap();
    assert_eq!(edited.details.price.minor, 400);
    assert_eq!(edited.status, ListingStatus::SoldOut);
    assert_eq!(client.list_produce().unwrap(), [edited]);
    assert_eq!(client.status().unwrap().pending_changes, 2);
}

#[test]
fn editing_unknown_or_with_bad_input_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let client = open(dir.path());
    let added = client.add_produce(&corn()).unwrap();
    assert!(matches!(client.edit_produce(ListingId(Uuid::from_u128(42)), &corn()), Err(ClientError::NotFound)));
    assert!(matches!(client.edit_produce(added.id, &ListingInput { stock: "2.5".into(), unit: "box".into(), ..corn() }), Err(ClientError::Invalid(_))));
    assert_eq!(client.list_produce().unwrap(), [added]);
    assert_eq!(client.status().unwrap().pending_changes, 1);
}

#[test]
fn storage_errors_do_not_leak_details() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let error = Client::open(&file).err().expect("a file is not a data directory");
    let api = ApiError::from(error);
    assert_eq!(api.code, "storage");
    assert!(!api.message.contains("not-a-dir"), "{}", api.message);
}

#[test]
fn bindings_declare_every_boundary_type() {
    let ts = crate::bindings::typescript();
    for name in ["Listing", "ListingInput", "Money", "Unit", "ApiError", "FieldProblem", "Order"] {
        assert!(ts.contains(&format!("export type {name} =")), "{name} missing");
    }
    assert!(ts.contains(r#"export type Unit = "kg" | "g" | "jin""#), "units are string unions");
    assert!(!ts.contains("bigint"), "money and quantities are plain numbers in JSON");
}
