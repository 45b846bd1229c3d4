//! What the marketplace does, for every caller: the JSON API, the buyer pages and the admin CLI.
//!
//! Each method establishes that the caller may act (invariant 5, through `domain::access`), parses
//! and validates the input through the domain, and runs one storage transaction. Handlers above this
//! only translate HTTP; the rules below it are the domain's.

use std::sync::Arc;
use std::time::Duration;

use domain::access::{Actor, Owner, Role};
use domain::checkout::OrderRequest;
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{ClientId, CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::live::{StreamInput, StreamStatus};
use domain::sync::{PullResponse, PushRequest, PushResponse};
use domain::listing::{Listing, ListingChange, ListingInput, ListingStatus};
use domain::money::{Currency, Money};
use domain::order::{Buyer, Channel, Fulfilment, OrderAction, PaymentMethod, StreamRef};
use domain::quantity::Quantity;
use domain::text::{self, Lines};
use domain::time::{Clock, Timestamp};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::storage::{
    Coop, Device, ListingFilter, ListingRecord, Member, NewDevice, OrderFilter, OrderRecord, Page, PairingCode,
    PickupPoint, PlaceOrder, Storage, StorageError, StreamRecord, SyncPull, SyncPush,
};
use crate::tokens::{self, ServerKey};

/// How long a pairing code stays valid.
pub const PAIRING_CODE_LIFETIME: Duration = Duration::from_secs(15 * 60);
const MAX_NAME_CHARS: usize = 80;
const MAX_ADDRESS_CHARS: usize = 300;
/// Idempotency keys are what a client generates per attempt: a UUID fits, so does a ULID.
const IDEMPOTENCY_KEY_LEN: std::ops::RangeInclusive<usize> = 8..=128;
/// How many times a fresh link code is tried before giving up (collisions are ~1 in 27 billion).
const LINK_CODE_ATTEMPTS: usize = 5;

/// Why the marketplace did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum MarketError {
    #[error("missing, unknown or revoked device token")]
    Unauthorized,
    #[error("not allowed for this account")]
    Forbidden,
    #[error("not found")]
    NotFound,
    /// The input is malformed or out of range.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// The input is fine, but the current state refuses it (sold out, wrong order step).
    #[error("refused")]
    Refused(Vec<FieldError>),
    #[error("idempotency key reused with a different request")]
    IdempotencyKeyReused,
    #[error("pairing code unknown, used or expired")]
    PairingRefused,
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// A push skipped entries: the server has applied up to `last_applied_seq`.
    #[error("seq gap: the server has applied up to {last_applied_seq}")]
    SeqGap { last_applied_seq: u64 },
    /// The sync identity belongs to another device.
    #[error("this client id belongs to another device")]
    ClientMismatch,
    /// A push batch is malformed (empty, too large, not consecutive).
    #[error("invalid batch: {0}")]
    InvalidBatch(&'static str),
    #[error("internal: {0}")]
    Internal(String),
}

impl MarketError {
    /// The stable code clients see for this error. A refusal by the current state carries the
    /// domain's own code (`sold_out`, `insufficient_stock`, `invalid_transition`, …).
    pub fn code(&self) -> &'static str {
        match self {
            MarketError::Unauthorized => "unauthorized",
            MarketError::Forbidden => "forbidden",
            MarketError::NotFound => "not_found",
            MarketError::Invalid(_) => "invalid",
            MarketError::Refused(fields) => fields.first().map_or("refused", |f| f.error.code()),
            MarketError::IdempotencyKeyReused => "idempotency_key_reused",
            MarketError::PairingRefused => "pairing_code_invalid",
            MarketError::Taken(_) => "taken",
            MarketError::SeqGap { .. } => "seq_gap",
            MarketError::ClientMismatch => "client_id_mismatch",
            MarketError::InvalidBatch(_) => "invalid_batch",
            MarketError::Internal(_) => "internal",
        }
    }
}

