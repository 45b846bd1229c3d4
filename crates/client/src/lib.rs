//! What the Fieldcast app does, as a library: the Tauri shell, the device CLI and tests all call
//! this, so the app's behaviour is tested without a window.
//!
//! A [`Client`] owns the device's local store and the clock. Each method is one thing a person does
//! ("add produce", "sell 3 jin to a walk-up buyer", "mark packed"): it builds the domain mutation,
//! and the store applies it to the local view and queues it, in one transaction, so it works the
//! same with or without a network. [`sync`] carries the queue to the marketplace; [`remote`] is the
//! HTTP it uses; [`live`] plans and runs a live stream (online only); [`csv`] exports orders for
//! spreadsheets.

pub mod bindings;
pub mod calls;
pub mod csv;
pub mod farmers;
mod error;
pub mod live;
pub mod photos;
pub mod remote;
pub mod reports;
pub mod sync;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use domain::checkout::OfflineSale;
use domain::error::{Error as DomainError, Field, FieldError};
use domain::ids::{ClientId, ListingId, OrderId, PickupPointId};
use domain::listing::{Listing, ListingInput};
use domain::money::Money;
use domain::mutation::Mutation;
use domain::order::{Buyer, Channel, Fulfilment, Order, OrderAction, PaymentMethod};
use domain::quantity::Quantity;
use domain::sync::{EntryResult, PickupPointInfo, PullResponse};
use domain::time::{Clock, Timestamp};
use serde::{Deserialize, Serialize};
use store::{Account, Acknowledged, OutboxEntry, RecordError, Store, SyncState};
use tokio::sync::Notify;
use ts_rs::TS;
use uuid::Uuid;

pub use error::{ApiError, ClientError, FieldProblem};

/// The file name of the local database inside the data directory.
pub const DATABASE_FILE: &str = "fieldcast.db";

/// The operating system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_since_epoch(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
    }
}

/// The platform's per-user data directory for Fieldcast, e.g. `~/.local/share/fieldcast` on Linux.
/// The Tauri shell uses the app data directory Tauri resolves instead, which is right on phones too.
pub fn default_data_dir() -> Option<PathBuf> {
    dirs::data_dir().map(|dir| dir.join("fieldcast"))
}

/// How this device's local data stands, for the status line of the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DeviceStatus {
    /// Local changes not yet acknowledged by the marketplace.
    #[ts(type = "number")]
    pub pending_changes: u64,
    /// The end of the last complete sync.
    pub last_synced_at: Option<Timestamp>,
    /// Who this device is paired as, if it is.
    pub account: Option<AccountInfo>,
}

/// The pairing, without its secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AccountInfo {
    pub server_url: String,
    /// What this device is called in the co-op's device list.
    pub device_name: String,
    pub member_name: String,
    pub role: domain::access::Role,
    pub coop_name: String,
    pub currency: domain::money::Currency,
}

/// A listing as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct Produce {
    pub listing: Listing,
    /// The buyers' order link, once the marketplace has the listing.
    pub order_link: Option<String>,
    /// What this device may still sell offline.
    pub quota: Quantity,
    /// Changes to it are waiting to be synced.
    pub pending: bool,
}

/// An order as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct OrderItem {
    pub order: Order,
    pub pending: bool,
    /// Whose produce it is, once the marketplace has said (an order made on this device learns it
    /// when it syncs): what the co-op console filters and groups by.
    pub farmer_id: Option<domain::ids::MemberId>,
}

/// A sale taken by the farmer or the co-op (phone, walk-up), as typed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SaleInput {
    pub listing_id: ListingId,
    /// A decimal in the listing's unit.
    pub quantity: String,
    pub buyer_name: String,
    pub buyer_phone: String,
    /// Collect at this pickup point, or deliver to `address`.
    pub pickup_point_id: Option<PickupPointId>,
    pub address: Option<String>,
    pub payment_method: PaymentMethod,
    /// `phone` or `in_person`.
    pub channel: Channel,
    #[serde(default)]
    pub note: String,
}

