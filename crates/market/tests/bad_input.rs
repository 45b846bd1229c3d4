//! A corpus of bad requests. Each gets a 4xx with a clear code, and afterwards nothing has changed:
//! the same stock, the same listing, no order.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::Harness;
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    method: Method,
    uri: String,
    token: Option<String>,
    content_type: Option<&'static str>,
    key: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    code: &'static str,
    /// For `invalid`: the field and the domain code it names.
    field: Option<(&'static str, &'static str)>,
}

fn json_case(name: &'static str, uri: &str, token: Option<&str>, body: Value, status: StatusCode, code: &'static str) -> Case {
    Case {
        name,
        method: Method::POST,
        uri: uri.to_owned(),
        token: token.map(str::to_owned),
        content_type: Some("application/json"),
        key: Some("corpus-key-0001"),
        body: serde_json::to_vec(&body).unwrap(),
        status,
        code,
        field: None,
    }
}

fn with_field(mut case: Case, field: &'static str, code: &'static str) -> Case {
    case.field = Some((field, code));
    case
}

#[tokio::test]
async fn every_bad_request_gets_a_clear_4xx_and_changes_nothing() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let (id, code) = (corn["id"].as_str().unwrap().to_owned(), corn["code"].as_str().unwrap().to_owned());
    let zhang = Some(h.zhang.token.as_str());
    let order = |overrides: Value| {
        let mut body = json!({ "listing_code": code, "quantity": "2", "name": "Li Na", "phone": "13800138000",
            "pickup_point_id": h.point, "payment_method": "cash_at_pickup" });
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let listing = |overrides: Value| {
        let mut body = json!({ "title": "Eggs", "unit": "dozen", "currency": "CNY", "price": "18", "stock": "10" });
        for (key, value) in overrides.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    use StatusCode as S;
    let orders = "/api/v1/orders";
    let listings = "/api/v1/listings";
    let mut cases = vec![
        // Bodies that are not what they claim.
        Case { body: br#"{"listing_code": "#.to_vec(), ..json_case("malformed JSON", orders, None, json!({}), S::BAD_REQUEST, "malformed_json") },
        Case { body: b"{\"name\": \"\xff\xfe\"}".to_vec(), ..json_case("invalid UTF-8", orders, None, json!({}), S::BAD_REQUEST, "malformed_json") },
        Case { content_type: Some("text/plain"), ..json_case("wrong content type", orders, None, order(json!({})), S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type") },
        Case { content_type: None, ..json_case("no content type", orders, None, order(json!({})), S::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type") },
        json_case("a number where text belongs", orders, None, order(json!({ "quantity": 2 })), S::UNPROCESSABLE_ENTITY, "invalid_body"),
        json_case("missing fields", orders, None, json!({ "listing_code": code }), S::UNPROCESSABLE_ENTITY, "invalid_body"),
        json_case("an array", orders, None, json!([1, 2, 3]), S::UNPROCESSABLE_ENTITY, "invalid_body"),
        json_case("unknown payment method", orders, None, order(json!({ "payment_method": "bitcoin" })), S::UNPROCESSABLE_ENTITY, "invalid_body"),
        json_case("pickup and delivery at once", orders, None, order(json!({ "delivery_address": "Road 1" })), S::UNPROCESSABLE_ENTITY, "invalid_body"),
        Case { body: vec![b' '; 70 * 1024], ..json_case("a body over the limit", orders, None, json!({}), S::PAYLOAD_TOO_LARGE, "payload_too_large") },
        // Quantities no order can have.
        with_field(json_case("negative quantity", orders, None, order(json!({ "quantity": "-1" })), S::UNPROCESSABLE_ENTITY, "invalid"), "quantity", "negative"),
        with_field(json_case("zero quantity", orders, None, order(json!({ "quantity": "0" })), S::UNPROCESSABLE_ENTITY, "invalid"), "quantity", "must_be_positive"),
        with_field(json_case("off-step quantity", orders, None, order(json!({ "quantity": "1.5" })), S::UNPROCESSABLE_ENTITY, "invalid"), "quantity", "not_step_multiple"),
        with_field(json_case("quantity beyond i64", orders, None, order(json!({ "quantity": "99999999999999999999" })), S::UNPROCESSABLE_ENTITY, "invalid"), "quantity", "too_large"),
        with_field(json_case("quantity as words", orders, None, order(json!({ "quantity": "three" })), S::UNPROCESSABLE_ENTITY, "invalid"), "quantity", "not_a_number"),
        // Buyers and keys.
        with_field(json_case("no name", orders, None, order(json!({ "name": " " })), S::UNPROCESSABLE_ENTITY, "invalid"), "buyer_name", "empty"),
        with_field(json_case("a phone of words", orders, None, order(json!({ "phone": "call me maybe" })), S::UNPROCESSABLE_ENTITY, "invalid"), "buyer_phone", "invalid_phone"),
        with_field(json_case("a staff channel from a buyer", orders, None, order(json!({ "channel": "phone" })), S::UNPROCESSABLE_ENTITY, "invalid"), "channel", "not_for_sale"),
        Case { key: Some("short"), ..with_field(json_case("a short idempotency key", orders, None, order(json!({})), S::UNPROCESSABLE_ENTITY, "invalid"), "idempotency_key", "too_long") },
        Case { key: Some("spaces are not allowed"), ..with_field(json_case("an idempotency key with spaces", orders, None, order(json!({})), S::UNPROCESSABLE_ENTITY, "invalid"), "idempotency_key", "control_characters") },
        json_case("an unknown listing", orders, None, order(json!({ "listing_code": "zzzzzzz" })), S::NOT_FOUND, "not_found"),
        json_case("SQL as a listing code", orders, None, order(json!({ "listing_code": "' OR 1=1 --" })), S::NOT_FOUND, "not_found"),
        json_case("an unknown pickup point", orders, None, order(json!({ "pickup_point_id": "0198c0de-0000-7000-8000-000000000000" })), S::UNPROCESSABLE_ENTITY, "invalid"),
        // Listings the domain refuses.
        with_field(json_case("an empty title", listings, zhang, listing(json!({ "title": "" })), S::UNPROCESSABLE_ENTITY, "invalid"), "title", "empty"),
        with_field(json_case("a 500-character title", listings, zhang, listing(json!({ "title": "x".repeat(500) })), S::UNPROCESSABLE_ENTITY, "invalid"), "title", "too_long"),
        with_field(json_case("a negative price", listings, zhang, listing(json!({ "price": "-1" })), S::UNPROCESSABLE_ENTITY, "invalid"), "price", "negative"),
        with_field(json_case("a zero price", listings, zhang, listing(json!({ "price": "0" })), S::UNPROCESSABLE_ENTITY, "invalid"), "price", "must_be_positive"),
        with_field(json_case("a price beyond i64", listings, zhang, listing(json!({ "price": "99999999999999999999" })), S::UNPROCESSABLE_ENTITY, "invalid"), "price", "too_large"),
        with_field(json_case("stock off the step", listings, zhang, listing(json!({ "unit": "jin", "stock": "7", "step": "2" })), S::UNPROCESSABLE_ENTITY, "invalid"), "stock", "not_step_multiple"),
        with_field(json_case("an unknown unit", listings, zhang, listing(json!({ "unit": "furlong" })), S::UNPROCESSABLE_ENTITY, "invalid"), "unit", "unknown_unit"),
        with_field(json_case("an unknown currency", listings, zhang, listing(json!({ "currency": "XBT" })), S::UNPROCESSABLE_ENTITY, "invalid"), "currency", "unknown_currency"),
        json_case("a listing without a token", listings, None, listing(json!({})), S::UNAUTHORIZED, "unauthorized"),
        json_case("a forged token", listings, Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), listing(json!({})), S::UNAUTHORIZED, "unauthorized"),
        // Unknown or malformed ids.
        Case { method: Method::GET, ..json_case("an unknown order", "/api/v1/orders/0198c0de-0000-7000-8000-000000000000", zhang, json!(null), S::NOT_FOUND, "not_found") },
        Case { method: Method::GET, ..json_case("a malformed order id", "/api/v1/orders/not-a-uuid", zhang, json!(null), S::NOT_FOUND, "not_found") },
        json_case("a step on a malformed id", "/api/v1/orders/1%27%3B%20DROP%20TABLE%20orders/status", zhang, json!({ "action": "confirm" }), S::NOT_FOUND, "not_found"),
        Case { method: Method::PATCH, ..with_field(json_case("an edit with a bad price", &format!("/api/v1/listings/{id}"), zhang, listing(json!({ "price": "abc" })), S::UNPROCESSABLE_ENTITY, "invalid"), "price", "not_a_number") },
        Case { method: Method::PUT, ..with_field(json_case("negative stock", &format!("/api/v1/listings/{id}/stock"), zhang, json!({ "stock": "-3" }), S::UNPROCESSABLE_ENTITY, "invalid"), "stock", "negative") },
        Case { method: Method::DELETE, ..json_case("a method that does not exist", "/api/v1/listings", zhang, json!(null), S::METHOD_NOT_ALLOWED, "method_not_allowed") },
    ];
    cases.push(json_case("a path that does not exist", "/api/v1/nothing", None, json!({}), S::NOT_FOUND, "not_found"));

    let before = h.call(Method::GET, &format!("/api/v1/listings/{id}"), zhang, None).await.json();
    for case in cases {
        let mut request = Request::builder().method(case.method.clone()).uri(&case.uri);
        if let Some(token) = &case.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = case.content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = case.key {
            request = request.header("idempotency-key", key);
        }
        let reply = h.send(request.body(Body::from(case.body)).unwrap()).await;
        assert_eq!(reply.status, case.status, "{}: {}", case.name, reply.text());
        assert_eq!(reply.code(), case.code, "{}: {}", case.name, reply.text());
        let message = reply.json()["error"]["message"].as_str().unwrap().to_lowercase();
        for leak in ["sqlite", "select ", "insert ", "panicked", "src/", ".rs:"] {
            assert!(!message.contains(leak), "{}: the message leaks {leak:?}: {message}", case.name);
        }
        if let Some((field, code)) = case.field {
            let fields = &reply.json()["error"]["fields"];
            assert!(
                fields.as_array().unwrap().iter().any(|f| f["field"] == field && f["code"] == code),
                "{}: expected {field}/{code} in {fields}",
                case.name
            );
        }
    }
    let after = h.call(Method::GET, &format!("/api/v1/listings/{id}"), zhang, None).await.json();
    assert_eq!(after, before, "the listing is untouched");
    assert_eq!(h.order_count().await, 0, "no order was placed");
    let all = h.call(Method::GET, "/api/v1/listings", Some(&h.staff.token), None).await.json();
    assert_eq!(all.as_array().unwrap().len(), 1, "no listing was created");
}

#[tokio::test]
async fn sql_looking_text_is_stored_as_text() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn'); DROP TABLE listings;--", "jin", "3.50", "50").await;
    let reply = h.order(corn["code"].as_str().unwrap(), "sql-name-0001", "1").await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let listing = h.call(Method::GET, &format!("/api/v1/listings/{}", corn["id"].as_str().unwrap()), Some(&h.zhang.token), None).await.json();
    assert_eq!(listing["details"]["title"], "Corn'); DROP TABLE listings;--");
    assert_eq!(h.order_count().await, 1);
}