impl From<StorageError> for MarketError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::NotFound => MarketError::NotFound,
            StorageError::Refused(fields) => MarketError::Refused(fields),
            StorageError::IdempotencyKeyReused => MarketError::IdempotencyKeyReused,
            StorageError::PairingRefused => MarketError::PairingRefused,
            StorageError::Taken(what) => MarketError::Taken(what),
            StorageError::Forbidden => MarketError::Forbidden,
            StorageError::ClientMismatch => MarketError::ClientMismatch,
            StorageError::SeqGap { last_applied_seq } => MarketError::SeqGap { last_applied_seq },
            StorageError::BadBatch(why) => MarketError::InvalidBatch(why),
            StorageError::Backend(cause) => MarketError::Internal(cause),
        }
    }
}

fn invalid(field: Field, error: DomainError) -> MarketError {
    MarketError::Invalid(vec![FieldError::new(field, error)])
}

pub type Result<T> = std::result::Result<T, MarketError>;

/// A device's authenticated session.
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub actor: Actor,
    pub device_id: DeviceId,
}

/// A pairing code as issued: the code itself is shown once.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub code: String,
    pub member: Member,
    pub expires_at: Timestamp,
}

/// A freshly paired device: the token is shown once.
#[derive(Debug, Clone)]
pub struct Paired {
    pub token: String,
    pub device: Device,
    pub member: Member,
    pub coop: Coop,
}

/// How a buyer wants the goods, as sent.
#[derive(Debug, Clone)]
pub enum FulfilmentChoice {
    Pickup(PickupPointId),
    Delivery(String),
}

/// A buyer's order as it arrives from the order page or the JSON API: text, not yet trusted.
#[derive(Debug, Clone)]
pub struct BuyerOrder {
    pub listing_id: ListingId,
    /// A decimal in the listing's unit, e.g. "3" or "1.5".
    pub quantity: String,
    pub name: String,
    pub phone: String,
    pub fulfilment: FulfilmentChoice,
    pub payment_method: PaymentMethod,
    pub channel: Channel,
    pub note: String,
    /// The live stream whose product card the buyer ordered from (channel `live`).
    pub stream_id: Option<StreamId>,
}

/// The result of placing a buyer's order.
#[derive(Debug, Clone)]
pub struct PlacedOrder {
    pub record: OrderRecord,
    /// The capability for the buyer's status page.
    pub status_token: String,
    pub replayed: bool,
}

/// A change other parts of the server react to (the live pages show stock as it moves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketEvent {
    /// The listing's stock, price or status may have changed.
    ListingChanged(ListingId),
    /// Any listing may have changed (a device's sync push).
    ListingsChanged,
    /// A buyer placed an order for the listing on the channel.
    OrderPlaced { listing_id: ListingId, channel: Channel },
}

/// A stream just created: the publish token is shown once.
#[derive(Debug, Clone)]
pub struct CreatedStream {
    pub record: StreamRecord,
    pub publish_token: String,
}

pub struct Marketplace {
    storage: Arc<dyn Storage>,
    clock: Arc<dyn Clock>,
    key: ServerKey,
    events: tokio::sync::broadcast::Sender<MarketEvent>,
}

impl Marketplace {
    pub fn new(storage: Arc<dyn Storage>, clock: Arc<dyn Clock>, key: ServerKey) -> Marketplace {
        Marketplace { storage, clock, key, events: tokio::sync::broadcast::channel(1024).0 }
    }

    /// Changes as they are committed. A receiver that lags misses events and should reload.
    pub fn events(&self) -> tokio::sync::broadcast::Receiver<MarketEvent> {
        self.events.subscribe()
    }

