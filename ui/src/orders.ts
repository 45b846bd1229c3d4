// What a person can do next with an order, and how orders are filtered and sorted on screen.
// The Rust state machine (domain::order) decides; this only offers the buttons it would accept.
import type { MemberInfo, Order, OrderAction, OrderItem, OrderStatus } from "./api";

/** The steps offered for an order, the usual next one first. */
export function nextActions(order: Order): OrderAction[] {
  const pickup = order.fulfilment.kind === "pickup";
  switch (order.status) {
    case "placed":
      return ["confirm", "decline"];
    case "confirmed":
      return ["pack", "cancel"];
    case "packed":
      return [pickup ? "mark_ready" : "ship"];
    case "shipped":
    case "ready_for_pickup":
      return ["deliver"];
    default:
      return [];
  }
}

/** What the buyer still owes, in minor units. */
export function owed(order: Order): number {
  return order.status === "cancelled" || order.status === "declined" ? 0 : order.total.minor - order.paid.minor;
}

export type StatusFilter = "all" | "open" | OrderStatus;

/** "open": everything a person still has to act on. */
export function matchesStatus(order: Order, filter: StatusFilter): boolean {
  if (filter === "all") return true;
  if (filter === "open") return !["delivered", "cancelled", "declined"].includes(order.status);
  return order.status === filter;
}

export interface ConsoleFilter {
  status: StatusFilter;
  channel: "all" | Order["channel"];
  /** A pickup point id, "delivery", or "all". */
  point: string;
  /** A farmer's member id, or "all". Orders whose farmer the device does not know yet (made here,
   *  not synced) match only "all". */
  farmer: string;
  /** `YYYY-MM-DD` in the person's time zone, or "". */
  date: string;
  /** Matches the buyer's name or phone, ignoring case and spaces. */
  search: string;
}

export const NO_FILTER: ConsoleFilter = { status: "all", channel: "all", point: "all", farmer: "all", date: "", search: "" };

/** The local calendar day of an epoch-millisecond time, as `YYYY-MM-DD`. */
export function localDate(millis: number): string {
  const d = new Date(millis);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function matchesConsole(item: OrderItem, filter: ConsoleFilter): boolean {
  const { order } = item;
  if (!matchesStatus(order, filter.status)) return false;
  if (filter.channel !== "all" && order.channel !== filter.channel) return false;
  if (filter.point !== "all") {
    const point = order.fulfilment.kind === "pickup" ? order.fulfilment.point_id : "delivery";
    if (point !== filter.point) return false;
  }
  if (filter.farmer !== "all" && item.farmer_id !== filter.farmer) return false;
  if (filter.date !== "" && localDate(order.created_at) !== filter.date) return false;
  const needle = filter.search.toLowerCase().replace(/\s+/g, "");
  if (needle !== "") {
    const hay = `${order.buyer.name}${order.buyer.phone}`.toLowerCase().replace(/\s+/g, "");
    if (!hay.includes(needle)) return false;
  }
  return true;
}

export type SortKey = "created_at" | "buyer" | "total" | "status";

export function sortOrders(items: OrderItem[], key: SortKey, descending: boolean): OrderItem[] {
  const value = (item: OrderItem): string | number => {
    switch (key) {
      case "created_at":
        return item.order.created_at;
      case "buyer":
        return item.order.buyer.name;
      case "total":
        return item.order.total.minor;
      case "status":
        return item.order.status;
    }
  };
  const sorted = [...items].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return order !== 0 ? order : a.order.id.localeCompare(b.order.id);
  });
  return descending ? sorted.reverse() : sorted;
}

/** The UTC offset the backend's reports need, in minutes east of UTC (China: 480). */
export function utcOffsetMinutes(at: Date = new Date()): number {
  return -at.getTimezoneOffset();
}

/** A farmer's name from the marketplace's member list, or a short form of the id when the list
 *  could not be had (offline): the console's column and filter and the dashboard's chart. */
export function farmerName(members: MemberInfo[], id: string): string {
  return members.find((m) => m.id === id)?.name ?? `#${id.slice(-6)}`;
}
