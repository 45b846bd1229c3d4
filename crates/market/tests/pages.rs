//! The buyer pages through the real router: escaping, languages, security headers, the order form
//! (idempotent, server-priced, with errors in the buyer's language), and the capability links.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Harness;

fn get(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut request = Request::builder().uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::empty()).unwrap()
}

fn post_form(uri: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect::<String>()))
        .collect::<Vec<_>>()
        .join("&");
    Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept-language", "en")
        .body(Body::from(body))
        .unwrap()
}

/// The value of `name="…" value="…"` in a page, for hidden fields.
fn hidden(html: &str, name: &str) -> String {
    let start = html.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in page")) + name.len() + 15;
    html[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn titles_are_escaped_and_headers_forbid_inline_code() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "<script>alert(1)</script>", "jin", "3.50", "50").await;
    let reply = h.send(get(&format!("/l/{}", listing["code"].as_str().unwrap()), &[])).await;
    assert_eq!(reply.status, StatusCode::OK);
    let html = reply.text();
    assert!(!html.contains("<script>alert(1)</script>"), "the title must be escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(reply.headers["x-content-type-options"], "nosniff");
    assert_eq!(reply.headers["referrer-policy"], "no-referrer");
    assert!(!html.contains("<script>") || html.matches("<script").count() == 1, "only the external script tag");
    assert!(!html.contains(" style="), "no inline styles either");
}

#[tokio::test]
async fn the_page_speaks_the_buyers_language() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let uri = format!("/l/{}", listing["code"].as_str().unwrap());
    let zh = h.send(get(&uri, &[])).await.text();
    assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("下单") && zh.contains("¥3.50"), "Chinese by default");
    let it = h.send(get(&uri, &[("accept-language", "it-IT,it;q=0.9,en;q=0.5")])).await.text();
    assert!(it.contains("<html lang=\"it\">") && it.contains("Ordina") && it.contains("3,50\u{a0}¥"), "Italian: decimal comma, sign after: {it}");
    let chosen = h.send(get(&format!("{uri}?lang=en"), &[("accept-language", "it")])).await;
    assert!(chosen.text().contains("<html lang=\"en\">"));
    assert!(chosen.headers["set-cookie"].to_str().unwrap().starts_with("lang=en;"));
    let remembered = h.send(get(&uri, &[("cookie", "lang=en"), ("accept-language", "it")])).await.text();
    assert!(remembered.contains("<html lang=\"en\">") && remembered.contains("Place order"));
}

#[tokio::test]
async fn ordering_from_the_page_is_idempotent_and_server_priced() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "5").await;
    let code = listing["code"].as_str().unwrap();
    let page = h.send(get(&format!("/l/{code}"), &[])).await.text();
    let key = hidden(&page, "idempotency_key");
    let again = h.send(get(&format!("/l/{code}"), &[])).await.text();
    assert_ne!(hidden(&again, "idempotency_key"), key, "each view of the form gets a fresh key");
    let point = format!("pickup:{}", h.point);
    let fields = [
        ("idempotency_key", key.as_str()),
        ("quantity", "2"),
        ("name", "Li Na"),
        ("phone", "138 0013 8000"),
        ("fulfilment", point.as_str()),
        ("payment_method", "cash_at_pickup"),
        ("channel", "order_link"),
        ("price", "0.01"),
        ("total", "0.01"),
    ];
    let first = h.send(post_form(&format!("/l/{code}"), &fields)).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let location = first.headers["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/o/"));
    let double_tap = h.send(post_form(&format!("/l/{code}"), &fields)).await;
    assert_eq!(double_tap.headers["location"], location.as_str(), "the same key leads to the same order");
    assert_eq!(h.order_count().await, 1);

    let status = h.send(get(&location, &[("accept-language", "en")])).await;
    assert_eq!(status.status, StatusCode::OK);
    assert_eq!(status.headers["cache-control"], "no-store");
    let html = status.text();
    assert!(html.contains("Order received") && html.contains("¥7.00"), "2 jin at 3.50, not the page's 0.01: {html}");
    assert!(html.contains("Village square"));
}

