// A phone or walk-up order typed in by hand. It is recorded on the device at once (offline too)
// and synced later; the Rust side checks every field and the device's offline quota, and this
// form shows each refusal next to its field.
import { useState } from "preact/hooks";

import { backend, BackendError, type FieldProblem, type PaymentMethod, type PickupPointInfo, type Produce, type SaleInput } from "../api";
import { isMessageKey } from "../i18n";
import { useT } from "../i18n/context";

export function SaleForm(props: { produce: Produce[]; points: PickupPointInfo[]; onSaved: () => void; onCancel: () => void }) {
  const { t } = useT();
  const forSale = props.produce.filter((p) => p.listing.status === "active");
  const firstPoint = props.points.find((p) => p.active)?.id ?? null;
  const [input, setInput] = useState<SaleInput>({
    listing_id: forSale[0]?.listing.id ?? "",
    quantity: "",
    buyer_name: "",
    buyer_phone: "",
    pickup_point_id: firstPoint,
    address: firstPoint === null ? "" : null,
    payment_method: firstPoint === null ? "cash_on_delivery" : "cash_at_pickup",
    channel: "in_person",
    note: "",
  });
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  const set = (field: "listing_id" | "quantity" | "buyer_name" | "buyer_phone" | "address" | "channel") => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setInput((current) => ({ ...current, [field]: value }));
  };
  const setWhere = (event: Event) => {
    const value = (event.currentTarget as HTMLSelectElement).value;
    const delivery = value === "delivery";
    setInput((current) => ({
      ...current,
      pickup_point_id: delivery ? null : value,
      address: delivery ? (current.address ?? "") : null,
      payment_method: (delivery ? "cash_on_delivery" : "cash_at_pickup") as PaymentMethod,
    }));
  };
  const problem = (field: FieldProblem["field"]) => problems.find((p) => p.field === field);
  const message = (p: FieldProblem) => {
    const key = `error.${p.code}`;
    return isMessageKey(key) ? t(key, { limit: p.limit ?? "" }) : p.message;
  };
  const fieldError = (field: FieldProblem["field"], id: string) => {
    const p = problem(field);
    return p ? <p class="field-error" id={id}>{message(p)}</p> : null;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    try {
      await backend.sell(input);
      props.onSaved();
    } catch (error) {
      const api = error instanceof BackendError ? error.api : { code: "unexpected", message: String(error), fields: [] };
      setProblems(api.fields);
      setFailure(api.fields.length > 0 ? "invalid" : api.code);
    } finally {
      setSaving(false);
    }
  };
  const failureKey = `error.${failure ?? "unexpected"}`;
  const where = input.pickup_point_id ?? "delivery";
  return (
    <form class="sheet" onSubmit={submit} noValidate data-testid="sale-form">
      <h2>{t("sale.title")}</h2>
      {failure && (
        <p class="banner error" role="alert">
          {t(isMessageKey(failureKey) ? failureKey : "error.unexpected")}
        </p>
      )}
      <label class="field">
        <span>{t("sale.product")}</span>
        <select name="listing_id" value={input.listing_id} onChange={set("listing_id")}>
          {forSale.map((p) => (
            <option value={p.listing.id}>{p.listing.details.title}</option>
          ))}
        </select>
      </label>
      <label class="field">
        <span>{t("sale.quantity")}</span>
        <input name="quantity" inputMode="decimal" value={input.quantity} onInput={set("quantity")} onChange={set("quantity")} aria-invalid={problem("quantity") ? "true" : undefined} aria-describedby="sale-quantity-error" />
        {fieldError("quantity", "sale-quantity-error")}
      </label>
      <label class="field">
        <span>{t("sale.buyer_name")}</span>
        <input name="buyer_name" value={input.buyer_name} onInput={set("buyer_name")} onChange={set("buyer_name")} autocomplete="name" aria-invalid={problem("buyer_name") ? "true" : undefined} aria-describedby="sale-name-error" />
        {fieldError("buyer_name", "sale-name-error")}
      </label>
      <label class="field">
        <span>{t("sale.buyer_phone")}</span>
        <input name="buyer_phone" type="tel" value={input.buyer_phone} onInput={set("buyer_phone")} onChange={set("buyer_phone")} autocomplete="tel" aria-invalid={problem("buyer_phone") ? "true" : undefined} aria-describedby="sale-phone-error" />
        {fieldError("buyer_phone", "sale-phone-error")}
      </label>
      <label class="field">
        <span>{t("sale.where")}</span>
        <select name="where" value={where} onChange={setWhere}>
          {props.points
            .filter((p) => p.active)
            .map((p) => (
              <option value={p.id}>{p.name}</option>
            ))}
          <option value="delivery">{t("today.delivery")}</option>
        </select>
      </label>
      {input.pickup_point_id === null && (
        <label class="field">
          <span>{t("sale.address")}</span>
          <input name="address" value={input.address ?? ""} onInput={set("address")} onChange={set("address")} aria-invalid={problem("address") ? "true" : undefined} aria-describedby="sale-address-error" />
          {fieldError("address", "sale-address-error")}
        </label>
      )}
      <label class="field">
        <span>{t("sale.channel")}</span>
        <select name="channel" value={input.channel} onChange={set("channel")}>
          <option value="in_person">{t("channel.in_person")}</option>
          <option value="phone">{t("channel.phone")}</option>
        </select>
      </label>
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onCancel}>
          {t("form.cancel")}
        </button>
        <button type="submit" class="primary" data-testid="sale-submit" disabled={saving || forSale.length === 0}>
          {t("sale.submit")}
        </button>
      </div>
    </form>
  );
}
