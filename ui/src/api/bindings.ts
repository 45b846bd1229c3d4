// Generated from the Rust types by `cargo xtask codegen`. Do not edit by hand.
// Money is integer minor units; quantities are integer thousandths of a unit.

/**
 * Milliseconds since the Unix epoch, UTC.
 */
export type Timestamp = number;

/**
 * A produce listing.
 */
export type ListingId = string;

/**
 * A buyer's or a farmer's order.
 */
export type OrderId = string;

/**
 * A pickup point where buyers collect orders.
 */
export type PickupPointId = string;

/**
 * The currencies Fieldcast prices in.
 */
export type Currency = "CNY" | "EUR" | "USD";

/**
 * An amount of money: minor units (fen, cents) and their currency.
 */
export type Money = { 
/**
 * The amount in the currency's minor unit. Bounded by the domain's limits to well under 2^53,
 * so it is exact as a JavaScript number.
 */
minor: number, currency: Currency, };

/**
 * A unit a listing is sold by.
 */
export type Unit = "kg" | "g" | "jin" | "piece" | "bunch" | "box" | "dozen" | "litre";

/**
 * An exact quantity in thousandths of some unit (which unit is the listing's or the line's).
 */
export type Quantity = number;

/**
 * How much of a listing one order may take: multiples of `step`, at least `minimum`, at most
 * `maximum` when there is one.
 */
export type OrderRules = { step: Quantity, minimum: Quantity, maximum: Quantity | null, };

/**
 * The produce form as a person filled it in: every number is still text.
 */
export type ListingInput = { title: string, description: string, 
/**
 * A [`Unit`] code; kept as text so that an unknown unit is a field error, not a decoding failure.
 */
unit: Unit, 
/**
 * A [`Currency`] code, kept as text for the same reason.
 */
currency: Currency, 
/**
 * Price per unit as a decimal, e.g. "3.50".
 */
price: string, stock: string, 
/**
 * The order step; empty means one unit.
 */
step: string, 
/**
 * The smallest order; empty means one step.
 */
minimum: string, 
/**
 * The largest order; empty means no limit.
 */
maximum: string, };

/**
 * The validated content of a listing.
 */
export type ListingDetails = { title: string, description: string, unit: Unit, 
/**
 * Price per one `unit`.
 */
price: Money, 
/**
 * What is left to sell, in thousandths of `unit`.
 */
stock: Quantity, rules: OrderRules, };

/**
 * Where a listing stands for buyers.
 */
export type ListingStatus = "draft" | "active" | "paused" | "sold_out";

/**
 * A reference to a listing photo by its content hash; the photo pipeline fills these in.
 */
export type PhotoRef = { 
/**
 * Hex SHA-256 of the encoded JPEG.
 */
sha256: string, };

/**
 * A listing of produce for sale.
 */
export type Listing = { id: ListingId, details: ListingDetails, photos: Array<PhotoRef>, status: ListingStatus, created_at: Timestamp, updated_at: Timestamp, };

/**
 * Where an order stands.
 */
export type OrderStatus = "placed" | "confirmed" | "packed" | "shipped" | "ready_for_pickup" | "delivered" | "cancelled" | "declined";

/**
 * How the buyer pays.
 */
export type PaymentMethod = "cash_on_delivery" | "cash_at_pickup" | "bank_transfer";

/**
 * Where the order came from.
 */
export type Channel = "live" | "order_link" | "phone" | "in_person";

/**
 * How the goods reach the buyer.
 */
export type Fulfilment = { "kind": "pickup", point_id: PickupPointId, } | { "kind": "delivery", address: string, };

/**
 * Who to hand the order to and how to reach them.
 */
export type Buyer = { name: string, 
/**
 * Digits with an optional leading `+`, as typed minus spaces and dashes.
 */
phone: string, };

/**
 * One product in an order, with the price it had when ordered.
 */
export type OrderLine = { listing_id: ListingId, title: string, unit: Unit, quantity: Quantity, unit_price: Money, total: Money, };

/**
 * An order.
 */
