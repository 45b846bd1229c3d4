//! The marketplace over HTTP: pairing, push and pull. This is the only place the client talks to the
//! network; the sync driver decides when.
//!
//! Pushes are gzipped (a day of changes shrinks several times, which matters at 256 kbit/s);
//! responses come gzip- or zstd-compressed when the server offers it. Every request has a timeout.

use std::io::Write;
use std::time::Duration;

use domain::ids::ClientId;
use domain::sync::{PullResponse, PushRequest, PushResponse};
use serde::Deserialize;

/// Why a request to the marketplace failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// No answer: no network, a cut connection, a timeout, a proxy error.
    #[error("network: {0}")]
    Network(String),
    /// The device token was refused (unknown or revoked).
    #[error("the device token was refused")]
    Unauthorized,
    /// The server answered with an error.
    #[error("{status}: {code}: {message}")]
    Server { status: u16, code: String, message: String },
}

impl RemoteError {
    /// Whether trying again later may work.
    pub fn is_transient(&self) -> bool {
        match self {
            RemoteError::Network(_) => true,
            RemoteError::Unauthorized => false,
            RemoteError::Server { status, code, .. } => *status >= 500 || *status == 429 || code == "seq_gap",
        }
    }
}

impl From<reqwest::Error> for RemoteError {
    fn from(error: reqwest::Error) -> Self {
        RemoteError::Network(error.to_string())
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

/// What `POST /api/v1/pair` answers.
#[derive(Debug, Clone, Deserialize)]
pub struct Paired {
    pub token: String,
    pub device_id: domain::ids::DeviceId,
    pub device_name: String,
    pub member: PairedMember,
    pub coop: PairedCoop,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PairedMember {
    pub id: domain::ids::MemberId,
    pub role: domain::access::Role,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PairedCoop {
    pub id: domain::ids::CoopId,
    pub name: String,
    pub currency: domain::money::Currency,
}

/// A marketplace at `base` (e.g. `https://market.example.org`).
#[derive(Clone)]
pub struct Remote {
    http: reqwest::Client,
    base: String,
}

impl Remote {
    pub fn new(base: &str, timeout: Duration) -> Result<Remote, RemoteError> {
        install_crypto();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(timeout))
            .timeout(timeout)
            .user_agent(concat!("fieldcast-device/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Remote { http, base: base.trim_end_matches('/').to_owned() })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn pair(&self, code: &str, device_name: &str) -> Result<Paired, RemoteError> {
        let response = self
            .http
            .post(format!("{}/api/v1/pair", self.base))
            .json(&serde_json::json!({ "code": code, "device_name": device_name }))
            .send()
            .await?;
        answer(response).await
    }

    pub async fn push(&self, token: &str, request: &PushRequest) -> Result<PushResponse, RemoteError> {
        let json = serde_json::to_vec(request).expect("push requests serialize");
        let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(json.len() / 4), flate2::Compression::default());
        encoder.write_all(&json).map_err(|e| RemoteError::Network(e.to_string()))?;
        let body = encoder.finish().map_err(|e| RemoteError::Network(e.to_string()))?;
        let response = self
            .http
            .post(format!("{}/api/v1/sync/push", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("content-encoding", "gzip")
            .body(body)
            .send()
            .await?;
        answer(response).await
    }

    /// `GET {path}` under `/api/v1` with the device token (the co-op's online-only lists).
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str) -> Result<T, RemoteError> {
        let response = self.http.get(format!("{}/api/v1{path}", self.base)).bearer_auth(token).send().await?;
        answer(response).await
    }

    /// `DELETE {path}` under `/api/v1` with the device token.
    pub async fn delete(&self, token: &str, path: &str) -> Result<(), RemoteError> {
        let response = self.http.delete(format!("{}/api/v1{path}", self.base)).bearer_auth(token).send().await?;
        if response.status().is_success() {
            return Ok(());
        }
        answer::<serde_json::Value>(response).await.map(|_| ())
    }

    /// `PUT /api/v1/photos/{sha256}`: a processed photo, before the change that names it.
    pub async fn put_photo(&self, token: &str, sha256: &str, jpeg: Vec<u8>) -> Result<(), RemoteError> {
        let response = self
            .http
            .put(format!("{}/api/v1/photos/{sha256}", self.base))
            .bearer_auth(token)
            .header("content-type", "image/jpeg")
            .body(jpeg)
            .send()
            .await?;
        if response.status().is_success() {
            return Ok(());
        }
        answer::<serde_json::Value>(response).await.map(|_| ())
    }

    /// `POST {path}` under `/api/v1` with the device token and a JSON body, for the online-only
    /// operations (going live) that do not travel through the outbox.
    pub async fn post_json<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str, body: &serde_json::Value) -> Result<T, RemoteError> {
        let response = self.http.post(format!("{}/api/v1{path}", self.base)).bearer_auth(token).json(body).send().await?;
        answer(response).await
    }

    /// `PATCH {path}` under `/api/v1` with the device token and a JSON body (renaming a device).
    pub async fn patch_json<T: serde::de::DeserializeOwned>(&self, token: &str, path: &str, body: &serde_json::Value) -> Result<T, RemoteError> {
        let response = self.http.patch(format!("{}/api/v1{path}", self.base)).bearer_auth(token).json(body).send().await?;
        answer(response).await
    }

    pub async fn pull(&self, token: &str, client_id: ClientId, cursor: i64, limit: usize) -> Result<PullResponse, RemoteError> {
        // Every value is a UUID or a number, so the query needs no escaping.
        let url = format!("{}/api/v1/sync/pull?client_id={client_id}&cursor={cursor}&limit={limit}", self.base);
        let response = self.http.get(url).bearer_auth(token).send().await?;
        answer(response).await
    }
}

async fn answer<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, RemoteError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response.json().await?);
    }
    if status == reqwest::StatusCode::UNAUTHORIZED {
        return Err(RemoteError::Unauthorized);
    }
    let (code, message) = match response.json::<ErrorBody>().await {
        Ok(body) => (body.error.code, body.error.message),
        Err(_) => ("unknown".to_owned(), status.to_string()),
    };
    Err(RemoteError::Server { status: status.as_u16(), code, message })
}

/// rustls needs one process-wide crypto provider; `ring` builds for every platform the app targets.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
