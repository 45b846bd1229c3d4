//! The Tauri shell: it opens the client library on the app's data directory and exposes each
//! client operation as a command. Nothing else lives here: every rule is in `domain`, every write in
//! `store`, every workflow in `client`, so the app's behaviour is tested without a window.
//!
//! `FIELDCAST_DATA_DIR` overrides the data directory (the run command and the end-to-end tests use
//! it to keep their data apart from a person's real data).

use std::path::PathBuf;

use client::{ApiError, Client, DeviceStatus};
use domain::ids::ListingId;
use domain::listing::{Listing, ListingInput};
use domain::order::Order;
use tauri::{Manager, State};
use tracing_subscriber::EnvFilter;

#[tauri::command(async)]
fn list_produce(client: State<'_, Client>) -> Result<Vec<Listing>, ApiError> {
    Ok(client.list_produce()?)
}

#[tauri::command(async)]
fn add_produce(client: State<'_, Client>, input: ListingInput) -> Result<Listing, ApiError> {
    Ok(client.add_produce(&input)?)
}

#[tauri::command(async)]
fn edit_produce(client: State<'_, Client>, id: ListingId, input: ListingInput) -> Result<Listing, ApiError> {
    Ok(client.edit_produce(id, &input)?)
}

#[tauri::command(async)]
fn list_orders(client: State<'_, Client>) -> Result<Vec<Order>, ApiError> {
    Ok(client.list_orders()?)
}

#[tauri::command(async)]
fn device_status(client: State<'_, Client>) -> Result<DeviceStatus, ApiError> {
    Ok(client.status()?)
}

/// Builds and runs the app until its last window closes.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    tauri::Builder::default()
        .setup(|app| {
            let data_dir = match std::env::var_os("FIELDCAST_DATA_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => app.path().app_data_dir()?,
            };
            app.manage(Client::open(&data_dir)?);
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![list_produce, add_produce, edit_produce, list_orders, device_status])
        .run(tauri::generate_context!())
        .expect("the Tauri event loop failed to start");
}
