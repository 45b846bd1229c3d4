// "Earnings" (the farmer) and "Dashboard" (the co-op): sales per day, per product and per channel
// as bar charts, with the totals, and on the dashboard per farmer. Live sales show up as the
// "live" channel.
import { useState } from "preact/hooks";

import { backend, type MemberInfo } from "../api";
import { BarChart } from "../components/bar-chart";
import { ErrorBanner } from "../components/error-banner";
import { formatMoney } from "../format";
import { useBackend } from "../hooks";
import { useT } from "../i18n/context";
import { farmerName, utcOffsetMinutes } from "../orders";

const WINDOWS = [7, 30, 90] as const;

/** The key of the bucket for orders whose farmer the device does not know yet (`UNKNOWN_FARMER`). */
const UNKNOWN_FARMER = "unknown";

export function EarningsScreen(props: { perFarmer?: boolean }) {
  const { t, locale } = useT();
  const [days, setDays] = useState<number>(7);
  const loaded = useBackend(() => backend.earnings(utcOffsetMinutes(), days), [days]);
  // Farmers' names come from the marketplace; offline the chart shows a short id instead.
  const members = useBackend(() => (props.perFarmer ? backend.members().catch((): MemberInfo[] => []) : Promise.resolve([])), [props.perFarmer]);
  const data = loaded.data;
  const farmerLabel = (key: string) =>
    key === UNKNOWN_FARMER ? t("earnings.farmer_unknown") : farmerName(members.data ?? [], key);
  const dayLabel = (key: string) =>
    new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: "UTC" }).format(new Date(`${key}T00:00:00Z`));
  return (
    <section class="earnings" aria-labelledby="earnings-heading">
      <h2 id="earnings-heading" class="visually-hidden">{t("nav.earnings")}</h2>
      <ErrorBanner code={loaded.failure} />
      <div class="chips" role="group" aria-label={t("earnings.window")}>
        {WINDOWS.map((n) => (
          <button type="button" class="chip" aria-pressed={days === n} data-testid={`days-${n}`} onClick={() => setDays(n)}>
            {t("earnings.days", { count: n })}
          </button>
        ))}
      </div>
      {data && (
        <>
          <div class="figures">
            <div class="figure" data-testid="earnings-total">
              <span class="figure-value">{formatMoney(data.total, locale)}</span>
              <span class="figure-label">{t("earnings.total", { count: data.orders })}</span>
            </div>
            <div class="figure" data-testid="earnings-paid">
              <span class="figure-value">{formatMoney(data.paid, locale)}</span>
              <span class="figure-label">{t("earnings.paid")}</span>
            </div>
          </div>
          {data.orders === 0 && <p class="empty">{t("earnings.empty")}</p>}
          <BarChart testid="chart-days" title={t("earnings.by_day")} buckets={data.by_day} label={(b) => dayLabel(b.key)} />
          {data.by_product.length > 0 && <BarChart testid="chart-products" title={t("earnings.by_product")} buckets={data.by_product} />}
          {data.by_channel.length > 0 && (
            <BarChart testid="chart-channels" title={t("earnings.by_channel")} buckets={data.by_channel} label={(b) => channelLabel(b.key, t)} />
          )}
          {data.by_stream.length > 0 && <BarChart testid="chart-streams" title={t("earnings.by_stream")} buckets={data.by_stream} />}
          {props.perFarmer && data.by_farmer.length > 0 && (
            <BarChart testid="chart-farmers" title={t("earnings.by_farmer")} buckets={data.by_farmer} label={(b) => farmerLabel(b.key)} />
          )}
        </>
      )}
    </section>
  );
}

function channelLabel(code: string, t: ReturnType<typeof useT>["t"]): string {
  switch (code) {
    case "live":
    case "order_link":
    case "phone":
    case "in_person":
      return t(`channel.${code}`);
    default:
      return code;
  }
}
