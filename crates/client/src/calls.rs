//! Everything the front end can ask of the backend, as one enum.
//!
//! Both ways the front end reaches the backend dispatch through [`Call::run`]: Tauri's IPC in the
//! app (one command, `call`) and the loopback HTTP bridge of `fieldcast-device serve-ui` that lets
//! the same front end run in a browser for tests. A new operation is one variant here and one line
//! in `ui/src/api/index.ts`; the TypeScript type of the request is generated from this enum.

use domain::ids::{DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::listing::{ListingInput, PhotoRef};
use domain::live::StreamInput;
use domain::order::OrderAction;
use serde::Deserialize;
use serde_json::Value;
use ts_rs::TS;

use crate::sync::{SyncHandle, Trigger};
use crate::{ApiError, Client, SaleInput};

/// One request from the front end: `{ "command": "add_produce", "args": { "input": … } }`.
#[derive(Debug, Clone, Deserialize, TS)]
#[serde(tag = "command", content = "args", rename_all = "snake_case")]
pub enum Call {
    ListProduce,
    AddProduce { input: ListingInput },
    EditProduce { id: ListingId, input: ListingInput },
    /// A photo from the camera or the gallery, as base64 of the file's bytes.
    AddPhoto { listing_id: ListingId, data_base64: String },
    /// A stored photo as a `data:` URL (the thumbnail unless `full`).
    Photo { sha256: String, full: bool },
    PauseProduce { id: ListingId },
    ResumeProduce { id: ListingId },
    ListOrders,
    /// One step on one order: confirm, pack, ready, deliver, decline (with a reason)…
    StepOrder { id: OrderId, action: OrderAction, reason: Option<String> },
    /// The same step on many orders (the co-op's bulk change).
    StepOrders { ids: Vec<OrderId>, action: OrderAction },
    RecordPayment { id: OrderId, amount: String },
    /// A phone or walk-up order typed in by hand; works offline within the device's quota.
    Sell { input: SaleInput },
    PreviewSale { listing_id: ListingId, quantity: String },
    PickupPoints,
    /// `offset_minutes`: the person's UTC offset, so "today" is their day.
    Today { offset_minutes: i32 },
    Earnings { offset_minutes: i32, days: u32 },
    PickList { point_id: PickupPointId, date: String, offset_minutes: i32 },
    PickListCsv { point_id: PickupPointId, date: String, offset_minutes: i32 },
    ExportOrdersCsv,
    DeviceStatus,
    /// The co-op's members (online).
    Members,
    AddFarmer { name: String },
    NewPairingCode { member_id: MemberId },
    Devices,
    RevokeDevice { device_id: DeviceId },
    Pair { server_url: String, code: String, device_name: String },
    /// A photo of the co-op's pairing QR code, as base64 of the file's bytes: the server address
    /// and code it carries, to fill in the pairing form.
    ReadPairingCode { data_base64: String },
    /// Online only.
    RenameDevice { name: String },
    /// Removes the pairing and the co-op's data from this device (refused while changes wait).
    SignOut,
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
            Call::AddPhoto { listing_id, data_base64 } => {
                let prepared = crate::photos::prepare_photo_base64(data_base64).await?;
                json(client.add_prepared_photo(listing_id, prepared)?)
            }
            Call::Photo { sha256, full } => json(client.photo_data_url(&PhotoRef { sha256 }, !full)?),
            Call::PauseProduce { id } => json(client.pause_produce(id)?),
            Call::ResumeProduce { id } => json(client.resume_produce(id)?),
            Call::ListOrders => json(client.list_orders()?),
            Call::StepOrder { id, action, reason } => json(client.step_order(id, action, reason)?),
            Call::StepOrders { ids, action } => json(client.step_orders(&ids, action)?),
            Call::RecordPayment { id, amount } => json(client.record_payment(id, &amount)?),
            Call::Sell { input } => json(client.sell(&input)?),
            Call::PreviewSale { listing_id, quantity } => json(client.preview_sale(listing_id, &quantity)?),
            Call::PickupPoints => json(client.pickup_points()?),
            Call::Today { offset_minutes } => json(client.today(offset_minutes)?),
            Call::Earnings { offset_minutes, days } => json(client.earnings(offset_minutes, days)?),
            Call::PickList { point_id, date, offset_minutes } => json(client.pick_list(point_id, &date, offset_minutes)?),
            Call::PickListCsv { point_id, date, offset_minutes } => json(client.pick_list_csv(point_id, &date, offset_minutes)?),
            Call::ExportOrdersCsv => json(client.export_orders_csv()?),
            Call::DeviceStatus => json(client.status()?),
            Call::Members => json(client.members().await?),
            Call::AddFarmer { name } => json(client.add_farmer(&name).await?),
            Call::NewPairingCode { member_id } => json(client.new_pairing_code(member_id).await?),
            Call::Devices => json(client.devices().await?),
            Call::RevokeDevice { device_id } => {
                client.revoke_device(device_id).await?;
                Value::Null
            }
            Call::RenameDevice { name } => json(client.rename_this_device(&name).await?),
            Call::Pair { server_url, code, device_name } => {
                let account = client.pair(&server_url, &code, &device_name).await?;
                sync.trigger(Trigger::SyncNow);
                json(account)
            }
            Call::ReadPairingCode { data_base64 } => json(crate::photos::read_pairing_code_base64(data_base64).await?),
            Call::SignOut => {
                client.sign_out()?;
                Value::Null
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
