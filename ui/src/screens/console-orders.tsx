// The co-op console's orders table: every farmer's orders on one screen, sortable, filtered by
// status, channel, pickup point, farmer and day, searched by buyer name or phone; many can be selected
// and moved one step in bulk. Keyboard: every control is a native one, and "/" jumps to search.
import { useEffect, useRef, useState } from "preact/hooks";

import { backend, type BulkOutcome, type DeviceStatus, type MemberInfo, type OrderAction, type OrderItem, type PickupPointInfo } from "../api";
import { download } from "../components/download";
import { ErrorBanner } from "../components/error-banner";
import { SyncBar } from "../components/sync-bar";
import { formatMoney, formatQuantity } from "../format";
import { errorCode, useBackend } from "../hooks";
import { useT } from "../i18n/context";
import { farmerName, matchesConsole, NO_FILTER, sortOrders, type ConsoleFilter, type SortKey, type StatusFilter } from "../orders";
import { destination } from "./orders";

const STATUSES: StatusFilter[] = ["all", "open", "placed", "confirmed", "packed", "ready_for_pickup", "shipped", "delivered", "cancelled", "declined"];
const CHANNELS = ["all", "live", "order_link", "phone", "in_person"] as const;
const BULK: OrderAction[] = ["confirm", "pack", "mark_ready", "ship", "deliver"];

interface Data {
  orders: OrderItem[];
  points: PickupPointInfo[];
  status: DeviceStatus;
  /** Farmers' names come from the marketplace; offline the console shows a short id instead. */
  members: MemberInfo[];
}

