//! A test server: the real router over a real SQLite file in a temporary directory, with a manual
//! clock, and a co-op of people paired through the real `/api/v1/pair` endpoint.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use domain::access::Role;
use domain::ids::{CoopId, MemberId, PickupPointId};
use domain::money::Currency;
use domain::time::{Clock, Timestamp};
use market::{AppState, Config};
use serde_json::{Value, json};
use tower::ServiceExt;

/// An HTTP client for tests that go over a real socket. The workspace builds rustls without a
/// process-wide default provider (the client crate picks ring itself), so install it first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub const PUBLIC_URL: &str = "http://market.test";

/// A clock the test moves by hand.
#[derive(Clone, Default)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// A person with a paired device.
#[derive(Debug, Clone)]
pub struct Person {
    pub member_id: MemberId,
    pub token: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or("").to_owned()
    }
}

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub state: AppState,
    pub router: Router,
    pub clock: ManualClock,
    pub coop: CoopId,
    pub admin: Person,
    pub staff: Person,
    pub zhang: Person,
    pub wang: Person,
    /// A farmer of another co-op.
    pub stranger: Person,
    pub stranger_coop: CoopId,
    pub point: PickupPointId,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_config(Config { order_rate_per_minute: 100_000, pairing_rate_per_minute: 100_000, ..Config::new(PUBLIC_URL) }).await
    }

    pub async fn with_config(config: Config) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::default();
        clock.advance(Duration::from_secs(1_800_000_000));
        let state = AppState::open_with_clock(dir.path(), config, Arc::new(clock.clone())).unwrap();
        let router = market::app(state.clone());
        let market = state.market();
        let (coop, admin_code) = market.create_coop("Sunny Valley", Currency::CNY, "Li Mei").await.unwrap();
        let (_, staff_code) = market.add_member(None, coop.id, Role::Staff, "Chen").await.unwrap();
        let (_, zhang_code) = market.add_member(None, coop.id, Role::Farmer, "Zhang Wei").await.unwrap();
        let (_, wang_code) = market.add_member(None, coop.id, Role::Farmer, "Wang Fang").await.unwrap();
        let (other, _) = market.create_coop("Hill Co-op", Currency::CNY, "Zhao").await.unwrap();
        let (_, stranger_code) = market.add_member(None, other.id, Role::Farmer, "Stranger").await.unwrap();
        let point = market.add_pickup_point(None, coop.id, "Village square", "Main street 1").await.unwrap();
        let mut harness = Harness {
            dir,
            state,
            router,
            clock,
            coop: coop.id,
            admin: Person { member_id: admin_code.member.id, token: String::new() },
            staff: Person { member_id: staff_code.member.id, token: String::new() },
            zhang: Person { member_id: zhang_code.member.id, token: String::new() },
            wang: Person { member_id: wang_code.member.id, token: String::new() },
            stranger: Person { member_id: stranger_code.member.id, token: String::new() },
            stranger_coop: other.id,
            point: point.id,
        };
        harness.admin.token = harness.pair(&admin_code.code, 1).await;
        harness.staff.token = harness.pair(&staff_code.code, 2).await;
        harness.zhang.token = harness.pair(&zhang_code.code, 3).await;
        harness.wang.token = harness.pair(&wang_code.code, 4).await;
        harness.stranger.token = harness.pair(&stranger_code.code, 5).await;
        harness
    }

    /// Pairs a device from its own address (in the documentation range 192.0.2.0/24, which no real
    /// host has), so that set-up never counts against the pairing rate limit under test.
    async fn pair(&self, code: &str, host: u8) -> String {
        let body = json!({ "code": code, "device_name": "test phone" }).to_string();
        let request = Request::builder().method(Method::POST).uri("/api/v1/pair").header("content-type", "application/json").body(Body::from(body)).unwrap();
        let reply = self.send_from(IpAddr::from([192, 0, 2, host]), request).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()["token"].as_str().unwrap().to_owned()
    }

    /// Sends a request from 127.0.0.1.
    pub async fn call(&self, method: Method, uri: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let body = match body {
            Some(value) => {
                builder = builder.header("content-type", "application/json");
                Body::from(serde_json::to_vec(&value).unwrap())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    /// The router's response to `request` from `ip`, its body not yet read (a stream, say).
    pub async fn respond(&self, ip: IpAddr, mut request: Request<Body>) -> axum::response::Response {
        request.extensions_mut().insert(ConnectInfo(SocketAddr::new(ip, 40000)));
        self.router.clone().oneshot(request).await.unwrap()
    }

    /// Sends any request, as if from 127.0.0.1 unless it already names a peer.
    pub async fn send(&self, request: Request<Body>) -> Reply {
        self.send_from("127.0.0.1".parse().unwrap(), request).await
    }

    pub async fn send_from(&self, ip: IpAddr, request: Request<Body>) -> Reply {
        let response = self.respond(ip, request).await;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 64 << 20).await.unwrap().to_vec();
        Reply { status, headers, bytes }
    }

    /// Lists produce for `who` and returns the listing JSON.
    pub async fn listing(&self, who: &Person, title: &str, unit: &str, price: &str, stock: &str) -> Value {
        let body = json!({ "title": title, "unit": unit, "currency": "CNY", "price": price, "stock": stock });
        let reply = self.call(Method::POST, "/api/v1/listings", Some(&who.token), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        reply.json()
    }

    /// A buyer's JSON order; returns the reply.
    pub async fn order(&self, code: &str, key: &str, quantity: &str) -> Reply {
        let body = json!({
            "listing_code": code,
            "quantity": quantity,
            "name": "Li Na",
            "phone": "13800138000",
            "pickup_point_id": self.point,
            "payment_method": "cash_at_pickup",
        });
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap();
        self.send(request).await
    }

    /// The stock of a listing in thousandths, as its owner sees it.
    pub async fn stock(&self, owner: &Person, listing_id: &str) -> i64 {
        let reply = self.call(Method::GET, &format!("/api/v1/listings/{listing_id}"), Some(&owner.token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()["details"]["stock"].as_i64().unwrap()
    }

    /// How many orders the co-op has, as its staff sees them.
    pub async fn order_count(&self) -> usize {
        let reply = self.call(Method::GET, "/api/v1/orders?limit=500", Some(&self.staff.token), None).await;
        reply.json()["items"].as_array().unwrap().len()
    }
}