export type Order = { id: OrderId, lines: Array<OrderLine>, total: Money, buyer: Buyer, fulfilment: Fulfilment, payment_method: PaymentMethod, channel: Channel, status: OrderStatus, 
/**
 * What has been paid so far.
 */
paid: Money, 
/**
 * A note from the buyer, or the reason given when the order was declined.
 */
note: string, 
/**
 * How much of an offline sale neither the device's quota nor the stock covered when it reached
 * the marketplace. Non-zero means the co-op must look at it; the order is kept, never lost.
 */
shortfall: Quantity, created_at: Timestamp, updated_at: Timestamp, 
/**
 * The live stream the buyer ordered from, for sales per stream; `None` for every other order.
 */
stream: StreamRef | null, };

/**
 * A step someone takes on an order.
 */
export type OrderAction = "confirm" | "pack" | "ship" | "mark_ready" | "deliver" | "cancel" | "decline";

/**
 * The input field a refusal is about, so that a form can show the message next to it.
 */
export type Field = "title" | "description" | "unit" | "currency" | "price" | "stock" | "step" | "minimum" | "maximum" | "quantity" | "buyer_name" | "buyer_phone" | "address" | "lines" | "payment_method" | "note" | "status" | "photos" | "name" | "phone" | "pickup_point" | "code" | "farmer" | "channel" | "idempotency_key" | "listings" | "featured" | "date" | "range";

/**
 * One field's problem, as the front end sees it.
 */
export type FieldProblem = { field: Field, 
/**
 * A domain error code such as `too_long` or `not_step_multiple`.
 */
code: string, message: string, 
/**
 * The limit the code refers to, e.g. 120 for "at most 120 characters".
 */
limit: number | null, };

/**
 * An error as the front end receives it.
 */
export type ApiError = { 
/**
 * `invalid`, `not_found`, `storage`, `not_paired`, `pairing_code_invalid`, `offline`, or the
 * marketplace's own code when it refused an online operation (e.g. `stream_ended`).
 */
code: string, message: string, fields: Array<FieldProblem>, };

/**
 * A member's role in their co-op.
 */
export type Role = "admin" | "staff" | "farmer";

/**
 * The pairing, without its secret.
 */
export type AccountInfo = { server_url: string, 
/**
 * What this device is called in the co-op's device list.
 */
device_name: string, member_name: string, role: Role, coop_name: string, currency: Currency, };

/**
 * How this device's local data stands, for the status line of the app.
 */
export type DeviceStatus = { 
/**
 * Local changes not yet acknowledged by the marketplace.
 */
pending_changes: number, 
/**
 * The end of the last complete sync.
 */
last_synced_at: Timestamp | null, 
/**
 * Who this device is paired as, if it is.
 */
account: AccountInfo | null, };

/**
 * A listing as the app shows it.
 */
export type Produce = { listing: Listing, 
/**
 * The buyers' order link, once the marketplace has the listing.
 */
order_link: string | null, 
/**
 * What this device may still sell offline.
 */
quota: Quantity, 
/**
 * Changes to it are waiting to be synced.
 */
pending: boolean, };

/**
 * An order as the app shows it.
 */
export type OrderItem = { order: Order, pending: boolean, 
/**
 * Whose produce it is, once the marketplace has said (an order made on this device learns it
 * when it syncs): what the co-op console filters and groups by.
 */
farmer_id: MemberId | null, };

/**
 * A sale taken by the farmer or the co-op (phone, walk-up), as typed.
 */
export type SaleInput = { listing_id: ListingId, 
/**
 * A decimal in the listing's unit.
 */
quantity: string, buyer_name: string, buyer_phone: string, 
/**
 * Collect at this pickup point, or deliver to `address`.
 */
pickup_point_id: PickupPointId | null, address: string | null, payment_method: PaymentMethod, 
/**
 * `phone` or `in_person`.
 */
channel: Channel, note: string, };

/**
 * How a sale of some quantity would be covered, for the warning before an uncovered one.
 */
export type SalePreview = { from_quota: Quantity, from_stock: Quantity, 
/**
 * What neither covers as far as this device knows; above zero, the app warns before selling.
 */
shortfall: Quantity, };