    fn emit(&self, event: MarketEvent) {
        // Nobody listening is fine: events are hints to reload, never the data itself.
        let _ = self.events.send(event);
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    pub fn write_stats(&self) -> crate::storage::WriteStats {
        self.storage.write_stats()
    }

    // --- Accounts -----------------------------------------------------------------------------

    /// Creates a co-op with its first admin and a pairing code for the admin's first device. Only
    /// the operator (the admin CLI, with access to the data directory) does this.
    pub async fn create_coop(&self, name: &str, currency: Currency, admin_name: &str) -> Result<(Coop, IssuedCode)> {
        let now = self.now();
        let coop = Coop {
            id: CoopId(Uuid::now_v7()),
            name: text::clean(name, MAX_NAME_CHARS, Lines::One).map_err(|e| invalid(Field::Name, e))?,
            currency,
            created_at: now,
        };
        let admin = new_member(coop.id, Role::Admin, admin_name, None, now)?;
        self.storage.create_coop(coop.clone(), admin.clone()).await?;
        let code = self.issue_code(admin).await?;
        Ok((coop, code))
    }

    /// Adds a member to a co-op; `actor` is `None` for the operator. Farmers get a farm page slug.
    pub async fn add_member(&self, actor: Option<&Actor>, coop_id: CoopId, role: Role, name: &str) -> Result<(Member, IssuedCode)> {
        if let Some(actor) = actor
            && (actor.coop_id != coop_id || !actor.may_manage_members_with(role))
        {
            return Err(MarketError::Forbidden);
        }
        self.storage.coop(coop_id).await?;
        let now = self.now();
        let mut last = None;
        for _ in 0..LINK_CODE_ATTEMPTS {
            let slug = (role == Role::Farmer).then(|| farm_slug(name));
            let member = new_member(coop_id, role, name, slug, now)?;
            match self.storage.create_member(member.clone()).await {
                Ok(()) => return Ok((member.clone(), self.issue_code(member).await?)),
                Err(StorageError::Taken(what)) => last = Some(what),
                Err(other) => return Err(other.into()),
            }
        }
        Err(MarketError::Taken(last.unwrap_or("farm_slug")))
    }

    /// A new pairing code for `member_id`'s next device.
    pub async fn pairing_code_for(&self, actor: Option<&Actor>, member_id: MemberId) -> Result<IssuedCode> {
        let member = self.storage.member(member_id).await?;
        if let Some(actor) = actor
            && actor.member_id != member.id
            && (actor.coop_id != member.coop_id || !actor.may_manage_members_with(member.role))
        {
            return Err(MarketError::Forbidden);
        }
        self.issue_code(member).await
    }

    async fn issue_code(&self, member: Member) -> Result<IssuedCode> {
        let code = tokens::pairing_code();
        let expires_at = self.now().plus(PAIRING_CODE_LIFETIME);
        self.storage
            .add_pairing_code(PairingCode { code_hash: tokens::hash(&code), member_id: member.id, expires_at })
            .await?;
        Ok(IssuedCode { code, member, expires_at })
    }

    /// Exchanges a pairing code for a device token.
    pub async fn pair(&self, typed_code: &str, device_name: &str) -> Result<Paired> {
        let code = tokens::normalize_pairing_code(typed_code).ok_or(MarketError::PairingRefused)?;
        let name = text::clean(device_name, MAX_NAME_CHARS, Lines::One).map_err(|e| invalid(Field::Name, e))?;
        let device = NewDevice { id: DeviceId(Uuid::now_v7()), name, created_at: self.now() };
        let token = tokens::device_token();
        let (device, member) = self.storage.redeem_pairing_code(tokens::hash(&code), device, tokens::hash(&token)).await?;
        let coop = self.storage.coop(member.coop_id).await?;
        Ok(Paired { token, device, member, coop })
    }

    /// Who holds `token`; unknown and revoked tokens are refused alike.
    pub async fn authenticate(&self, token: &str) -> Result<Session> {
        match self.storage.device_by_token(tokens::hash(token)).await {
            Ok((device, member)) => Ok(Session {
                actor: Actor { member_id: member.id, coop_id: member.coop_id, role: member.role },
                device_id: device.id,
            }),
            Err(StorageError::NotFound) => Err(MarketError::Unauthorized),
            Err(other) => Err(other.into()),
        }
    }

    pub async fn coop(&self, actor: &Actor) -> Result<Coop> {
        Ok(self.storage.coop(actor.coop_id).await?)
    }

    pub async fn member(&self, id: MemberId) -> Result<Member> {
        Ok(self.storage.member(id).await?)
    }

    pub async fn members(&self, actor: &Actor) -> Result<Vec<Member>> {
        Ok(self.storage.members(actor.coop_id).await?)
    }

    /// The co-op's devices for staff; a farmer sees only their own.
    pub async fn devices(&self, actor: &Actor) -> Result<Vec<(Device, Member)>> {
        let all = self.storage.devices(actor.coop_id).await?;
        Ok(all.into_iter().filter(|(_, member)| actor.is_coop_staff() || member.id == actor.member_id).collect())
    }

    /// Renames a device: one's own, or one of a member one manages.
    pub async fn rename_device(&self, actor: &Actor, id: DeviceId, name: &str) -> Result<(Device, Member)> {
        let (mut device, owner) = self.changeable_device(actor, id).await?;
        device.name = text::clean(name, MAX_NAME_CHARS, Lines::One).map_err(|e| invalid(Field::Name, e))?;
        self.storage.rename_device(id, device.name.clone()).await?;
        Ok((device, owner))
    }

    /// Device `id` and its owner, if `actor` may change it: their own, or a member's they manage.
    /// A device `actor` may not see is not found.
    async fn changeable_device(&self, actor: &Actor, id: DeviceId) -> Result<(Device, Member)> {
        let devices = self.devices(actor).await?;
        let (device, owner) = devices.into_iter().find(|(device, _)| device.id == id).ok_or(MarketError::NotFound)?;
        if owner.id != actor.member_id && !actor.may_manage_members_with(owner.role) {
            return Err(MarketError::Forbidden);
        }
        Ok((device, owner))
    }

    /// Revokes a device: its token stops working at once. `actor` is `None` for the operator.
    pub async fn revoke_device(&self, actor: Option<&Actor>, id: DeviceId) -> Result<()> {
        if let Some(actor) = actor {
            self.changeable_device(actor, id).await?;
        }
        Ok(self.storage.revoke_device(id, self.now()).await?)
    }

    // --- Pickup points ------------------------------------------------------------------------

    pub async fn add_pickup_point(&self, actor: Option<&Actor>, coop_id: CoopId, name: &str, address: &str) -> Result<PickupPoint> {
        if let Some(actor) = actor
            && (actor.coop_id != coop_id || !actor.is_coop_staff())
        {
            return Err(MarketError::Forbidden);
        }
        let point = PickupPoint {
            id: PickupPointId(Uuid::now_v7()),
            coop_id,
            name: text::clean(name, MAX_NAME_CHARS, Lines::One).map_err(|e| invalid(Field::Name, e))?,
            address: text::clean(address, MAX_ADDRESS_CHARS, Lines::Many).map_err(|e| invalid(Field::Address, e))?,
            active: true,
            created_at: self.now(),
        };
        self.storage.put_pickup_point(point.clone()).await?;
        Ok(point)
    }

    pub async fn set_pickup_point_active(&self, actor: &Actor, id: PickupPointId, active: bool) -> Result<PickupPoint> {
        let point = self.storage.pickup_point(id).await?;
        if point.coop_id != actor.coop_id {
            return Err(MarketError::NotFound);
        }
        if !actor.is_coop_staff() {
            return Err(MarketError::Forbidden);
        }
        let point = PickupPoint { active, ..point };
        self.storage.put_pickup_point(point.clone()).await?;
        Ok(point)
    }

    /// A co-op's pickup points; buyers see the active ones.
    pub async fn pickup_points(&self, coop_id: CoopId) -> Result<Vec<PickupPoint>> {
        Ok(self.storage.pickup_points(coop_id).await?)
    }

    pub async fn pickup_point(&self, id: PickupPointId) -> Result<PickupPoint> {
        Ok(self.storage.pickup_point(id).await?)
    }

    // --- Listings -----------------------------------------------------------------------------

    /// Lists produce for `farmer_id` (a farmer lists for themselves; staff for any farmer of theirs).
    pub async fn create_listing(&self, actor: &Actor, farmer_id: Option<MemberId>, input: &ListingInput) -> Result<ListingRecord> {
        let farmer_id = farmer_id.unwrap_or(actor.member_id);
        let farmer = match self.storage.member(farmer_id).await {
            Ok(member) if member.role == Role::Farmer && member.coop_id == actor.coop_id => member,
            Ok(_) | Err(StorageError::NotFound) => return Err(invalid(Field::Farmer, DomainError::Empty)),
            Err(other) => return Err(other.into()),
        };
        if !actor.may_manage(Owner { coop_id: farmer.coop_id, farmer_id }) {
            return Err(MarketError::Forbidden);
        }
        let details = input.parse().map_err(MarketError::Invalid)?;
        let listing = Listing::new(ListingId(Uuid::now_v7()), details, self.now());
        let mut last = None;
        for _ in 0..LINK_CODE_ATTEMPTS {
            let record = ListingRecord { listing: listing.clone(), coop_id: farmer.coop_id, farmer_id, code: tokens::link_code(), version: 0 };
            match self.storage.create_listing(record).await {
                Ok(saved) => return Ok(saved),
                Err(StorageError::Taken(what)) => last = Some(what),
                Err(other) => return Err(other.into()),
            }
        }
        Err(MarketError::Taken(last.unwrap_or("listing_code")))
    }

    /// A listing the actor may manage.
    pub async fn listing_for(&self, actor: &Actor, id: ListingId) -> Result<ListingRecord> {
        let record = self.storage.listing(id).await?;
        let owner = Owner { coop_id: record.coop_id, farmer_id: record.farmer_id };
        if record.coop_id != actor.coop_id {
            // Another co-op's listing is none of this caller's business, not even its existence.
            return Err(MarketError::NotFound);
        }
        if !actor.may_manage(owner) {
            return Err(MarketError::Forbidden);
        }
        Ok(record)
    }

    pub async fn change_listing(&self, actor: &Actor, id: ListingId, change: ListingChange) -> Result<ListingRecord> {
        self.listing_for(actor, id).await?;
        let record = self.storage.change_listing(id, change, self.now()).await?;
        self.emit(MarketEvent::ListingChanged(id));
        Ok(record)
    }

    /// The listings an actor manages: a farmer's own, or the whole co-op's for staff.
    pub async fn listings_for(&self, actor: &Actor, farmer_id: Option<MemberId>, status: Option<ListingStatus>) -> Result<Vec<ListingRecord>> {
        let farmer_id = if actor.is_coop_staff() { farmer_id } else { Some(actor.member_id) };
        Ok(self.storage.listings(ListingFilter { coop_id: Some(actor.coop_id), farmer_id, status }).await?)
    }

    /// What a buyer may see of a listing by its link code: anything but drafts.
    pub async fn public_listing(&self, code: &str) -> Result<ListingRecord> {
        if !tokens::is_link_code(code) {
            return Err(MarketError::NotFound);
        }
        let record = self.storage.listing_by_code(code.to_owned()).await?;
        if record.listing.status == ListingStatus::Draft {
            return Err(MarketError::NotFound);
        }
        Ok(record)
    }

    /// A farm's page: the farmer and their active produce.
    pub async fn farm(&self, slug: &str) -> Result<(Member, Vec<ListingRecord>)> {
        let farmer = self.storage.farmer_by_slug(slug.to_owned()).await?;
        let filter = ListingFilter { coop_id: Some(farmer.coop_id), farmer_id: Some(farmer.id), status: Some(ListingStatus::Active) };
        let listings = self.storage.listings(filter).await?;
        Ok((farmer, listings))
    }

    // --- Orders -------------------------------------------------------------------------------

    /// Places a buyer's order exactly once per `idempotency_key`. The price comes from the listing;
    /// nothing the buyer sends can set it.
    pub async fn place_order(&self, idempotency_key: &str, order: BuyerOrder) -> Result<PlacedOrder> {
        if !IDEMPOTENCY_KEY_LEN.contains(&idempotency_key.len()) {
            return Err(invalid(Field::IdempotencyKey, DomainError::TooLong { max: *IDEMPOTENCY_KEY_LEN.end() }));
        }
        if !idempotency_key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid(Field::IdempotencyKey, DomainError::ControlCharacters));
        }
        // Phone and walk-up orders are taken by the farmer or the co-op, never by a buyer's page.
        if !matches!(order.channel, Channel::OrderLink | Channel::Live) {
            return Err(invalid(Field::Channel, DomainError::NotForSale));
        }
        let listing = self.storage.listing(order.listing_id).await?;
        let request = self.order_request(&listing, &order).await?;
        let place = PlaceOrder {
            idempotency_key: idempotency_key.to_owned(),
            fingerprint: fingerprint(&order),
            listing_id: order.listing_id,
            status_token_hash: tokens::hash(&self.key.status_token(request.id)),
            request,
            now: self.now(),
        };
        let placed = self.storage.place_order(place).await?;
        if !placed.replayed {
            self.emit(MarketEvent::ListingChanged(order.listing_id));
            self.emit(MarketEvent::OrderPlaced { listing_id: order.listing_id, channel: order.channel });
        }
        let status_token = self.key.status_token(placed.record.order.id);
        Ok(PlacedOrder { record: placed.record, status_token, replayed: placed.replayed })
    }

    /// Validates everything about a buyer's order that does not depend on stock.
    async fn order_request(&self, listing: &ListingRecord, order: &BuyerOrder) -> Result<OrderRequest> {
        let mut problems = Vec::new();
        // The listing's order rules are checked here too, so that a quantity no order could have
        // (zero, off-step, over the maximum) is bad input rather than a clash with the stock.
        let details = &listing.listing.details;
        let quantity = Quantity::parse(&order.quantity, details.unit)
            .and_then(|quantity| details.rules.check(quantity).map(|()| quantity))
            .map_err(|e| problems.push(FieldError::new(Field::Quantity, e)))
            .ok();
        let buyer = Buyer::parse(&order.name, &order.phone).map_err(|e| problems.extend(e)).ok();
        let fulfilment = match &order.fulfilment {
            FulfilmentChoice::Pickup(point_id) => match self.storage.pickup_point(*point_id).await {
                Ok(point) if point.coop_id == listing.coop_id && point.active => Some(Fulfilment::Pickup { point_id: point.id }),
                Ok(_) | Err(StorageError::NotFound) => {
                    problems.push(FieldError::new(Field::PickupPoint, DomainError::Empty));
                    None
                }
                Err(other) => return Err(other.into()),
            },
            FulfilmentChoice::Delivery(address) => Some(Fulfilment::Delivery { address: address.clone() }),
        };
        // An order from a stream must be for one of its products; an ended stream still counts (a
        // buyer may finish the order sheet after the farmer stops). Any other stream id, or one
        // on a channel other than live, is refused rather than dropped: it would misreport sales.
        let stream = match order.stream_id {
            None => None,
            Some(_) if order.channel != Channel::Live => {
                problems.push(FieldError::new(Field::Channel, DomainError::NotInStream));
                None
            }
            Some(id) => match self.storage.stream(id).await {
                Ok(stream) if stream.coop_id == listing.coop_id && stream.listing_ids.contains(&listing.listing.id) => {
                    Some(StreamRef { id: stream.id, title: stream.title })
                }
                Ok(_) | Err(StorageError::NotFound) => {
                    problems.push(FieldError::new(Field::Listings, DomainError::NotInStream));
                    None
                }
                Err(other) => return Err(other.into()),
            },
        };
        match (quantity, buyer, fulfilment) {
            (Some(quantity), Some(buyer), Some(fulfilment)) if problems.is_empty() => Ok(OrderRequest {
                id: OrderId(Uuid::now_v7()),
                quantity,
                buyer,
                fulfilment,
                payment_method: order.payment_method,
                channel: order.channel,
                note: order.note.clone(),
                stream,
            }),
            _ => Err(MarketError::Invalid(problems)),
        }
    }

    /// The order behind a buyer's status link.
    pub async fn order_for_buyer(&self, status_token: &str) -> Result<OrderRecord> {
        // Anything that is not a token we could have issued is simply not found.
        if status_token.len() != 43 || !status_token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(MarketError::NotFound);
        }
        Ok(self.storage.order_by_status_token(tokens::hash(status_token)).await?)
    }

    /// An order the actor may manage.
    pub async fn order_for(&self, actor: &Actor, id: OrderId) -> Result<OrderRecord> {
        let record = self.storage.order(id).await?;
        if record.coop_id != actor.coop_id {
            return Err(MarketError::NotFound);
        }
        if !actor.may_manage(Owner { coop_id: record.coop_id, farmer_id: record.farmer_id }) {
            return Err(MarketError::Forbidden);
        }
        Ok(record)
    }

    pub async fn step_order(&self, actor: &Actor, id: OrderId, action: OrderAction, reason: Option<String>) -> Result<OrderRecord> {
        self.order_for(actor, id).await?;
        let record = self.storage.step_order(id, action, reason, self.now()).await?;
        // A cancelled or declined order gives its stock back.
        for line in &record.order.lines {
            self.emit(MarketEvent::ListingChanged(line.listing_id));
        }
        Ok(record)
    }

    pub async fn record_payment(&self, actor: &Actor, id: OrderId, amount: &str) -> Result<OrderRecord> {
        let record = self.order_for(actor, id).await?;
        let amount = Money::parse(amount, record.order.total.currency).map_err(|e| invalid(Field::Price, e))?;
        Ok(self.storage.record_payment(id, amount, self.now()).await?)
    }

    // --- Live streams -------------------------------------------------------------------------

    /// Plans a stream of `farmer_id`'s products (a farmer streams for themselves; staff may set one
    /// up for a farmer of their co-op). The publish token is returned once.
    pub async fn create_stream(&self, actor: &Actor, farmer_id: Option<MemberId>, input: &StreamInput) -> Result<CreatedStream> {
        let farmer_id = farmer_id.unwrap_or(actor.member_id);
        let farmer = match self.storage.member(farmer_id).await {
            Ok(member) if member.role == Role::Farmer && member.coop_id == actor.coop_id => member,
            Ok(_) | Err(StorageError::NotFound) => return Err(invalid(Field::Farmer, DomainError::Empty)),
            Err(other) => return Err(other.into()),
        };
        if !actor.may_manage(Owner { coop_id: farmer.coop_id, farmer_id }) {
            return Err(MarketError::Forbidden);
        }
        let plan = input.validate().map_err(MarketError::Invalid)?;
        for id in &plan.listing_ids {
            // Only the farmer's own produce, and nothing still a draft, goes on camera.
            match self.storage.listing(*id).await {
                Ok(record) if record.farmer_id == farmer_id && record.listing.status != ListingStatus::Draft => {}
                Ok(_) | Err(StorageError::NotFound) => return Err(invalid(Field::Listings, DomainError::NotForSale)),
                Err(other) => return Err(other.into()),
            }
        }
        let publish_token = tokens::device_token();
        let record = StreamRecord {
            id: StreamId(Uuid::now_v7()),
            coop_id: farmer.coop_id,
            farmer_id,
            title: plan.title,
            status: StreamStatus::Open,
            listing_ids: plan.listing_ids,
            featured: plan.featured,
            created_at: self.now(),
            started_at: None,
            ended_at: None,
        };
        self.storage.create_stream(record.clone(), tokens::hash(&publish_token)).await?;
        Ok(CreatedStream { record, publish_token })
    }

    /// A stream as anyone may see it.
    pub async fn stream(&self, id: StreamId) -> Result<StreamRecord> {
        Ok(self.storage.stream(id).await?)
    }

    /// A stream the actor may manage.
    pub async fn stream_for(&self, actor: &Actor, id: StreamId) -> Result<StreamRecord> {
        let record = self.storage.stream(id).await?;
        if record.coop_id != actor.coop_id {
            return Err(MarketError::NotFound);
        }
        if !actor.may_manage(Owner { coop_id: record.coop_id, farmer_id: record.farmer_id }) {
            return Err(MarketError::Forbidden);
        }
        Ok(record)
    }

    /// The stream a camera may publish to with `publish_token`: this one, open, and its own.
    pub async fn stream_to_publish(&self, publish_token: &str, id: StreamId) -> Result<StreamRecord> {
        let record = match self.storage.stream_by_publish_token(tokens::hash(publish_token)).await {
            Ok(record) => record,
            Err(StorageError::NotFound) => return Err(MarketError::Unauthorized),
            Err(other) => return Err(other.into()),
        };
        if record.id != id {
            // A valid token for another stream: someone else's camera, or a mix-up.
            return Err(MarketError::Forbidden);
        }
        domain::live::check_open(record.status).map_err(|e| MarketError::Refused(vec![e]))?;
        Ok(record)
    }

    /// Puts one of the stream's products on the buyers' card.
    pub async fn feature(&self, actor: &Actor, id: StreamId, listing_id: ListingId) -> Result<StreamRecord> {
        self.stream_for(actor, id).await?;
        Ok(self.storage.feature(id, listing_id).await?)
    }

    /// Records that the stream's camera connected (the first time counts).
    pub async fn mark_started(&self, id: StreamId) -> Result<StreamRecord> {
        Ok(self.storage.mark_started(id, self.now()).await?)
    }

    pub async fn end_stream(&self, actor: &Actor, id: StreamId) -> Result<StreamRecord> {
        self.stream_for(actor, id).await?;
        Ok(self.storage.end_stream(id, self.now()).await?)
    }

    /// A farmer's open streams, newest first.
    pub async fn open_streams(&self, farmer_id: MemberId) -> Result<Vec<StreamRecord>> {
        Ok(self.storage.open_streams(farmer_id).await?)
    }

    pub async fn live_orders(&self, id: StreamId) -> Result<u64> {
        Ok(self.storage.live_orders(id).await?)
    }

    pub async fn listing(&self, id: ListingId) -> Result<ListingRecord> {
        Ok(self.storage.listing(id).await?)
    }

    // --- Sync ---------------------------------------------------------------------------------

    /// Applies a device's pushed outbox entries, each once, in order.
    pub async fn push(&self, session: &Session, request: PushRequest) -> Result<PushResponse> {
        let push = SyncPush {
            client_id: request.client_id,
            device_id: session.device_id,
            actor: session.actor,
            entries: request.entries,
            now: self.now(),
        };
        let response = self.storage.push(push).await?;
        self.emit(MarketEvent::ListingsChanged);
        Ok(response)
    }

    /// The next page of changes in the device's scope after `cursor`.
    pub async fn pull(&self, session: &Session, client_id: ClientId, cursor: i64, limit: usize) -> Result<PullResponse> {
        let pull = SyncPull { client_id, device_id: session.device_id, actor: session.actor, cursor: cursor.max(0), limit };
        Ok(self.storage.pull(pull).await?)
    }

    /// Orders the actor may see, filtered and paged. A farmer's filter is always their own.
    pub async fn orders_for(&self, actor: &Actor, mut filter: OrderFilter) -> Result<Page<OrderRecord>> {
        filter.coop_id = actor.coop_id;
        if !actor.is_coop_staff() {
            filter.farmer_id = Some(actor.member_id);
        }
        Ok(self.storage.orders(filter).await?)
    }
}

