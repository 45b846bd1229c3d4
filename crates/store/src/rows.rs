//! The device store's queries over listings and orders; the row mapping itself is shared with the
//! server in the `sqlite-rows` crate.

use std::collections::HashMap;

use domain::ids::{ListingId, MemberId, OrderId};
use domain::listing::Listing;
use domain::order::Order;
use rusqlite::Connection;
use sqlite_rows::{listing, order};

use crate::Error;

pub(crate) fn listings(conn: &Connection) -> Result<Vec<Listing>, Error> {
    let sql = format!("SELECT {} FROM listings ORDER BY updated_at DESC, id", listing::select(""));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push(listing::read(row, 0)?);
    }
    Ok(found)
}

pub(crate) fn listings_with_codes(conn: &Connection) -> Result<Vec<(Listing, Option<String>)>, Error> {
    let sql = format!("SELECT {}, code FROM listings ORDER BY updated_at DESC, id", listing::select(""));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        found.push((listing::read(row, 0)?, row.get(listing::COLUMNS.len())?));
    }
    Ok(found)
}

pub(crate) fn listing(conn: &Connection, id: ListingId) -> Result<Option<Listing>, Error> {
    let sql = format!("SELECT {} FROM listings WHERE id = ?1", listing::select(""));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([id.to_string()])?;
    Ok(rows.next()?.map(|row| listing::read(row, 0)).transpose()?)
}

pub(crate) fn put_listing(conn: &Connection, value: &Listing) -> Result<(), Error> {
    Ok(listing::upsert(conn, "listings", value, &[], &[])?)
}

pub(crate) fn orders(conn: &Connection) -> Result<Vec<Order>, Error> {
    let mut lines = order::lines(conn, "1", &[])?;
    let sql = format!("SELECT {} FROM orders ORDER BY created_at DESC, id", order::select(""));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([])?;
    let mut found = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        found.push(order::read(row, 0, lines.remove(&id).unwrap_or_default())?);
    }
    Ok(found)
}

/// Whose sale each order is, for the orders the marketplace has told this device about (an order
/// made here learns its farmer when it syncs).
pub(crate) fn order_farmers(conn: &Connection) -> Result<HashMap<OrderId, MemberId>, Error> {
    let mut statement = conn.prepare_cached("SELECT id, farmer_id FROM orders WHERE farmer_id IS NOT NULL")?;
    let pairs = statement.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    let mut found = HashMap::new();
    for pair in pairs {
        let (order, farmer) = pair?;
        // Both were written by this store from typed ids; a row that does not parse is skipped
        // rather than hiding every other order's farmer.
        if let (Some(order), Some(farmer)) = (OrderId::parse(&order), MemberId::parse(&farmer)) {
            found.insert(order, farmer);
        }
    }
    Ok(found)
}

pub(crate) fn order(conn: &Connection, id: OrderId) -> Result<Option<Order>, Error> {
    let id = id.to_string();
    let sql = format!("SELECT {} FROM orders WHERE id = ?1", order::select(""));
    let mut statement = conn.prepare_cached(&sql)?;
    let mut rows = statement.query([&id])?;
    let Some(row) = rows.next()? else { return Ok(None) };
    let lines = order::lines(conn, "l.order_id = ?1", &[&id])?.remove(&id).unwrap_or_default();
    Ok(Some(order::read(row, 0, lines)?))
}

pub(crate) fn put_order(conn: &Connection, value: &Order) -> Result<(), Error> {
    Ok(order::upsert(conn, value, &[], &[])?)
}
