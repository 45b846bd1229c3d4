//! The device's local store: an SQLite file holding listings, orders and the sync outbox.
//!
//! Every change a person makes goes through a [`Change`], and the only way to commit a change is
//! [`Change::commit`], which writes the outbox row in the same transaction. So no local write can
//! exist without its outbox entry, and no outbox entry without its write: a crash at any instant
//! leaves both or neither.
//!
//! The file runs in WAL mode with `synchronous=FULL`: a farmer sells about twenty orders a day, so
//! paying an fsync per commit is cheap, and an acknowledged sale survives a power cut.

mod change;
mod error;
mod rows;

use std::path::Path;
use std::time::Duration;

use domain::ids::{ListingId, OrderId};
use domain::listing::Listing;
use domain::order::Order;
use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{M, Migrations};
use uuid::Uuid;

pub use change::{Change, OutboxEntry};
pub use error::Error;

/// The schema, one plain SQL file per step. Never edit a published step; add a new one.
const MIGRATION_STEPS: &[M<'static>] = &[M::up(include_str!("../migrations/0001_local_store.sql"))];
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

    /// This device's identity in sync.
    pub fn client_id(&self) -> Uuid {
        self.client_id
    }

    /// Starts a local change. Dropping it without [`Change::commit`] rolls everything back.
    pub fn change(&mut self) -> Result<Change<'_>, Error> {
        Change::begin(&mut self.conn)
    }

    /// All listings, most recently changed first.
    pub fn listings(&self) -> Result<Vec<Listing>, Error> {
        rows::listings(&self.conn)
    }

    pub fn listing(&self, id: ListingId) -> Result<Option<Listing>, Error> {
        rows::listing(&self.conn, id)
    }

    /// All orders, newest first.
    pub fn orders(&self) -> Result<Vec<Order>, Error> {
        rows::orders(&self.conn)
    }

    pub fn order(&self, id: OrderId) -> Result<Option<Order>, Error> {
        rows::order(&self.conn, id)
    }

    /// Up to `limit` outbox entries in `seq` order, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        change::outbox(&self.conn, limit)
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
