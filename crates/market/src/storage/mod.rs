//! Where the marketplace keeps its data, behind one trait.
//!
//! [`Storage`] is shaped for both the embedded SQLite backend ([`sqlite::SqliteStorage`], the
//! default: a data directory is all it needs) and a PostgreSQL one later: every method is one
//! transaction, named for what it does, taking and returning domain values. The rules inside a
//! write (checkout, status steps, listing changes) are domain functions, so a second backend only
//! repeats the loading and saving, never the rules. Authorization happens above this trait, in
//! [`crate::marketplace`].

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use domain::access::{Actor, Role};
use domain::checkout::OrderRequest;
use domain::error::FieldError;
use domain::ids::{ClientId, CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::live::StreamStatus;
use domain::sync::{PullResponse, PushEntry, PushResponse};
use domain::listing::{Listing, ListingChange, ListingStatus};
use domain::money::{Currency, Money};
use domain::order::{Channel, Order, OrderAction, OrderStatus};
use domain::time::Timestamp;

/// A boxed future, so that `Storage` can be used as `Arc<dyn Storage>`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
pub type Result<T> = std::result::Result<T, StorageError>;

/// Why a storage operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("not found")]
    NotFound,
    /// A domain rule said no (sold out, invalid transition, bad stock); nothing was written.
    #[error("refused: {0:?}")]
    Refused(Vec<FieldError>),
    /// The Idempotency-Key was used before with a different request.
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    /// The pairing code is unknown, used or expired.
    #[error("pairing code not valid")]
    PairingRefused,
    /// A unique value is taken (a farm slug, a link code).
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// The actor may not touch this entity.
    #[error("forbidden")]
    Forbidden,
    /// A push or pull named a sync identity that belongs to another device.
    #[error("client id belongs to another device")]
    ClientMismatch,
    /// A push's first new entry does not follow the last applied one.
    #[error("seq gap after {last_applied_seq}")]
    SeqGap { last_applied_seq: u64 },
    /// A push batch is empty, too large or not consecutive.
    #[error("bad batch: {0}")]
    BadBatch(&'static str),
    /// The backend failed; the cause is logged, never shown to clients.
    #[error("storage backend: {0}")]
    Backend(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coop {
    pub id: CoopId,
    pub name: String,
    pub currency: Currency,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: MemberId,
    pub coop_id: CoopId,
    pub role: Role,
    pub name: String,
    /// Farmers only: the farm page's address part.
    pub farm_slug: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: DeviceId,
    pub member_id: MemberId,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// A device being paired; its member comes from the pairing code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDevice {
    pub id: DeviceId,
    pub name: String,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingCode {
    pub code_hash: String,
    pub member_id: MemberId,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickupPoint {
    pub id: PickupPointId,
    pub coop_id: CoopId,
    pub name: String,
    pub address: String,
    pub active: bool,
    pub created_at: Timestamp,
}

/// A listing with what the server knows about it besides its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingRecord {
    pub listing: Listing,
    pub coop_id: CoopId,
    pub farmer_id: MemberId,
    /// The order link's short code.
    pub code: String,
    pub version: i64,
}

/// An order with its owners and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub order: Order,
    pub coop_id: CoopId,
    pub farmer_id: MemberId,
    pub version: i64,
}

/// A buyer's order as it reaches storage: the key that makes it idempotent, and the request.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub idempotency_key: String,
    /// A hash of everything the buyer sent; a retry must match it.
    pub fingerprint: String,
    pub listing_id: ListingId,
    pub request: OrderRequest,
    pub status_token_hash: String,
    pub now: Timestamp,
}

/// The order that a [`PlaceOrder`] made, or had already made.
#[derive(Debug, Clone)]
pub struct Placed {
    pub record: OrderRecord,
    /// True when the key was seen before and this is the earlier order.
    pub replayed: bool,
}

/// Which listings to list.
#[derive(Debug, Clone, Default)]
pub struct ListingFilter {
    pub coop_id: Option<CoopId>,
    pub farmer_id: Option<MemberId>,
    pub status: Option<ListingStatus>,
}

/// Which orders to list, newest first, a page at a time.
#[derive(Debug, Clone)]
pub struct OrderFilter {
    pub coop_id: CoopId,
    pub farmer_id: Option<MemberId>,
    pub status: Option<OrderStatus>,
    pub channel: Option<Channel>,
    pub pickup_point_id: Option<PickupPointId>,
    pub created_from: Option<Timestamp>,
    pub created_before: Option<Timestamp>,
    /// Matches the buyer's name or phone, case-insensitively.
    pub search: Option<String>,
    /// Continue after this order (from the previous page's `next`).
    pub after: Option<OrderCursor>,
    pub limit: usize,
}

/// A position in the newest-first order list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    pub created_at: Timestamp,
    pub id: OrderId,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub next: Option<OrderCursor>,
}

/// A device's push, with who is pushing.
#[derive(Debug, Clone)]
pub struct SyncPush {
    pub client_id: ClientId,
    pub device_id: DeviceId,
    pub actor: Actor,
    pub entries: Vec<PushEntry>,
    pub now: Timestamp,
}

/// A device's pull: everything in the actor's scope after `cursor`.
#[derive(Debug, Clone)]
pub struct SyncPull {
    pub client_id: ClientId,
    pub device_id: DeviceId,
    pub actor: Actor,
    pub cursor: i64,
    pub limit: usize,
}

/// A live stream as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRecord {
    pub id: StreamId,
    pub coop_id: CoopId,
    pub farmer_id: MemberId,
    pub title: String,
    pub status: StreamStatus,
    /// The products it shows, in order.
    pub listing_ids: Vec<ListingId>,
    pub featured: ListingId,
    pub created_at: Timestamp,
    /// The first time a camera connected.
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// What a backend has written: `writes / commits` is the average group-commit size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    pub commits: u64,
    pub writes: u64,
}

