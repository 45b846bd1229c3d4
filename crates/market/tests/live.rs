//! Live streams through the real router, with the real relay on a loopback UDP port: who may plan,
//! feature, end and publish, and what bad input gets back. The offers are Chromium's own
//! (captured into the relay's test fixtures); nothing here completes ICE, which the browser tests
//! and the independent-peer test do.

mod common;

use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::{Method, Request, StatusCode};
use common::{Harness, Person, Reply};
use futures_util::StreamExt;
use market::Config;
use serde_json::{Value, json};

const WHIP_OFFER: &str = include_str!("../../relay/tests/fixtures/chromium-whip-offer.sdp");
const WHEP_OFFER: &str = include_str!("../../relay/tests/fixtures/chromium-whep-offer.sdp");

struct Live {
    h: Harness,
    corn: Value,
    eggs: Value,
}

impl Live {
    async fn new() -> Live {
        Live::with(Harness::new().await).await
    }

    /// Zhang's corn and eggs on `h`.
    async fn with(h: Harness) -> Live {
        let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "100").await;
        let eggs = h.listing(&h.zhang, "Eggs", "dozen", "18", "20").await;
        Live { h, corn, eggs }
    }

    async fn create(&self, who: &Person, body: Value) -> Reply {
        self.h.call(Method::POST, "/api/v1/streams", Some(&who.token), Some(body)).await
    }

    /// A stream of Zhang's corn and eggs: (id, publish token).
    async fn stream(&self) -> (String, String) {
        let reply = self.create(&self.h.zhang, json!({ "title": "Corn harvest", "listing_ids": [self.corn["id"], self.eggs["id"]] })).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let body = reply.json();
        (body["id"].as_str().unwrap().to_owned(), body["publish_token"].as_str().unwrap().to_owned())
    }

    async fn sdp(&self, uri: &str, token: Option<&str>, content_type: &str, body: impl Into<Body>) -> Reply {
        let mut request = Request::builder().method(Method::POST).uri(uri).header("content-type", content_type);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.h.send(request.body(body.into()).unwrap()).await
    }

    async fn feature(&self, id: &str, who: &Person, listing: &Value) -> Reply {
        self.h.call(Method::POST, &format!("/api/v1/streams/{id}/featured"), Some(&who.token), Some(json!({ "listing_id": listing["id"] }))).await
    }

    async fn end(&self, id: &str, who: &Person) -> Reply {
        self.h.call(Method::POST, &format!("/api/v1/streams/{id}/end"), Some(&who.token), None).await
    }

    async fn whip(&self, id: &str, token: Option<&str>) -> Reply {
        self.sdp(&format!("/api/v1/streams/{id}/whip"), token, "application/sdp", WHIP_OFFER).await
    }

    async fn session_request(&self, method: Method, location: &str, token: Option<&str>, if_match: Option<&str>, body: &str) -> Reply {
        let mut request = Request::builder().method(method).uri(location).header("content-type", "application/trickle-ice-sdpfrag");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(tag) = if_match {
            request = request.header("if-match", tag);
        }
        self.h.send(request.body(Body::from(body.to_owned())).unwrap()).await
    }
}

/// A stream's live events as a client reads them, one Server-Sent Event at a time.
struct Events {
    body: BodyDataStream,
    text: String,
}

impl Events {
    async fn open(h: &Harness, id: &str) -> Events {
        let request = Request::get(format!("/api/v1/streams/{id}/events")).body(Body::empty()).unwrap();
        let response = h.respond("127.0.0.1".parse().unwrap(), request).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events { body: response.into_body().into_data_stream(), text: String::new() }
    }

