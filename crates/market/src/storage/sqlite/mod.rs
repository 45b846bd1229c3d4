//! The embedded SQLite backend: one file in the data directory, WAL, `synchronous=FULL`.
//!
//! Writes go through the group-commit [`writer::Writer`] (one connection, one thread); reads go to
//! a pool of read-only connections. Every acknowledged write has been fsynced.

mod live;
mod queries;
mod readers;
mod sync;
mod writer;

use std::path::Path;
use std::time::Duration;

use domain::ids::{CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::listing::ListingChange;
use domain::money::Money;
use domain::order::OrderAction;
use domain::time::Timestamp;
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

use super::{
    BoxFuture, Coop, Device, ListingFilter, NewDevice, ListingRecord, Member, OrderFilter, OrderRecord, Page, PairingCode,
    PickupPoint, PlaceOrder, Placed, Result, Storage, StorageError, StreamRecord, SyncPull, SyncPush, WriteStats,
};
use domain::sync::{PullResponse, PushResponse};

const MIGRATION_STEPS: &[M<'static>] = &[
    M::up(include_str!("../../../migrations/0001_market.sql")),
    M::up(include_str!("../../../migrations/0002_sync.sql")),
    M::up(include_str!("../../../migrations/0003_live.sql")),
    M::up(include_str!("../../../migrations/0004_order_stream.sql")),
];
const MIGRATIONS: Migrations<'static> = Migrations::from_slice(MIGRATION_STEPS);
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers in the pool; SQLite reads are short, so a few per core is plenty.
const READERS: usize = 8;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "market.db";

pub struct SqliteStorage {
    writer: writer::Writer,
    readers: readers::Readers,
}

impl SqliteStorage {
    /// Opens (creating and migrating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<SqliteStorage> {
        let path = data_dir.join(DATABASE_FILE);
        let mut conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if mode != "wal" {
            return Err(StorageError::Backend(format!("journal_mode is {mode}, not wal")));
        }
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        MIGRATIONS.to_latest(&mut conn).map_err(|e| StorageError::Backend(e.to_string()))?;
        let readers = readers::Readers::open(path, READERS)?;
        Ok(SqliteStorage { writer: writer::Writer::start(conn), readers })
    }
}

impl Storage for SqliteStorage {
    fn write_stats(&self) -> WriteStats {
        let (commits, writes) = self.writer.counts();
        WriteStats { commits, writes }
    }

