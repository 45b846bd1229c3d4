// "My produce": the farmer's list of what is for sale, with add and edit.
import { useEffect, useState } from "preact/hooks";

import { backend, BackendError, type DeviceStatus, type Listing } from "../api";
import { ProduceForm } from "../components/produce-form";
import { formatMoney, formatQuantity } from "../format";
import { useT } from "../i18n/context";

type Editing = { mode: "new" } | { mode: "edit"; listing: Listing } | null;

export function ProduceScreen() {
  const { t } = useT();
  const [listings, setListings] = useState<Listing[] | null>(null);
  const [status, setStatus] = useState<DeviceStatus | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const refresh = async () => {
    try {
      const [produce, device] = await Promise.all([backend.listProduce(), backend.deviceStatus()]);
      setListings(produce);
      setStatus(device);
      setFailure(null);
    } catch (error) {
      setFailure(error instanceof BackendError ? error.api.code : "unexpected");
    }
  };
  useEffect(() => {
    void refresh();
  }, []);

  if (editing) {
    return (
      <ProduceForm
        listing={editing.mode === "edit" ? editing.listing : undefined}
        onCancel={() => setEditing(null)}
        onSaved={() => {
          setEditing(null);
          void refresh();
        }}
      />
    );
  }

  return (
    <section aria-labelledby="produce-heading">
      <h2 id="produce-heading" class="visually-hidden">{t("produce.title")}</h2>
      {failure && <p class="banner error" role="alert">{t(failure === "storage" ? "error.storage" : "error.unexpected")}</p>}
      {status && (
        <p class="sync-line" data-testid="sync-status">
          {status.pending_changes > 0 ? t("sync.pending", { count: status.pending_changes }) : t("sync.none_pending")}
        </p>
      )}
      {listings === null && !failure && <p class="muted">{t("produce.loading")}</p>}
      {listings?.length === 0 && <p class="empty">{t("produce.empty")}</p>}
      <ul class="cards">
        {listings?.map((listing) => (
          <ListingCard listing={listing} onEdit={() => setEditing({ mode: "edit", listing })} />
        ))}
      </ul>
      <button type="button" class="primary floating" data-testid="add-produce" onClick={() => setEditing({ mode: "new" })}>
        <span aria-hidden="true">＋</span> {t("produce.add")}
      </button>
    </section>
  );
}

function ListingCard(props: { listing: Listing; onEdit: () => void }) {
  const { t, locale } = useT();
  const { details, status } = props.listing;
  const unit = t(`unit.${details.unit}`);
  return (
    <li class="card" data-testid="listing">
      <div class="card-main">
        <h3 class="card-title" data-testid="listing-title">{details.title}</h3>
        <p class="price" data-testid="listing-price">
          {t("produce.price_per_unit", { price: formatMoney(details.price, locale), unit })}
        </p>
        <p class="muted">
          {t("produce.stock_left", { quantity: `${formatQuantity(details.stock, locale)} ${unit}` })}
          {" · "}
          <span class={`badge ${status}`}>{t(`status.${status}`)}</span>
        </p>
      </div>
      <button type="button" class="secondary" data-testid="edit-produce" onClick={props.onEdit}>
        {t("produce.edit")}
      </button>
    </li>
  );
}
