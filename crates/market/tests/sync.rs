//! Device sync through the real router over a real SQLite file: pushes apply exactly once in order,
//! replays get stored verdicts, refusals do not block the queue, pulls are scoped and paged, and
//! bad pushes (forged client ids, another device's token, gaps, malformed or oversized batches,
//! unknown mutation names) are refused with nothing applied.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Harness, Person};
use domain::checkout::OfflineSale;
use domain::ids::{ClientId, ListingId, MutationId, OrderId};
use domain::listing::ListingInput;
use domain::mutation::Mutation;
use domain::order::{Buyer, Channel, Fulfilment, OrderAction, PaymentMethod};
use domain::quantity::Quantity;
use domain::sync::{PullResponse, PushEntry, PushRequest, PushResponse, Verdict};
use domain::time::Timestamp;
use serde_json::json;
use uuid::Uuid;

fn units(n: i64) -> Quantity {
    Quantity::whole(n).unwrap()
}

fn corn_details(stock: &str) -> domain::listing::ListingDetails {
    ListingInput { title: "Corn".into(), unit: "jin".into(), currency: "CNY".into(), price: "3.50".into(), stock: stock.into(), ..Default::default() }
        .parse()
        .unwrap()
}

fn entries(first_seq: u64, mutations: Vec<Mutation>) -> Vec<PushEntry> {
    mutations
        .into_iter()
        .enumerate()
        .map(|(i, mutation)| PushEntry { seq: first_seq + i as u64, mutation_id: MutationId(Uuid::now_v7()), mutation, created_at: Timestamp(1) })
        .collect()
}

async fn push(h: &Harness, who: &Person, client: ClientId, entries: &[PushEntry]) -> common::Reply {
    let body = serde_json::to_value(PushRequest { client_id: client, entries: entries.to_vec() }).unwrap();
    h.call(Method::POST, "/api/v1/sync/push", Some(&who.token), Some(body)).await
}

