//! The JSON shapes of requests and responses. Domain values are embedded as they are (they already
//! serialize with stable names); these types add what only the server knows, such as link codes,
//! versions and URLs, and leave out what a caller must not see, such as token hashes.

use domain::access::Role;
use domain::ids::{CoopId, DeviceId, ListingId, MemberId, OrderId, PickupPointId, StreamId};
use domain::listing::{Listing, ListingInput, ListingStatus};
use domain::money::{Currency, Money};
use domain::order::{Channel, Fulfilment, Order, OrderAction, OrderLine, OrderStatus, PaymentMethod};
use domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::storage::{Coop, Device, ListingRecord, Member, OrderRecord, PickupPoint};

#[derive(Debug, Serialize, ToSchema)]
pub struct ListingView {
    #[serde(flatten)]
    pub listing: Listing,
    pub farmer_id: MemberId,
    /// The short code of the order link.
    pub code: String,
    /// The buyer's order page for this listing.
    pub order_link: String,
    pub version: i64,
}

impl ListingView {
    pub fn new(record: ListingRecord, public_url: &str) -> ListingView {
        let order_link = format!("{public_url}/l/{}", record.code);
        ListingView { listing: record.listing, farmer_id: record.farmer_id, code: record.code, order_link, version: record.version }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: Order,
    pub farmer_id: MemberId,
    pub version: i64,
}

impl From<OrderRecord> for OrderView {
    fn from(record: OrderRecord) -> Self {
        OrderView { order: record.order, farmer_id: record.farmer_id, version: record.version }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberView {
    pub id: MemberId,
    pub role: Role,
    pub name: String,
    /// Farmers only: the public farm page.
    pub farm_url: Option<String>,
}

impl MemberView {
    pub fn new(member: Member, public_url: &str) -> MemberView {
        let farm_url = member.farm_slug.map(|slug| format!("{public_url}/f/{slug}"));
        MemberView { id: member.id, role: member.role, name: member.name, farm_url }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CoopView {
    pub id: CoopId,
    pub name: String,
    pub currency: Currency,
}

impl From<Coop> for CoopView {
    fn from(coop: Coop) -> Self {
        CoopView { id: coop.id, name: coop.name, currency: coop.currency }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    pub id: DeviceId,
    pub member_id: MemberId,
    pub member_name: String,
    pub name: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl DeviceView {
    pub fn new(device: Device, member: Member) -> DeviceView {
        DeviceView {
            id: device.id,
            member_id: member.id,
            member_name: member.name,
            name: device.name,
            created_at: device.created_at,
            revoked_at: device.revoked_at,
        }
    }
}

/// A one-time pairing code; shown once, also as a QR code to scan.
#[derive(Debug, Serialize, ToSchema)]
pub struct PairingView {
    pub code: String,
    pub member: MemberView,
    pub expires_at: Timestamp,
    /// The pairing code as an SVG QR code, for a phone to scan.
    pub qr_svg: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PickupPointView {
    pub id: PickupPointId,
    pub name: String,
    pub address: String,
    pub active: bool,
}

impl From<PickupPoint> for PickupPointView {
    fn from(point: PickupPoint) -> Self {
        PickupPointView { id: point.id, name: point.name, address: point.address, active: point.active }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameDeviceRequest {
    /// What to call the device in the co-op's device list (one line, at most 80 characters).
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PairRequest {
    /// The 8-digit code; spaces and dashes are ignored.
    pub code: String,
    /// What to call this device in the co-op's device list.
    pub device_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PairResponse {
    /// The device token: send it as `Authorization: Bearer <token>`. Shown only this once.
    pub token: String,
    pub device_id: DeviceId,
    /// The device's name as stored (cleaned of surrounding spaces).
    pub device_name: String,
    pub member: MemberView,
    pub coop: CoopView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub device_id: DeviceId,
    pub member: MemberView,
    pub coop: CoopView,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewMemberRequest {
    pub role: Role,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewMemberResponse {
    pub member: MemberView,
    pub pairing: PairingView,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewPickupPoint {
    pub name: String,
    pub address: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PickupPointPatch {
    pub active: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewListingRequest {
    /// Whose produce this is; staff list for their farmers, farmers for themselves (omit it).
    pub farmer_id: Option<MemberId>,
    #[serde(flatten)]
    pub input: ListingInput,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ListingQuery {
    pub farmer_id: Option<MemberId>,
    pub status: Option<ListingStatus>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StockRequest {
    /// The new stock as a decimal in the listing's unit, e.g. "48" or "12.5".
    pub stock: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusRequest {
    pub action: OrderAction,
    /// Why, when declining or cancelling; shown to the buyer.
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRequest {
    /// The amount received, as a decimal in the order's currency, e.g. "10.50".
    pub amount: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct OrderQuery {
    pub status: Option<OrderStatus>,
    pub farmer_id: Option<MemberId>,
    pub channel: Option<Channel>,
    pub pickup_point_id: Option<PickupPointId>,
    /// Orders created at or after this time (ms since the epoch).
    pub from: Option<i64>,
    /// Orders created before this time (ms since the epoch).
    pub before: Option<i64>,
    /// Part of the buyer's name or phone number.
    pub q: Option<String>,
    /// `next_cursor` from the previous page.
    pub cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<OrderView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A buyer's order. There is no price field: prices come from the listing only.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BuyerOrderRequest {
    /// The listing's link code (the `{code}` of `/l/{code}`).
    pub listing_code: String,
    /// A decimal in the listing's unit, e.g. "3" or "1.5".
    pub quantity: String,
    pub name: String,
    pub phone: String,
    /// Collect at this pickup point…
    pub pickup_point_id: Option<PickupPointId>,
    /// …or deliver to this address.
    pub delivery_address: Option<String>,
    pub payment_method: PaymentMethod,
    /// `order_link` (default) or `live`.
    pub channel: Option<Channel>,
    pub note: Option<String>,
    /// With channel `live`: the stream whose product card the order came from (its product must
    /// be one the stream shows), for the farmer's sales per stream.
    pub stream_id: Option<StreamId>,
}

/// What a buyer sees of their order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuyerOrderView {
    pub id: OrderId,
    pub status: OrderStatus,
    pub lines: Vec<OrderLine>,
    pub total: Money,
    pub paid: Money,
    pub fulfilment: Fulfilment,
    pub payment_method: PaymentMethod,
    pub created_at: Timestamp,
}

impl From<Order> for BuyerOrderView {
    fn from(order: Order) -> Self {
        BuyerOrderView {
            id: order.id,
            status: order.status,
            lines: order.lines,
            total: order.total,
            paid: order.paid,
            fulfilment: order.fulfilment,
            payment_method: order.payment_method,
            created_at: order.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BuyerOrderResponse {
    pub order: BuyerOrderView,
    /// The buyer's private status page; anyone with this link can see the order.
    pub status_url: String,
    /// True when this Idempotency-Key had already placed the order.
    pub replayed: bool,
}

/// A listing as buyers see it, for the live product card and other clients.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicListing {
    pub id: ListingId,
    pub code: String,
    pub title: String,
    pub description: String,
    pub unit: domain::quantity::Unit,
    pub price: Money,
    pub stock: domain::quantity::Quantity,
    pub rules: domain::quantity::OrderRules,
    pub status: ListingStatus,
    pub photos: Vec<String>,
    pub order_link: String,
    pub pickup_points: Vec<PickupPointView>,
}
