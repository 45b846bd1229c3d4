//! Many buyers at once, over real HTTP on loopback: the last units sell exactly once, stock never
//! goes below zero, and one Idempotency-Key sent many times at once places one order.

mod common;

use std::net::SocketAddr;

use axum::http::Method;
use common::Harness;
use serde_json::json;

/// Serves the harness's router on a loopback port; returns its base URL.
async fn serve(h: &Harness) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = market::app(h.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn order_body(h: &Harness, code: &str, buyer: usize) -> serde_json::Value {
    json!({
        "listing_code": code,
        "quantity": "1",
        "name": format!("Buyer {buyer}"),
        "phone": format!("1380013{buyer:04}"),
        "pickup_point_id": h.point,
        "payment_method": "cash_at_pickup",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_buyers_for_the_last_ten_units() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "10").await;
    let code = corn["code"].as_str().unwrap().to_owned();
    let base = serve(&h).await;
    let http = common::http_client();
    let buyers: Vec<_> = (0..50)
        .map(|buyer| {
            let request = http
                .post(format!("{base}/api/v1/orders"))
                .header("idempotency-key", format!("buyer-{buyer:04}"))
                .json(&order_body(&h, &code, buyer));
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut placed = 0;
    let mut refused = 0;
    for buyer in buyers {
        let (status, body) = buyer.await.unwrap();
        match status {
            201 => placed += 1,
            409 => {
                assert!(matches!(body["error"]["code"].as_str(), Some("sold_out" | "insufficient_stock")), "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((placed, refused), (10, 40));
    let listing = h.call(Method::GET, &format!("/api/v1/listings/{}", corn["id"].as_str().unwrap()), Some(&h.zhang.token), None).await.json();
    assert_eq!(listing["details"]["stock"], 0);
    assert_eq!(listing["status"], "sold_out");
    assert_eq!(h.order_count().await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_twenty_times_at_once_is_one_order() {
    let h = Harness::new().await;
    let corn = h.listing(&h.zhang, "Corn", "jin", "3.50", "100").await;
    let code = corn["code"].as_str().unwrap().to_owned();
    let base = serve(&h).await;
    let http = common::http_client();
    let body = order_body(&h, &code, 1);
    let taps: Vec<_> = (0..20)
        .map(|_| {
            let request = http.post(format!("{base}/api/v1/orders")).header("idempotency-key", "the-same-key-123").json(&body);
            tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<serde_json::Value>().await.unwrap())
            })
        })
        .collect();
    let mut ids = Vec::new();
    let mut created = 0;
    for tap in taps {
        let (status, body) = tap.await.unwrap();
        assert!(status == 201 || status == 200, "{status}: {body}");
        created += usize::from(status == 201);
        ids.push(body["order"]["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same order");
    assert_eq!(created, 1, "exactly one answer says it was created");
    assert_eq!(h.order_count().await, 1);
    assert_eq!(h.stock(&h.zhang, corn["id"].as_str().unwrap()).await, 99_000);
}