async fn pull(h: &Harness, who: &Person, client: ClientId, cursor: i64, limit: usize) -> PullResponse {
    let reply = h.call(Method::GET, &format!("/api/v1/sync/pull?client_id={client}&cursor={cursor}&limit={limit}"), Some(&who.token), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    serde_json::from_slice(&reply.bytes).unwrap()
}

fn sale(listing: ListingId, quantity: i64, point: domain::ids::PickupPointId) -> Mutation {
    Mutation::OrderRecord {
        sale: OfflineSale {
            order_id: OrderId(Uuid::now_v7()),
            listing_id: listing,
            quantity: units(quantity),
            buyer: Buyer::parse("Walk-up", "13900139000").unwrap(),
            fulfilment: Fulfilment::Pickup { point_id: point },
            payment_method: PaymentMethod::CashAtPickup,
            channel: Channel::InPerson,
            note: String::new(),
        },
    }
}

#[tokio::test]
async fn a_push_applies_in_order_once_and_a_replay_gets_the_same_answers() {
    let h = Harness::new().await;
    let client = ClientId(Uuid::now_v7());
    let corn = ListingId(Uuid::now_v7());
    let batch = entries(1, vec![
        Mutation::ListingCreate { listing_id: corn, farmer_id: None, details: corn_details("50") },
        Mutation::QuotaRequest { listing_id: corn, quantity: units(10) },
        sale(corn, 12, h.point),
        Mutation::OrderStep { order_id: OrderId(Uuid::now_v7()), action: OrderAction::Confirm, reason: None },
        Mutation::ListingStock { listing_id: corn, delta: units(8) },
    ]);
    let reply = push(&h, &h.zhang, client, &batch).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let first: PushResponse = serde_json::from_slice(&reply.bytes).unwrap();
    assert_eq!(first.last_applied_seq, 5);
    let verdicts: Vec<&Verdict> = first.results.iter().map(|r| &r.verdict).collect();
    assert_eq!(verdicts[1], &Verdict::Applied { moved: Some(units(10)), shortfall: None });
    assert_eq!(verdicts[2], &Verdict::Applied { moved: None, shortfall: Some(Quantity::ZERO) }, "10 from the quota, 2 from stock");
    assert!(matches!(verdicts[3], Verdict::Refused { code, .. } if code == "empty"), "an unknown order: refused, the queue goes on");
    assert!(matches!(verdicts[4], Verdict::Applied { .. }), "the entry after a refusal still applies");

    let stock = h.stock(&h.zhang, &corn.to_string()).await;
    assert_eq!(stock, (50 - 10 - 2 + 8) * 1000);
    let replay: PushResponse = serde_json::from_slice(&push(&h, &h.zhang, client, &batch).await.bytes).unwrap();
    assert_eq!(replay, first, "a retried push gets the stored answers");
    assert_eq!(h.stock(&h.zhang, &corn.to_string()).await, stock, "and applies nothing again");
    assert_eq!(h.order_count().await, 1);

    // A batch overlapping the applied part: the old entries replay, the new one applies.
    let mut overlap = batch[3..].to_vec();
    overlap.extend(entries(6, vec![Mutation::ListingPause { listing_id: corn }]));
    let answer: PushResponse = serde_json::from_slice(&push(&h, &h.zhang, client, &overlap).await.bytes).unwrap();
    assert_eq!(answer.results.len(), 3);
    assert_eq!(answer.last_applied_seq, 6);
}

#[tokio::test]
async fn a_gap_and_malformed_batches_apply_nothing() {
    let h = Harness::new().await;
    let client = ClientId(Uuid::now_v7());
    let corn = ListingId(Uuid::now_v7());
    let create = entries(1, vec![Mutation::ListingCreate { listing_id: corn, farmer_id: None, details: corn_details("50") }]);
    assert_eq!(push(&h, &h.zhang, client, &create).await.status, StatusCode::OK);

    let gap = entries(3, vec![Mutation::ListingPause { listing_id: corn }]);
    let reply = push(&h, &h.zhang, client, &gap).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "seq_gap".into()));
    let mut unordered = entries(2, vec![Mutation::ListingPause { listing_id: corn }, Mutation::ListingResume { listing_id: corn }]);
    unordered[1].seq = 2;
    assert_eq!(push(&h, &h.zhang, client, &unordered).await.code(), "invalid_batch");
    assert_eq!(push(&h, &h.zhang, client, &[]).await.code(), "invalid_batch");
    let too_many = entries(2, (0..501).map(|_| Mutation::ListingPause { listing_id: corn }).collect());
    assert_eq!(push(&h, &h.zhang, client, &too_many).await.code(), "invalid_batch");
    let listing = h.call(Method::GET, &format!("/api/v1/listings/{corn}"), Some(&h.zhang.token), None).await.json();
    assert_eq!(listing["status"], "active", "nothing after the create applied");

    let unknown = json!({ "client_id": client, "entries": [{ "seq": 2, "mutation_id": Uuid::now_v7(), "name": "listing.delete_everything", "args": {}, "created_at": 1 }] });
    let reply = h.call(Method::POST, "/api/v1/sync/push", Some(&h.zhang.token), Some(unknown)).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body".into()));
    let wrong_types = json!({ "client_id": client, "entries": [{ "seq": "two", "mutation_id": 1, "name": "listing.pause", "args": { "listing_id": corn }, "created_at": 1 }] });
    assert_eq!(h.call(Method::POST, "/api/v1/sync/push", Some(&h.zhang.token), Some(wrong_types)).await.code(), "invalid_body");
    let oversized = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/sync/push")
        .header("authorization", format!("Bearer {}", h.zhang.token))
        .header("content-type", "application/json")
        .body(Body::from(vec![b' '; 5 * 1024 * 1024]))
        .unwrap();
    assert_eq!(h.send(oversized).await.code(), "payload_too_large");
}

#[tokio::test]
async fn a_client_id_belongs_to_one_device_and_tokens_are_checked() {
    let h = Harness::new().await;
    let zhangs = ClientId(Uuid::now_v7());
    let corn = ListingId(Uuid::now_v7());
    let create = entries(1, vec![Mutation::ListingCreate { listing_id: corn, farmer_id: None, details: corn_details("50") }]);
    assert_eq!(push(&h, &h.zhang, zhangs, &create).await.status, StatusCode::OK);

    // Wang's device tries to push under Zhang's client id: forged.
    let forged = entries(2, vec![Mutation::ListingPause { listing_id: corn }]);
    let reply = push(&h, &h.wang, zhangs, &forged).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "client_id_mismatch".into()));
    // Zhang's device cannot switch to another client id either.
    let reply = push(&h, &h.zhang, ClientId(Uuid::now_v7()), &entries(1, vec![Mutation::ListingPause { listing_id: corn }])).await;
    assert_eq!(reply.code(), "client_id_mismatch");
    let reply = h.call(Method::GET, &format!("/api/v1/sync/pull?client_id={zhangs}"), Some(&h.wang.token), None).await;
    assert_eq!(reply.code(), "client_id_mismatch");
    // No token, a forged token.
    let body = serde_json::to_value(PushRequest { client_id: zhangs, entries: forged.clone() }).unwrap();
    assert_eq!(h.call(Method::POST, "/api/v1/sync/push", None, Some(body.clone())).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.call(Method::POST, "/api/v1/sync/push", Some("forged"), Some(body)).await.status, StatusCode::UNAUTHORIZED);
    let listing = h.call(Method::GET, &format!("/api/v1/listings/{corn}"), Some(&h.zhang.token), None).await.json();
    assert_eq!(listing["status"], "active");
}

