import { describe, expect, it } from "vitest";

import type { Order, OrderItem } from "./api";
import { farmerName, matchesConsole, NO_FILTER, nextActions, owed, sortOrders } from "./orders";

function order(over: Partial<Order>): Order {
  return {
    id: "00000000-0000-0000-0000-000000000001",
    lines: [],
    total: { minor: 1000, currency: "CNY" },
    buyer: { name: "王芳", phone: "+86 138 0013 8000" },
    fulfilment: { kind: "pickup", point_id: "p1" },
    payment_method: "cash_at_pickup",
    channel: "live",
    status: "placed",
    paid: { minor: 0, currency: "CNY" },
    note: "",
    shortfall: 0,
    created_at: Date.UTC(2026, 10, 21, 4),
    updated_at: 0,
    stream: null,
    ...over,
  };
}
const item = (over: Partial<Order>, farmer_id: string | null = null): OrderItem => ({ order: order(over), pending: false, farmer_id });

describe("next actions", () => {
  it("follow the state machine and the way the order is handed over", () => {
    expect(nextActions(order({}))).toEqual(["confirm", "decline"]);
    expect(nextActions(order({ status: "packed" }))).toEqual(["mark_ready"]);
    expect(nextActions(order({ status: "packed", fulfilment: { kind: "delivery", address: "x" } }))).toEqual(["ship"]);
    expect(nextActions(order({ status: "delivered" }))).toEqual([]);
  });
  it("owe nothing on a declined order", () => {
    expect(owed(order({ paid: { minor: 400, currency: "CNY" } }))).toBe(600);
    expect(owed(order({ status: "declined" }))).toBe(0);
  });
});

describe("the console's filters", () => {
  it("search name or phone ignoring spaces and case, and combine with the other filters", () => {
    const items = [item({}), item({ id: "2", buyer: { name: "Anna Rossi", phone: "+39 333" }, channel: "phone", status: "confirmed" })];
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, search: "13800138" }))).toHaveLength(1);
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, search: "anna ROSSI" })).map((i) => i.order.id)).toEqual(["2"]);
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, channel: "phone", status: "placed" }))).toHaveLength(0);
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, point: "delivery" }))).toHaveLength(0);
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, status: "open" }))).toHaveLength(2);
  });
  it("filter by farmer, leaving out orders whose farmer is not known yet", () => {
    const items = [item({ id: "1" }, "farmer-a"), item({ id: "2" }, "farmer-b"), item({ id: "3" })];
    expect(items.filter((i) => matchesConsole(i, { ...NO_FILTER, farmer: "farmer-b" })).map((i) => i.order.id)).toEqual(["2"]);
    expect(items.filter((i) => matchesConsole(i, NO_FILTER))).toHaveLength(3);
  });
  it("name a farmer from the member list, or by a short id without it", () => {
    const members = [{ id: "0198-aaaa-123456", role: "farmer" as const, name: "Zhang Wei 张伟", farm_url: null }];
    expect(farmerName(members, "0198-aaaa-123456")).toBe("Zhang Wei 张伟");
    expect(farmerName([], "0198-aaaa-123456")).toBe("#123456");
  });
  it("sort with a stable tie-break", () => {
    const items = [item({ id: "b", total: { minor: 5, currency: "CNY" } }), item({ id: "a", total: { minor: 5, currency: "CNY" } }), item({ id: "c", total: { minor: 9, currency: "CNY" } })];
    expect(sortOrders(items, "total", false).map((i) => i.order.id)).toEqual(["a", "b", "c"]);
    expect(sortOrders(items, "total", true).map((i) => i.order.id)).toEqual(["c", "b", "a"]);
  });
});