/// How a sale of some quantity would be covered, for the warning before an uncovered one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SalePreview {
    pub from_quota: Quantity,
    pub from_stock: Quantity,
    /// What neither covers as far as this device knows; above zero, the app warns before selling.
    pub shortfall: Quantity,
}

/// A change the marketplace refused, for the person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct RefusalView {
    #[ts(type = "number")]
    pub seq: u64,
    pub name: String,
    pub code: String,
    pub field: Option<Field>,
    pub message: String,
    pub at: Timestamp,
}

/// The app's backend on one device.
pub struct Client {
    store: Mutex<Store>,
    /// Where processed listing photos wait, named by hash, until sync uploads them (and after,
    /// for showing them offline).
    photos_dir: PathBuf,
    clock: Box<dyn Clock>,
    changes: Arc<Notify>,
}

impl Client {
    /// Opens the device's data in `data_dir`, creating the directory and the database if needed.
    pub fn open(data_dir: &Path) -> Result<Client, ClientError> {
        Client::open_with_clock(data_dir, Box::new(SystemClock))
    }

    pub fn open_with_clock(data_dir: &Path, clock: Box<dyn Clock>) -> Result<Client, ClientError> {
        std::fs::create_dir_all(data_dir).map_err(|source| ClientError::DataDir { path: data_dir.to_owned(), source })?;
        let store = Store::open(&data_dir.join(DATABASE_FILE))?;
        tracing::info!(data_dir = %data_dir.display(), client_id = %store.client_id(), "opened local store");
        let photos_dir = data_dir.join("photos");
        std::fs::create_dir_all(&photos_dir).map_err(|source| ClientError::DataDir { path: photos_dir.clone(), source })?;
        Ok(Client { store: Mutex::new(store), photos_dir, clock, changes: Arc::new(Notify::new()) })
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Wakes whoever waits on it (the sync driver) after every local change.
    pub fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }

    // --- Produce ------------------------------------------------------------------------------

    /// The produce, most recently changed first.
    pub fn list_produce(&self) -> Result<Vec<Produce>, ClientError> {
        let store = self.store();
        let pending = store.pending_targets()?;
        let base = store.account()?.map(|a| a.server_url);
        store
            .listings_with_codes()?
            .into_iter()
            .map(|(listing, code)| {
                Ok(Produce {
                    pending: pending.contains(&listing.id.to_string()),
                    quota: store.quota(listing.id)?,
                    order_link: code.zip(base.as_ref()).map(|(code, base)| format!("{base}/l/{code}")),
                    listing,
                })
            })
            .collect()
    }

    /// Lists new produce from the form. Nothing is written unless every field is valid.
    pub fn add_produce(&self, input: &ListingInput) -> Result<Listing, ClientError> {
        let details = input.parse()?;
        let listing_id = ListingId(Uuid::now_v7());
        self.record(&[Mutation::ListingCreate { listing_id, farmer_id: None, details }])?;
        self.store().listing(listing_id)?.ok_or(ClientError::NotFound)
    }

    /// Saves the edited form over an existing listing: an edit of text, price and rules, and a
    /// stock change by the difference, so that buyers' orders meanwhile are never undone.
    pub fn edit_produce(&self, id: ListingId, input: &ListingInput) -> Result<Listing, ClientError> {
        let details = input.parse()?;
        let current = self.store().listing(id)?.ok_or(ClientError::NotFound)?;
        let delta = details.stock.checked_sub(current.details.stock).map_err(|e| ClientError::Invalid(vec![FieldError::new(Field::Stock, e)]))?;
        let mut mutations = Vec::new();
        let unchanged_text = domain::listing::ListingDetails { stock: current.details.stock, ..details.clone() } == current.details;
        if !unchanged_text {
            mutations.push(Mutation::ListingEdit { listing_id: id, details });
        }
        if delta != Quantity::ZERO {
            mutations.push(Mutation::ListingStock { listing_id: id, delta });
        }
        if !mutations.is_empty() {
            self.record(&mutations)?;
        }
        self.store().listing(id)?.ok_or(ClientError::NotFound)
    }

