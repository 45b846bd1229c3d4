// Pick lists: for one pickup point and day, what to hand to which buyer and what to collect.
// Printable (the print stylesheet hides the app around it) and exported as CSV for spreadsheets.
import { useState } from "preact/hooks";

import { backend, type PickList } from "../api";
import { download } from "../components/download";
import { ErrorBanner } from "../components/error-banner";
import { formatMoney, formatQuantity } from "../format";
import { errorCode, useBackend } from "../hooks";
import { useT } from "../i18n/context";
import { localDate, utcOffsetMinutes } from "../orders";

export function PickListScreen() {
  const { t, locale } = useT();
  const points = useBackend(() => backend.pickupPoints());
  const [point, setPoint] = useState<string>("");
  const [date, setDate] = useState(() => localDate(Date.now()));
  const [list, setList] = useState<PickList | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const chosen = point || points.data?.find((p) => p.active)?.id || "";

  const show = async () => {
    try {
      setList(await backend.pickList(chosen, date, utcOffsetMinutes()));
      setFailure(null);
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  const exportCsv = async () => {
    try {
      const csv = await backend.pickListCsv(chosen, date, utcOffsetMinutes());
      download(`pick-list-${date}.csv`, csv);
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  const print = async () => {
    try {
      await backend.print();
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  return (
    <section class="pick-list" aria-labelledby="pick-heading">
      <h2 id="pick-heading">{t("nav.pick_lists")}</h2>
      <ErrorBanner code={failure ?? points.failure} />
      <form
        class="filters no-print"
        onSubmit={(e) => {
          e.preventDefault();
          void show();
        }}
      >
        <label class="field">
          <span>{t("console.point")}</span>
          <select name="point" value={chosen} onChange={(e) => setPoint(e.currentTarget.value)} data-testid="pick-point">
            {points.data?.map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
          </select>
        </label>
        <label class="field">
          <span>{t("console.date")}</span>
          <input type="date" name="date" value={date} onInput={(e) => setDate(e.currentTarget.value)} onChange={(e) => setDate(e.currentTarget.value)} data-testid="pick-date" />
        </label>
        <button type="submit" class="primary" data-testid="pick-show" disabled={!chosen}>
          {t("pick.show")}
        </button>
        <button type="button" class="secondary" data-testid="pick-csv" disabled={!chosen} onClick={() => void exportCsv()}>
          {t("console.export")}
        </button>
        <button type="button" class="secondary" data-testid="pick-print" disabled={!list} onClick={() => void print()}>
          {t("pick.print")}
        </button>
      </form>
      {list && (
        <div class="printable" data-testid="pick-sheet">
          <h3>
            {list.point_name} · {list.date}
          </h3>
          {list.rows.length === 0 ? (
            <p class="empty">{t("pick.empty")}</p>
          ) : (
            <table class="orders-table">
              <thead>
                <tr>
                  <th>{t("console.col.buyer")}</th>
                  <th>{t("console.col.products")}</th>
                  <th>{t("console.col.status")}</th>
                  <th>{t("pick.to_collect")}</th>
                  <th>{t("pick.handed")}</th>
                </tr>
              </thead>
              <tbody>
                {list.rows.map((row) => (
                  <tr data-testid="pick-row">
                    <td>
                      {row.buyer.name}
                      <br />
                      <span class="muted">{row.buyer.phone}</span>
                    </td>
                    <td>
                      {formatQuantity(row.quantity, locale)} {t(`unit.${row.unit}`)} {row.title}
                    </td>
                    <td>{t(`order.status.${row.status}`)}</td>
                    <td class="number">{formatMoney(row.to_collect, locale)}</td>
                    <td class="tick" aria-label={t("pick.handed")}>☐</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
    </section>
  );
}
