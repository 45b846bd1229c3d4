//! One local change and its outbox entry, committed together or not at all.

use domain::ids::{ListingId, MutationId};
use domain::listing::Listing;
use domain::mutation::Mutation;
use domain::order::Order;
use domain::time::Timestamp;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::{Error, rows};

/// An open write transaction on the local store. Reads through it see its own writes. It can only
/// be committed with the [`Mutation`] that describes it, which goes to the outbox.
pub struct Change<'s> {
    tx: Transaction<'s>,
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

    /// Appends `mutation` to the outbox under the next `seq` and commits everything. When this
    /// returns `Ok`, the change is on disk (fsynced) and queued for sync.
    pub fn commit(self, mutation: &Mutation, mutation_id: MutationId, at: Timestamp) -> Result<OutboxEntry, Error> {
        let seq: i64 = self.tx.query_row(
            "UPDATE device SET next_seq = next_seq + 1 WHERE id = 1 RETURNING next_seq - 1",
            [],
            |r| r.get(0),
        )?;
        let wire = serde_json::to_value(mutation).expect("mutations serialize");
        self.tx.execute(
            "INSERT INTO outbox (seq, mutation_id, name, args, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            rusqlite::params![seq, mutation_id.to_string(), mutation.name(), wire["args"].to_string(), at.millis()],
        )?;
        self.tx.commit()?;
        Ok(OutboxEntry { seq: seq as u64, mutation_id, mutation: mutation.clone(), created_at: at })
    }
}

pub(crate) fn outbox(conn: &Connection, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
    let mut statement =
        conn.prepare("SELECT seq, mutation_id, name, args, created_at FROM outbox ORDER BY seq LIMIT ?1")?;
    let rows = statement
        .query_map([limit as i64], |r| {
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