    pub fn pause_produce(&self, id: ListingId) -> Result<Listing, ClientError> {
        self.record(&[Mutation::ListingPause { listing_id: id }])?;
        self.store().listing(id)?.ok_or(ClientError::NotFound)
    }

    pub fn resume_produce(&self, id: ListingId) -> Result<Listing, ClientError> {
        self.record(&[Mutation::ListingResume { listing_id: id }])?;
        self.store().listing(id)?.ok_or(ClientError::NotFound)
    }

    /// Asks the marketplace for `quantity` of the listing's stock to sell offline.
    pub fn request_quota(&self, id: ListingId, quantity: &str) -> Result<(), ClientError> {
        let quantity = self.quantity_of(id, quantity)?;
        self.record(&[Mutation::QuotaRequest { listing_id: id, quantity }])
    }

    /// Gives `quantity` of this device's quota back to the listing.
    pub fn return_quota(&self, id: ListingId, quantity: &str) -> Result<(), ClientError> {
        let quantity = self.quantity_of(id, quantity)?;
        self.record(&[Mutation::QuotaReturn { listing_id: id, quantity }])
    }

    fn quantity_of(&self, id: ListingId, text: &str) -> Result<Quantity, ClientError> {
        let listing = self.store().listing(id)?.ok_or(ClientError::NotFound)?;
        Quantity::parse(text, listing.details.unit).map_err(|e| ClientError::Invalid(vec![FieldError::new(Field::Quantity, e)]))
    }

    // --- Sales and orders ---------------------------------------------------------------------

    /// How a sale of `quantity` would be covered: this device's quota first, then the stock it
    /// knows of. A shortfall means the app should warn before selling.
    pub fn preview_sale(&self, listing_id: ListingId, quantity: &str) -> Result<SalePreview, ClientError> {
        let quantity = self.quantity_of(listing_id, quantity)?;
        let store = self.store();
        let listing = store.listing(listing_id)?.ok_or(ClientError::NotFound)?;
        let quota = store.quota(listing_id)?;
        let from_quota = quantity.min(quota);
        let rest = quantity.checked_sub(from_quota).unwrap_or(Quantity::ZERO);
        let from_stock = rest.min(listing.details.stock).max(Quantity::ZERO);
        Ok(SalePreview { from_quota, from_stock, shortfall: rest.checked_sub(from_stock).unwrap_or(Quantity::ZERO) })
    }

    /// Records a phone or walk-up sale, offline or not. It always records: a sale beyond what the
    /// device knows is covered is flagged by the marketplace, never lost.
    pub fn sell(&self, input: &SaleInput) -> Result<OrderItem, ClientError> {
        let listing = self.store().listing(input.listing_id)?.ok_or(ClientError::NotFound)?;
        let mut problems = Vec::new();
        let quantity = Quantity::parse(&input.quantity, listing.details.unit).map_err(|e| problems.push(FieldError::new(Field::Quantity, e))).ok();
        let buyer = Buyer::parse(&input.buyer_name, &input.buyer_phone).map_err(|e| problems.extend(e)).ok();
        let fulfilment = match (input.pickup_point_id, &input.address) {
            (Some(point_id), None) => Some(Fulfilment::Pickup { point_id }),
            (None, Some(address)) => Some(Fulfilment::Delivery { address: address.clone() }),
            _ => {
                problems.push(FieldError::new(Field::PickupPoint, DomainError::Empty));
                None
            }
        };
        let (Some(quantity), Some(buyer), Some(fulfilment)) = (quantity, buyer, fulfilment) else {
            return Err(ClientError::Invalid(problems));
        };
        let order_id = OrderId(Uuid::now_v7());
        let sale = OfflineSale {
            order_id,
            listing_id: input.listing_id,
            quantity,
            buyer,
            fulfilment,
            payment_method: input.payment_method,
            channel: input.channel,
            note: input.note.clone(),
        };
        self.record(&[Mutation::OrderRecord { sale }])?;
        self.changed_order(order_id)
    }