/**
 * A co-op's pickup point, for recording phone orders on the device.
 */
export type PickupPointInfo = { id: PickupPointId, name: string, address: string, active: boolean, };

/**
 * A change the marketplace refused, for the person.
 */
export type RefusalView = { seq: number, name: string, code: string, field: Field | null, message: string, at: Timestamp, };

export type Phase = "idle" | "pushing" | "pulling" | "backoff" | "offline" | "unauthorized";

/**
 * Where sync stands, for the status line ("3 of 120 changes sent", "offline: 12 waiting").
 */
export type Progress = { phase: Phase, 
/**
 * Changes waiting in the outbox.
 */
pending: number, 
/**
 * Of the changes this round has had to send, how many are sent.
 */
sent: number, round_total: number, 
/**
 * The end of the last complete sync (everything pushed, everything pulled).
 */
last_synced_at: Timestamp | null, 
/**
 * Failures in a row; zero after a success.
 */
failures: number, 
/**
 * When the next attempt is due, while waiting after a failure.
 */
retry_at: Timestamp | null, };

/**
 * A mutation the server refused, for the person who made it.
 */
export type Refusal = { seq: number, 
/**
 * The mutation's name, e.g. `order.step`.
 */
name: string, code: string, field: Field | null, message: string, };

/**
 * A live stream: a farmer selling on camera.
 */
export type StreamId = string;

/**
 * A stream as the farmer plans it.
 */
export type StreamInput = { title: string, 
/**
 * The products to show, in the order to show them.
 */
listing_ids: Array<ListingId>, 
/**
 * The product on the card when the stream starts; the first one if absent.
 */
featured?: ListingId, };

/**
 * What a buyer sees: the stored status joined with the camera's.
 */
export type LiveStatus = "waiting" | "live" | "interrupted" | "ended";

/**
 * A stream as its farmer's app sees it.
 */
export type LiveStream = { id: StreamId, title: string, status: LiveStatus, listing_ids: Array<ListingId>, featured: ListingId, viewers: number, orders: number, 
/**
 * The buyers' page, to share.
 */
watch_url: string, 
/**
 * Where the camera publishes (WHIP).
 */
whip_url: string, 
/**
 * The stream's live events (viewers, orders, stock), as Server-Sent Events.
 */
events_url: string, 
/**
 * The camera's WHIP token; only in the answer that created the stream.
 */
publish_token: string | null, };

/**
 * The product on a buyer's card, with its texts in the viewer's language (the server words them;
 * pages and the app show them as they are).
 */
export type ProductCard = { listing_id: ListingId, title: string, photo_url: string | null, unit: Unit, price: Money, 
/**
 * The stock left as a decimal in the unit, e.g. "12.5".
 */
stock: string, on_sale: boolean, 
/**
 * "¥3.50 / jin", in the requested language.
 */
price_text: string, 
/**
 * "120 jin left" or "Sold out", in the requested language.
 */
stock_text: string, 
/**
 * The order sheet for this product, opened from the live page.
 */
order_url: string, };

/**
 * Everything about a stream at once: the first event of every connection to its live events.
 */
export type LiveSnapshot = { stream_id: StreamId, title: string, farmer_name: string, status: LiveStatus, featured: ProductCard | null, viewers: number, orders: number, };

/**
 * The featured product's stock moved (an order landed, or the farmer changed it).
 */
export type StockChange = { listing_id: ListingId, 
/**
 * As in [`ProductCard::stock`].
 */
stock: string, stock_text: string, on_sale: boolean, };

/**
 * One of a stream's live events. On the wire (Server-Sent Events) `event` is the event's name and
 * `data` its JSON, so the buyer's page, the farmer's screen and the server share one definition.
 */
export type LiveEvent = { "event": "state", "data": LiveSnapshot } | { "event": "status", "data": { status: LiveStatus, } } | { "event": "featured", "data": { featured: ProductCard | null, } } | { "event": "stock", "data": StockChange } | { "event": "viewers", "data": { count: number, } } | { "event": "orders", "data": { count: number, } } | { "event": "heartbeat" };

