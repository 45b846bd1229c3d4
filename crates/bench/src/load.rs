//! Order placement under load.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::json;

use crate::server::{Server, cpu_seconds, rss_bytes};
use crate::stats::{Latency, latency};

#[derive(Debug, Serialize)]
pub struct OrdersResult {
    pub closed_loop: ClosedLoop,
    pub open_loop: OpenLoop,
    pub server_rss_bytes_after: u64,
    pub load_average_after: String,
}

#[derive(Debug, Serialize)]
pub struct ClosedLoop {
    pub connections: usize,
    pub seconds: f64,
    pub orders: u64,
    pub orders_per_second: f64,
    pub failures: u64,
    pub latency: Latency,
    /// Server CPU seconds per second of the run (2.0 would be both cores).
    pub server_cpu_cores: f64,
    pub bench_cpu_cores: f64,
    /// Storage writes per durable commit during the run: the group-commit size.
    pub writes_per_commit: f64,
}

#[derive(Debug, Serialize)]
pub struct OpenLoop {
    pub offered_per_second: u32,
    pub seconds: f64,
    pub orders: u64,
    pub achieved_per_second: f64,
    pub failures: u64,
    /// From each request's scheduled start to its response.
    pub latency: Latency,
    pub server_cpu_cores: f64,
    pub writes_per_commit: f64,
}

struct Target {
    http: reqwest::Client,
    base: String,
    url: String,
    body: serde_json::Value,
    next_key: AtomicU64,
}

impl Target {
    /// The storage writer's (commits, writes) from `/metrics`.
    async fn write_counts(&self) -> (f64, f64) {
        let text = match self.http.get(format!("{}/metrics", self.base)).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let counter = |name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(0.0)
        };
        (counter("fieldcast_storage_commits_total "), counter("fieldcast_storage_writes_total "))
    }

    /// One order of one unit with a fresh Idempotency-Key; `Ok` when the server said 201.
    async fn order(&self) -> Result<(), String> {
        let key = format!("bench-{:012}", self.next_key.fetch_add(1, Ordering::Relaxed));
        let response = self.http.post(&self.url).header("idempotency-key", key).json(&self.body).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        let _ = response.bytes().await;
        if status.as_u16() == 201 { Ok(()) } else { Err(status.to_string()) }
    }
}

/// A listing with plenty of stock, so the load measures ordering, not selling out.
async fn prepare(server: &Server) -> anyhow::Result<Target> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(1024).build()?;
    let token = server.demo["farmer"]["token"].as_str().unwrap_or_default();
    let listing: serde_json::Value = http
        .post(format!("{}/api/v1/listings", server.base))
        .bearer_auth(token)
        .json(&json!({ "title": "Bench corn", "unit": "jin", "currency": "CNY", "price": "3.50", "stock": "1000000" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let body = json!({
        "listing_code": listing["code"],
        "quantity": "1",
        "name": "Bench buyer",
        "phone": "13800138000",
        "pickup_point_id": server.demo["pickup_points"][0]["id"],
        "payment_method": "cash_at_pickup",
    });
    Ok(Target { http, base: server.base.clone(), url: format!("{}/api/v1/orders", server.base), body, next_key: AtomicU64::new(0) })
}

pub async fn orders(binary: &Path, duration: Duration, rate: u32, connections: usize) -> anyhow::Result<OrdersResult> {
    let server = Server::start(binary)?;
    let target = Arc::new(prepare(&server).await?);
    // Warm the connection pool and the database's caches.
    for _ in 0..200 {
        let _ = target.order().await;
    }
    let closed_loop = closed_loop(&server, &target, duration, connections).await;
    let open_loop = open_loop(&server, &target, duration, rate).await;
    Ok(OrdersResult {
        closed_loop,
        open_loop,
        server_rss_bytes_after: rss_bytes(server.pid()),
        load_average_after: std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_owned(),
    })
}

/// `connections` workers, each sending its next order as soon as the last one is answered.
async fn closed_loop(server: &Server, target: &Arc<Target>, duration: Duration, connections: usize) -> ClosedLoop {
    let (server_cpu, bench_cpu) = (cpu_seconds(server.pid()), cpu_seconds(std::process::id()));
    let writes_before = target.write_counts().await;
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let target = target.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut failures = 0u64;
                while Instant::now() < deadline {
                    let sent = Instant::now();
                    match target.order().await {
                        Ok(()) => samples.push(sent.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
                (samples, failures)
            })
        })
        .collect();
    let mut samples = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (mut s, f) = worker.await.expect("a load worker panicked");
        samples.append(&mut s);
        failures += f;
    }
    let seconds = started.elapsed().as_secs_f64();
    let orders = samples.len() as u64;
    let writes_after = target.write_counts().await;
    ClosedLoop {
        writes_per_commit: group_size(writes_before, writes_after),
        connections,
        seconds,
        orders,
        orders_per_second: orders as f64 / seconds,
        failures,
        latency: latency(samples),
        server_cpu_cores: (cpu_seconds(server.pid()) - server_cpu) / seconds,
        bench_cpu_cores: (cpu_seconds(std::process::id()) - bench_cpu) / seconds,
    }
}

/// One order every `1/rate` seconds, whether or not earlier ones have been answered.
async fn open_loop(server: &Server, target: &Arc<Target>, duration: Duration, rate: u32) -> OpenLoop {
    let server_cpu = cpu_seconds(server.pid());
    let writes_before = target.write_counts().await;
    let interval = Duration::from_secs(1) / rate.max(1);
    let total = (duration.as_secs_f64() * f64::from(rate)) as u32;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    for i in 0..total {
        let scheduled = started + interval * i;
        tokio::time::sleep_until(scheduled.into()).await;
        let target = target.clone();
        tasks.push(tokio::spawn(async move { target.order().await.map(|()| scheduled.elapsed()) }));
    }
    let mut samples = Vec::new();
    let mut failures = 0;
    for task in tasks {
        match task.await.expect("a request task panicked") {
            Ok(sample) => samples.push(sample),
            Err(_) => failures += 1,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let writes_after = target.write_counts().await;
    OpenLoop {
        writes_per_commit: group_size(writes_before, writes_after),
        offered_per_second: rate,
        seconds,
        orders: samples.len() as u64,
        achieved_per_second: samples.len() as f64 / seconds,
        failures,
        latency: latency(samples),
        server_cpu_cores: (cpu_seconds(server.pid()) - server_cpu) / seconds,
    }
}

fn group_size((commits_before, writes_before): (f64, f64), (commits_after, writes_after): (f64, f64)) -> f64 {
    let commits = commits_after - commits_before;
    if commits > 0.0 { (writes_after - writes_before) / commits } else { 0.0 }
}
