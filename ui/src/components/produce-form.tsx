// The add/edit form for one product. All checking happens in Rust (the domain); this form sends
// what was typed and shows each refusal, translated, next to its field.
import { useState } from "preact/hooks";

import { backend, BackendError, type Currency, type Field, type FieldProblem, type Listing, type ListingInput, type Unit } from "../api";
import { moneyInput, quantityInput } from "../format";
import { isMessageKey } from "../i18n";
import { useT } from "../i18n/context";

const UNITS: readonly Unit[] = ["jin", "kg", "g", "piece", "dozen", "bunch", "box", "litre"];
const CURRENCIES: readonly Currency[] = ["CNY", "EUR", "USD"];
/** The fields this form shows; a problem with any other field is listed at the top. */
const SHOWN: readonly Field[] = ["title", "unit", "price", "currency", "stock", "photos"];

function inputFrom(listing: Listing | undefined): ListingInput {
  if (!listing) {
    return { title: "", description: "", unit: "jin", currency: "CNY", price: "", stock: "", step: "", minimum: "", maximum: "" };
  }
  const { details } = listing;
  // Order rules have no fields here yet, but an edit must keep them as they are.
  return {
    title: details.title,
    description: details.description,
    unit: details.unit,
    currency: details.price.currency,
    price: moneyInput(details.price),
    stock: quantityInput(details.stock),
    step: quantityInput(details.rules.step),
    minimum: quantityInput(details.rules.minimum),
    maximum: details.rules.maximum === null ? "" : quantityInput(details.rules.maximum),
  };
}

export function ProduceForm(props: { listing?: Listing; onSaved: (listing: Listing) => void; onCancel: () => void }) {
  const { t } = useT();
  const [input, setInput] = useState<ListingInput>(() => inputFrom(props.listing));
  const [problems, setProblems] = useState<FieldProblem[]>([]);
  const [failure, setFailure] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [photo, setPhoto] = useState<File | null>(null);

  // Bound to both `input` and `change`: some IMEs and WebDriver's clear() only fire `change`.
  const set = (field: keyof ListingInput) => (event: Event) => {
    const value = (event.currentTarget as HTMLInputElement | HTMLSelectElement).value;
    setInput((current) => ({ ...current, [field]: value }));
  };

  const message = (problem: FieldProblem) => {
    const key = `error.${problem.code}`;
    return isMessageKey(key) ? t(key, { limit: problem.limit ?? "" }) : problem.message;
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setSaving(true);
    try {
      let saved = props.listing ? await backend.editProduce(props.listing.id, input) : await backend.addProduce(input);
      // The photo is its own change after the listing's, so a bad picture never loses the form.
      if (photo) saved = await backend.addPhoto(saved.id, photo);
      props.onSaved(saved);
    } catch (error) {
      const api = error instanceof BackendError ? error.api : { code: "unexpected", message: String(error), fields: [] };
      setProblems(api.fields);
      setFailure(api.code);
    } finally {
      setSaving(false);
    }
  };

  const problemFor = (field: Field) => problems.find((p) => p.field === field);
  const others = problems.filter((p) => !SHOWN.includes(p.field));
  const failureCode = `error.${failure ?? "unexpected"}`;
  const failureKey = isMessageKey(failureCode) ? failureCode : "error.unexpected";

  const fieldError = (field: Field) => {
    const problem = problemFor(field);
    return problem ? (
      <p class="field-error" id={`error-${field}`} data-testid={`error-${field}`} role="alert">
        {message(problem)}
      </p>
    ) : null;
  };
  const described = (field: Field) => (problemFor(field) ? { "aria-invalid": true, "aria-describedby": `error-${field}` } : {});

  return (
    <form class="sheet" onSubmit={submit} noValidate>
      <h2>{t(props.listing ? "form.edit_title" : "form.new_title")}</h2>
      {failure && (
        <div class="banner error" role="alert" data-testid="form-error">
          <p>{t(failureKey)}</p>
          {others.map((p) => (
            <p>{message(p)}</p>
          ))}
        </div>
      )}
      <label class="field">
        <span>{t("form.title")}</span>
        <input name="title" value={input.title} onInput={set("title")} onChange={set("title")} placeholder={t("form.title_placeholder")} autocomplete="off" {...described("title")} />
        {fieldError("title")}
      </label>
      <label class="field">
        <span>{t("form.unit")}</span>
        <select name="unit" value={input.unit} onChange={set("unit")} {...described("unit")}>
          {UNITS.map((unit) => (
            <option value={unit}>{t(`unit.${unit}`)}</option>
          ))}
        </select>
        {fieldError("unit")}
      </label>
      <div class="row">
        <label class="field grow">
          <span>{t("form.price")}</span>
          <input name="price" value={input.price} onInput={set("price")} onChange={set("price")} inputMode="decimal" placeholder="0.00" {...described("price")} />
          {fieldError("price")}
        </label>
        <label class="field">
          <span>{t("form.currency")}</span>
          <select name="currency" value={input.currency} onChange={set("currency")} {...described("currency")}>
            {CURRENCIES.map((currency) => (
              <option value={currency}>{currency}</option>
            ))}
          </select>
          {fieldError("currency")}
        </label>
      </div>
      <label class="field">
        <span>{t("form.stock")}</span>
        <input name="stock" value={input.stock} onInput={set("stock")} onChange={set("stock")} inputMode="decimal" placeholder="0" {...described("stock")} />
        {fieldError("stock")}
      </label>
      <label class="field">
        <span>
          <span aria-hidden="true">📷 </span>
          {t("form.photo")}
        </span>
        {/* On a phone, image/* offers the camera or the gallery. */}
        <input name="photo" type="file" accept="image/jpeg,image/png,image/webp" data-testid="photo-input" onChange={(e) => setPhoto(e.currentTarget.files?.[0] ?? null)} {...described("photos")} />
        {fieldError("photos")}
      </label>
      <div class="actions">
        <button type="button" class="secondary" data-testid="cancel" onClick={props.onCancel}>
          {t("form.cancel")}
        </button>
        <button type="submit" class="primary" data-testid="save" disabled={saving}>
          {t(saving ? "form.saving" : "form.save")}
        </button>
      </div>
    </form>
  );
}