/**
 * Where a group of packed goods goes.
 */
export type Destination = { "kind": "pickup", point_id: PickupPointId, } | { "kind": "delivery" };

export type PackItem = { title: string, unit: Unit, quantity: Quantity, };

/**
 * The goods for one destination, summed per product.
 */
export type PackGroup = { destination: Destination, orders: number, items: Array<PackItem>, };

/**
 * What the farmer's Today screen shows.
 */
export type Today = { 
/**
 * The calendar day it is for.
 */
date: string, 
/**
 * Orders placed and not yet confirmed or declined: each one waits for the farmer.
 */
waiting: number, 
/**
 * Orders placed today (any status).
 */
placed_today: number, 
/**
 * Confirmed orders still to pack, grouped by where they go.
 */
to_pack: Array<PackGroup>, 
/**
 * What buyers still owe on orders that are not cancelled or declined, in the co-op currency.
 */
money_due: Money, 
/**
 * Sales today (orders placed today that still stand), in the co-op currency.
 */
sales_today: Money, };

/**
 * One bar of a chart.
 */
export type Bucket = { 
/**
 * A stable key: the date, the listing id or the channel code.
 */
key: string, 
/**
 * What to show: the date, the product's title or the channel code.
 */
label: string, amount: Money, orders: number, };

/**
 * Sales by day, by product and by channel, for the earnings charts.
 */
export type Earnings = { total: Money, 
/**
 * What buyers have paid of `total`.
 */
paid: Money, orders: number, 
/**
 * One bucket per calendar day, oldest first, including days without sales.
 */
by_day: Array<Bucket>, 
/**
 * Largest first.
 */
by_product: Array<Bucket>, 
/**
 * Largest first; keys are channel codes (`live`, `order_link`, `phone`, `in_person`).
 */
by_channel: Array<Bucket>, 
/**
 * Largest first; keys are farmers' member ids, or [`UNKNOWN_FARMER`] for orders whose farmer
 * the device does not know yet. The labels are the keys: names live with the marketplace.
 */
by_farmer: Array<Bucket>, 
/**
 * Largest first; keys are stream ids, labels the streams' titles. Only orders placed from
 * a live stream count here.
 */
by_stream: Array<Bucket>, 
/**
 * Orders in another currency than the co-op's, left out of every figure.
 */
skipped_other_currency: number, };

/**
 * One line of a pick list: one product of one order to hand to one buyer.
 */
export type PickRow = { order_id: OrderId, buyer: Buyer, title: string, unit: Unit, quantity: Quantity, status: OrderStatus, 
/**
 * What the buyer still owes on the whole order (cash at pickup is collected here).
 */
to_collect: Money, };

/**
 * A pick list for a pickup point and day, with its CSV for spreadsheets.
 */
export type PickList = { point_id: PickupPointId, point_name: string, date: string, rows: Array<PickRow>, };

export type BulkRefusal = { order_id: OrderId, 
/**
 * The error code, as for a single change.
 */
code: string, };

/**
 * The result of a bulk status change: each order is changed on its own, so one that cannot take
 * the step (already delivered, say) does not stop the others.
 */
export type BulkOutcome = { changed: Array<OrderId>, refused: Array<BulkRefusal>, };

/**
 * A person in a co-op: an admin, a staff member or a farmer.
 */
export type MemberId = string;

/**
 * A paired phone or laptop; each holds its own token.
 */
export type DeviceId = string;

/**
 * A member of the co-op.
 */
export type MemberInfo = { id: MemberId, role: Role, name: string, 
/**
 * Farmers only: the public farm page.
 */
farm_url: string | null, };

/**
 * A one-time pairing code for a member's new device.
 */
export type PairingInfo = { 
/**
 * Eight digits.
 */
code: string, member: MemberInfo, expires_at: Timestamp, 
/**
 * The code as an SVG QR code, for the farmer's phone to scan.
 */
qr_svg: string, };

