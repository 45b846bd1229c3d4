// "Today": what the farmer has to do now. Orders waiting for an answer, what to pack for which
// pickup point, money still to collect, the sync state, and the big Go Live button.
import { backend, type DeviceStatus, type PickupPointInfo, type Today } from "../api";
import { ErrorBanner } from "../components/error-banner";
import { SyncBar } from "../components/sync-bar";
import { formatMoney, formatQuantity } from "../format";
import { useBackend } from "../hooks";
import { useT } from "../i18n/context";
import { utcOffsetMinutes } from "../orders";

interface TodayData {
  today: Today;
  status: DeviceStatus;
  points: PickupPointInfo[];
}

export function TodayScreen(props: { onGo: (screen: "orders" | "live" | "settings") => void; refresh: number }) {
  const { t, locale } = useT();
  const loaded = useBackend<TodayData>(async () => {
    const [today, status, points] = await Promise.all([backend.today(utcOffsetMinutes()), backend.deviceStatus(), backend.pickupPoints()]);
    return { today, status, points };
  }, [props.refresh]);
  const data = loaded.data;
  const pointName = (id: string) => data?.points.find((p) => p.id === id)?.name ?? t("today.unknown_point");
  return (
    <section class="today" aria-labelledby="today-heading">
      <h2 id="today-heading" class="visually-hidden">{t("nav.today")}</h2>
      <ErrorBanner code={loaded.failure} />
      {loaded.failure === "not_paired" && (
        <button type="button" class="secondary" data-testid="today-connect" onClick={() => props.onGo("settings")}>
          {t("today.connect")}
        </button>
      )}
      <SyncBar status={data?.status ?? null} onSynced={() => void loaded.reload()} />
      {data && (
        <>
          <div class="figures">
            <button type="button" class="figure" data-testid="today-waiting" onClick={() => props.onGo("orders")}>
              <span class="figure-value">{data.today.waiting}</span>
              <span class="figure-label">
                <span aria-hidden="true">🔔 </span>
                {t("today.waiting")}
              </span>
            </button>
            <div class="figure" data-testid="today-due">
              <span class="figure-value">{formatMoney(data.today.money_due, locale)}</span>
              <span class="figure-label">
                <span aria-hidden="true">💰 </span>
                {t("today.money_due")}
              </span>
            </div>
            <div class="figure" data-testid="today-sales">
              <span class="figure-value">{formatMoney(data.today.sales_today, locale)}</span>
              <span class="figure-label">
                <span aria-hidden="true">📈 </span>
                {t("today.sales", { count: data.today.placed_today })}
              </span>
            </div>
          </div>
          <h3>
            <span aria-hidden="true">📦 </span>
            {t("today.to_pack")}
          </h3>
          {data.today.to_pack.length === 0 && <p class="muted">{t("today.nothing_to_pack")}</p>}
          <ul class="cards">
            {data.today.to_pack.map((group) => (
              <li class="card pack" data-testid="pack-group">
                <div class="card-main">
                  <p class="card-title">
                    {group.destination.kind === "pickup" ? pointName(group.destination.point_id) : t("today.delivery")}
                    <span class="muted"> · {t("today.orders", { count: group.orders })}</span>
                  </p>
                  <ul class="pack-items">
                    {group.items.map((item) => (
                      <li>
                        <strong>{formatQuantity(item.quantity, locale)}</strong> {t(`unit.${item.unit}`)} {item.title}
                      </li>
                    ))}
                  </ul>
                </div>
              </li>
            ))}
          </ul>
        </>
      )}
      <button type="button" class="primary big go-live-button" data-testid="today-go-live" onClick={() => props.onGo("live")}>
        <span aria-hidden="true">● </span>
        {t("nav.live")}
      </button>
    </section>
  );
}
