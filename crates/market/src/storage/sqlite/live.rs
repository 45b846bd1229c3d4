//! The SQL behind live streams: a stream row, its products in order, and the count of orders
//! placed from its page.

use domain::error::FieldError;
use domain::ids::{ListingId, MemberId, StreamId};
use domain::live::{self, StreamStatus};
use domain::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};
use sqlite_rows::uuid;

use crate::storage::{Result, StorageError, StreamRecord};

const SELECT: &str = "SELECT id, coop_id, farmer_id, title, status, featured_listing_id, created_at, started_at, ended_at FROM streams";

pub fn create_stream(conn: &Connection, record: &StreamRecord, publish_token_hash: &str) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO streams (id, coop_id, farmer_id, title, status, publish_token_hash, featured_listing_id, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        record.id.to_string(),
        record.coop_id.to_string(),
        record.farmer_id.to_string(),
        record.title,
        record.status.code(),
        publish_token_hash,
        record.featured.to_string(),
        record.created_at.millis(),
    ])?;
    let mut insert = conn.prepare_cached("INSERT INTO stream_listings (stream_id, listing_id, position) VALUES (?1, ?2, ?3)")?;
    for (position, listing) in record.listing_ids.iter().enumerate() {
        insert.execute(params![record.id.to_string(), listing.to_string(), position as i64])?;
    }
    Ok(())
}

pub fn stream(conn: &Connection, id: StreamId) -> Result<StreamRecord> {
    one(conn, "id = ?1", &id.to_string())
}

pub fn stream_by_publish_token(conn: &Connection, token_hash: &str) -> Result<StreamRecord> {
    one(conn, "publish_token_hash = ?1", token_hash)
}

pub fn open_streams(conn: &Connection, farmer_id: MemberId) -> Result<Vec<StreamRecord>> {
    let sql = format!("{SELECT} WHERE farmer_id = ?1 AND status = 'open' ORDER BY created_at DESC LIMIT 20");
    let rows = conn.prepare_cached(&sql)?.query_map([farmer_id.to_string()], read_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter().map(|row| with_listings(conn, row?)).collect()
}

pub fn feature(conn: &Connection, id: StreamId, listing_id: ListingId) -> Result<StreamRecord> {
    let record = stream(conn, id)?;
    live::check_feature(record.status, &record.listing_ids, listing_id).map_err(refused)?;
    conn.prepare_cached("UPDATE streams SET featured_listing_id = ?2 WHERE id = ?1")?.execute(params![id.to_string(), listing_id.to_string()])?;
    stream(conn, id)
}

pub fn mark_started(conn: &Connection, id: StreamId, now: Timestamp) -> Result<StreamRecord> {
    conn.prepare_cached("UPDATE streams SET started_at = ?2 WHERE id = ?1 AND started_at IS NULL")?
        .execute(params![id.to_string(), now.millis()])?;
    stream(conn, id)
}

pub fn end_stream(conn: &Connection, id: StreamId, now: Timestamp) -> Result<StreamRecord> {
    let record = stream(conn, id)?;
    live::check_open(record.status).map_err(refused)?;
    conn.prepare_cached("UPDATE streams SET status = 'ended', ended_at = ?2 WHERE id = ?1")?.execute(params![id.to_string(), now.millis()])?;
    stream(conn, id)
}

/// Orders on the live channel for the stream's products, from its first camera connection to its
/// end. (Orders are not tagged with a stream; the farmer's one live stream at a time is what makes
/// the window a fair count.)
pub fn live_orders(conn: &Connection, id: StreamId) -> Result<u64> {
    let record = stream(conn, id)?;
    let Some(started) = record.started_at else { return Ok(0) };
    let until = record.ended_at.map_or(i64::MAX, |t| t.millis());
    let count: i64 = conn
        .prepare_cached(
            "SELECT COUNT(DISTINCT o.id) FROM orders o \
             JOIN order_lines l ON l.order_id = o.id \
             JOIN stream_listings s ON s.listing_id = l.listing_id AND s.stream_id = ?1 \
             WHERE o.farmer_id = ?2 AND o.channel = 'live' AND o.created_at >= ?3 AND o.created_at <= ?4",
        )?
        .query_row(params![id.to_string(), record.farmer_id.to_string(), started.millis(), until], |r| r.get(0))?;
    Ok(count.max(0) as u64)
}

fn refused(problem: FieldError) -> StorageError {
    StorageError::Refused(vec![problem])
}

fn one(conn: &Connection, condition: &str, value: &str) -> Result<StreamRecord> {
    let sql = format!("{SELECT} WHERE {condition}");
    let row = conn.prepare_cached(&sql)?.query_row([value], read_row).optional()?.ok_or(StorageError::NotFound)?;
    with_listings(conn, row?)
}

/// A row without its products yet.
fn read_row(row: &Row<'_>) -> rusqlite::Result<Result<StreamRecord>> {
    let text = |i: usize| row.get::<_, String>(i);
    let millis = |i: usize| row.get::<_, Option<i64>>(i).map(|v| v.map(Timestamp));
    let parsed = (|| -> Result<StreamRecord> {
        let status = text(4)?;
        Ok(StreamRecord {
            id: StreamId(uuid(&text(0)?, "streams.id")?),
            coop_id: domain::ids::CoopId(uuid(&text(1)?, "streams.coop_id")?),
            farmer_id: MemberId(uuid(&text(2)?, "streams.farmer_id")?),
            title: text(3)?,
            status: StreamStatus::parse(&status).ok_or_else(|| StorageError::Backend(format!("unknown stream status {status}")))?,
            listing_ids: Vec::new(),
            featured: ListingId(uuid(&text(5)?, "streams.featured_listing_id")?),
            created_at: Timestamp(row.get(6)?),
            started_at: millis(7)?,
            ended_at: millis(8)?,
        })
    })();
    Ok(parsed)
}

fn with_listings(conn: &Connection, mut record: StreamRecord) -> Result<StreamRecord> {
    let ids = conn
        .prepare_cached("SELECT listing_id FROM stream_listings WHERE stream_id = ?1 ORDER BY position")?
        .query_map([record.id.to_string()], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    record.listing_ids = ids.iter().map(|id| uuid(id, "stream_listings.listing_id").map(ListingId)).collect::<std::result::Result<_, _>>()?;
    Ok(record)
}