fn new_member(coop_id: CoopId, role: Role, name: &str, farm_slug: Option<String>, now: Timestamp) -> Result<Member> {
    Ok(Member {
        id: MemberId(Uuid::now_v7()),
        coop_id,
        role,
        name: text::clean(name, MAX_NAME_CHARS, Lines::One).map_err(|e| invalid(Field::Name, e))?,
        farm_slug,
        created_at: now,
    })
}

/// A farm page slug: the name's ASCII letters and digits (if any) and a short random suffix, so
/// Chinese names get a readable link too and two Zhangs never collide.
fn farm_slug(name: &str) -> String {
    let ascii: String = name
        .chars()
        .filter_map(|c| if c.is_ascii_alphanumeric() { Some(c.to_ascii_lowercase()) } else if c == ' ' { Some('-') } else { None })
        .collect();
    let ascii: String = ascii.trim_matches('-').chars().take(24).collect();
    let suffix = &tokens::link_code()[..4];
    if ascii.is_empty() { format!("farm-{suffix}") } else { format!("{ascii}-{suffix}") }
}

/// A stable hash of everything the buyer sent, to recognise a genuine retry.
fn fingerprint(order: &BuyerOrder) -> String {
    let fulfilment = match &order.fulfilment {
        FulfilmentChoice::Pickup(id) => format!("pickup:{id}"),
        FulfilmentChoice::Delivery(address) => format!("delivery:{address}"),
    };
    let parts = [
        order.listing_id.to_string(),
        order.quantity.trim().to_owned(),
        order.name.trim().to_owned(),
        order.phone.trim().to_owned(),
        fulfilment,
        sqlite_rows::code(&order.payment_method),
        sqlite_rows::code(&order.channel),
        order.note.trim().to_owned(),
    ];
    // The stream joined the fingerprint later: added only when there is one, so orders placed
    // before keep their fingerprints and their retries still replay.
    let stream = order.stream_id.map(|id| id.to_string());
    let mut hasher = Sha256::new();
    for part in parts.into_iter().chain(stream) {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