    /// Every order on this device, newest first.
    fn orders(&self) -> Result<Vec<Order>, ClientError> {
        Ok(self.store().orders()?)
    }

    /// Orders, newest first.
    pub fn list_orders(&self) -> Result<Vec<OrderItem>, ClientError> {
        let store = self.store();
        let pending = store.pending_targets()?;
        let farmers = store.order_farmers()?;
        Ok(store
            .orders()?
            .into_iter()
            .map(|order| OrderItem { pending: pending.contains(&order.id.to_string()), farmer_id: farmers.get(&order.id).copied(), order })
            .collect())
    }

    /// Moves an order along: confirm, pack, ship, mark ready, deliver, cancel, decline.
    pub fn step_order(&self, id: OrderId, action: OrderAction, reason: Option<String>) -> Result<OrderItem, ClientError> {
        self.record(&[Mutation::OrderStep { order_id: id, action, reason }])?;
        self.changed_order(id)
    }

    /// Records money received, as a decimal in the order's currency.
    pub fn record_payment(&self, id: OrderId, amount: &str) -> Result<OrderItem, ClientError> {
        let order = self.store().order(id)?.ok_or(ClientError::NotFound)?;
        let amount = Money::parse(amount, order.total.currency).map_err(|e| ClientError::Invalid(vec![FieldError::new(Field::Price, e)]))?;
        self.record(&[Mutation::OrderPayment { order_id: id, amount }])?;
        self.changed_order(id)
    }

    /// An order as the app shows it right after this device changed it: pending sync.
    fn changed_order(&self, id: OrderId) -> Result<OrderItem, ClientError> {
        let store = self.store();
        let order = store.order(id)?.ok_or(ClientError::NotFound)?;
        let farmer_id = store.order_farmers()?.get(&id).copied();
        Ok(OrderItem { order, pending: true, farmer_id })
    }

    pub fn pickup_points(&self) -> Result<Vec<PickupPointInfo>, ClientError> {
        Ok(self.store().pickup_points()?)
    }

    /// Orders as CSV for spreadsheets (RFC 4180, UTF-8 with a byte order mark).
    pub fn export_orders_csv(&self) -> Result<String, ClientError> {
        let points = self.pickup_points()?;
        Ok(csv::orders(&self.store().orders()?, &points))
    }

    // --- Account and sync ---------------------------------------------------------------------

    /// Signs this device out: the token and everything the co-op's data left on it (produce,
    /// orders, photos) are removed, so a phone handed on or lost carries nothing. Refused while
    /// changes wait to sync (`unsynced_changes`), because they would be lost.
    pub fn sign_out(&self) -> Result<(), ClientError> {
        let mut store = self.store();
        let waiting = store.outbox_len()?;
        if waiting > 0 {
            return Err(ClientError::Refused { code: "unsynced_changes".into(), message: format!("{waiting} changes have not reached the co-op yet") });
        }
        store.wipe()?;
        drop(store);
        if let Ok(entries) = std::fs::read_dir(&self.photos_dir) {
            for entry in entries.flatten() {
                // A photo left behind is only disk space: the listing naming it is gone.
                let _ = std::fs::remove_file(entry.path());
            }
        }
        self.changes.notify_one();
        Ok(())
    }

    /// Pairs this device with a marketplace using a one-time code; the token is kept in the store.
    pub async fn pair(&self, server_url: &str, code: &str, device_name: &str) -> Result<AccountInfo, ClientError> {
        let remote = remote::Remote::new(server_url, std::time::Duration::from_secs(30)).map_err(|e| ClientError::Remote(e.to_string()))?;
        let paired = remote.pair(code, device_name).await.map_err(|e| match e {
            remote::RemoteError::Server { code, .. } if code == "pairing_code_invalid" => ClientError::PairingRefused,
            other => ClientError::Remote(other.to_string()),
        })?;
        let account = Account {
            server_url: remote.base().to_owned(),
            token: paired.token,
            device_id: paired.device_id,
            device_name: paired.device_name,
            member_id: paired.member.id,
            member_name: paired.member.name,
            role: paired.member.role,
            coop_id: paired.coop.id,
            coop_name: paired.coop.name,
            currency: paired.coop.currency,
            paired_at: self.now(),
        };
        self.store().set_account(&account)?;
        self.changes.notify_one();
        Ok(account_info(&account))
    }

