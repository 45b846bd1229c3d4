//! Sync with real processes through a broken network: the real server, real device processes
//! (`fieldcast-device`), web buyers over HTTP, and a fault proxy between the devices and the server.
//!
//! - A push whose answer is lost after the server committed it (a failpoint) is retried and applies
//!   once.
//! - Three devices and 200 web buyers make about 2,000 changes and orders while connections are cut,
//!   delayed and black-holed at random, every device's sync process is killed with SIGKILL at least
//!   five times and the server twice. After healing: nothing lost, nothing duplicated, no stock
//!   below zero, and every device agrees with the server. The test prints the counts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fault_proxy::{FaultProxy, Faults};
use rusqlite::{Connection, OpenFlags};
use serde_json::{Value, json};
use sync_engine::SplitMix64;
use tests::{DeviceCli, Guard, ServerProcess, wait_until};

const SYNC_FLAGS: [&str; 6] = ["--backoff-cap-ms", "1500", "--pull-interval-ms", "300", "--request-timeout-ms", "5000"];

fn read_demo(server: &ServerProcess) -> anyhow::Result<Value> {
    let file = server.data_dir().join("demo.json");
    wait_until("demo.json", Duration::from_secs(30), || Ok(file.exists()))?;
    Ok(serde_json::from_slice(&std::fs::read(file)?)?)
}

fn open_read_only(path: &Path) -> anyhow::Result<Connection> {
    Ok(Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?)
}

/// The listings and orders a device shows, as comparable rows.
fn device_view(data_dir: &Path) -> anyhow::Result<(BTreeSet<String>, BTreeSet<String>)> {
    let db = open_read_only(&data_dir.join("fieldcast.db"))?;
    view(&db, "1", "1")
}

/// Listings and orders as `id|title|price|stock|status` and `id|status|total|paid`.
fn view(db: &Connection, listing_scope: &str, order_scope: &str) -> anyhow::Result<(BTreeSet<String>, BTreeSet<String>)> {
    let listings = db
        .prepare(&format!("SELECT id || '|' || title || '|' || price_minor || '|' || stock_milli || '|' || status FROM listings WHERE {listing_scope}"))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<BTreeSet<String>>>()?;
    let orders = db
        .prepare(&format!("SELECT id || '|' || status || '|' || total_minor || '|' || paid_minor FROM orders WHERE {order_scope}"))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<BTreeSet<String>>>()?;
    Ok((listings, orders))
}

