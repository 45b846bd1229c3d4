// "Orders": newest first, filtered by status, one tap for the next step. Declining asks for a
// reason; "paid" records what is still owed; what has not reached the co-op yet is marked. A
// phone or walk-up order is typed in from here, offline too.
import { useState } from "preact/hooks";

import { backend, type Order, type OrderAction, type OrderItem, type PickupPointInfo, type Produce } from "../api";
import { ErrorBanner } from "../components/error-banner";
import { SaleForm } from "../components/sale-form";
import { decimalText, formatMoney, formatQuantity } from "../format";
import { useAction, useBackend } from "../hooks";
import { useT } from "../i18n/context";
import { matchesStatus, nextActions, owed, type StatusFilter } from "../orders";

const FILTERS: StatusFilter[] = ["open", "placed", "confirmed", "packed", "ready_for_pickup", "shipped", "delivered", "all"];

interface OrdersData {
  orders: OrderItem[];
  produce: Produce[];
  points: PickupPointInfo[];
}

export function OrdersScreen(props: { refresh: number }) {
  const { t } = useT();
  const [filter, setFilter] = useState<StatusFilter>("open");
  const [selling, setSelling] = useState(false);
  const loaded = useBackend<OrdersData>(async () => {
    const [orders, produce, points] = await Promise.all([backend.listOrders(), backend.listProduce(), backend.pickupPoints()]);
    return { orders, produce, points };
  }, [props.refresh]);
  const { failure, act } = useAction(loaded.reload);
  const data = loaded.data;
  if (selling && data) {
    return (
      <SaleForm
        produce={data.produce}
        points={data.points}
        onCancel={() => setSelling(false)}
        onSaved={() => {
          setSelling(false);
          void loaded.reload();
        }}
      />
    );
  }
  const shown = data?.orders.filter((item) => matchesStatus(item.order, filter)) ?? [];
  return (
    <section aria-labelledby="orders-heading">
      <h2 id="orders-heading" class="visually-hidden">{t("nav.orders")}</h2>
      <ErrorBanner code={failure ?? loaded.failure} />
      <div class="chips" role="group" aria-label={t("orders.filter")}>
        {FILTERS.map((f) => (
          <button type="button" class="chip" aria-pressed={filter === f} data-testid={`filter-${f}`} onClick={() => setFilter(f)}>
            {t(`orders.filter.${f}`)}
          </button>
        ))}
      </div>
      {data && shown.length === 0 && <p class="empty">{t("orders.empty")}</p>}
      <ul class="cards">
        {shown.map((item) => (
          <OrderCard item={item} points={data?.points ?? []} onAct={(run) => void act(run)} />
        ))}
      </ul>
      <button type="button" class="primary floating" data-testid="add-sale" onClick={() => setSelling(true)} disabled={!data}>
        <span aria-hidden="true">＋</span> {t("sale.title")}
      </button>
    </section>
  );
}

function OrderCard(props: { item: OrderItem; points: PickupPointInfo[]; onAct: (run: () => Promise<unknown>) => void }) {
  const { t, locale } = useT();
  const { order, pending } = props.item;
  const [declining, setDeclining] = useState(false);
  const [reason, setReason] = useState("");
  const due = owed(order);
  const step = (action: OrderAction, why: string | null = null) => props.onAct(() => backend.stepOrder(order.id, action, why));
  return (
    <li class="card order" data-testid="order" data-status={order.status}>
      <div class="card-main">
        <p class="card-title">
          {order.buyer.name} <span class="muted">· {order.buyer.phone}</span>
        </p>
        <ul class="order-lines">
          {order.lines.map((line) => (
            <li>
              {formatQuantity(line.quantity, locale)} {t(`unit.${line.unit}`)} {line.title}
            </li>
          ))}
        </ul>
        <p class="price">{formatMoney(order.total, locale)}</p>
        <p class="muted">
          <span class={`badge ${order.status}`} data-testid="order-status">
            {t(`order.status.${order.status}`)}
          </span>
          {" · "}
          {destination(order, props.points, t)}
          {" · "}
          {t(`channel.${order.channel}`)}
          {pending && (
            <>
              {" · "}
              <span class="badge pending" data-testid="order-pending">
                {t("produce.pending")}
              </span>
            </>
          )}
        </p>
        {order.note && <p class="muted">“{order.note}”</p>}
      </div>
      {declining ? (
        <form
          class="card-actions"
          onSubmit={(e) => {
            e.preventDefault();
            step("decline", reason.trim() || null);
            setDeclining(false);
          }}
        >
          <label class="field">
            <span>{t("orders.decline_reason")}</span>
            <input name="reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} onChange={(e) => setReason(e.currentTarget.value)} />
          </label>
          <button type="submit" class="danger" data-testid="confirm-decline">
            {t("order.action.decline")}
          </button>
          <button type="button" class="secondary" onClick={() => setDeclining(false)}>
            {t("form.cancel")}
          </button>
        </form>
      ) : (
        <div class="card-actions">
          {nextActions(order).map((action, index) => (
            <button
              type="button"
              class={action === "decline" || action === "cancel" ? "secondary" : index === 0 ? "primary" : "secondary"}
              data-testid={`action-${action}`}
              onClick={() => (action === "decline" ? setDeclining(true) : step(action))}
            >
              {t(`order.action.${action}`)}
            </button>
          ))}
          {due > 0 && (
            <button type="button" class="secondary" data-testid="action-paid" onClick={() => props.onAct(() => backend.recordPayment(order.id, decimalText(due, 2)))}>
              {t("order.action.paid", { amount: formatMoney({ minor: due, currency: order.total.currency }, locale) })}
            </button>
          )}
        </div>
      )}
    </li>
  );
}

export function destination(order: Order, points: PickupPointInfo[], t: ReturnType<typeof useT>["t"]): string {
  if (order.fulfilment.kind === "delivery") return t("today.delivery");
  const id = order.fulfilment.point_id;
  return points.find((p) => p.id === id)?.name ?? t("today.unknown_point");
}