    pub fn status(&self) -> Result<DeviceStatus, ClientError> {
        let store = self.store();
        Ok(DeviceStatus {
            pending_changes: store.outbox_len()?,
            last_synced_at: store.sync_state()?.last_synced_at,
            account: store.account()?.as_ref().map(account_info),
        })
    }

    pub fn refusals(&self, limit: usize) -> Result<Vec<RefusalView>, ClientError> {
        Ok(self
            .store()
            .refusals(limit)?
            .into_iter()
            .map(|r| RefusalView { seq: r.seq, name: r.name, code: r.code, field: r.field, message: r.message, at: r.at })
            .collect())
    }

    pub fn client_id(&self) -> ClientId {
        ClientId(self.store().client_id())
    }

    pub fn account(&self) -> Result<Option<Account>, ClientError> {
        Ok(self.store().account()?)
    }

    pub fn sync_state(&self) -> Result<SyncState, ClientError> {
        Ok(self.store().sync_state()?)
    }

    pub fn set_last_synced_at(&self, at: Timestamp) -> Result<(), ClientError> {
        Ok(self.store().set_last_synced_at(at)?)
    }

    /// The oldest `limit` outbox entries, with this device's sync identity.
    pub fn outbox(&self, limit: usize) -> Result<(ClientId, Vec<OutboxEntry>), ClientError> {
        let store = self.store();
        Ok((ClientId(store.client_id()), store.outbox(limit)?))
    }

    pub fn acknowledge(&self, results: &[EntryResult], at: Timestamp) -> Result<Acknowledged, ClientError> {
        Ok(self.store().acknowledge(results, at)?)
    }

    pub fn apply_pull(&self, page: &PullResponse, at: Timestamp) -> Result<(), ClientError> {
        Ok(self.store().apply_pull(page, at)?)
    }

    /// Applies a pulled page and returns the placed orders it brought that this device did not
    /// have before: a buyer's new order, worth a notification. Orders this device made itself are
    /// already here, so they never count; nor does anything before the device's first complete
    /// sync, which brings the co-op's whole backlog at once.
    pub fn apply_pull_noting_arrivals(&self, page: &PullResponse, at: Timestamp) -> Result<Vec<sync::OrderArrival>, ClientError> {
        let mut store = self.store();
        let mut arrivals = Vec::new();
        let first_sync = store.sync_state()?.last_synced_at.is_none();
        for version in page.orders.iter().filter(|_| !first_sync) {
            if version.order.status == domain::order::OrderStatus::Placed && store.order(version.order.id)?.is_none() {
                arrivals.push(sync::OrderArrival {
                    order_id: version.order.id,
                    buyer_name: version.order.buyer.name.clone(),
                    total: version.order.total,
                    channel: version.order.channel,
                });
            }
        }
        store.apply_pull(page, at)?;
        Ok(arrivals)
    }

    fn record(&self, mutations: &[Mutation]) -> Result<(), ClientError> {
        let now = self.now();
        match self.store().record(mutations, now) {
            Ok(_) => {
                self.changes.notify_one();
                Ok(())
            }
            Err(RecordError::Refused(fields)) => Err(ClientError::Invalid(fields)),
            Err(RecordError::Store(error)) => Err(error.into()),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written (SQLite rolls back the
        // open transaction), so a poisoned lock is safe to keep using.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub(crate) fn account_info(account: &Account) -> AccountInfo {
    AccountInfo {
        server_url: account.server_url.clone(),
        device_name: account.device_name.clone(),
        member_name: account.member_name.clone(),
        role: account.role,
        coop_name: account.coop_name.clone(),
        currency: account.currency,
    }
}

#[cfg(test)]
mod tests;