export function ConsoleOrdersScreen(props: { refresh: number }) {
  const { t, locale } = useT();
  const loaded = useBackend<Data>(async () => {
    const [orders, points, status, members] = await Promise.all([
      backend.listOrders(),
      backend.pickupPoints(),
      backend.deviceStatus(),
      backend.members().catch((): MemberInfo[] => []),
    ]);
    return { orders, points, status, members };
  }, [props.refresh]);
  const [filter, setFilter] = useState<ConsoleFilter>(NO_FILTER);
  const [sort, setSort] = useState<{ key: SortKey; descending: boolean }>({ key: "created_at", descending: true });
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [action, setAction] = useState<OrderAction>("confirm");
  // Numbered, so a repeated outcome ("2 changed") is still told apart from the last one.
  const [outcome, setOutcome] = useState<{ seq: number; result: BulkOutcome } | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const search = useRef<HTMLInputElement>(null);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const typing = event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement;
      if (event.key === "/" && !typing) {
        event.preventDefault();
        search.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const data = loaded.data;
  const farmers = [...new Set((data?.orders ?? []).flatMap((item) => (item.farmer_id ? [item.farmer_id] : [])))]
    .map((id) => ({ id, name: farmerName(data?.members ?? [], id) }))
    .sort((a, b) => a.name.localeCompare(b.name, locale));
  const shown = data ? sortOrders(data.orders.filter((item) => matchesConsole(item, filter)), sort.key, sort.descending) : [];
  const shownIds = shown.map((item) => item.order.id);
  const allShownSelected = shownIds.length > 0 && shownIds.every((id) => selected.has(id));
  const set = <K extends keyof ConsoleFilter>(key: K) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setFilter((current) => ({ ...current, [key]: value }));
  };
  const toggle = (id: string) =>
    setSelected((current) => {
      const next = new Set(current);
      if (!next.delete(id)) next.add(id);
      return next;
    });
  const toggleAll = () => setSelected(allShownSelected ? new Set() : new Set(shownIds));
  const applyBulk = async () => {
    // Only what is selected and still shown: a filter change must not act on hidden orders.
    const ids = shownIds.filter((id) => selected.has(id));
    if (ids.length === 0) return;
    try {
      const result = await backend.stepOrders(ids, action);
      setOutcome((last) => ({ seq: (last?.seq ?? 0) + 1, result }));
      setFailure(null);
      setSelected(new Set());
    } catch (error) {
      setFailure(errorCode(error));
    }
    await loaded.reload();
  };
  const exportCsv = async () => {
    try {
      download(`fieldcast-orders-${new Date().toISOString().slice(0, 10)}.csv`, await backend.exportOrdersCsv());
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  const header = (key: SortKey, label: string) => (
    <th aria-sort={sort.key === key ? (sort.descending ? "descending" : "ascending") : "none"}>
      <button type="button" class="sort" data-testid={`sort-${key}`} onClick={() => setSort({ key, descending: sort.key === key ? !sort.descending : false })}>
        {label}
        <span aria-hidden="true">{sort.key === key ? (sort.descending ? " ▼" : " ▲") : ""}</span>
      </button>
    </th>
  );

  return (
    <section class="console-orders" aria-labelledby="console-orders-heading">
      <h2 id="console-orders-heading">{t("nav.orders")}</h2>
      <ErrorBanner code={failure ?? loaded.failure} />
      <SyncBar status={data?.status ?? null} onSynced={() => void loaded.reload()} />
      <div class="filters">
        <label class="field">
          <span>{t("console.search")}</span>
          <input ref={search} type="search" name="search" value={filter.search} onInput={set("search")} onChange={set("search")} data-testid="search" placeholder={t("console.search_hint")} />
        </label>
        <label class="field">
          <span>{t("console.status")}</span>
          <select name="status" value={filter.status} onChange={set("status")} data-testid="filter-status">
            {STATUSES.map((s) => (
              <option value={s}>{t(`orders.filter.${s}`)}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>{t("console.channel")}</span>
          <select name="channel" value={filter.channel} onChange={set("channel")} data-testid="filter-channel">
            {CHANNELS.map((c) => (
              <option value={c}>{c === "all" ? t("orders.filter.all") : t(`channel.${c}`)}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>{t("console.point")}</span>
          <select name="point" value={filter.point} onChange={set("point")} data-testid="filter-point">
            <option value="all">{t("orders.filter.all")}</option>
            {data?.points.map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
            <option value="delivery">{t("today.delivery")}</option>
          </select>
        </label>
        <label class="field">
          <span>{t("console.farmer")}</span>
          <select name="farmer" value={filter.farmer} onChange={set("farmer")} data-testid="filter-farmer">
            <option value="all">{t("orders.filter.all")}</option>
            {farmers.map((f) => (
              <option value={f.id}>{f.name}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>{t("console.date")}</span>
          <input type="date" name="date" value={filter.date} onInput={set("date")} onChange={set("date")} data-testid="filter-date" />
        </label>
      </div>
      <div class="bulk" role="group" aria-label={t("console.bulk")}>
        <span data-testid="selected-count">{t("console.selected", { count: shownIds.filter((id) => selected.has(id)).length })}</span>
        <label>
          <span class="visually-hidden">{t("console.bulk_action")}</span>
          <select value={action} onChange={(e) => setAction(e.currentTarget.value as OrderAction)} data-testid="bulk-action">
            {BULK.map((a) => (
              <option value={a}>{t(`order.action.${a}`)}</option>
            ))}
          </select>
        </label>
        <button type="button" class="primary" data-testid="bulk-apply" onClick={() => void applyBulk()}>
          {t("console.apply")}
        </button>
        <button type="button" class="secondary" data-testid="export-orders" onClick={() => void exportCsv()}>
          {t("console.export")}
        </button>
      </div>
      {outcome && (
        <p class="banner" role="status" data-testid="bulk-outcome" data-seq={outcome.seq}>
          {t("console.outcome", { changed: outcome.result.changed.length, refused: outcome.result.refused.length })}
        </p>
      )}
      <div class="table-wrap">
        <table class="orders-table" data-testid="orders-table">
          <caption class="visually-hidden">{t("console.table_caption", { count: shown.length })}</caption>
          <thead>
            <tr>
              <th>
                <input type="checkbox" checked={allShownSelected} onChange={toggleAll} aria-label={t("console.select_all")} data-testid="select-all" />
              </th>
              {header("created_at", t("console.col.date"))}
              {header("buyer", t("console.col.buyer"))}
              <th>{t("console.col.farmer")}</th>
              <th>{t("console.col.products")}</th>
              {header("total", t("console.col.total"))}
              {header("status", t("console.col.status"))}
              <th>{t("console.col.where")}</th>
              <th>{t("console.col.channel")}</th>
            </tr>
          </thead>
          <tbody>
            {shown.map(({ order, pending, farmer_id }) => (
              <tr data-testid="order-row" data-status={order.status} data-id={order.id}>
                <td>
                  <input type="checkbox" checked={selected.has(order.id)} onChange={() => toggle(order.id)} aria-label={t("console.select", { name: order.buyer.name })} />
                </td>
                <td>{new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" }).format(order.created_at)}</td>
                <td>
                  {order.buyer.name}
                  <br />
                  <span class="muted">{order.buyer.phone}</span>
                </td>
                <td data-testid="order-farmer">{farmer_id ? farmerName(data?.members ?? [], farmer_id) : "—"}</td>
                <td>{order.lines.map((l) => `${formatQuantity(l.quantity, locale)} ${t(`unit.${l.unit}`)} ${l.title}`).join(", ")}</td>
                <td class="number">{formatMoney(order.total, locale)}</td>
                <td>
                  {t(`order.status.${order.status}`)}
                  {pending && <span class="badge pending"> · {t("produce.pending")}</span>}
                </td>
                <td>{destination(order, data?.points ?? [], t)}</td>
                <td>{t(`channel.${order.channel}`)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {data && shown.length === 0 && <p class="empty">{t("orders.empty")}</p>}
    </section>
  );
}