/// The marketplace's storage. Each method is one transaction.
pub trait Storage: Send + Sync + 'static {
    /// Counters for `/metrics`.
    fn write_stats(&self) -> WriteStats;

    fn create_coop(&self, coop: Coop, admin: Member) -> BoxFuture<'_, Result<()>>;
    fn coop(&self, id: CoopId) -> BoxFuture<'_, Result<Coop>>;
    fn create_member(&self, member: Member) -> BoxFuture<'_, Result<()>>;
    fn member(&self, id: MemberId) -> BoxFuture<'_, Result<Member>>;
    fn members(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<Member>>>;
    fn farmer_by_slug(&self, slug: String) -> BoxFuture<'_, Result<Member>>;

    fn add_pairing_code(&self, code: PairingCode) -> BoxFuture<'_, Result<()>>;
    /// Uses the code (once, before it expires) to pair a new device under `token_hash`.
    fn redeem_pairing_code(&self, code_hash: String, device: NewDevice, token_hash: String) -> BoxFuture<'_, Result<(Device, Member)>>;
    /// The device holding this token and its member; revoked devices are not found.
    fn device_by_token(&self, token_hash: String) -> BoxFuture<'_, Result<(Device, Member)>>;
    fn devices(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<(Device, Member)>>>;
    fn rename_device(&self, id: DeviceId, name: String) -> BoxFuture<'_, Result<()>>;
    fn revoke_device(&self, id: DeviceId, now: Timestamp) -> BoxFuture<'_, Result<()>>;

    fn put_pickup_point(&self, point: PickupPoint) -> BoxFuture<'_, Result<()>>;
    fn pickup_point(&self, id: PickupPointId) -> BoxFuture<'_, Result<PickupPoint>>;
    fn pickup_points(&self, coop_id: CoopId) -> BoxFuture<'_, Result<Vec<PickupPoint>>>;

    fn create_listing(&self, record: ListingRecord) -> BoxFuture<'_, Result<ListingRecord>>;
    fn change_listing(&self, id: ListingId, change: ListingChange, now: Timestamp) -> BoxFuture<'_, Result<ListingRecord>>;
    fn listing(&self, id: ListingId) -> BoxFuture<'_, Result<ListingRecord>>;
    fn listing_by_code(&self, code: String) -> BoxFuture<'_, Result<ListingRecord>>;
    fn listings(&self, filter: ListingFilter) -> BoxFuture<'_, Result<Vec<ListingRecord>>>;

    /// Checks the key, takes the stock and stores the order, all in one transaction.
    fn place_order(&self, place: PlaceOrder) -> BoxFuture<'_, Result<Placed>>;
    /// Moves an order along the state machine, giving stock back when it ends undelivered.
    fn step_order(&self, id: OrderId, action: OrderAction, reason: Option<String>, now: Timestamp)
    -> BoxFuture<'_, Result<OrderRecord>>;
    fn record_payment(&self, id: OrderId, amount: Money, now: Timestamp) -> BoxFuture<'_, Result<OrderRecord>>;
    fn order(&self, id: OrderId) -> BoxFuture<'_, Result<OrderRecord>>;
    fn order_by_status_token(&self, token_hash: String) -> BoxFuture<'_, Result<OrderRecord>>;
    fn orders(&self, filter: OrderFilter) -> BoxFuture<'_, Result<Page<OrderRecord>>>;

    /// Applies a device's pushed entries: replays answered from stored verdicts, each new entry in
    /// its own atomic unit with its verdict, in seq order; a gap refuses the whole batch.
    fn push(&self, push: SyncPush) -> BoxFuture<'_, Result<PushResponse>>;
    /// Listings, orders and quotas in the actor's scope changed after the cursor, a page at a time.
    fn pull(&self, pull: SyncPull) -> BoxFuture<'_, Result<PullResponse>>;

    fn create_stream(&self, record: StreamRecord, publish_token_hash: String) -> BoxFuture<'_, Result<()>>;
    fn stream(&self, id: StreamId) -> BoxFuture<'_, Result<StreamRecord>>;
    /// The stream a publish token belongs to.
    fn stream_by_publish_token(&self, token_hash: String) -> BoxFuture<'_, Result<StreamRecord>>;
    /// A farmer's open streams, newest first.
    fn open_streams(&self, farmer_id: MemberId) -> BoxFuture<'_, Result<Vec<StreamRecord>>>;
    /// Features one of the stream's products (refused once the stream has ended).
    fn feature(&self, id: StreamId, listing_id: ListingId) -> BoxFuture<'_, Result<StreamRecord>>;
    /// Records the first time a camera connected; later calls change nothing.
    fn mark_started(&self, id: StreamId, now: Timestamp) -> BoxFuture<'_, Result<StreamRecord>>;
    /// Ends the stream for good (refused if it already ended).
    fn end_stream(&self, id: StreamId, now: Timestamp) -> BoxFuture<'_, Result<StreamRecord>>;
    /// Orders placed from the stream's live page for its products while it was on.
    fn live_orders(&self, id: StreamId) -> BoxFuture<'_, Result<u64>>;
}
