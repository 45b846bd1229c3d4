//! The JSON API through the real router and a real SQLite file: every endpoint's happy path, every
//! authorization rule, and the order state machine's edges.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Harness, PUBLIC_URL};
use serde_json::{Value, json};

// --- Pairing and accounts -----------------------------------------------------------------------

#[tokio::test]
async fn a_pairing_code_works_once_and_the_token_identifies_the_device() {
    let h = Harness::new().await;
    let me = h.call(Method::GET, "/api/v1/me", Some(&h.zhang.token), None).await;
    assert_eq!(me.status, StatusCode::OK);
    let me = me.json();
    assert_eq!(me["member"]["name"], "Zhang Wei");
    assert_eq!(me["member"]["role"], "farmer");
    assert!(me["member"]["farm_url"].as_str().unwrap().starts_with(&format!("{PUBLIC_URL}/f/zhang-wei-")));
    assert_eq!(me["coop"]["currency"], "CNY");

    let issued = h.state.market().pairing_code_for(None, h.zhang.member_id).await.unwrap();
    let pair = |code: String| h.call(Method::POST, "/api/v1/pair", None, Some(json!({ "code": code, "device_name": "second phone" })));
    let first = pair(format!("{} {}", &issued.code[..4], &issued.code[4..])).await;
    assert_eq!(first.status, StatusCode::CREATED, "spaces in a typed code are fine: {}", first.text());
    let again = pair(issued.code.clone()).await;
    assert_eq!((again.status, again.code()), (StatusCode::BAD_REQUEST, "pairing_code_invalid".into()));
}

#[tokio::test]
async fn pairing_codes_expire_after_fifteen_minutes() {
    let h = Harness::new().await;
    let issued = h.state.market().pairing_code_for(None, h.wang.member_id).await.unwrap();
    h.clock.advance(Duration::from_secs(15 * 60 + 1));
    let reply = h.call(Method::POST, "/api/v1/pair", None, Some(json!({ "code": issued.code, "device_name": "late" }))).await;
    assert_eq!(reply.code(), "pairing_code_invalid");
    for garbage in ["", "1234", "abcdefgh", "123456789"] {
        let reply = h.call(Method::POST, "/api/v1/pair", None, Some(json!({ "code": garbage, "device_name": "x" }))).await;
        assert_eq!(reply.code(), "pairing_code_invalid", "{garbage:?}");
    }
}

#[tokio::test]
async fn missing_unknown_and_revoked_tokens_are_refused() {
    let h = Harness::new().await;
    for token in [None, Some("not-a-token"), Some(&*"x".repeat(10_000))] {
        let reply = h.call(Method::GET, "/api/v1/listings", token, None).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "unauthorized".into()));
    }
    let request = Request::builder().uri("/api/v1/me").header("authorization", format!("Basic {}", h.zhang.token)).body(Body::empty()).unwrap();
    assert_eq!(h.send(request).await.status, StatusCode::UNAUTHORIZED, "only Bearer tokens count");

    let devices = h.call(Method::GET, "/api/v1/devices", Some(&h.staff.token), None).await.json();
    let zhangs = devices.as_array().unwrap().iter().find(|d| d["member_id"] == h.zhang.member_id.to_string()).unwrap()["id"].as_str().unwrap().to_owned();
    let revoke = h.call(Method::DELETE, &format!("/api/v1/devices/{zhangs}"), Some(&h.staff.token), None).await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let after = h.call(Method::GET, "/api/v1/me", Some(&h.zhang.token), None).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "a revoked token stops working at once");
}