/// The device's sync identity and how many changes it has committed.
fn committed(data_dir: &Path) -> anyhow::Result<(String, i64)> {
    let db = open_read_only(&data_dir.join("fieldcast.db"))?;
    Ok(db.query_row("SELECT client_id, next_seq - 1 FROM device WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

fn pair(device: &DeviceCli, server: &str, code: &str, name: &str) -> anyhow::Result<()> {
    device.run(&["pair", "--server", server, "--code", code, "--name", name])?;
    device.run(&["sync", "--timeout", "60"])?;
    Ok(())
}

fn id_of(listings: &Value, title_part: &str) -> String {
    listings
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["listing"]["details"]["title"].as_str().unwrap_or("").contains(title_part))
        .map(|p| p["listing"]["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no listing with {title_part:?}"))
}

#[test]
fn a_push_answer_lost_after_commit_is_retried_without_a_duplicate() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let server = ServerProcess::start(&dir.path().join("server"), &["--demo", "--failpoint", "lose-push-responses=1"])?;
    let demo = read_demo(&server)?;
    let device = DeviceCli::new(&dir.path().join("phone"))?;
    device.run(&["pair", "--server", &server.base(), "--code", demo["farmer"]["pairing_code"].as_str().unwrap(), "--name", "phone"])?;
    // The first pull carries no push, so the failpoint waits for the sale's push.
    let points = {
        let mut flags = vec!["sync", "--timeout", "60"];
        flags.extend(SYNC_FLAGS);
        device.run(&flags)?;
        device.run(&["pickup-points"])?
    };
    let corn = id_of(&device.run(&["produce", "list"])?, "corn");
    let point = points[0]["id"].as_str().unwrap().to_owned();
    let sold = device.run(&["sell", "--listing", &corn, "--quantity", "2", "--name", "Walk-up", "--phone", "13900139000", "--pickup", &point])?;
    let order_id = sold["order"]["id"].as_str().unwrap().to_owned();

    let mut flags = vec!["sync", "--timeout", "60"];
    flags.extend(SYNC_FLAGS);
    let report = device.run(&flags)?;
    assert_eq!(report["pending"], 0, "{report}");

    let db = open_read_only(&server.data_dir().join("market.db"))?;
    let (client_id, seqs) = committed(&device.data_dir)?;
    let applied: i64 = db.query_row("SELECT count(*) FROM applied WHERE client_id = ?1", [&client_id], |r| r.get(0))?;
    assert_eq!((seqs, applied), (1, 1), "the sale applied once");
    let copies: i64 = db.query_row("SELECT count(*) FROM orders WHERE id = ?1", [&order_id], |r| r.get(0))?;
    assert_eq!(copies, 1);
    let stock: i64 = db.query_row("SELECT stock_milli FROM listings WHERE id = ?1", [&corn], |r| r.get(0))?;
    assert_eq!(stock, 198_000, "200 jin, 2 sold once");
    let metrics = tests::http_get(&format!("{}/metrics", server.base()), "-")?;
    let pushes: u64 = metrics
        .lines()
        .filter(|l| l.starts_with("fieldcast_http_requests_total{method=\"POST\",route=\"/api/v1/sync/push\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert!(pushes >= 2, "the lost answer made the device push again ({pushes} pushes)");
    Ok(())
}

/// Counts for the report.
#[derive(Default)]
struct Counts {
    device_changes: AtomicUsize,
    device_sales: Mutex<Vec<String>>,
    web_orders: Mutex<BTreeSet<String>>,
    web_refused: AtomicUsize,
    web_retries: AtomicUsize,
}

/// One device's scripted day: sales, restocks, new produce, order steps, quota requests.
fn device_work(device: &DeviceCli, seed: u64, changes: usize, farmer: bool, counts: &Counts) -> anyhow::Result<()> {
    let mut rng = SplitMix64::new(seed);
    let produce = device.run(&["produce", "list"])?;
    let listings: Vec<String> = ["corn", "eggs", "Peaches"].iter().map(|t| id_of(&produce, t)).collect();
    let point = device.run(&["pickup-points"])?[0]["id"].as_str().unwrap().to_owned();
    let mut made = 0;
    while made < changes {
        let listing = &listings[rng.below(listings.len() as u64) as usize];
        let result = match rng.below(10) {
            0..=4 => {
                let quantity = (1 + rng.below(2)).to_string();
                let phone = format!("1390013{:04}", rng.below(10_000));
                device
                    .run(&["sell", "--listing", listing, "--quantity", &quantity, "--name", "Walk-up", "--phone", &phone, "--pickup", &point, "--channel", "in_person"])
                    .map(|sold| counts.device_sales.lock().unwrap().push(sold["order"]["id"].as_str().unwrap().to_owned()))
            }
            5..=6 => {
                let current = device.run(&["produce", "list"])?;
                let stock = current.as_array().unwrap().iter().find(|p| p["listing"]["id"] == listing.as_str()).map_or(0, |p| p["listing"]["details"]["stock"].as_i64().unwrap());
                let target = (stock / 1000 + 1 + rng.below(5) as i64).to_string();
                device.run(&["produce", "edit", listing, "--stock", &target]).map(drop)
            }
            7 if farmer => device
                .run(&["produce", "add", "--title", &format!("Greens {seed}-{made}"), "--unit", "bunch", "--price", "2", "--stock", "30"])
                .map(drop),
            8 => {
                let orders = device.run(&["orders"])?;
                match orders.as_array().unwrap().iter().find(|o| o["order"]["status"] == "placed") {
                    Some(order) => device.run(&["order", "step", order["order"]["id"].as_str().unwrap(), "confirm"]).map(drop),
                    None => continue,
                }
            }
            _ => device.run(&["quota", "request", listing, "1"]).map(drop),
        };
        // A change refused locally (say, an edit that breaks a rule) writes nothing and is not counted.
        if result.is_ok() {
            made += 1;
            counts.device_changes.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// One web buyer: `orders` orders, each retried with its own Idempotency-Key until answered.
async fn buyer(base: String, codes: Vec<String>, point: String, buyer: usize, orders: usize, counts: Arc<Counts>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut retry = tokio::time::interval(Duration::from_millis(100));
    for n in 0..orders {
        let body = json!({
            "listing_code": codes[(buyer + n) % codes.len()],
            "quantity": "1",
            "name": format!("Buyer {buyer}"),
            "phone": format!("1380013{buyer:04}"),
            "pickup_point_id": point,
            "payment_method": "cash_at_pickup",
        });
        let key = format!("buyer-{buyer:03}-order-{n}");
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let answer = http.post(format!("{base}/api/v1/orders")).header("idempotency-key", &key).json(&body).send().await;
            match answer {
                Ok(response) if response.status().is_success() => {
                    let placed: Value = response.json().await.unwrap();
                    counts.web_orders.lock().unwrap().insert(placed["order"]["id"].as_str().unwrap().to_owned());
                    break;
                }
                Ok(response) if response.status().is_client_error() => {
                    counts.web_refused.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                _ => {
                    // The server is down or restarting: the same key again, later.
                    assert!(Instant::now() < deadline, "buyer {buyer} got no answer for {key}");
                    counts.web_retries.fetch_add(1, Ordering::Relaxed);
                    retry.tick().await;
                }
            }
        }
    }
}

fn spawn_watcher(device: &DeviceCli) -> anyhow::Result<Guard> {
    let mut command = device.command();
    command.args(["sync", "--watch"]).args(SYNC_FLAGS).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    Guard::spawn("fieldcast-device sync --watch", &mut command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn devices_and_buyers_through_a_broken_network_lose_and_duplicate_nothing() -> anyhow::Result<()> {
    const DEVICE_CHANGES: usize = 330;
    const BUYERS: usize = 200;
    const ORDERS_PER_BUYER: usize = 5;
    tests::install_crypto();
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    let mut server = ServerProcess::start(&dir.path().join("server"), &["--demo"])?;
    let demo = read_demo(&server)?;
    let proxy = FaultProxy::start(server.addr(), 20261121).await?;
    let via_proxy = format!("http://{}", proxy.addr());

    // Three devices: Zhang's phone and tablet, and the co-op's laptop (an admin).
    let zhang = demo["farmer"]["member_id"].as_str().unwrap().to_owned();
    let second_code = server.admin(&["pairing-code", "--member", &zhang])?["pairing_code"].as_str().unwrap().to_owned();
    let codes = [demo["farmer"]["pairing_code"].as_str().unwrap().to_owned(), second_code, demo["admin"]["pairing_code"].as_str().unwrap().to_owned()];
    let devices: Vec<DeviceCli> = (0..3).map(|i| DeviceCli::new(&dir.path().join(format!("device-{i}")))).collect::<anyhow::Result<_>>()?;
    for (i, device) in devices.iter().enumerate() {
        pair(device, &via_proxy, &codes[i], &format!("device {i}"))?;
    }
    let produce = devices[0].run(&["produce", "list"])?;
    let (corn, eggs) = (id_of(&produce, "corn"), id_of(&produce, "eggs"));
    devices[0].run(&["quota", "request", &corn, "10"])?;
    // The co-op's laptop records the morning's harvest, so web buyers find stock for a while.
    devices[2].run(&["produce", "edit", &corn, "--stock", "600"])?;
    devices[2].run(&["produce", "edit", &eggs, "--stock", "200"])?;
    devices[2].run(&["sync", "--timeout", "60"])?;

    let counts = Arc::new(Counts::default());
    let watchers: Arc<Mutex<Vec<Option<Guard>>>> = Arc::new(Mutex::new(devices.iter().map(|d| spawn_watcher(d).ok()).collect()));
    let mut kills = [0usize; 3];

    // The devices' work, each on its own thread (the CLI is a blocking process call).
    let devices = Arc::new(devices);
    let working = Arc::new(AtomicUsize::new(3));
    let mut workers = Vec::new();
    for i in 0..3 {
        let (devices, counts, working) = (devices.clone(), counts.clone(), working.clone());
        workers.push(std::thread::spawn(move || {
            let outcome = device_work(&devices[i], 1000 + i as u64, DEVICE_CHANGES, i < 2, &counts);
            working.fetch_sub(1, Ordering::SeqCst);
            outcome
        }));
    }
    // The buyers, straight to the server (they are not on the farm's network).
    let link_codes: Vec<String> = demo["listings"].as_array().unwrap().iter().map(|l| l["order_link"].as_str().unwrap().rsplit('/').next().unwrap().to_owned()).collect();
    let point = demo["pickup_points"][0]["id"].as_str().unwrap().to_owned();
    let buyers_done = Arc::new(AtomicBool::new(false));
    let buyer_tasks: Vec<_> = (0..BUYERS)
        .map(|b| tokio::spawn(buyer(server.base(), link_codes.clone(), point.clone(), b, ORDERS_PER_BUYER, counts.clone())))
        .collect();
    let all_buyers = {
        let done = buyers_done.clone();
        tokio::spawn(async move {
            for task in buyer_tasks {
                task.await.expect("a buyer panicked");
            }
            done.store(true, Ordering::SeqCst);
        })
    };

    // Chaos until the work is done: faults on the proxy, SIGKILLs for the sync processes, and two
    // server crashes. At least five kills per device, whatever the timing.
    let mut rng = SplitMix64::new(7);
    let mut ticks = tokio::time::interval(Duration::from_millis(150));
    let mut server_kills = 0;
    let mut tick = 0u64;
    while working.load(Ordering::SeqCst) > 0 || !buyers_done.load(Ordering::SeqCst) || kills.iter().any(|k| *k < 5) || server_kills < 2 {
        ticks.tick().await;
        tick += 1;
        let faults = match rng.below(10) {
            0 => Faults { black_hole: true, ..Faults::default() },
            1 => Faults { refuse: true, ..Faults::default() },
            2..=7 => {
                let cut = 20 + rng.below(30);
                Faults { cut_percent: cut, cut_chunk_percent: cut, one_way_delay: Duration::from_millis(rng.below(40)), ..Faults::default() }
            }
            _ => Faults::default(),
        };
        proxy.set(faults);
        if rng.chance(30) {
            let d = rng.below(3) as usize;
            let mut watchers = watchers.lock().unwrap();
            watchers[d] = None; // SIGKILL
            kills[d] += 1;
            watchers[d] = spawn_watcher(&devices[d]).ok();
        }
        if server_kills < 2 && tick % 40 == 20 {
            server.kill();
            server_kills += 1;
            server.restart()?;
        }
        anyhow::ensure!(started.elapsed() < Duration::from_secs(240), "the scenario ran too long");
    }
    all_buyers.await?;
    for worker in workers {
        worker.join().expect("a device worker panicked")?;
    }

    // Heal: a clean network, the watchers stopped, and rounds of sync until everyone has everything.
    proxy.set(Faults::default());
    watchers.lock().unwrap().iter_mut().for_each(|w| *w = None);
    for _ in 0..2 {
        for device in devices.iter() {
            let mut flags = vec!["sync", "--timeout", "90"];
            flags.extend(SYNC_FLAGS);
            device.run(&flags)?;
        }
    }

    // Check against the server's own database.
    let db = open_read_only(&server.data_dir().join("market.db"))?;
    let mut lost = 0;
    let mut duplicated = 0;
    for device in devices.iter() {
        let (client_id, committed_seqs) = committed(&device.data_dir)?;
        let (count, first, last): (i64, Option<i64>, Option<i64>) =
            db.query_row("SELECT count(*), min(seq), max(seq) FROM applied WHERE client_id = ?1", [&client_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        lost += (committed_seqs - count).max(0);
        duplicated += (count - committed_seqs).max(0);
        assert_eq!((count, first, last), (committed_seqs, Some(1), Some(committed_seqs)), "every committed change applied once, in order");
        assert_eq!(device.run(&["status"])?["pending_changes"], 0);
    }
    let sales = counts.device_sales.lock().unwrap().clone();
    let found: i64 = sales.iter().map(|id| db.query_row("SELECT count(*) FROM orders WHERE id = ?1", [id], |r| r.get::<_, i64>(0)).unwrap()).sum();
    assert_eq!(found, sales.len() as i64, "every offline sale is on the server once");
    let web_answered = counts.web_orders.lock().unwrap().len() as i64;
    let web_on_server: i64 = db.query_row("SELECT count(*) FROM orders WHERE channel = 'order_link'", [], |r| r.get(0))?;
    assert_eq!(web_on_server, web_answered, "every answered web order exists once, and no other");
    let (min_stock, min_quota): (i64, Option<i64>) =
        db.query_row("SELECT (SELECT min(stock_milli) FROM listings), (SELECT min(quantity_milli) FROM quotas)", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    assert!(min_stock >= 0 && min_quota.unwrap_or(0) >= 0);
    let flagged: i64 = db.query_row("SELECT count(*) FROM orders WHERE shortfall_milli > 0", [], |r| r.get(0))?;

    // Every device shows exactly what the server has in its scope.
    let scopes = [format!("farmer_id = '{zhang}'"), format!("farmer_id = '{zhang}'"), "1".to_owned()];
    let mut converged = 0;
    for (device, scope) in devices.iter().zip(&scopes) {
        let on_server = view(&db, scope, scope)?;
        let on_device = device_view(&device.data_dir)?;
        assert_eq!(on_device.0, on_server.0, "listings agree");
        assert_eq!(on_device.1, on_server.1, "orders agree");
        converged += 1;
    }
    let stats = proxy.stats();
    let report: BTreeMap<&str, String> = BTreeMap::from([
        ("device changes", counts.device_changes.load(Ordering::Relaxed).to_string()),
        ("offline sales", sales.len().to_string()),
        ("web orders placed", web_answered.to_string()),
        ("web orders refused (sold out, limits)", counts.web_refused.load(Ordering::Relaxed).to_string()),
        ("web retries", counts.web_retries.load(Ordering::Relaxed).to_string()),
        ("sync processes killed", format!("{kills:?}")),
        ("server kills", server_kills.to_string()),
        ("connections through the proxy / cut / refused", format!(
            "{} / {} / {}",
            stats.connections.load(Ordering::Relaxed),
            stats.cut.load(Ordering::Relaxed),
            stats.refused.load(Ordering::Relaxed)
        )),
        ("lost", lost.to_string()),
        ("duplicated", duplicated.to_string()),
        ("lowest stock (thousandths)", min_stock.to_string()),
        ("orders flagged for attention", flagged.to_string()),
        ("devices converged", format!("{converged}/3")),
        ("seconds", started.elapsed().as_secs().to_string()),
    ]);
    println!("sync under faults: {report:#?}");
    assert_eq!((lost, duplicated), (0, 0));
    assert!(kills.iter().all(|k| *k >= 5) && server_kills == 2);
    assert!(stats.cut.load(Ordering::Relaxed) >= 10, "the network really was cut");
    Ok(())
}
