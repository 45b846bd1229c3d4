//! What the Fieldcast app does, as a library: the Tauri shell, the device CLI and tests all call
//! this, so the app's behaviour is tested without a window.
//!
//! A [`Client`] owns the device's local store and the clock. Each method is one thing a person does
//! ("add produce", "list orders"); it validates through the domain, writes through the store (row
//! and outbox together) and answers with domain values or an [`ApiError`] that carries a stable code.
//! Sync (a driver around the sans-IO engine) and photos plug in here later, beside the store.

pub mod bindings;
mod error;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use domain::ids::{ListingId, MutationId};
use domain::listing::{Listing, ListingInput};
use domain::mutation::Mutation;
use domain::order::Order;
use domain::time::{Clock, Timestamp};
use serde::Serialize;
use store::Store;
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
}

/// The app's backend on one device.
pub struct Client {
    store: Mutex<Store>,
    clock: Box<dyn Clock>,
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
        Ok(Client { store: Mutex::new(store), clock })
    }

    /// The farmer's produce, most recently changed first.
    pub fn list_produce(&self) -> Result<Vec<Listing>, ClientError> {
        Ok(self.store().listings()?)
    }

    /// Lists new produce from the form. Nothing is written unless every field is valid.
    pub fn add_produce(&self, input: &ListingInput) -> Result<Listing, ClientError> {
        let details = input.parse()?;
        let now = self.clock.now();
        let listing = Listing::new(ListingId(Uuid::now_v7()), details, now);
        let mut store = self.store();
        let change = store.change()?;
        change.put_listing(&listing)?;
        let mutation = Mutation::ListingCreate { listing_id: listing.id, details: listing.details.clone() };
        change.commit(&mutation, MutationId(Uuid::now_v7()), now)?;
        Ok(listing)
    }

    /// Saves the edited form over an existing listing.
    pub fn edit_produce(&self, id: ListingId, input: &ListingInput) -> Result<Listing, ClientError> {
        let details = input.parse()?;
        let now = self.clock.now();
        let mut store = self.store();
        let change = store.change()?;
        let mut listing = change.listing(id)?.ok_or(ClientError::NotFound)?;
        listing.edit(details, now);
        change.put_listing(&listing)?;
        let mutation = Mutation::ListingEdit { listing_id: id, details: listing.details.clone() };
        change.commit(&mutation, MutationId(Uuid::now_v7()), now)?;
        Ok(listing)
    }

    /// Orders, newest first.
    pub fn list_orders(&self) -> Result<Vec<Order>, ClientError> {
        Ok(self.store().orders()?)
    }

    pub fn status(&self) -> Result<DeviceStatus, ClientError> {
        Ok(DeviceStatus { pending_changes: self.store().outbox_len()? })
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written (SQLite rolls back the
        // open transaction), so a poisoned lock is safe to keep using.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests;
