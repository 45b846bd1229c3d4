//! How listings and orders sit in SQLite rows, written once for both SQLite users: the device's
//! local store and the marketplace server's embedded storage.
//!
//! Both keep a `listings`, an `orders` and an `order_lines` table with the same core columns; the
//! server adds its own (owner, link code, version), which callers pass as extra columns. Enums are
//! stored as their serde names (`"jin"`, `"ready_for_pickup"`), the same text the API and the sync
//! outbox use. Reading goes through the domain types, so a value the domain does not know becomes
//! [`Error::Corrupt`] instead of a panic.

pub mod listing;
pub mod order;

use rusqlite::types::Value;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A row that could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("stored data is not readable: {0}")]
    Corrupt(String),
}

impl Error {
    pub fn corrupt(what: impl Into<String>) -> Error {
        Error::Corrupt(what.into())
    }
}

/// The serde name of a unit-like enum variant, e.g. `Unit::Jin` → `"jin"`.
pub fn code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        other => unreachable!("only unit-like enums are stored as codes, got {other:?}"),
    }
}

/// The enum variant whose serde name is `text`.
pub fn decode<T: DeserializeOwned>(text: &str, what: &str) -> Result<T, Error> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|_| Error::corrupt(what))
}

pub fn uuid(text: &str, what: &str) -> Result<uuid::Uuid, Error> {
    uuid::Uuid::try_parse(text).map_err(|_| Error::corrupt(what))
}

/// `INSERT INTO table (columns) VALUES (?1, …) ON CONFLICT (id) DO UPDATE SET` every column except
/// those in `keep` (the id and what never changes after creation).
fn upsert_sql(table: &str, columns: &[&str], keep: &[&str]) -> String {
    let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    let updates: Vec<String> =
        columns.iter().filter(|c| !keep.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT (id) DO UPDATE SET {}",
        columns.join(", "),
        placeholders.join(", "),
        updates.join(", ")
    )
}

/// `UPDATE table SET` every column but `id` `WHERE id = ?`; the id is the first value.
fn update(conn: &rusqlite::Connection, table: &str, core: &[&str], values: Vec<Value>, extra: Extra<'_>, keep: &[&str]) -> Result<bool, Error> {
    let mut values = values.into_iter();
    let id = values.next().expect("the id is the first core column");
    let mut sets = Vec::new();
    let mut params = Vec::new();
    let named = core.iter().copied().skip(1).zip(values).chain(extra.iter().map(|(name, value)| (*name, value.clone())));
    for (column, value) in named.filter(|(column, _)| !keep.contains(column)) {
        params.push(value);
        sets.push(format!("{column} = ?{}", params.len()));
    }
    params.push(id);
    let sql = format!("UPDATE {table} SET {} WHERE id = ?{}", sets.join(", "), params.len());
    Ok(conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(params))? == 1)
}

/// Extra columns a caller stores beside the core ones, as `(name, value)`.
pub type Extra<'a> = &'a [(&'a str, Value)];

fn upsert(
    conn: &rusqlite::Connection,
    table: &str,
    core: &[&str],
    mut values: Vec<Value>,
    extra: Extra<'_>,
    keep: &[&str],
) -> Result<(), Error> {
    let mut columns: Vec<&str> = core.to_vec();
    for (name, value) in extra {
        columns.push(name);
        values.push(value.clone());
    }
    let sql = upsert_sql(table, &columns, keep);
    conn.prepare_cached(&sql)?.execute(rusqlite::params_from_iter(values))?;
    Ok(())
}
