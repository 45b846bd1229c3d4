//! The device's local store: an SQLite file holding listings, orders, quotas, the sync outbox and
//! what the marketplace last said.
//!
//! Every change a person makes goes through [`Store::record`]: the mutation's local effect (by
//! `domain::mutation::apply`, the rules the server uses too) and its outbox entry are written in one
//! transaction. So no local write can exist without its outbox entry, and no outbox entry without
//! its write: a crash at any instant leaves both or neither. Sync ([`sync`]) acknowledges entries and
//! applies pulled pages, each in one transaction as well.
//!
//! The file runs in WAL mode with `synchronous=FULL`: a farmer sells about twenty orders a day, so
//! paying an fsync per commit is cheap, and an acknowledged sale survives a power cut.

mod change;
mod error;
mod rows;
mod sync;

use std::path::Path;
use std::time::Duration;

use std::collections::{HashMap, HashSet};

use domain::error::FieldError;
use domain::ids::{ListingId, MemberId, OrderId};
use domain::listing::Listing;
use domain::mutation::{self, ApplyError, Mutation, Outcome};
use domain::order::Order;
use domain::quantity::Quantity;
use domain::sync::{EntryResult, PullResponse};
use domain::time::Timestamp;
use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{M, Migrations};
use uuid::Uuid;

pub use change::{Change, OutboxEntry};
pub use error::Error;
pub use sync::{Account, Acknowledged, Refusal, SyncState};

/// The schema, one plain SQL file per step. Never edit a published step; add a new one.
const MIGRATION_STEPS: &[M<'static>] = &[
    M::up(include_str!("../migrations/0001_local_store.sql")),
    M::up(include_str!("../migrations/0002_sync.sql")),
    M::up(include_str!("../migrations/0003_device_name.sql")),
    M::up(include_str!("../migrations/0004_order_stream.sql")),
];
const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);

/// How long a write waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An open local store.
pub struct Store {
    conn: Connection,
    client_id: Uuid,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, Error> {
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        MIGRATIONS.to_latest(&mut conn)?;
        // A fresh device gets its identity once; `INSERT OR IGNORE` keeps it on every later open.
        conn.execute(
            "INSERT OR IGNORE INTO device (id, client_id, next_seq) VALUES (1, ?1, 1)",
            [Uuid::new_v4().to_string()],
        )?;
        let client_id: String = conn.query_row("SELECT client_id FROM device WHERE id = 1", [], |r| r.get(0))?;
        let client_id = Uuid::try_parse(&client_id).map_err(|_| Error::corrupt("device.client_id"))?;
        Ok(Store { conn, client_id })
    }

    /// Forgets everything: the account and its token, listings, orders, quotas, server copies,
    /// refusals; the device gets a new sync identity. For signing out, which the client only
    /// allows with an empty outbox. One transaction: it happens whole or not at all.
    pub fn wipe(&mut self) -> Result<(), Error> {
        let tx = self.conn.transaction()?;
        let tables: Vec<String> = tx
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'device'")?
            .query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?;
        for table in tables {
            // The names come from the schema itself, never from input.
            tx.execute(&format!("DELETE FROM \"{table}\""), [])?;
        }
        let client_id = Uuid::new_v4();
        tx.execute("UPDATE device SET client_id = ?1, next_seq = 1 WHERE id = 1", [client_id.to_string()])?;
        tx.commit()?;
        self.client_id = client_id;
        Ok(())
    }

    /// This device's identity in sync.
    pub fn client_id(&self) -> Uuid {
        self.client_id
    }

