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
note: string, created_at: Timestamp, updated_at: Timestamp, };

/**
 * The input field a refusal is about, so that a form can show the message next to it.
 */
export type Field = "title" | "description" | "unit" | "currency" | "price" | "stock" | "step" | "minimum" | "maximum" | "quantity" | "buyer_name" | "buyer_phone" | "address" | "lines" | "payment_method" | "note" | "status" | "photos" | "name" | "phone" | "pickup_point" | "code" | "farmer" | "channel" | "idempotency_key";

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
 * `invalid`, `not_found` or `storage`.
 */
code: string, message: string, fields: Array<FieldProblem>, };

/**
 * How this device's local data stands, for the status line of the app.
 */
export type DeviceStatus = { 
/**
 * Local changes not yet acknowledged by the marketplace.
 */
pending_changes: number, };

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
] as const;
