//! Sync: a device that was offline for a day pushes 10,000 queued changes and pulls the 10,000
//! orders they made; a new device pulls those orders from nothing; and 1,000 changes go over a
//! simulated rural link (256 kbit/s, 300 ms round trip, 5 % of connections cut).
//!
//! The real sync driver does the work (engine, HTTP, store writes); the benchmark only watches its
//! progress. A fault proxy sits between device and server, to count bytes and to shape the link.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Client, SaleInput};
use domain::listing::ListingInput;
use domain::order::{Channel, PaymentMethod};
use fault_proxy::{FaultProxy, Faults};
use serde::Serialize;
use sync_engine::{Config, Phase};

use crate::server::Server;

#[derive(Debug, Serialize)]
pub struct SyncResult {
    pub offline_day: OfflineDay,
    pub new_device: NewDevice,
    pub rural: Rural,
    /// The same link with a fifth of all requests and answers cut mid-way.
    pub rural_harsh: Rural,
}

#[derive(Debug, Serialize)]
pub struct OfflineDay {
    pub changes: usize,
    pub push_seconds: f64,
    pub changes_per_second: f64,
    pub pull_seconds: f64,
    pub orders_pulled: usize,
    pub orders_per_second: f64,
    /// Bytes through the proxy while pushing, per change, each way.
    pub bytes_up_per_change: f64,
    pub bytes_down_per_change: f64,
}

#[derive(Debug, Serialize)]
pub struct NewDevice {
    pub orders: usize,
    pub seconds: f64,
    pub orders_per_second: f64,
    pub bytes_down: u64,
}

#[derive(Debug, Serialize)]
pub struct Rural {
    pub changes: usize,
    pub link: String,
    /// From starting sync to the last change acknowledged.
    pub seconds_to_acknowledged: f64,
    pub connections: u64,
    pub cut: u64,
}

fn device(dir: &Path) -> anyhow::Result<Arc<Client>> {
    Ok(Arc::new(Client::open(dir)?))
}

async fn pair(client: &Client, server: &Server, via: &str, fresh_code: bool) -> anyhow::Result<()> {
    let code = if fresh_code {
        server.admin(&["pairing-code", "--member", server.demo["farmer"]["member_id"].as_str().unwrap_or_default()])?
    } else {
        server.demo["farmer"]["pairing_code"].as_str().unwrap_or_default().to_owned()
    };
    client.pair(via, &code, "bench device").await?;
    Ok(())
}

/// Queues `count` walk-up sales of one unit each, as a day of selling offline does.
fn queue_sales(client: &Client, count: usize) -> anyhow::Result<()> {
    let input = ListingInput {
        title: format!("Bench corn {count}"),
        unit: "jin".into(),
        currency: "CNY".into(),
        price: "3.50".into(),
        stock: (count * 2).to_string(),
        ..ListingInput::default()
    };
    let listing = client.add_produce(&input)?;
    let point = client.pickup_points()?.first().map(|p| p.id);
    for n in 0..count {
        client.sell(&SaleInput {
            listing_id: listing.id,
            quantity: "1".into(),
            buyer_name: "Walk-up".into(),
            buyer_phone: format!("1390{n:07}"),
            pickup_point_id: point,
            address: point.is_none().then(|| "at the field".to_owned()),
            payment_method: PaymentMethod::CashAtPickup,
            channel: Channel::InPerson,
            note: String::new(),
        })?;
    }
    Ok(())
}

/// Runs the driver until everything is pushed (the first time) and then pulled; returns the two
/// moments, measured from `start`.
async fn run_driver(client: Arc<Client>, config: Config, start: Instant, limit: Duration) -> anyhow::Result<(Duration, Duration)> {
    let since = client.now();
    let handle = client::sync::spawn(client, config, 42)?;
    let mut progress = handle.progress();
    let mut pushed = None;
    loop {
        let current = progress.borrow_and_update().clone();
        if current.pending == 0 && pushed.is_none() {
            pushed = Some(start.elapsed());
        }
        if let Some(pushed) = pushed
            && current.phase == Phase::Idle
            && current.pending == 0
            && current.last_synced_at.is_some_and(|at| at > since)
        {
            handle.stop();
            return Ok((pushed, start.elapsed()));
        }
        anyhow::ensure!(start.elapsed() < limit, "sync did not finish within {limit:?}: {current:?}");
        // The driver reports every change of its state, so this wakes exactly when there is news.
        let _ = tokio::time::timeout(Duration::from_secs(1), progress.changed()).await;
    }
}