    /// Starts a local change. Dropping it without [`Change::commit`] rolls everything back.
    pub fn change(&mut self) -> Result<Change<'_>, Error> {
        Change::begin(&mut self.conn)
    }

    /// Applies `mutations` to the local view and queues them for sync, all in one transaction. If a
    /// rule refuses any of them, nothing is written.
    pub fn record(&mut self, mutations: &[Mutation], at: Timestamp) -> Result<Recorded, RecordError> {
        let mut change = self.change()?;
        let mut outcomes = Vec::with_capacity(mutations.len());
        for m in mutations {
            match mutation::apply(m, &mut change, at) {
                Ok(outcome) => outcomes.push(outcome),
                Err(ApplyError::Refused(errors)) => return Err(RecordError::Refused(errors)),
                Err(ApplyError::State(error)) => return Err(RecordError::Store(error)),
            }
        }
        let entries = change.commit(mutations, at)?;
        Ok(Recorded { entries, outcomes })
    }

    /// All listings, most recently changed first.
    pub fn listings(&self) -> Result<Vec<Listing>, Error> {
        rows::listings(&self.conn)
    }

    /// All listings with their order link codes (known once the marketplace has them).
    pub fn listings_with_codes(&self) -> Result<Vec<(Listing, Option<String>)>, Error> {
        rows::listings_with_codes(&self.conn)
    }

    pub fn listing(&self, id: ListingId) -> Result<Option<Listing>, Error> {
        rows::listing(&self.conn, id)
    }

    /// All orders, newest first.
    pub fn orders(&self) -> Result<Vec<Order>, Error> {
        rows::orders(&self.conn)
    }

    /// The farmer of each order whose farmer is known; see [`rows::order_farmers`].
    pub fn order_farmers(&self) -> Result<HashMap<OrderId, MemberId>, Error> {
        rows::order_farmers(&self.conn)
    }

    pub fn order(&self, id: OrderId) -> Result<Option<Order>, Error> {
        rows::order(&self.conn, id)
    }

    /// Up to `limit` outbox entries in `seq` order, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        change::outbox(&self.conn, limit)
    }

    /// The ids of entities with changes still in the outbox, for marking them as pending.
    pub fn pending_targets(&self) -> Result<HashSet<String>, Error> {
        let mut statement = self.conn.prepare_cached("SELECT DISTINCT target FROM outbox")?;
        let targets = statement.query_map([], |r| r.get::<_, String>(0))?.collect::<rusqlite::Result<HashSet<_>>>()?;
        Ok(targets)
    }

    /// This device's quota of a listing, as the view has it.
    pub fn quota(&self, listing: ListingId) -> Result<Quantity, Error> {
        change::quota(&self.conn, listing)
    }

    pub fn account(&self) -> Result<Option<Account>, Error> {
        sync::account(&self.conn)
    }

    pub fn set_account(&mut self, account: &Account) -> Result<(), Error> {
        sync::set_account(&self.conn, account)
    }

    pub fn sync_state(&self) -> Result<SyncState, Error> {
        sync::sync_state(&self.conn)
    }

    pub fn set_last_synced_at(&mut self, at: Timestamp) -> Result<(), Error> {
        sync::set_last_synced_at(&self.conn, at)
    }

    /// Removes the entries a push answered for, keeping refusals for the person; one transaction.
    pub fn acknowledge(&mut self, results: &[EntryResult], at: Timestamp) -> Result<Acknowledged, Error> {
        sync::acknowledge(&mut self.conn, results, at)
    }

    /// Applies one pulled page and rebuilds the view it affects; one transaction.
    pub fn apply_pull(&mut self, page: &PullResponse, at: Timestamp) -> Result<(), Error> {
        sync::apply_pull(&mut self.conn, page, at)
    }

    /// The co-op's pickup points as last pulled.
    pub fn pickup_points(&self) -> Result<Vec<domain::sync::PickupPointInfo>, Error> {
        sync::pickup_points(&self.conn)
    }

    /// The most recent refusals, newest first.
    pub fn refusals(&self, limit: usize) -> Result<Vec<Refusal>, Error> {
        sync::refusals(&self.conn, limit)
    }

    /// How many changes wait to be pushed.
    pub fn outbox_len(&self) -> Result<u64, Error> {
        let count: i64 = self.conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))?;
        Ok(count as u64)
    }

    /// Runs SQLite's own consistency check; `Ok(())` when it says "ok".
    pub fn integrity_check(&self) -> Result<(), Error> {
        let verdict: Option<String> =
            self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).optional()?;
        match verdict.as_deref() {
            Some("ok") => Ok(()),
            _ => Err(Error::corrupt("integrity_check")),
        }
    }
}

/// The result of [`Store::record`].
#[derive(Debug, Clone)]
pub struct Recorded {
    pub entries: Vec<OutboxEntry>,
    pub outcomes: Vec<Outcome>,
}

/// Why [`Store::record`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("refused")]
    Refused(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] Error),
}

fn configure(conn: &Connection) -> Result<(), Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if mode != "wal" {
        return Err(Error::corrupt("journal_mode"));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    Ok(())
}

#[cfg(test)]
mod tests;
