//! The Fieldcast marketplace server as a library: [`app`] builds the whole HTTP service from its
//! state, so tests drive the real router without opening a port, and `main.rs` only parses flags,
//! binds and waits for a signal.
//!
//! - [`marketplace`]: what the server does and who may do it; every caller goes through it.
//! - [`storage`]: where data lives, behind one trait (SQLite embedded by default).
//! - [`api`]: the JSON API under `/api/v1` and its OpenAPI document.
//! - [`pages`]: the buyer pages (HTML, no JavaScript required).
//! - [`demo`]: the seeded demo co-op for `serve --demo`.

pub mod api;
pub mod demo;
pub mod error;
pub mod live;
pub mod marketplace;
pub mod metrics;
pub mod pages;
pub mod photos;
pub mod qr;
pub mod ratelimit;
pub mod storage;
pub mod tokens;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use domain::time::{Clock, Timestamp};

use crate::marketplace::Marketplace;
use crate::metrics::Metrics;
use crate::photos::Photos;
use crate::ratelimit::RateLimiter;
use crate::storage::sqlite::SqliteStorage;

/// How the server is configured beyond its storage.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address buyers reach the server at, for links and QR codes (no trailing slash).
    pub public_url: String,
    /// Buyer orders allowed per IP per minute.
    pub order_rate_per_minute: u32,
    /// Pairing attempts allowed per IP per minute.
    pub pairing_rate_per_minute: u32,
    /// Faults to inject on purpose, for tests of what devices do about them.
    pub failpoints: Failpoints,
    /// The live relay's UDP socket and what WHIP/WHEP clients are told.
    pub media: MediaConfig,
    /// How long a stream's live events may stay quiet before the server sends a heartbeat. The
    /// farmer's screen and the buyer's page open a new connection when they hear nothing for a
    /// little over two of these (`STALE_AFTER_MS` in `ui/src/api/live.ts` and `static/live.js`).
    pub live_heartbeat: std::time::Duration,
}

/// Where live video flows.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// The relay's UDP address (one port for every stream and viewer).
    pub bind: std::net::SocketAddr,
    /// The address in the relay's ICE candidate when it differs from `bind`'s (binding 0.0.0.0,
    /// or behind a 1:1 NAT).
    pub advertise: Option<std::net::IpAddr>,
    /// STUN/TURN URLs clients may use, sent as `Link: rel="ice-server"` headers.
    pub ice_servers: Vec<String>,
    /// A connected camera or viewer that sends nothing for this long is gone (browsers send a
    /// consent check every few seconds).
    pub idle_timeout: std::time::Duration,
}

impl Default for MediaConfig {
    fn default() -> MediaConfig {
        MediaConfig {
            bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            advertise: None,
            ice_servers: Vec::new(),
            idle_timeout: relay::Limits::default().idle_timeout,
        }
    }
}

/// Faults the server can be told to make, for tests only (`serve --failpoint name=count`).
#[derive(Debug, Clone, Default)]
pub struct Failpoints {
    /// Commit this many pushes and then drop their answers, as a cut connection would.
    pub lose_push_responses: Arc<std::sync::atomic::AtomicU32>,
}

impl Failpoints {
    /// Parses `lose-push-responses=N`.
    pub fn parse(spec: &str) -> Result<Failpoints, String> {
        let failpoints = Failpoints::default();
        let (name, count) = spec.split_once('=').ok_or("expected name=count")?;
        let count: u32 = count.parse().map_err(|_| "the count is a number")?;
        match name {
            "lose-push-responses" => failpoints.lose_push_responses.store(count, std::sync::atomic::Ordering::SeqCst),
            other => return Err(format!("unknown failpoint {other}")),
        }
        Ok(failpoints)
    }

    /// Whether to lose this push's answer (counting down).
    pub fn lose_push_response(&self) -> bool {
        self.lose_push_responses.fetch_update(std::sync::atomic::Ordering::SeqCst, std::sync::atomic::Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
    }
}

impl Config {
    pub fn new(public_url: &str) -> Config {
        Config {
            public_url: public_url.trim_end_matches('/').to_owned(),
            order_rate_per_minute: 30,
            pairing_rate_per_minute: 10,
            failpoints: Failpoints::default(),
            media: MediaConfig::default(),
            live_heartbeat: std::time::Duration::from_secs(5),
        }
    }
}

/// The operating system's wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_since_epoch(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default())
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    market: Arc<Marketplace>,
    live: Arc<live::Live>,
    photos: Photos,
    metrics: Metrics,
    order_limiter: RateLimiter,
    pairing_limiter: RateLimiter,
    config: Config,
}

impl AppState {
    /// Opens the server's data in `data_dir` with the system clock.
    pub fn open(data_dir: &Path, config: Config) -> anyhow::Result<AppState> {
        AppState::open_with_clock(data_dir, config, Arc::new(SystemClock))
    }

    pub fn open_with_clock(data_dir: &Path, config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        std::fs::create_dir_all(data_dir).with_context(|| format!("creating data dir {}", data_dir.display()))?;
        let storage = SqliteStorage::open(data_dir).map_err(|e| anyhow::anyhow!("opening the database: {e}"))?;
        let key = tokens::ServerKey::load_or_create(data_dir)?;
        let photos = Photos::open(data_dir.join("photos")).context("creating the photo directory")?;
        let market = Arc::new(Marketplace::new(Arc::new(storage), clock, key));
        let mut relay_config = relay::RelayConfig::new(config.media.bind);
        relay_config.advertise = config.media.advertise;
        relay_config.limits.idle_timeout = config.media.idle_timeout;
        let relay = relay::Relay::start(relay_config).with_context(|| format!("starting the live relay on udp {}", config.media.bind))?;
        let live = live::Live::start(market.clone(), relay);
        Ok(AppState {
            inner: Arc::new(Inner {
                market,
                live,
                photos,
                metrics: Metrics::default(),
                order_limiter: RateLimiter::per_minute(config.order_rate_per_minute),
                pairing_limiter: RateLimiter::per_minute(config.pairing_rate_per_minute),
                config,
            }),
        })
    }

    pub fn market(&self) -> &Marketplace {
        &self.inner.market
    }

    pub fn live(&self) -> &live::Live {
        &self.inner.live
    }

    pub fn media(&self) -> &MediaConfig {
        &self.inner.config.media
    }

    pub fn photos(&self) -> &Photos {
        &self.inner.photos
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn order_limiter(&self) -> &RateLimiter {
        &self.inner.order_limiter
    }

    pub fn pairing_limiter(&self) -> &RateLimiter {
        &self.inner.pairing_limiter
    }

    pub fn public_url(&self) -> &str {
        &self.inner.config.public_url
    }

    pub fn failpoints(&self) -> &Failpoints {
        &self.inner.config.failpoints
    }

    pub fn live_heartbeat(&self) -> std::time::Duration {
        self.inner.config.live_heartbeat
    }
}

/// The whole HTTP service.
pub fn app(state: AppState) -> Router {
    api::router(state)
}