#[tokio::test]
async fn form_errors_come_back_in_the_buyers_language_and_keep_what_was_typed() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "5").await;
    let code = listing["code"].as_str().unwrap();
    let point = format!("pickup:{}", h.point);
    let fields = [
        ("idempotency_key", "form-key-00001"),
        ("quantity", "2"),
        ("name", "Anna <b>Bold</b>"),
        ("phone", "no phone"),
        ("fulfilment", point.as_str()),
        ("payment_method", "cash_on_delivery"),
    ];
    let reply = h.send(post_form(&format!("/l/{code}"), &fields)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = reply.text();
    assert!(html.contains("Please fix the fields marked below."));
    assert!(html.contains("Enter a valid phone number"));
    assert!(html.contains("Anna &lt;b&gt;Bold&lt;/b&gt;"), "what was typed comes back, escaped");
    assert_eq!(hidden(&html, "idempotency_key"), "form-key-00001", "nothing was placed, so the key stays");
    assert_eq!(h.order_count().await, 0);

    let fixed = [("phone", "13800138000"), ("payment_method", "cash_at_pickup")];
    let merged: Vec<_> = fields.iter().map(|(k, v)| (*k, fixed.iter().find(|(f, _)| f == k).map_or(*v, |(_, v)| *v))).collect();
    assert_eq!(h.send(post_form(&format!("/l/{code}"), &merged)).await.status, StatusCode::SEE_OTHER);

    let garbage = Request::builder().method(Method::POST).uri(format!("/l/{code}")).header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from(vec![0xff, 0xfe, b'=', 0xfd])).unwrap();
    // Undecodable bytes decode lossily to nothing usable, so every field is refused and no order is placed.
    let reply = h.send(garbage).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(h.order_count().await, 1, "only the fixed order above");
}

#[tokio::test]
async fn a_sold_out_listing_says_so_and_offers_no_form() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Peaches", "box", "60", "1").await;
    let code = listing["code"].as_str().unwrap();
    let page = h.send(get(&format!("/l/{code}"), &[("accept-language", "en")])).await.text();
    let key = hidden(&page, "idempotency_key");
    h.order(code, "someone-else-1", "1").await;
    let point = format!("pickup:{}", h.point);
    let late = [("idempotency_key", key.as_str()), ("quantity", "1"), ("name", "Late"), ("phone", "13800138000"), ("fulfilment", point.as_str()), ("payment_method", "cash_at_pickup")];
    let reply = h.send(post_form(&format!("/l/{code}"), &late)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("Sold out"));
    let page = h.send(get(&format!("/l/{code}"), &[("accept-language", "en")])).await.text();
    assert!(page.contains("Sold out") && !page.contains("<form"), "{page}");
}

#[tokio::test]
async fn a_status_link_shows_only_its_own_order() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let code = listing["code"].as_str().unwrap();
    let one = h.order(code, "status-link-01", "1").await.json();
    let two = h.order(code, "status-link-02", "3").await.json();
    let path = |order: &serde_json::Value| order["status_url"].as_str().unwrap().trim_start_matches(common::PUBLIC_URL).to_owned();
    let first = h.send(get(&path(&one), &[("accept-language", "en")])).await.text();
    let second = h.send(get(&path(&two), &[("accept-language", "en")])).await.text();
    assert!(first.contains("¥3.50") && !first.contains("¥10.50"));
    assert!(second.contains("¥10.50") && !second.contains("¥3.50 "));
    let tampered = format!("{}x", &path(&one)[..path(&one).len() - 1]);
    for uri in [tampered.as_str(), "/o/guess", "/o/%FF%FE", "/o/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let reply = h.send(get(uri, &[])).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{uri}");
        assert!(reply.text().contains("<html"), "a page, not JSON, for a person");
    }
}

#[tokio::test]
async fn the_farm_page_lists_only_what_is_on_sale() {
    let h = Harness::new().await;
    h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let paused = h.listing(&h.zhang, "Secret melons", "piece", "9", "5").await;
    h.call(Method::POST, &format!("/api/v1/listings/{}/pause", paused["id"].as_str().unwrap()), Some(&h.zhang.token), None).await;
    h.listing(&h.wang, "Wang's eggs", "dozen", "18", "5").await;
    let me = h.call(Method::GET, "/api/v1/me", Some(&h.zhang.token), None).await.json();
    let farm = me["member"]["farm_url"].as_str().unwrap().trim_start_matches(common::PUBLIC_URL).to_owned();
    let html = h.send(get(&farm, &[("accept-language", "en")])).await.text();
    assert!(html.contains("Zhang Wei") && html.contains("Corn"));
    assert!(!html.contains("Secret melons") && !html.contains("Wang's eggs"));
    assert_eq!(h.send(get("/f/nobody", &[])).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn qr_codes_and_compression() {
    let h = Harness::new().await;
    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let code = listing["code"].as_str().unwrap();
    let svg = h.send(get(&format!("/l/{code}/qr.svg"), &[])).await;
    assert_eq!(svg.headers["content-type"], "image/svg+xml");
    assert!(svg.text().contains("<svg"));
    let png = h.send(get(&format!("/l/{code}/qr.png"), &[])).await;
    assert_eq!(png.headers["content-type"], "image/png");
    assert_eq!(image::load_from_memory(&png.bytes).unwrap().width() % 8, 0);
    assert_eq!(h.send(get("/l/zzzzzzz/qr.svg", &[])).await.status, StatusCode::NOT_FOUND);
    let compressed = h.send(get(&format!("/l/{code}"), &[("accept-encoding", "gzip")])).await;
    assert_eq!(compressed.headers["content-encoding"], "gzip");
    let css = h.send(get("/static/buyer.css", &[])).await;
    assert!(css.headers["cache-control"].to_str().unwrap().contains("immutable"));
}
