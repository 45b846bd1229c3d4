//! `fieldcast-device serve-ui`: the app's front end in a browser, over this device's store.
//!
//! The app normally reaches its backend through Tauri's IPC. A browser has no IPC, so this serves
//! the built front end (`ui/dist`) and a loopback HTTP bridge to the same dispatch the Tauri shell
//! uses ([`Call::run`]): `POST /rpc` with a [`Call`] as JSON, and `GET /events` for sync progress
//! and refusals as Server-Sent Events (the events the Tauri shell emits). The browser tests run the
//! farmer's screens through it in Chromium, which has the WebRTC that Debian's WebKitGTK lacks.
//!
//! The bridge has no authentication, so it listens on loopback only.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Json;
use axum::extract::State;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use client::calls::Call;
use client::sync::SyncHandle;
use client::{ApiError, Client};
use futures_util::StreamExt;
use tokio::sync::broadcast::error::RecvError;
use tower_http::services::{ServeDir, ServeFile};

#[derive(Clone)]
struct Bridge {
    client: Arc<Client>,
    sync: Arc<SyncHandle>,
}

/// Serves `ui` and the bridge on `addr` until Ctrl-C or SIGTERM.
pub async fn serve(client: Arc<Client>, sync: SyncHandle, addr: SocketAddr, ui: PathBuf) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() {
        bail!("serve-ui listens on loopback only: the bridge has no authentication");
    }
    let index = ui.join("index.html");
    if !index.is_file() {
        bail!("{} is missing; build the front end first (npm run build in ui/)", index.display());
    }
    let bridge = Bridge { client, sync: Arc::new(sync) };
    let app = axum::Router::new()
        // A photo from the gallery travels as base64 inside the call: allow a phone's largest.
        .route("/rpc", post(rpc).layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)))
        .route("/events", get(events))
        .with_state(bridge)
        // The front end is a single page: unknown paths get the page, which routes itself.
        .fallback_service(ServeDir::new(&ui).fallback(ServeFile::new(index)));
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("binding {addr}"))?;
    // Tests read this line to learn the port when they pass port 0.
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(shutdown()).await?;
    Ok(())
}

async fn rpc(State(bridge): State<Bridge>, request: Result<Json<Call>, JsonRejection>) -> Response {
    let Json(call) = match request {
        Ok(call) => call,
        Err(rejection) => {
            let error = ApiError { code: "bad_request".into(), message: rejection.body_text(), fields: Vec::new() };
            return (StatusCode::BAD_REQUEST, Json(error)).into_response();
        }
    };
    match call.run(&bridge.client, &bridge.sync).await {
        Ok(answer) => Json(answer).into_response(),
        Err(error) => (StatusCode::UNPROCESSABLE_ENTITY, Json(error)).into_response(),
    }
}

/// `sync-progress` (the current progress first, then every change) and `sync-refused`.
async fn events(State(bridge): State<Bridge>) -> impl IntoResponse {
    let progress = futures_util::stream::unfold((bridge.sync.progress(), true), |(mut receiver, first)| async move {
        if !first {
            receiver.changed().await.ok()?;
        }
        let event = json_event("sync-progress", &*receiver.borrow_and_update());
        Some((event, (receiver, false)))
    });
    // A page that fell behind missed some refusals or arrivals; the store keeps them all.
    let refusals = broadcast_events(bridge.sync.refusals(), "sync-refused");
    let arrivals = broadcast_events(bridge.sync.arrivals(), "orders-arrived");
    let all = futures_util::stream::select(futures_util::stream::select(progress, refusals), arrivals);
    Sse::new(all.map(Ok::<_, Infallible>)).keep_alive(KeepAlive::default())
}

/// A broadcast channel as a stream of named events, skipping what a slow page missed.
fn broadcast_events<T: Clone + serde::Serialize + Send + 'static>(
    receiver: tokio::sync::broadcast::Receiver<T>,
    name: &'static str,
) -> impl futures_util::Stream<Item = Event> {
    futures_util::stream::unfold(receiver, move |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => return Some((json_event(name, &item), receiver)),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    })
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default().event(name).data(serde_json::to_string(data).unwrap_or_default())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
}
