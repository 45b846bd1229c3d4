//! Everything the front end can ask of the backend, as one enum.
//!
//! Both ways the front end reaches the backend dispatch through [`Call::run`]: Tauri's IPC in the
//! app (one command, `call`) and the loopback HTTP bridge of `fieldcast-device serve-ui` that lets
//! the same front end run in a browser for tests. A new operation is one variant here and one line
//! in `ui/src/api/index.ts`; the TypeScript type of the request is generated from this enum.

use domain::ids::{ListingId, StreamId};
use domain::listing::ListingInput;
use domain::live::StreamInput;
use serde::Deserialize;
use serde_json::Value;
use ts_rs::TS;

use crate::sync::{SyncHandle, Trigger};
use crate::{ApiError, Client};

/// One request from the front end: `{ "command": "add_produce", "args": { "input": … } }`.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "command", content = "args", rename_all = "snake_case")]
pub enum Call {
    ListProduce,
    AddProduce { input: ListingInput },
    EditProduce { id: ListingId, input: ListingInput },
    PauseProduce { id: ListingId },
    ResumeProduce { id: ListingId },
    ListOrders,
    DeviceStatus,
    Pair { server_url: String, code: String, device_name: String },
    SyncNow,
    SyncProgress,
    /// The webview's `online`/`offline` events: the operating system's word on the network.
    NetworkChanged { online: bool },
    GoLive { input: StreamInput },
    FeatureProduct { stream_id: StreamId, listing_id: ListingId },
    EndStream { stream_id: StreamId },
}

impl Call {
    /// Carries the request out; the answer is the operation's result as JSON (its TypeScript type
    /// is named beside each call in `ui/src/api/index.ts`).
    pub async fn run(self, client: &Client, sync: &SyncHandle) -> Result<Value, ApiError> {
        Ok(match self {
            Call::ListProduce => json(client.list_produce()?),
            Call::AddProduce { input } => json(client.add_produce(&input)?),
            Call::EditProduce { id, input } => json(client.edit_produce(id, &input)?),
            Call::PauseProduce { id } => json(client.pause_produce(id)?),
            Call::ResumeProduce { id } => json(client.resume_produce(id)?),
            Call::ListOrders => json(client.list_orders()?),
            Call::DeviceStatus => json(client.status()?),
            Call::Pair { server_url, code, device_name } => {
                let account = client.pair(&server_url, &code, &device_name).await?;
                sync.trigger(Trigger::SyncNow);
                json(account)
            }
            Call::SyncNow => {
                sync.trigger(Trigger::SyncNow);
                Value::Null
            }
            Call::SyncProgress => json(sync.progress().borrow().clone()),
            Call::NetworkChanged { online } => {
                sync.trigger(if online { Trigger::NetworkUp } else { Trigger::NetworkDown });
                Value::Null
            }
            Call::GoLive { input } => json(client.go_live(&input).await?),
            Call::FeatureProduct { stream_id, listing_id } => json(client.feature(stream_id, listing_id).await?),
            Call::EndStream { stream_id } => json(client.end_stream(stream_id).await?),
        })
    }
}

fn json(value: impl serde::Serialize) -> Value {
    // Every answer is one of our own plain types; failing to serialize one would be a bug.
    serde_json::to_value(value).expect("answers serialize to JSON")
}