    /// The next event's name and data, as a browser would dispatch it; fails the test if none
    /// comes within five seconds.
    async fn next(&mut self) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(end) = self.text.find("\n\n") {
                let event: String = self.text.drain(..end + 2).collect();
                let field = |name: &str| event.lines().find_map(|line| line.strip_prefix(name)).map(str::trim).map(str::to_owned);
                // A block of comments only is no event (an EventSource dispatches nothing).
                if let Some(data) = field("data:") {
                    return (field("event:").unwrap_or_default(), serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await.expect("an event within 5 s").expect("the stream stays open").unwrap();
            self.text.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

fn header(reply: &Reply, name: &str) -> String {
    reply.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn planning_a_stream_checks_every_field_and_whose_produce_it_is() {
    let live = Live::new().await;
    let h = &live.h;
    let reply = live.create(&h.zhang, json!({ "title": "", "listing_ids": [] })).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = reply.json();
    let fields: Vec<&str> = body["error"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, vec!["title", "listings"]);

    // Wang's produce is not Zhang's to show.
    let wangs = h.listing(&h.wang, "Pears", "kg", "8", "10").await;
    let reply = live.create(&h.zhang, json!({ "title": "Mine", "listing_ids": [wangs["id"]] })).await;
    assert_eq!((reply.status, reply.json()["error"]["fields"][0]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("not_for_sale")));
    let reply = live.create(&h.zhang, json!({ "title": "Twice", "listing_ids": [live.corn["id"], live.corn["id"]] })).await;
    assert_eq!(reply.json()["error"]["fields"][0]["code"], "duplicate");
    let reply = live.create(&h.zhang, json!({ "title": "Odd", "listing_ids": [live.corn["id"]], "featured": live.eggs["id"] })).await;
    assert_eq!(reply.json()["error"]["fields"][0]["code"], "not_in_stream");
    for bad in [json!({ "title": 7, "listing_ids": [] }), json!({ "title": "x", "listing_ids": ["not-a-uuid"] }), json!([])] {
        assert_eq!(live.create(&h.zhang, bad).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(h.call(Method::POST, "/api/v1/streams", None, Some(json!({}))).await.status, StatusCode::UNAUTHORIZED);

    // Staff may set one up for a farmer of their co-op; a farmer not for another farmer.
    let for_zhang = json!({ "title": "Co-op live", "listing_ids": [live.corn["id"]], "farmer_id": h.zhang.member_id });
    assert_eq!(live.create(&h.staff, for_zhang.clone()).await.status, StatusCode::CREATED);
    assert_eq!(live.create(&h.wang, for_zhang).await.status, StatusCode::FORBIDDEN);

    let (id, token) = live.stream().await;
    assert_eq!(token.len(), 43, "256 random bits");
    let view = h.call(Method::GET, &format!("/api/v1/streams/{id}"), Some(&h.zhang.token), None).await.json();
    assert_eq!(view["status"], "waiting");
    assert_eq!(view["featured"], live.corn["id"], "the first product is on the card");
    assert!(view.get("publish_token").is_none(), "the token is shown once");
    assert_eq!(h.call(Method::GET, &format!("/api/v1/streams/{id}"), Some(&h.stranger.token), None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_the_owner_features_and_ends_and_an_ended_stream_stays_ended() {
    let live = Live::new().await;
    let h = &live.h;
    let (id, token) = live.stream().await;
    let reply = live.feature(&id, &h.zhang, &live.eggs).await;
    assert_eq!((reply.status, reply.json()["featured"].clone()), (StatusCode::OK, live.eggs["id"].clone()));
    assert_eq!(live.feature(&id, &h.wang, &live.corn).await.status, StatusCode::FORBIDDEN);
    assert_eq!(live.feature(&id, &h.stranger, &live.corn).await.status, StatusCode::NOT_FOUND);
    let pears = h.listing(&h.zhang, "Pears", "kg", "8", "10").await;
    let reply = live.feature(&id, &h.zhang, &pears).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "not_in_stream".into()));

    assert_eq!(live.end(&id, &h.wang).await.status, StatusCode::FORBIDDEN);
    let reply = live.end(&id, &h.zhang).await;
    assert_eq!((reply.status, reply.json()["status"].as_str()), (StatusCode::OK, Some("ended")));
    assert_eq!(live.end(&id, &h.zhang).await.code(), "stream_ended");
    assert_eq!(live.feature(&id, &h.zhang, &live.corn).await.code(), "stream_ended");
    // Nobody publishes to it or plays it again.
    let reply = live.whip(&id, Some(&token)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "stream_ended".into()));
    let reply = live.sdp(&format!("/api/v1/streams/{id}/whep"), None, "application/sdp", WHEP_OFFER).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "stream_ended".into()));
}

#[tokio::test]
async fn publishing_needs_this_streams_own_token() {
    let live = Live::new().await;
    let h = &live.h;
    let (id, token) = live.stream().await;
    let wangs = h.listing(&h.wang, "Pears", "kg", "8", "10").await;
    let reply = live.create(&h.wang, json!({ "title": "Wang's", "listing_ids": [wangs["id"]] })).await;
    let other_token = reply.json()["publish_token"].as_str().unwrap().to_owned();

    assert_eq!(live.whip(&id, None).await.code(), "unauthorized");
    assert_eq!(live.whip(&id, Some("forged-token-that-was-never-issued-by-us-00")).await.status, StatusCode::UNAUTHORIZED);
    // A device token is not a publish token, even the owner's.
    assert_eq!(live.whip(&id, Some(&h.zhang.token)).await.status, StatusCode::UNAUTHORIZED);
    // Another farmer's publish token is refused for this stream.
    assert_eq!(live.whip(&id, Some(&other_token)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(live.whip("00000000-0000-0000-0000-000000000000", Some(&token)).await.status, StatusCode::FORBIDDEN);

    let reply = live.whip(&id, Some(&token)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(header(&reply, "content-type"), "application/sdp");
    assert!(reply.text().starts_with("v=0"), "{}", reply.text());
    assert!(header(&reply, "location").starts_with(&format!("/api/v1/streams/{id}/sessions/")));
    assert!(header(&reply, "etag").starts_with('"'));
    assert_eq!(header(&reply, "accept-patch"), "application/trickle-ice-sdpfrag");
}

#[tokio::test]
async fn bad_offers_get_clear_errors_and_the_relay_keeps_serving() {
    let live = Live::new().await;
    let (id, token) = live.stream().await;
    let whip = format!("/api/v1/streams/{id}/whip");
    let cases: Vec<(&str, Vec<u8>, StatusCode, &str)> = vec![
        ("application/sdp", b"this is not SDP".to_vec(), StatusCode::BAD_REQUEST, "bad_sdp"),
        ("application/sdp", b"v=0\r\n".to_vec(), StatusCode::BAD_REQUEST, "bad_sdp"),
        ("application/sdp", vec![0xff, 0xfe, b'v', b'='], StatusCode::BAD_REQUEST, "bad_sdp"),
        ("application/json", WHIP_OFFER.as_bytes().to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("text/plain", WHIP_OFFER.as_bytes().to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
        ("application/sdp", format!("{WHIP_OFFER}a=x-padding:{}\r\n", "x".repeat(1 << 20)).into_bytes(), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
    ];
    for (content_type, body, status, code) in cases {
        let reply = live.sdp(&whip, Some(&token), content_type, body).await;
        assert_eq!((reply.status, reply.code()), (status, code.to_owned()), "{content_type}: {}", reply.text());
    }
    // An offer with no media the relay takes.
    let no_media = WHIP_OFFER.split("m=audio").next().unwrap().to_owned();
    let reply = live.sdp(&whip, Some(&token), "application/sdp", no_media).await;
    assert!(reply.status.is_client_error(), "{}", reply.text());

    // Playing before the camera is live is refused plainly.
    let reply = live.sdp(&format!("/api/v1/streams/{id}/whep"), None, "application/sdp", WHEP_OFFER).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "stream_not_live".into()));
    let reply = live.sdp("/api/v1/streams/00000000-0000-0000-0000-000000000000/whep", None, "application/sdp", WHEP_OFFER).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // After all that, a good offer still works.
    assert_eq!(live.whip(&id, Some(&token)).await.status, StatusCode::CREATED);
    let stats = live.h.state.live().relay().stats().await.unwrap();
    assert_eq!(stats.sessions, 1, "refused offers left nothing behind: {stats:?}");
}

#[tokio::test]
async fn trickle_and_delete_check_the_session_the_tag_and_the_token() {
    let live = Live::new().await;
    let (id, token) = live.stream().await;
    let reply = live.whip(&id, Some(&token)).await;
    let location = header(&reply, "location");
    let etag = header(&reply, "etag");
    let candidate = "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host\r\n";

    macro_rules! patch {
        ($token:expr, $tag:expr, $body:expr) => {
            live.session_request(Method::PATCH, &location, $token, $tag, $body).await
        };
    }
    let t = Some(token.as_str());
    assert_eq!(patch!(None, Some(&etag), candidate).status, StatusCode::UNAUTHORIZED, "a camera's session needs its token");
    assert_eq!(patch!(t, None, candidate).code(), "precondition_required");
    assert_eq!(patch!(t, Some("\"stale\""), candidate).status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(patch!(t, Some("*"), candidate).code(), "ice_restart_unsupported");
    assert_eq!(patch!(t, Some(&etag), "a=candidate:garbage").code(), "bad_fragment");
    assert_eq!(patch!(t, Some(&etag), candidate).status, StatusCode::NO_CONTENT);

    let wrong_type = Request::builder().method(Method::PATCH).uri(&location).header("content-type", "application/sdp").header("authorization", format!("Bearer {token}")).header("if-match", &etag).body(Body::from(candidate)).unwrap();
    assert_eq!(live.h.send(wrong_type).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let elsewhere = location.replace(&id, "00000000-0000-0000-0000-000000000000");
    assert_eq!(live.session_request(Method::DELETE, &elsewhere, Some(&token), None, "").await.status, StatusCode::NOT_FOUND);
    let unknown = format!("/api/v1/streams/{id}/sessions/{}", "0".repeat(32));
    assert_eq!(live.session_request(Method::DELETE, &unknown, Some(&token), None, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(live.session_request(Method::DELETE, &format!("/api/v1/streams/{id}/sessions/..%2F..%2Fetc"), Some(&token), None, "").await.status, StatusCode::NOT_FOUND);

    assert_eq!(live.session_request(Method::DELETE, &location, None, None, "").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(live.session_request(Method::DELETE, &location, Some(&token), None, "").await.status, StatusCode::OK);
    assert_eq!(live.session_request(Method::DELETE, &location, Some(&token), None, "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(live.h.state.live().relay().stats().await.unwrap().sessions, 0);
}

#[tokio::test]
async fn browsers_on_other_origins_may_use_whip_and_whep() {
    let live = Live::new().await;
    let (id, token) = live.stream().await;
    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri(format!("/api/v1/streams/{id}/whip"))
        .header("origin", "https://player.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
        .body(Body::empty())
        .unwrap();
    let reply = live.h.send(preflight).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(header(&reply, "access-control-allow-origin"), "*");

    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/streams/{id}/whip"))
        .header("origin", "https://player.example")
        .header("content-type", "application/sdp")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(WHIP_OFFER))
        .unwrap();
    let reply = live.h.send(request).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let exposed = header(&reply, "access-control-expose-headers").to_ascii_lowercase();
    for name in ["location", "etag", "link"] {
        assert!(exposed.contains(name), "{name} is exposed: {exposed}");
    }

    // A plain OPTIONS says what the endpoint takes.
    let options = Request::builder().method(Method::OPTIONS).uri(format!("/api/v1/streams/{id}/whep")).body(Body::empty()).unwrap();
    let reply = live.h.send(options).await;
    assert_eq!(header(&reply, "accept-post"), "application/sdp");
}

#[tokio::test]
async fn configured_ice_servers_are_announced_in_link_headers() {
    let mut config = market::Config::new(common::PUBLIC_URL);
    config.media.ice_servers = vec!["stun:stun.example.net:3478".into(), "turn:turn.example.net:3478?transport=udp".into()];
    let h = Harness::with_config(config).await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "100").await;
    let reply = h.call(Method::POST, "/api/v1/streams", Some(&h.zhang.token), Some(json!({ "title": "Corn", "listing_ids": [corn["id"]] }))).await;
    let body = reply.json();
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/streams/{}/whip", body["id"].as_str().unwrap()))
        .header("content-type", "application/sdp")
        .header("authorization", format!("Bearer {}", body["publish_token"].as_str().unwrap()))
        .body(Body::from(WHIP_OFFER))
        .unwrap();
    let reply = h.send(request).await;
    let links: Vec<&str> = reply.headers.get_all("link").iter().map(|v| v.to_str().unwrap()).collect();
    assert_eq!(links, vec!["<stun:stun.example.net:3478>; rel=\"ice-server\"", "<turn:turn.example.net:3478?transport=udp>; rel=\"ice-server\""]);
}

#[tokio::test]
async fn the_live_page_shows_the_featured_product_and_escapes_what_farmers_type() {
    let live = Live::new().await;
    let h = &live.h;
    let corn = h.listing(&h.zhang, "<script>alert(1)</script> corn", "jin", "3.50", "100").await;
    let reply = live.create(&h.zhang, json!({ "title": "Harvest <b>now</b>", "listing_ids": [corn["id"]] })).await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let page = h.call(Method::GET, &format!("/live/{id}?lang=en"), None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(!html.contains("<script>alert(1)</script>") && html.contains("&lt;script&gt;alert(1)&lt;/script&gt; corn"));
    assert!(html.contains("Harvest &lt;b&gt;now&lt;/b&gt;"));
    assert!(html.contains("Waiting for Zhang Wei to go live"), "{html}");
    assert!(html.contains(&format!("href=\"/l/{}?via=live\"", corn["code"].as_str().unwrap())), "the card links to the order page without JavaScript");
    assert!(header(&page, "content-security-policy").contains("frame-src 'self'"));
    assert_eq!(h.call(Method::GET, "/live/not-a-stream", None, None).await.status, StatusCode::NOT_FOUND);

    // The order sheet is the order page itself, framable by this origin only, with channel=live.
    let sheet = h.call(Method::GET, &format!("/l/{}?via=live&embed=1", corn["code"].as_str().unwrap()), None, None).await;
    assert!(header(&sheet, "content-security-policy").contains("frame-ancestors 'self'"));
    assert_eq!(header(&sheet, "x-frame-options"), "SAMEORIGIN");
    assert!(sheet.text().contains("name=\"channel\" value=\"live\""));
    let normal = h.call(Method::GET, &format!("/l/{}", corn["code"].as_str().unwrap()), None, None).await;
    assert_eq!(header(&normal, "x-frame-options"), "DENY");
}

#[tokio::test]
async fn an_order_from_a_streams_card_names_the_stream_and_a_wrong_stream_is_refused() {
    let live = Live::new().await;
    let h = &live.h;
    let (id, _) = live.stream().await;
    let pears = h.listing(&h.zhang, "Pears", "kg", "8", "10").await;
    let wangs_pears = h.listing(&h.wang, "Pears", "kg", "8", "10").await;
    let reply = live.create(&h.wang, json!({ "title": "Wang's pears", "listing_ids": [wangs_pears["id"]] })).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let other = reply.json()["id"].as_str().unwrap().to_owned();
    let order = |key: &str, listing: &Value, extra: Value| {
        let mut body = json!({
            "listing_code": listing["code"], "quantity": "1", "name": "Li Na", "phone": "+86 138 0013 8000",
            "pickup_point_id": h.point, "payment_method": "cash_at_pickup", "channel": "live",
        });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(serde_json::to_vec(&body).unwrap()))
            .unwrap()
    };
    let eggs = format!("/api/v1/listings/{}", live.eggs["id"].as_str().unwrap());
    let eggs_stock = || async { h.call(Method::GET, &eggs, Some(&h.zhang.token), None).await.json()["details"]["stock"].clone() };
    let before = eggs_stock().await;

    // Refused, and nothing taken: a product the stream does not show, another farmer's stream, a
    // stream that does not exist, a stream on a channel other than live, an id that is not one.
    let unknown = "00000000-0000-7000-8000-000000000000";
    for (key, listing, extra, field) in [
        ("key-pears-0001", &pears, json!({ "stream_id": id }), "listings"),
        ("key-other-0001", &live.eggs, json!({ "stream_id": other }), "listings"),
        ("key-unknown-0001", &live.eggs, json!({ "stream_id": unknown }), "listings"),
        ("key-channel-0001", &live.eggs, json!({ "stream_id": id, "channel": "order_link" }), "channel"),
    ] {
        let reply = h.send(order(key, listing, extra)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{key}: {}", reply.text());
        let error = reply.json()["error"].clone();
        assert_eq!((error["fields"][0]["field"].as_str(), error["fields"][0]["code"].as_str()), (Some(field), Some("not_in_stream")), "{key}");
    }
    for bad in [json!({ "stream_id": "corn" }), json!({ "stream_id": 7 })] {
        assert_eq!(h.send(order("key-bad-0001", &live.eggs, bad)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(eggs_stock().await, before, "no refused order took stock");

    // From the card: the order names the stream with its title, and so does the farmer's list.
    let reply = h.send(order("key-card-0001", &live.eggs, json!({ "stream_id": id }))).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let order_id = reply.json()["order"]["id"].as_str().unwrap().to_owned();
    let orders = h.call(Method::GET, "/api/v1/orders", Some(&h.zhang.token), None).await.json();
    let placed = orders["items"].as_array().unwrap().iter().find(|o| o["id"] == order_id.as_str()).unwrap().clone();
    assert_eq!(placed["channel"], "live");
    assert_eq!(placed["stream"], json!({ "id": id, "title": "Corn harvest" }));
    // The same key with another stream is another order, not a replay.
    let reply = h.send(order("key-card-0001", &live.eggs, json!({}))).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused".into()));
}

#[tokio::test]
async fn live_events_start_with_the_state_then_say_each_change_and_beat_while_quiet() {
    let config = Config { live_heartbeat: Duration::from_millis(200), ..Config::new(common::PUBLIC_URL) };
    let live = Live::with(Harness::with_config(config).await).await;
    let (id, _) = live.stream().await;
    let mut events = Events::open(&live.h, &id).await;

    let (name, state) = events.next().await;
    assert_eq!(name, "state");
    assert_eq!((state["status"].as_str(), state["viewers"].as_u64()), (Some("waiting"), Some(0)));
    assert_eq!(state["featured"]["listing_id"], live.corn["id"]);

    // Quiet: heartbeats, and only heartbeats, until something happens.
    for _ in 0..2 {
        assert_eq!(events.next().await, ("heartbeat".to_owned(), Value::Null));
    }
    assert_eq!(live.feature(&id, &live.h.zhang, &live.eggs).await.status, StatusCode::OK);
    let (name, featured) = loop {
        match events.next().await {
            (name, _) if name == "heartbeat" => continue,
            other => break other,
        }
    };
    assert_eq!(name, "featured");
    assert_eq!(featured["featured"]["listing_id"], live.eggs["id"]);
    assert_eq!(events.next().await.0, "heartbeat", "quiet again after the change");
}
