//! The Tauri shell: it opens the client library on the app's data directory, starts the sync
//! driver, and hands every request of the front end to [`client::calls::Call::run`] through one
//! command, `call`. Nothing else lives here: every rule is in `domain`, every write in `store`,
//! every workflow in `client`, so the app's behaviour is tested without a window (and the same
//! front end runs in a browser over `fieldcast-device serve-ui`, which dispatches the same way).
//!
//! Sync progress and refusals reach the front end as the events `sync-progress` and `sync-refused`.
//! Files the front end saves (CSV exports) are webview downloads: they go to the Downloads folder
//! and the event `downloaded` says where each one went.
//! `FIELDCAST_DATA_DIR` overrides the data directory (the run command and the end-to-end tests use
//! it to keep their data apart from a person's real data).

use std::path::PathBuf;
use std::sync::Arc;

use client::calls::Call;
use client::sync::SyncHandle;
use client::{ApiError, Client};
use tauri::webview::DownloadEvent;
use tauri::{Emitter, Listener, Manager, State, Webview, WebviewWindowBuilder};
use tracing_subscriber::EnvFilter;

/// What the commands reach: the client and its running sync driver.
struct App {
    client: Arc<Client>,
    sync: SyncHandle,
}

#[tauri::command]
async fn call(app: State<'_, App>, request: Call) -> Result<serde_json::Value, ApiError> {
    request.run(&app.client, &app.sync).await
}

/// Forwards the driver's progress, refusals and newly arrived orders to the front end as events.
fn forward_events(handle: tauri::AppHandle, sync: &SyncHandle) {
    let mut progress = sync.progress();
    let mut refusals = sync.refusals();
    let mut arrivals = sync.arrivals();
    let arrived = handle.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            match arrivals.recv().await {
                Ok(orders) => {
                    let _ = arrived.emit("orders-arrived", orders);
                }
                // Missed ones are still in the store and on Today; only their notification is lost.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let events = handle.clone();
    tauri::async_runtime::spawn(async move {
        while progress.changed().await.is_ok() {
            let latest = progress.borrow().clone();
            let _ = events.emit("sync-progress", latest);
        }
    });
    tauri::async_runtime::spawn(async move {
        while let Ok(refusal) = refusals.recv().await {
            let _ = handle.emit("sync-refused", refusal);
        }
    });
}

/// A download the front end started: it goes where the webview proposes (the Downloads folder,
/// numbered if the name is taken), and the front end hears where it landed.
fn on_download(webview: Webview, event: DownloadEvent<'_>) -> bool {
    if let DownloadEvent::Finished { path, success, .. } = event {
        tracing::info!(?path, success, "download finished");
        let _ = webview.emit("downloaded", serde_json::json!({ "path": path, "success": success }));
    }
    true
}

fn seed() -> u64 {
    let mut bytes = [0u8; 8];
    // The seed only spreads retries of many devices apart; the clock will do if the OS has no entropy.
    if getrandom::fill(&mut bytes).is_err() {
        return std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    }
    u64::from_le_bytes(bytes)
}

/// Builds and runs the app until its last window closes.
pub fn run() {
    let started = std::time::Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    tauri::Builder::default()
        .plugin(tauri_plugin_notification::init())
        .setup(move |app| {
            let data_dir = match std::env::var_os("FIELDCAST_DATA_DIR") {
                Some(dir) => PathBuf::from(dir),
                None => app.path().app_data_dir()?,
            };
            let client = Arc::new(Client::open(&data_dir)?);
            let driver_client = client.clone();
            let sync = tauri::async_runtime::block_on(async move { client::sync::spawn(driver_client, sync_engine::Config::default(), seed()) })?;
            forward_events(app.handle().clone(), &sync);
            // The front end says when its first screen is on the glass; the start-up benchmark
            // (`cargo xtask bench`) reads this line. Only the first report counts.
            let reported = std::sync::atomic::AtomicBool::new(false);
            app.listen("painted", move |_| {
                if !reported.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    println!("first screen painted after {} ms", started.elapsed().as_millis());
                }
            });
            app.manage(App { client, sync });
            // The window is described in tauri.conf.json ("create": false) and built here, where
            // the download handler can be attached, once the commands' state is in place.
            for window in &app.config().app.windows {
                WebviewWindowBuilder::from_config(app.handle(), window)?.on_download(on_download).build()?;
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![call])
        .run(tauri::generate_context!())
        .expect("the Tauri event loop failed to start");
}
