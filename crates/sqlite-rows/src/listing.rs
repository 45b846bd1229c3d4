//! A listing as a row.

use domain::ids::ListingId;
use domain::listing::{Listing, ListingDetails, PhotoRef};
use domain::money::{Currency, Money};
use domain::quantity::{OrderRules, Quantity};
use domain::time::Timestamp;
use rusqlite::Row;
use rusqlite::types::Value;

use crate::{Error, Extra, code, decode, uuid};

/// The core columns, in the order [`values`] and [`read`] use.
pub const COLUMNS: [&str; 14] = [
    "id",
    "title",
    "description",
    "unit",
    "currency",
    "price_minor",
    "stock_milli",
    "step_milli",
    "minimum_milli",
    "maximum_milli",
    "photos",
    "status",
    "created_at",
    "updated_at",
];

/// The core columns for a `SELECT`, with a table alias prefix such as `"l."` (or `""`).
pub fn select(prefix: &str) -> String {
    COLUMNS.iter().map(|c| format!("{prefix}{c}")).collect::<Vec<_>>().join(", ")
}

pub fn values(listing: &Listing) -> Vec<Value> {
    let details = &listing.details;
    vec![
        listing.id.to_string().into(),
        details.title.clone().into(),
        details.description.clone().into(),
        code(&details.unit).into(),
        code(&details.price.currency).into(),
        details.price.minor.into(),
        details.stock.milli().into(),
        details.rules.step.milli().into(),
        details.rules.minimum.milli().into(),
        details.rules.maximum.map(Quantity::milli).into(),
        serde_json::to_string(&listing.photos).expect("photo refs serialize").into(),
        code(&listing.status).into(),
        listing.created_at.millis().into(),
        listing.updated_at.millis().into(),
    ]
}

/// Inserts or updates `listing` in `table`, with `extra` columns beside the core ones. Columns in
/// `keep` (besides `id` and `created_at`) are written on insert and never updated.
pub fn upsert(conn: &rusqlite::Connection, table: &str, listing: &Listing, extra: Extra<'_>, keep: &[&str]) -> Result<(), Error> {
    let keep: Vec<&str> = ["id", "created_at"].into_iter().chain(keep.iter().copied()).collect();
    crate::upsert(conn, table, &COLUMNS, values(listing), extra, &keep)
}

/// Reads the core columns starting at column index `at`.
pub fn read(row: &Row<'_>, at: usize) -> Result<Listing, Error> {
    let text = |i: usize| row.get::<_, String>(at + i);
    let int = |i: usize| row.get::<_, i64>(at + i);
    let currency: Currency = decode(&text(4)?, "listings.currency")?;
    let photos: Vec<PhotoRef> = serde_json::from_str(&text(10)?).map_err(|_| Error::corrupt("listings.photos"))?;
    Ok(Listing {
        id: ListingId(uuid(&text(0)?, "listings.id")?),
        details: ListingDetails {
            title: text(1)?,
            description: text(2)?,
            unit: decode(&text(3)?, "listings.unit")?,
            price: Money::new(int(5)?, currency),
            stock: Quantity::from_milli(int(6)?),
            rules: OrderRules {
                step: Quantity::from_milli(int(7)?),
                minimum: Quantity::from_milli(int(8)?),
                maximum: row.get::<_, Option<i64>>(at + 9)?.map(Quantity::from_milli),
            },
        },
        photos,
        status: decode(&text(11)?, "listings.status")?,
        created_at: Timestamp(int(12)?),
        updated_at: Timestamp(int(13)?),
    })
}
