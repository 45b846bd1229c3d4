//! Going live: plan a stream, feature a product, end it.
//!
//! These go straight to the marketplace instead of through the outbox: a stream only exists while
//! the farmer is online, and a "feature the eggs" that arrives an hour late would be wrong, not
//! late. The video itself does not pass through here: the webview publishes its camera to
//! [`LiveStream::whip_url`] with [`LiveStream::publish_token`], because the webview owns the
//! `RTCPeerConnection`.

use domain::ids::{ListingId, StreamId};
use domain::live::{LiveStatus, StreamInput};
use serde::{Deserialize, Serialize};
use serde_json::json;
use ts_rs::TS;

use crate::{Client, ClientError};

/// A stream as its farmer's app sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct LiveStream {
    pub id: StreamId,
    pub title: String,
    pub status: LiveStatus,
    pub listing_ids: Vec<ListingId>,
    pub featured: ListingId,
    #[ts(type = "number")]
    pub viewers: u64,
    #[ts(type = "number")]
    pub orders: u64,
    /// The buyers' page, to share.
    pub watch_url: String,
    /// Where the camera publishes (WHIP).
    pub whip_url: String,
    /// The stream's live events (viewers, orders, stock), as Server-Sent Events.
    pub events_url: String,
    /// The camera's WHIP token; only in the answer that created the stream.
    #[serde(default)]
    pub publish_token: Option<String>,
}

impl Client {
    /// Plans a stream on the marketplace; the answer carries the publish token, once.
    pub async fn go_live(&self, input: &StreamInput) -> Result<LiveStream, ClientError> {
        // The same checks the server makes, so a bad form never needs the network to be told so.
        input.validate()?;
        self.live_post("/streams", &serde_json::to_value(input).expect("stream input serializes")).await
    }

    /// Puts `listing` on every buyer's card.
    pub async fn feature(&self, stream: StreamId, listing: ListingId) -> Result<LiveStream, ClientError> {
        self.live_post(&format!("/streams/{stream}/featured"), &json!({ "listing_id": listing })).await
    }

    /// Ends the stream for good; the marketplace disconnects the camera and every viewer.
    pub async fn end_stream(&self, stream: StreamId) -> Result<LiveStream, ClientError> {
        self.live_post(&format!("/streams/{stream}/end"), &json!({})).await
    }

    async fn live_post(&self, path: &str, body: &serde_json::Value) -> Result<LiveStream, ClientError> {
        let (remote, token) = self.online()?;
        Ok(remote.post_json(&token, path, body).await?)
    }
}