pub async fn measure(binary: &Path, changes: usize, rural_changes: usize) -> anyhow::Result<SyncResult> {
    let server = Server::start(binary)?;
    let upstream = server.base.trim_start_matches("http://").parse()?;
    let proxy = FaultProxy::start(upstream, 1).await?;
    let via = format!("http://{}", proxy.addr());
    let dirs = tempfile::tempdir()?;
    let fast = Config { batch_size: domain::sync::MAX_PUSH_ENTRIES, ..Config::default() };

    // A day offline: queue, then sync and watch.
    let phone = device(&dirs.path().join("phone"))?;
    pair(&phone, &server, &via, false).await?;
    client::sync::run_once(phone.clone(), fast.clone(), 1, Duration::from_secs(60)).await?;
    queue_sales(&phone, changes)?;

    let (up, down) = (proxy.stats().bytes_up.load(std::sync::atomic::Ordering::Relaxed), proxy.stats().bytes_down.load(std::sync::atomic::Ordering::Relaxed));
    let start = Instant::now();
    let (pushed, done) = run_driver(phone.clone(), fast.clone(), start, Duration::from_secs(300)).await?;
    let push_up = proxy.stats().bytes_up.load(std::sync::atomic::Ordering::Relaxed) - up;
    let push_down = proxy.stats().bytes_down.load(std::sync::atomic::Ordering::Relaxed) - down;
    let orders_pulled = phone.list_orders()?.len();

    let offline_day = OfflineDay {
        changes,
        push_seconds: pushed.as_secs_f64(),
        changes_per_second: changes as f64 / pushed.as_secs_f64(),
        pull_seconds: (done - pushed).as_secs_f64(),
        orders_pulled,
        orders_per_second: orders_pulled as f64 / (done - pushed).as_secs_f64(),
        bytes_up_per_change: push_up as f64 / changes as f64,
        bytes_down_per_change: push_down as f64 / changes as f64,
    };

    // A new phone for the same farmer: everything from nothing.
    let tablet = device(&dirs.path().join("tablet"))?;
    pair(&tablet, &server, &via, true).await?;
    let before = proxy.stats().bytes_down.load(std::sync::atomic::Ordering::Relaxed);
    let start = Instant::now();
    client::sync::run_once(tablet.clone(), fast, 2, Duration::from_secs(300)).await?;
    let seconds = start.elapsed().as_secs_f64();
    let orders = tablet.list_orders()?.len();
    let new_device = NewDevice {
        orders,
        seconds,
        orders_per_second: orders as f64 / seconds,
        bytes_down: proxy.stats().bytes_down.load(std::sync::atomic::Ordering::Relaxed) - before,
    };

    let link = Faults { bandwidth_bps: Some(256_000), one_way_delay: Duration::from_millis(150), cut_percent: 5, ..Faults::default() };
    let rural = rural_run(&server, &proxy, &via, &dirs.path().join("field"), rural_changes, link, "256 kbit/s each way, 300 ms round trip, 5 % of connections cut").await?;
    let harsh = Faults { cut_chunk_percent: 20, ..link };
    let rural_harsh = rural_run(&server, &proxy, &via, &dirs.path().join("hills"), rural_changes, harsh, "the same, and 20 % of requests and answers cut mid-way").await?;
    Ok(SyncResult { offline_day, new_device, rural, rural_harsh })
}

/// A device on a shaped link, with the default engine settings a phone uses (and a short backoff
/// cap, as the app sets when the person waits for it).
async fn rural_run(server: &Server, proxy: &FaultProxy, via: &str, dir: &Path, changes: usize, link: Faults, name: &str) -> anyhow::Result<Rural> {
    proxy.set(Faults::default());
    let field = device(dir)?;
    pair(&field, server, via, true).await?;
    client::sync::run_once(field.clone(), Config::default(), 3, Duration::from_secs(300)).await?;
    queue_sales(&field, changes)?;
    proxy.set(link);
    let counter = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (connections, cut) = (counter(&proxy.stats().connections), counter(&proxy.stats().cut));
    let config = Config { backoff_base_ms: 500, backoff_cap_ms: 5_000, ..Config::default() };
    let start = Instant::now();
    let (acknowledged, _) = run_driver(field, config, start, Duration::from_secs(600)).await?;
    proxy.set(Faults::default());
    Ok(Rural {
        changes,
        link: name.into(),
        seconds_to_acknowledged: acknowledged.as_secs_f64(),
        connections: counter(&proxy.stats().connections) - connections,
        cut: counter(&proxy.stats().cut) - cut,
    })
}