#[tokio::test]
async fn who_may_add_whom() {
    let h = &Harness::new().await;
    let add = |token: String, role: &'static str| {
        async move { h.call(Method::POST, "/api/v1/members", Some(&token), Some(json!({ "role": role, "name": "New person" }))).await }
    };
    let added = add(h.admin.token.clone(), "staff").await;
    assert_eq!(added.status, StatusCode::CREATED);
    let added = added.json();
    assert_eq!(added["pairing"]["code"].as_str().unwrap().len(), 8);
    assert!(added["pairing"]["qr_svg"].as_str().unwrap().contains("<svg"));
    assert_eq!(add(h.staff.token.clone(), "farmer").await.status, StatusCode::CREATED);
    assert_eq!(add(h.staff.token.clone(), "staff").await.status, StatusCode::FORBIDDEN);
    assert_eq!(add(h.staff.token.clone(), "admin").await.status, StatusCode::FORBIDDEN);
    assert_eq!(add(h.zhang.token.clone(), "farmer").await.status, StatusCode::FORBIDDEN);
    let members = h.call(Method::GET, "/api/v1/members", Some(&h.zhang.token), None).await.json();
    assert_eq!(members.as_array().unwrap().len(), 6, "admin, staff, two farmers, and the two added");

    // A new pairing code: for oneself, or for someone one manages.
    let own = h.call(Method::POST, &format!("/api/v1/members/{}/pairing-codes", h.zhang.member_id), Some(&h.zhang.token), None).await;
    assert_eq!(own.status, StatusCode::CREATED);
    let other = h.call(Method::POST, &format!("/api/v1/members/{}/pairing-codes", h.wang.member_id), Some(&h.zhang.token), None).await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let for_farmer = h.call(Method::POST, &format!("/api/v1/members/{}/pairing-codes", h.wang.member_id), Some(&h.staff.token), None).await;
    assert_eq!(for_farmer.status, StatusCode::CREATED);
    let cross = h.call(Method::POST, &format!("/api/v1/members/{}/pairing-codes", h.zhang.member_id), Some(&h.stranger.token), None).await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn farmers_see_and_revoke_only_their_own_devices() {
    let h = Harness::new().await;
    let mine = h.call(Method::GET, "/api/v1/devices", Some(&h.zhang.token), None).await.json();
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let all = h.call(Method::GET, "/api/v1/devices", Some(&h.staff.token), None).await.json();
    assert_eq!(all.as_array().unwrap().len(), 4, "the co-op's four paired devices, not the other co-op's");
    let wangs = all.as_array().unwrap().iter().find(|d| d["member_id"] == h.wang.member_id.to_string()).unwrap()["id"].as_str().unwrap().to_owned();
    let reply = h.call(Method::DELETE, &format!("/api/v1/devices/{wangs}"), Some(&h.zhang.token), None).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "another farmer's device is not in Zhang's list");
    let unknown = h.call(Method::DELETE, "/api/v1/devices/0198c0de-0000-7000-8000-000000000000", Some(&h.staff.token), None).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_device_is_renamed_by_itself_or_the_co_op_and_names_are_checked() {
    let harness = Harness::new().await;
    let h = &harness;
    let devices = move |token: String| async move { h.call(Method::GET, "/api/v1/devices", Some(&token), None).await.json() };
    let all = devices(h.staff.token.clone()).await;
    let id_of = |member: &str| all.as_array().unwrap().iter().find(|d| d["member_id"] == member).unwrap()["id"].as_str().unwrap().to_owned();
    let (zhangs, wangs, staffs) = (id_of(&h.zhang.member_id.to_string()), id_of(&h.wang.member_id.to_string()), id_of(&h.staff.member_id.to_string()));
    let rename = move |token: String, id: String, body: Value| async move { h.call(Method::PATCH, &format!("/api/v1/devices/{id}"), Some(&token), Some(body)).await };

    // Zhang names his own phone; the name is cleaned of surrounding spaces.
    let renamed = rename(h.zhang.token.clone(), zhangs.clone(), json!({ "name": "  张伟的新手机 " })).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(renamed.json()["name"], "张伟的新手机");
    assert_eq!(devices(h.zhang.token.clone()).await[0]["name"], "张伟的新手机");
    // The co-op's staff may rename a farmer's phone; a farmer may not rename anyone else's.
    assert_eq!(rename(h.staff.token.clone(), wangs.clone(), json!({ "name": "Wang's old phone" })).await.status, StatusCode::OK);
    assert_eq!(rename(h.zhang.token.clone(), wangs.clone(), json!({ "name": "mine now" })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rename(h.zhang.token.clone(), staffs, json!({ "name": "x" })).await.status, StatusCode::NOT_FOUND);
    assert_eq!(rename(h.stranger.token.clone(), zhangs.clone(), json!({ "name": "x" })).await.status, StatusCode::NOT_FOUND);
    // Bad names and bodies change nothing.
    for (body, status) in [
        (json!({ "name": "   " }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": "x".repeat(81) }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": "two\nlines" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": 7 }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "name": "x", "owner": "me" }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let reply = rename(h.zhang.token.clone(), zhangs.clone(), body.clone()).await;
        assert_eq!(reply.status, status, "{body}");
    }
    assert_eq!(devices(h.zhang.token.clone()).await[0]["name"], "张伟的新手机");
    let unknown = rename(h.staff.token.clone(), "0198c0de-0000-7000-8000-000000000000".into(), json!({ "name": "x" })).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let anonymous = h.call(Method::PATCH, &format!("/api/v1/devices/{zhangs}"), None, Some(json!({ "name": "x" }))).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

// --- Pickup points ------------------------------------------------------------------------------

#[tokio::test]
async fn staff_manage_pickup_points_and_closed_ones_take_no_orders() {
    let h = Harness::new().await;
    let body = json!({ "name": "Co-op office", "address": "Main street 8" });
    assert_eq!(h.call(Method::POST, "/api/v1/pickup-points", Some(&h.zhang.token), Some(body.clone())).await.status, StatusCode::FORBIDDEN);
    let created = h.call(Method::POST, "/api/v1/pickup-points", Some(&h.staff.token), Some(body)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let list = h.call(Method::GET, "/api/v1/pickup-points", Some(&h.zhang.token), None).await.json();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let listing = h.listing(&h.zhang, "Corn", "jin", "3.50", "10").await;
    let closed = h.call(Method::PATCH, &format!("/api/v1/pickup-points/{}", h.point), Some(&h.staff.token), Some(json!({ "active": false }))).await;
    assert_eq!((closed.status, closed.json()["active"].clone()), (StatusCode::OK, json!(false)));
    let reply = h.order(listing["code"].as_str().unwrap(), "closed-point-1", "1").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["error"]["fields"][0]["field"], "pickup_point");
    let cross = h.call(Method::PATCH, &format!("/api/v1/pickup-points/{}", h.point), Some(&h.stranger.token), Some(json!({ "active": true }))).await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
}

// --- Listings -----------------------------------------------------------------------------------

#[tokio::test]
async fn listings_belong_to_their_farmer_and_their_co_op() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Sweet corn", "jin", "3.50", "50").await;
    assert_eq!(corn["farmer_id"], h.zhang.member_id.to_string());
    assert_eq!(corn["status"], "active");
    assert!(corn["order_link"].as_str().unwrap().starts_with(&format!("{PUBLIC_URL}/l/")));
    let id = corn["id"].as_str().unwrap();

    // Staff list for a farmer; a farmer cannot list for another; another co-op cannot list for ours.
    let for_wang = json!({ "farmer_id": h.wang.member_id, "title": "Eggs", "unit": "dozen", "currency": "CNY", "price": "18", "stock": "10" });
    assert_eq!(h.call(Method::POST, "/api/v1/listings", Some(&h.staff.token), Some(for_wang.clone())).await.status, StatusCode::CREATED);
    assert_eq!(h.call(Method::POST, "/api/v1/listings", Some(&h.zhang.token), Some(for_wang.clone())).await.status, StatusCode::FORBIDDEN);
    let cross = h.call(Method::POST, "/api/v1/listings", Some(&h.stranger.token), Some(for_wang)).await;
    assert_eq!((cross.status, cross.json()["error"]["fields"][0]["field"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("farmer")));
    let as_staff_for_self = json!({ "title": "Eggs", "unit": "dozen", "currency": "CNY", "price": "18", "stock": "10" });
    assert_eq!(h.call(Method::POST, "/api/v1/listings", Some(&h.staff.token), Some(as_staff_for_self)).await.status, StatusCode::UNPROCESSABLE_ENTITY, "staff have no produce of their own");

    let zhangs = h.call(Method::GET, "/api/v1/listings", Some(&h.zhang.token), None).await.json();
    assert_eq!(zhangs.as_array().unwrap().len(), 1, "a farmer sees their own listings");
    let all = h.call(Method::GET, "/api/v1/listings", Some(&h.staff.token), None).await.json();
    assert_eq!(all.as_array().unwrap().len(), 2, "staff see the co-op's");
    let filtered = h.call(Method::GET, &format!("/api/v1/listings?farmer_id={}", h.wang.member_id), Some(&h.staff.token), None).await.json();
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    assert_eq!(h.call(Method::GET, &format!("/api/v1/listings/{id}"), Some(&h.wang.token), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.call(Method::GET, &format!("/api/v1/listings/{id}"), Some(&h.stranger.token), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::GET, &format!("/api/v1/listings/{id}"), Some(&h.staff.token), None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn editing_pausing_and_restocking_a_listing() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Sweet corn", "jin", "3.50", "50").await;
    let id = corn["id"].as_str().unwrap();
    let uri = |tail: &str| format!("/api/v1/listings/{id}{tail}");
    let edit = json!({ "title": "Sweet corn, fresh", "unit": "jin", "currency": "CNY", "price": "4", "stock": "40", "step": "2" });
    let edited = h.call(Method::PATCH, &uri(""), Some(&h.zhang.token), Some(edit.clone())).await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    let edited = edited.json();
    assert_eq!((edited["details"]["title"].clone(), edited["details"]["price"]["minor"].clone()), (json!("Sweet corn, fresh"), json!(400)));
    assert!(edited["version"].as_i64().unwrap() > corn["version"].as_i64().unwrap());
    assert_eq!(h.call(Method::PATCH, &uri(""), Some(&h.wang.token), Some(edit)).await.status, StatusCode::FORBIDDEN);

    let paused = h.call(Method::POST, &uri("/pause"), Some(&h.zhang.token), None).await;
    assert_eq!(paused.json()["status"], "paused");
    let twice = h.call(Method::POST, &uri("/pause"), Some(&h.zhang.token), None).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "invalid_listing_status".into()));
    assert_eq!(h.call(Method::POST, &uri("/resume"), Some(&h.staff.token), None).await.json()["status"], "active");

    let stock = h.call(Method::PUT, &uri("/stock"), Some(&h.zhang.token), Some(json!({ "stock": "0" }))).await;
    assert_eq!(stock.json()["status"], "sold_out");
    let off_step = h.call(Method::PUT, &uri("/stock"), Some(&h.zhang.token), Some(json!({ "stock": "7" }))).await;
    assert_eq!((off_step.status, off_step.json()["error"]["fields"][0]["code"].clone()), (StatusCode::UNPROCESSABLE_ENTITY, json!("not_step_multiple")));
    let restock = h.call(Method::PUT, &uri("/stock"), Some(&h.zhang.token), Some(json!({ "stock": "12" }))).await;
    assert_eq!((restock.json()["status"].clone(), restock.json()["details"]["stock"].clone()), (json!("active"), json!(12_000)));
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 200) as u8, (y % 200) as u8, 60]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn photos_are_processed_stored_once_and_served() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let upload = |bytes: Vec<u8>, content_type: &str, token: &str| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("/api/v1/listings/{}/photos", corn["id"].as_str().unwrap()))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", content_type)
            .body(Body::from(bytes))
            .unwrap()
    };
    let reply = h.send(upload(png(2000, 1500), "image/png", &h.zhang.token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let photos = reply.json()["photos"].clone();
    assert_eq!(photos.as_array().unwrap().len(), 1);
    let again = h.send(upload(png(2000, 1500), "image/png", &h.zhang.token)).await;
    assert_eq!(again.json()["photos"], photos, "the same photo is kept once");

    let sha = photos[0]["sha256"].as_str().unwrap();
    let served = h.call(Method::GET, &format!("/photos/{sha}.jpg"), None, None).await;
    assert_eq!(served.status, StatusCode::OK);
    let full = image::load_from_memory(&served.bytes).unwrap();
    assert_eq!((full.width(), full.height()), (1280, 960));
    let thumb = h.call(Method::GET, &format!("/photos/{sha}-thumb.jpg"), None, None).await;
    assert_eq!(image::load_from_memory(&thumb.bytes).unwrap().width(), 320);
    assert_eq!(h.call(Method::GET, "/photos/../market.db", None, None).await.status, StatusCode::NOT_FOUND);

    assert_eq!(h.send(upload(b"not an image".to_vec(), "image/jpeg", &h.zhang.token)).await.code(), "invalid_image");
    assert_eq!(h.send(upload(png(10, 10), "text/plain", &h.zhang.token)).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(h.send(upload(png(10, 10), "image/png", &h.wang.token)).await.status, StatusCode::FORBIDDEN);
}

// --- Buyer orders -------------------------------------------------------------------------------

#[tokio::test]
async fn a_buyer_order_takes_stock_once_and_prices_come_from_the_listing() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Sweet corn", "jin", "3.50", "50").await;
    let (id, code) = (corn["id"].as_str().unwrap(), corn["code"].as_str().unwrap());

    let public = h.call(Method::GET, &format!("/api/v1/public/listings/{code}"), None, None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(public.json()["pickup_points"].as_array().unwrap().len(), 1);

    let body = json!({
        "listing_code": code, "quantity": "3", "name": "Li Na", "phone": "+86 138 0013 8000",
        "pickup_point_id": h.point, "payment_method": "cash_at_pickup",
        "price": 1, "unit_price": { "minor": 1, "currency": "CNY" }, "total": 1,
    });
    let request = |key: &str, body: &serde_json::Value| {
        Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(serde_json::to_vec(body).unwrap()))
            .unwrap()
    };
    let placed = h.send(request("order-0001", &body)).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let placed = placed.json();
    assert_eq!(placed["order"]["total"]["minor"], 1050, "3 jin at 3.50, whatever the page claimed");
    assert_eq!(placed["order"]["lines"][0]["unit_price"]["minor"], 350);
    assert_eq!(placed["replayed"], false);
    assert_eq!(h.stock(&h.zhang, id).await, 47_000);

    let retry = h.send(request("order-0001", &body)).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(retry.json()["order"]["id"], placed["order"]["id"]);
    assert_eq!(retry.json()["status_url"], placed["status_url"], "a retry gets the same status link");
    assert_eq!(h.stock(&h.zhang, id).await, 47_000, "a retry takes no stock");

    let mut changed = body.clone();
    changed["quantity"] = json!("4");
    let reused = h.send(request("order-0001", &changed)).await;
    assert_eq!((reused.status, reused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused".into()));

    let no_key = Request::builder().method(Method::POST).uri("/api/v1/orders").header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let no_key = h.send(no_key).await;
    assert_eq!((no_key.status, no_key.code()), (StatusCode::PRECONDITION_REQUIRED, "idempotency_key_required".into()));

    let too_many = h.order(code, "order-0002", "48").await;
    assert_eq!((too_many.status, too_many.code()), (StatusCode::CONFLICT, "insufficient_stock".into()));
    assert_eq!(h.order(code, "order-0003", "47").await.status, StatusCode::CREATED);
    let sold_out = h.order(code, "order-0004", "1").await;
    assert_eq!((sold_out.status, sold_out.code()), (StatusCode::CONFLICT, "sold_out".into()));
    assert_eq!(h.order_count().await, 2);
}

#[tokio::test]
async fn delivery_orders_need_an_address_and_a_fitting_payment() {
    let h = Harness::new().await;
    let eggs = h.listing(&h.zhang, "Eggs", "dozen", "18", "10").await;
    let send = |body: serde_json::Value, key: &'static str| {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/orders")
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .unwrap();
        h.send(request)
    };
    let base = json!({ "listing_code": eggs["code"], "quantity": "1", "name": "Anna", "phone": "3331234567", "payment_method": "cash_on_delivery" });
    let mut delivery = base.clone();
    delivery["delivery_address"] = json!("Via Roma 1, Bologna");
    let placed = send(delivery.clone(), "delivery-01").await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    assert_eq!(placed.json()["order"]["fulfilment"], json!({ "kind": "delivery", "address": "Via Roma 1, Bologna" }));
    delivery["payment_method"] = json!("cash_at_pickup");
    let mismatch = send(delivery, "delivery-02").await;
    assert_eq!(mismatch.json()["error"]["fields"][0]["code"], "payment_method_unavailable");
    let mut blank = base.clone();
    blank["delivery_address"] = json!("   ");
    assert_eq!(send(blank, "delivery-03").await.json()["error"]["fields"][0]["field"], "address");
    let neither = send(base, "delivery-04").await;
    assert_eq!((neither.status, neither.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body".into()));
}

// --- Orders for farmers and staff ---------------------------------------------------------------

/// Places `n` one-unit orders on a listing of Zhang's and returns their ids.
async fn orders_for_zhang(h: &Harness, n: usize) -> (serde_json::Value, Vec<String>) {
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "100").await;
    let mut ids = Vec::new();
    for i in 0..n {
        let reply = h.order(corn["code"].as_str().unwrap(), &format!("zhang-order-{i:04}"), "1").await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        ids.push(reply.json()["order"]["id"].as_str().unwrap().to_owned());
        h.clock.advance(Duration::from_secs(60));
    }
    (corn, ids)
}

#[tokio::test]
async fn the_order_state_machine_over_http() {
    let h = &Harness::new().await;
    let (corn, ids) = orders_for_zhang(h, 3).await;
    let step = |id: &str, action: &str, token: &str| {
        let uri = format!("/api/v1/orders/{id}/status");
        let body = json!({ "action": action, "reason": "out of stock today" });
        let token = token.to_owned();
        async move { h.call(Method::POST, &uri, Some(&token), Some(body)).await }
    };
    let zhang = h.zhang.token.clone();
    // A pickup order goes placed → confirmed → packed → ready → delivered.
    for (action, status) in [("confirm", "confirmed"), ("pack", "packed"), ("mark_ready", "ready_for_pickup"), ("deliver", "delivered")] {
        let reply = step(&ids[0], action, &zhang).await;
        assert_eq!((reply.status, reply.json()["status"].clone()), (StatusCode::OK, json!(status)), "{action}");
    }
    for action in ["cancel", "decline", "confirm", "ship"] {
        let reply = step(&ids[0], action, &zhang).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "invalid_transition".into()), "{action} after delivery");
    }
    // Shipping is for deliveries; a pickup order cannot be shipped.
    step(&ids[1], "confirm", &zhang).await;
    step(&ids[1], "pack", &zhang).await;
    assert_eq!(step(&ids[1], "ship", &zhang).await.code(), "invalid_transition");
    let unknown = h.call(Method::POST, &format!("/api/v1/orders/{}/status", ids[1]), Some(&zhang), Some(json!({ "action": "teleport" }))).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body".into()));

    // Declining gives the stock back and keeps the reason.
    let before = h.stock(&h.zhang, corn["id"].as_str().unwrap()).await;
    let declined = step(&ids[2], "decline", &zhang).await.json();
    assert_eq!((declined["status"].clone(), declined["note"].clone()), (json!("declined"), json!("out of stock today")));
    assert_eq!(h.stock(&h.zhang, corn["id"].as_str().unwrap()).await, before + 1000);
}

#[tokio::test]
async fn only_the_owner_or_the_co_op_moves_an_order() {
    let h = Harness::new().await;
    let (_, ids) = orders_for_zhang(&h, 1).await;
    let uri = format!("/api/v1/orders/{}/status", ids[0]);
    let confirm = Some(json!({ "action": "confirm" }));
    assert_eq!(h.call(Method::POST, &uri, Some(&h.wang.token), confirm.clone()).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.call(Method::POST, &uri, Some(&h.stranger.token), confirm.clone()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(h.call(Method::POST, &uri, None, confirm.clone()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.call(Method::GET, &format!("/api/v1/orders/{}", ids[0]), Some(&h.wang.token), None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(h.call(Method::POST, &uri, Some(&h.staff.token), confirm).await.status, StatusCode::OK);
    let wangs = h.call(Method::GET, "/api/v1/orders", Some(&h.wang.token), None).await.json();
    assert_eq!(wangs["items"].as_array().unwrap().len(), 0, "Wang sees none of Zhang's orders");
}

#[tokio::test]
async fn payments_add_up_to_the_total() {
    let h = &Harness::new().await;
    let (_, ids) = orders_for_zhang(h, 2).await;
    let pay = |id: &str, amount: &str| {
        let uri = format!("/api/v1/orders/{id}/payments");
        let body = json!({ "amount": amount });
        async move { h.call(Method::POST, &uri, Some(&h.zhang.token), Some(body)).await }
    };
    assert_eq!(pay(&ids[0], "2").await.json()["paid"]["minor"], 200);
    let over = pay(&ids[0], "1.51").await;
    assert_eq!((over.status, over.code()), (StatusCode::CONFLICT, "overpaid".into()));
    assert_eq!(pay(&ids[0], "1.50").await.json()["paid"]["minor"], 350);
    assert_eq!(pay(&ids[0], "-1").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pay(&ids[0], "abc").await.status, StatusCode::UNPROCESSABLE_ENTITY);
    h.call(Method::POST, &format!("/api/v1/orders/{}/status", ids[1]), Some(&h.zhang.token), Some(json!({ "action": "cancel" }))).await;
    assert_eq!(pay(&ids[1], "1").await.code(), "not_payable");
}

#[tokio::test]
async fn order_lists_filter_search_and_page() {
    let h = &Harness::new().await;
    let (_, ids) = orders_for_zhang(h, 7).await;
    let eggs = h.listing(&h.wang, "Eggs", "dozen", "18", "10").await;
    let live = json!({ "listing_code": eggs["code"], "quantity": "1", "name": "Giulia Rossi", "phone": "+39 333 7654321",
        "pickup_point_id": h.point, "payment_method": "bank_transfer", "channel": "live" });
    let request = Request::builder().method(Method::POST).uri("/api/v1/orders").header("content-type", "application/json")
        .header("idempotency-key", "live-order-1").body(Body::from(live.to_string())).unwrap();
    assert_eq!(h.send(request).await.status, StatusCode::CREATED);
    h.call(Method::POST, &format!("/api/v1/orders/{}/status", ids[0]), Some(&h.zhang.token), Some(json!({ "action": "confirm" }))).await;

    let list = |query: &str| {
        let uri = format!("/api/v1/orders?{query}");
        async move { h.call(Method::GET, &uri, Some(&h.staff.token), None).await.json() }
    };
    let count = |page: &serde_json::Value| page["items"].as_array().unwrap().len();
    assert_eq!(count(&list("").await), 8);
    assert_eq!(count(&list("status=confirmed").await), 1);
    assert_eq!(count(&list("channel=live").await), 1);
    assert_eq!(count(&list(&format!("farmer_id={}", h.wang.member_id)).await), 1);
    assert_eq!(count(&list("q=giulia").await), 1, "search by name, any case");
    assert_eq!(count(&list("q=7654").await), 1, "search by phone");
    assert_eq!(count(&list("q=%27%20OR%201%3D1%20--").await), 0, "SQL in a search is just text");
    assert_eq!(count(&list(&format!("pickup_point_id={}", h.point)).await), 8);
    let first = list("").await;
    let newest = first["items"][0]["created_at"].as_i64().unwrap();
    assert_eq!(count(&list(&format!("from={newest}")).await), 1);
    assert_eq!(count(&list(&format!("before={newest}")).await), 7);

    // Three pages of three, then the end; no order twice, none missed.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..3 {
        let query = match &cursor {
            Some(c) => format!("limit=3&cursor={c}"),
            None => "limit=3".into(),
        };
        let page = list(&query).await;
        seen.extend(page["items"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(cursor, None);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 8);
    let bad = h.call(Method::GET, "/api/v1/orders?cursor=garbage", Some(&h.staff.token), None).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_query".into()));
    let bad = h.call(Method::GET, "/api/v1/orders?status=lost", Some(&h.staff.token), None).await;
    assert_eq!(bad.code(), "invalid_query");
}

// --- Operations ---------------------------------------------------------------------------------

#[tokio::test]
async fn metrics_count_requests_and_order_outcomes() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "1").await;
    let code = corn["code"].as_str().unwrap();
    h.order(code, "metrics-0001", "1").await;
    h.order(code, "metrics-0002", "1").await;
    let text = h.call(Method::GET, "/metrics", None, None).await.text();
    assert!(text.contains("fieldcast_orders_placed_total{channel=\"order_link\"} 1"), "{text}");
    assert!(text.contains("fieldcast_orders_refused_total{reason=\"sold_out\"} 1"), "{text}");
    assert!(text.contains("fieldcast_http_requests_total{method=\"POST\",route=\"/api/v1/orders\",status=\"201\"} 1"));
    assert!(text.contains("fieldcast_http_request_duration_seconds_count{route=\"/api/v1/orders\"} 2"));
}

#[tokio::test]
async fn order_placement_and_pairing_are_rate_limited_per_ip() {
    let config = market::Config { order_rate_per_minute: 3, pairing_rate_per_minute: 2, ..market::Config::new(PUBLIC_URL) };
    let h = Harness::with_config(config.clone()).await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "100").await;
    let code = corn["code"].as_str().unwrap();
    for i in 0..3 {
        assert_eq!(h.order(code, &format!("rate-{i:05}"), "1").await.status, StatusCode::CREATED);
    }
    let limited = h.order(code, "rate-99999", "1").await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited".into()));
    let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=20).contains(&retry_after), "{retry_after}");

    let h = Harness::with_config(config).await;
    let attempt = || {
        Request::builder().method(Method::POST).uri("/api/v1/pair").header("content-type", "application/json")
            .body(Body::from(r#"{"code":"00000000","device_name":"guess"}"#)).unwrap()
    };
    let guesser = "198.51.100.7".parse().unwrap();
    assert_eq!(h.send_from(guesser, attempt()).await.code(), "pairing_code_invalid");
    assert_eq!(h.send_from(guesser, attempt()).await.code(), "pairing_code_invalid");
    assert_eq!(h.send_from(guesser, attempt()).await.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h.send_from("198.51.100.8".parse().unwrap(), attempt()).await.code(), "pairing_code_invalid", "another address has its own budget");
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let h = Harness::new().await;
    let document = h.call(Method::GET, "/api/v1/openapi.json", None, None).await.json();
    let paths = document["paths"].as_object().unwrap();
    for path in ["/api/v1/pair", "/api/v1/listings", "/api/v1/listings/{id}/photos", "/api/v1/orders", "/api/v1/orders/{id}/status", "/api/v1/pickup-points"] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    assert!(document["components"]["securitySchemes"]["device_token"].is_object());
    assert_eq!(document, serde_json::from_str::<serde_json::Value>(&market::api::openapi_json()).unwrap());
}
