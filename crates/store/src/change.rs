//! One local change and its outbox entries, committed together or not at all.
//!
//! A `Change` is also the device's [`State`] for `domain::mutation::apply`: the mutation's local
//! effect is written to the view tables through it, in the transaction that queues the mutation.

use domain::ids::{ListingId, MutationId, OrderId};
use domain::listing::Listing;
use domain::mutation::{Mutation, State, Target};
use domain::order::Order;
use domain::quantity::Quantity;
use domain::time::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use uuid::Uuid;

use crate::{Error, rows};

/// An open write transaction on the local store. Reads through it see its own writes. It can only
/// be committed with the mutations that describe it, which go to the outbox.
pub struct Change<'s> {
    pub(crate) tx: Transaction<'s>,
}

/// A change waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// Grows by one per device, starting at 1; the server applies entries in this order.
    pub seq: u64,
    pub mutation_id: MutationId,
    pub mutation: Mutation,
    pub created_at: Timestamp,
}

impl<'s> Change<'s> {
    pub(crate) fn begin(conn: &'s mut Connection) -> Result<Change<'s>, Error> {
        // IMMEDIATE takes the write lock up front, so a read-then-write never fails half way with
        // SQLITE_BUSY when another connection writes in between.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        Ok(Change { tx })
    }

    pub fn listing(&self, id: ListingId) -> Result<Option<Listing>, Error> {
        rows::listing(&self.tx, id)
    }

    pub fn put_listing(&self, listing: &Listing) -> Result<(), Error> {
        rows::put_listing(&self.tx, listing)
    }

    pub fn put_order(&self, order: &Order) -> Result<(), Error> {
        rows::put_order(&self.tx, order)
    }

    /// Appends `mutations` to the outbox under the next seqs and commits everything. When this
    /// returns `Ok`, the change is on disk (fsynced) and queued for sync.
    pub fn commit(self, mutations: &[Mutation], at: Timestamp) -> Result<Vec<OutboxEntry>, Error> {
        let mut entries = Vec::with_capacity(mutations.len());
        for mutation in mutations {
            let seq: i64 = self.tx.query_row(
                "UPDATE device SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
                [],
                |r| r.get(0),
            )?;
            let mutation_id = MutationId(Uuid::now_v7());
            let wire = serde_json::to_value(mutation).expect("mutations serialize");
            self.tx.prepare_cached(
                "INSERT INTO outbox (seq, mutation_id, name, args, created_at, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(rusqlite::params![
                seq,
                mutation_id.to_string(),
                mutation.name(),
                wire["args"].to_string(),
                at.millis(),
                target_key(mutation.target()),
            ])?;
            entries.push(OutboxEntry { seq: seq as u64, mutation_id, mutation: mutation.clone(), created_at: at });
        }
        self.tx.commit()?;
        Ok(entries)
    }
}

/// The outbox's `target` column: the changed entity's id.
pub(crate) fn target_key(target: Target) -> String {
    match target {
        Target::Listing(id) => id.to_string(),
        Target::Order(id) => id.to_string(),
    }
}

impl State for Change<'_> {
    type Error = Error;

    fn listing(&mut self, id: ListingId) -> Result<Option<Listing>, Error> {
        rows::listing(&self.tx, id)
    }

    fn put_listing(&mut self, listing: &Listing) -> Result<(), Error> {
        rows::put_listing(&self.tx, listing)
    }

    fn order(&mut self, id: OrderId) -> Result<Option<Order>, Error> {
        rows::order(&self.tx, id)
    }

    fn put_order(&mut self, order: &Order) -> Result<(), Error> {
        rows::put_order(&self.tx, order)
    }

    fn quota(&mut self, listing: ListingId) -> Result<Quantity, Error> {
        quota(&self.tx, listing)
    }

    fn set_quota(&mut self, listing: ListingId, quantity: Quantity) -> Result<(), Error> {
        set_quota(&self.tx, listing, quantity)
    }
}

pub(crate) fn quota(conn: &Connection, listing: ListingId) -> Result<Quantity, Error> {
    let milli: Option<i64> = conn
        .prepare_cached("SELECT quantity_milli FROM quotas WHERE listing_id = ?1")?
        .query_row([listing.to_string()], |r| r.get(0))
        .optional()?;
    Ok(Quantity::from_milli(milli.unwrap_or(0)))
}

pub(crate) fn set_quota(conn: &Connection, listing: ListingId, quantity: Quantity) -> Result<(), Error> {
    conn.prepare_cached(
        "INSERT INTO quotas (listing_id, quantity_milli) VALUES (?1, ?2)
         ON CONFLICT (listing_id) DO UPDATE SET quantity_milli = excluded.quantity_milli",
    )?
    .execute(rusqlite::params![listing.to_string(), quantity.milli()])?;
    Ok(())
}

pub(crate) fn outbox(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
    outbox_after(conn, 0, limit)
}

/// Up to `limit` outbox entries with a seq above `after`, oldest first.
pub(crate) fn outbox_after(conn: &Connection, after: u64, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
    let mut statement = conn.prepare_cached(
        "SELECT seq, mutation_id, name, args, created_at FROM outbox WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = statement
        .query_map(rusqlite::params![after as i64, limit.min(i64::MAX as usize) as i64], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(seq, mutation_id, name, args, created_at)| {
            let args: serde_json::Value = serde_json::from_str(&args).map_err(|_| Error::corrupt("outbox.args"))?;
            let mutation = serde_json::from_value(serde_json::json!({ "name": name, "args": args }))
                .map_err(|_| Error::corrupt("outbox.name"))?;
            Ok(OutboxEntry {
                seq: seq as u64,
                mutation_id: MutationId::parse(&mutation_id).ok_or_else(|| Error::corrupt("outbox.mutation_id"))?,
                mutation,
                created_at: Timestamp(created_at),
            })
        })
        .collect()
}