export type NewFarmer = { member: MemberInfo, pairing: PairingInfo, };

/**
 * A paired device.
 */
export type DeviceInfo = { id: DeviceId, member_id: MemberId, member_name: string, name: string, created_at: Timestamp, revoked_at: Timestamp | null, };

/**
 * A buyer's order that reached this device with a pull: for the "new order" notification.
 */
export type OrderArrival = { order_id: OrderId, buyer_name: string, total: Money, channel: Channel, };

/**
 * What a pairing QR code says.
 */
export type PairingLink = { 
/**
 * The marketplace's address, `http://` or `https://`.
 */
server_url: string, 
/**
 * The one-time code, digits only.
 */
code: string, };

/**
 * A live stream as an order remembers it: its title as it was when the buyer ordered.
 */
export type StreamRef = { id: StreamId, title: string, };

/**
 * One request from the front end: `{ "command": "add_produce", "args": { "input": … } }`.
 */
export type Call = { "command": "list_produce" } | { "command": "add_produce", "args": { input: ListingInput, } } | { "command": "edit_produce", "args": { id: ListingId, input: ListingInput, } } | { "command": "add_photo", "args": { listing_id: ListingId, data_base64: string, } } | { "command": "photo", "args": { sha256: string, full: boolean, } } | { "command": "pause_produce", "args": { id: ListingId, } } | { "command": "resume_produce", "args": { id: ListingId, } } | { "command": "list_orders" } | { "command": "step_order", "args": { id: OrderId, action: OrderAction, reason: string | null, } } | { "command": "step_orders", "args": { ids: Array<OrderId>, action: OrderAction, } } | { "command": "record_payment", "args": { id: OrderId, amount: string, } } | { "command": "sell", "args": { input: SaleInput, } } | { "command": "preview_sale", "args": { listing_id: ListingId, quantity: string, } } | { "command": "pickup_points" } | { "command": "today", "args": { offset_minutes: number, } } | { "command": "earnings", "args": { offset_minutes: number, days: number, } } | { "command": "pick_list", "args": { point_id: PickupPointId, date: string, offset_minutes: number, } } | { "command": "pick_list_csv", "args": { point_id: PickupPointId, date: string, offset_minutes: number, } } | { "command": "export_orders_csv" } | { "command": "device_status" } | { "command": "members" } | { "command": "add_farmer", "args": { name: string, } } | { "command": "new_pairing_code", "args": { member_id: MemberId, } } | { "command": "devices" } | { "command": "revoke_device", "args": { device_id: DeviceId, } } | { "command": "pair", "args": { server_url: string, code: string, device_name: string, } } | { "command": "read_pairing_code", "args": { data_base64: string, } } | { "command": "rename_device", "args": { name: string, } } | { "command": "sign_out" } | { "command": "sync_now" } | { "command": "sync_progress" } | { "command": "network_changed", "args": { online: boolean, } } | { "command": "go_live", "args": { input: StreamInput, } } | { "command": "feature_product", "args": { stream_id: StreamId, listing_id: ListingId, } } | { "command": "end_stream", "args": { stream_id: StreamId, } };

/** Every code a domain rule can refuse with; each has a message in every language. */
export const DOMAIN_ERROR_CODES = [
  "empty",
  "too_long",
  "control_characters",
  "not_a_number",
  "negative",
  "must_be_positive",
  "too_many_decimals",
  "too_large",
  "not_whole",
  "not_step_multiple",
  "below_minimum",
  "above_maximum",
  "maximum_below_minimum",
  "unknown_unit",
  "unknown_currency",
  "currency_mismatch",
  "overflow",
  "incompatible_units",
  "inexact_conversion",
  "invalid_phone",
  "no_lines",
  "payment_method_unavailable",
  "not_for_sale",
  "sold_out",
  "insufficient_stock",
  "invalid_transition",
  "invalid_listing_status",
  "overpaid",
  "not_payable",
  "duplicate",
  "not_in_stream",
  "stream_ended",
  "invalid_date",
  "invalid_photo",
  "no_code_in_picture",
  "not_a_pairing_code",
] as const;