#[tokio::test]
async fn entries_touching_another_farmers_things_are_refused_as_forbidden() {
    let h = Harness::new().await;
    let wangs = h.listing(&h.wang, "Eggs", "dozen", "18", "10").await;
    let wangs_id = ListingId::parse(wangs["id"].as_str().unwrap()).unwrap();
    let client = ClientId(Uuid::now_v7());
    let batch = entries(1, vec![
        Mutation::ListingPause { listing_id: wangs_id },
        Mutation::ListingStock { listing_id: wangs_id, delta: units(-10) },
        sale(wangs_id, 1, h.point),
        Mutation::ListingCreate { listing_id: ListingId(Uuid::now_v7()), farmer_id: Some(h.wang.member_id), details: corn_details("5") },
    ]);
    let answer: PushResponse = serde_json::from_slice(&push(&h, &h.zhang, client, &batch).await.bytes).unwrap();
    for result in &answer.results {
        assert!(matches!(&result.verdict, Verdict::Refused { code, .. } if code == "forbidden"), "{result:?}");
    }
    let eggs = h.call(Method::GET, &format!("/api/v1/listings/{wangs_id}"), Some(&h.wang.token), None).await.json();
    assert_eq!((eggs["status"].clone(), eggs["details"]["stock"].clone()), (json!("active"), json!(10_000)));
    // Staff may do it for the farmer.
    let staff_client = ClientId(Uuid::now_v7());
    let answer: PushResponse =
        serde_json::from_slice(&push(&h, &h.staff, staff_client, &entries(1, vec![Mutation::ListingPause { listing_id: wangs_id }])).await.bytes).unwrap();
    assert!(matches!(answer.results[0].verdict, Verdict::Applied { .. }));
}

#[tokio::test]
async fn pulls_are_scoped_paged_and_carry_the_last_applied_seq() {
    let h = Harness::new().await;
    for i in 0..5 {
        h.listing(&h.zhang, &format!("Zhang {i}"), "jin", "3.50", "50").await;
    }
    let wangs = h.listing(&h.wang, "Wang's eggs", "dozen", "18", "10").await;
    h.order(wangs["code"].as_str().unwrap(), "wang-order-01", "1").await;
    let client = ClientId(Uuid::now_v7());
    let create = entries(1, vec![Mutation::ListingCreate { listing_id: ListingId(Uuid::now_v7()), farmer_id: None, details: corn_details("5") }]);
    push(&h, &h.zhang, client, &create).await;

    let mut cursor = 0;
    let mut titles = Vec::new();
    let mut pages = 0;
    loop {
        let page = pull(&h, &h.zhang, client, cursor, 2).await;
        assert!(page.listings.len() + page.orders.len() + page.quotas.len() <= 2);
        assert_eq!(page.last_applied_seq, 1);
        assert_eq!(page.pickup_points.len(), 1);
        titles.extend(page.listings.iter().map(|l| l.listing.details.title.clone()));
        assert!(page.orders.is_empty(), "Zhang sees none of Wang's orders");
        assert!(page.cursor >= cursor);
        cursor = page.cursor;
        pages += 1;
        if !page.more {
            break;
        }
    }
    assert_eq!(titles.len(), 6, "five made through the API, one pushed: {titles:?}");
    assert!(!titles.iter().any(|t| t.contains("Wang")));
    assert!(pages >= 3);
    let again = pull(&h, &h.zhang, client, cursor, 100).await;
    assert!(again.listings.is_empty() && !again.more, "nothing new after the last cursor");

    // Staff see the co-op: Wang's listing and its order.
    let staff = pull(&h, &h.staff, ClientId(Uuid::now_v7()), 0, 1000).await;
    assert_eq!(staff.listings.len(), 7);
    assert_eq!(staff.orders.len(), 1);
    let cross = pull(&h, &h.stranger, ClientId(Uuid::now_v7()), 0, 1000).await;
    assert!(cross.listings.is_empty() && cross.orders.is_empty(), "another co-op sees nothing");
}