    fn create_coop(&self, coop: Coop, admin: Member) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::create_coop(c, &coop, &admin)))
    }

    fn coop(&self, id: CoopId) -> BoxFuture<'_, Result<Coop>> {
        Box::pin(self.readers.read(move |c| queries::coop(c, id)))
    }

    fn create_member(&self, member: Member) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::create_member(c, &member)))
    }

    fn member(&self, id: MemberId) -> BoxFuture<'_, Result<Member>> {
        Box::pin(self.readers.read(move |c| queries::member(c, id)))
    }

    fn members(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<Member>>> {
        Box::pin(self.readers.read(move |c| queries::members(c, coop_id)))
    }

    fn farmer_by_slug(&self, slug: String) -> BoxFuture<'_, Result<Member>> {
        Box::pin(self.readers.read(move |c| queries::farmer_by_slug(c, &slug)))
    }

    fn add_pairing_code(&self, code: PairingCode) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::add_pairing_code(c, &code)))
    }

    fn redeem_pairing_code(&self, code_hash: String, device: NewDevice, token_hash: String) -> BoxFuture<'_, Result<(Device, Member)>> {
        Box::pin(self.writer.write(move |c| queries::redeem_pairing_code(c, &code_hash, &device, &token_hash)))
    }

    fn device_by_token(&self, token_hash: String) -> BoxFuture<'_, Result<(Device, Member)>> {
        Box::pin(self.readers.read(move |c| queries::device_by_token(c, &token_hash)))
    }

    fn devices(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<(Device, Member)>>> {
        Box::pin(self.readers.read(move |c| queries::devices(c, coop_id)))
    }

    fn rename_device(&self, id: DeviceId, name: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::rename_device(c, id, &name)))
    }

    fn revoke_device(&self, id: DeviceId, now: Timestamp) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::revoke_device(c, id, now)))
    }

    fn put_pickup_point(&self, point: PickupPoint) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| queries::put_pickup_point(c, &point)))
    }

    fn pickup_point(&self, id: PickupPointId) -> BoxFuture<'_, Result<PickupPoint>> {
        Box::pin(self.readers.read(move |c| queries::pickup_point(c, id)))
    }

    fn pickup_points(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<PickupPoint>>> {
        Box::pin(self.readers.read(move |c| queries::pickup_points(c, coop_id)))
    }

    fn create_listing(&self, record: ListingRecord) -> BoxFuture<'_, Result<ListingRecord>> {
        Box::pin(self.writer.write(move |c| queries::create_listing(c, record)))
    }

    fn change_listing(&self, id: ListingId, change: ListingChange, now: Timestamp) -> BoxFuture<'_, Result<ListingRecord>> {
        Box::pin(self.writer.write(move |c| queries::change_listing(c, id, change, now)))
    }

    fn listing(&self, id: ListingId) -> BoxFuture<'_, Result<ListingRecord>> {
        Box::pin(self.readers.read(move |c| queries::listing_record(c, id)))
    }

    fn listing_by_code(&self, code: String) -> BoxFuture<'_, Result<ListingRecord>> {
        Box::pin(self.readers.read(move |c| queries::listing_by_code(c, &code)))
    }

    fn listings(&self, filter: ListingFilter) -> BoxFuture<'_, Result<Vec<ListingRecord>>> {
        Box::pin(self.readers.read(move |c| queries::listings(c, &filter)))
    }

    fn place_order(&self, place: PlaceOrder) -> BoxFuture<'_, Result<Placed>> {
        Box::pin(self.writer.write(move |c| queries::place_order(c, place)))
    }

    fn step_order(&self, id: OrderId, action: OrderAction, reason: Option<String>, now: Timestamp) -> BoxFuture<'_, Result<OrderRecord>> {
        Box::pin(self.writer.write(move |c| queries::step_order(c, id, action, reason.as_deref(), now)))
    }

    fn record_payment(&self, id: OrderId, amount: Money, now: Timestamp) -> BoxFuture<'_, Result<OrderRecord>> {
        Box::pin(self.writer.write(move |c| queries::record_payment(c, id, amount, now)))
    }

    fn order(&self, id: OrderId) -> BoxFuture<'_, Result<OrderRecord>> {
        Box::pin(self.readers.read(move |c| queries::order_record(c, id)))
    }

    fn order_by_status_token(&self, token_hash: String) -> BoxFuture<'_, Result<OrderRecord>> {
        Box::pin(self.readers.read(move |c| queries::order_by_status_token(c, &token_hash)))
    }

    fn orders(&self, filter: OrderFilter) -> BoxFuture<'_, Result<Page<OrderRecord>>> {
        Box::pin(self.readers.read(move |c| queries::orders(c, &filter)))
    }

    fn push(&self, push: SyncPush) -> BoxFuture<'_, Result<PushResponse>> {
        Box::pin(self.writer.write(move |c| sync::push(c, push)))
    }

    fn pull(&self, pull: SyncPull) -> BoxFuture<'_, Result<PullResponse>> {
        Box::pin(async move {
            // Binding the sync identity may write, so it goes through the writer; the read itself
            // then runs on a reader.
            let (client_id, device_id) = (pull.client_id, pull.device_id);
            self.writer.write(move |c| sync::bind_client(c, device_id, client_id)).await?;
            self.readers.read(move |c| sync::pull(c, &pull)).await
        })
    }

    fn create_stream(&self, record: StreamRecord, publish_token_hash: String) -> BoxFuture<'_, Result<()>> {
        Box::pin(self.writer.write(move |c| live::create_stream(c, &record, &publish_token_hash)))
    }

    fn stream(&self, id: StreamId) -> BoxFuture<'_, Result<StreamRecord>> {
        Box::pin(self.readers.read(move |c| live::stream(c, id)))
    }

    fn stream_by_publish_token(&self, token_hash: String) -> BoxFuture<'_, Result<StreamRecord>> {
        Box::pin(self.readers.read(move |c| live::stream_by_publish_token(c, &token_hash)))
    }

    fn open_streams(&self, farmer_id: MemberId) -> BoxFuture<'_, Result<Vec<StreamRecord>>> {
        Box::pin(self.readers.read(move |c| live::open_streams(c, farmer_id)))
    }

    fn feature(&self, id: StreamId, listing_id: ListingId) -> BoxFuture<'_, Result<StreamRecord>> {
        Box::pin(self.writer.write(move |c| live::feature(c, id, listing_id)))
    }

    fn mark_started(&self, id: StreamId, now: Timestamp) -> BoxFuture<'_, Result<StreamRecord>> {
        Box::pin(self.writer.write(move |c| live::mark_started(c, id, now)))
    }

    fn end_stream(&self, id: StreamId, now: Timestamp) -> BoxFuture<'_, Result<StreamRecord>> {
        Box::pin(self.writer.write(move |c| live::end_stream(c, id, now)))
    }

    fn live_orders(&self, id: StreamId) -> BoxFuture<'_, Result<u64>> {
        Box::pin(self.readers.read(move |c| live::live_orders(c, id)))
    }
}