/// A JPEG processed the way devices process photos, and its name.
fn device_photo(seed: u8) -> (String, Vec<u8>) {
    let image = image::RgbImage::from_fn(1600, 1200, |x, y| image::Rgb([(x % 200) as u8, (y % 200) as u8, seed]));
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).unwrap();
    let processed = photo::process(&png.into_inner()).unwrap();
    (processed.sha256, processed.full)
}

async fn put_photo(h: &Harness, token: Option<&str>, name: &str, content_type: &str, bytes: Vec<u8>) -> common::Reply {
    let mut request = Request::builder().method(Method::PUT).uri(format!("/api/v1/photos/{name}")).header("content-type", content_type);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    h.send(request.body(Body::from(bytes)).unwrap()).await
}

#[tokio::test]
async fn photos_travel_by_hash_and_a_change_naming_a_missing_photo_waits() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "50").await;
    let corn_id = ListingId::parse(corn["id"].as_str().unwrap()).unwrap();
    let (sha, jpeg) = device_photo(7);
    let client = ClientId(Uuid::now_v7());
    let change = entries(1, vec![Mutation::ListingPhoto { listing_id: corn_id, photo: domain::listing::PhotoRef { sha256: sha.clone() } }]);

    // Pushed before its photo: the batch waits (409) and nothing is applied.
    let early = push(&h, &h.zhang, client, &change).await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "photo_missing".to_owned()));

    // Bad uploads change nothing.
    assert_eq!(put_photo(&h, None, &sha, "image/jpeg", jpeg.clone()).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(put_photo(&h, Some(&h.zhang.token), &sha, "image/png", jpeg.clone()).await.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (other_sha, other) = device_photo(9);
    assert_eq!(put_photo(&h, Some(&h.zhang.token), &sha, "image/jpeg", other.clone()).await.code(), "hash_mismatch");
    assert_eq!(put_photo(&h, Some(&h.zhang.token), "..%2Fmarket.db", "image/jpeg", jpeg.clone()).await.status, StatusCode::NOT_FOUND);
    let raw = b"\xFF\xD8\xFF\xE0 not really a jpeg".to_vec();
    let raw_sha: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&raw).iter().map(|b| format!("{b:02x}")).collect()
    };
    assert_eq!(put_photo(&h, Some(&h.zhang.token), &raw_sha, "image/jpeg", raw).await.code(), "invalid_image");
    assert_eq!(h.call(Method::GET, &format!("/photos/{other_sha}.jpg"), None, None).await.status, StatusCode::NOT_FOUND);

    // Uploaded (twice: a retry is harmless), then the same push applies.
    for _ in 0..2 {
        let stored = put_photo(&h, Some(&h.zhang.token), &sha, "image/jpeg", jpeg.clone()).await;
        assert_eq!(stored.status, StatusCode::NO_CONTENT, "{}", stored.text());
    }
    let answer: PushResponse = serde_json::from_slice(&push(&h, &h.zhang, client, &change).await.bytes).unwrap();
    assert!(matches!(answer.results[0].verdict, Verdict::Applied { .. }), "{:?}", answer.results[0]);
    let listing = h.call(Method::GET, &format!("/api/v1/listings/{corn_id}"), Some(&h.zhang.token), None).await.json();
    assert_eq!(listing["photos"].as_array().unwrap().len(), 1, "{listing}");
    let served = h.call(Method::GET, &format!("/photos/{sha}.jpg"), None, None).await;
    assert_eq!(served.bytes, jpeg, "stored as sent, so the name stays true");
    let thumb = h.call(Method::GET, &format!("/photos/{sha}-thumb.jpg"), None, None).await;
    assert_eq!(image::load_from_memory(&thumb.bytes).unwrap().width(), 320);

    // A malformed name in a change is refused for good (it could never be uploaded).
    let bad = entries(2, vec![Mutation::ListingPhoto { listing_id: corn_id, photo: domain::listing::PhotoRef { sha256: "../../etc/passwd".into() } }]);
    let answer: PushResponse = serde_json::from_slice(&push(&h, &h.zhang, client, &bad).await.bytes).unwrap();
    assert!(matches!(&answer.results[0].verdict, Verdict::Refused { code, .. } if code == "invalid_photo"), "{:?}", answer.results[0]);
}
