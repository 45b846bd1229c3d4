// "My produce": the farmer's list of what is for sale, with add, edit, pause, the sync state, and
// the connection to the co-op.
import { useEffect, useState } from "preact/hooks";

import { backend, BackendError, type DeviceStatus, type Produce } from "../api";
import { Pairing } from "../components/pairing";
import { ProduceForm } from "../components/produce-form";
import { ShareSheet } from "../components/share-sheet";
import { SyncBar } from "../components/sync-bar";
import { formatMoney, formatQuantity } from "../format";
import { useT } from "../i18n/context";

type Editing = { mode: "new" } | { mode: "edit"; item: Produce } | { mode: "share"; item: Produce } | { mode: "pairing" } | null;

export function ProduceScreen() {
  const { t } = useT();
  const [items, setItems] = useState<Produce[] | null>(null);
  const [status, setStatus] = useState<DeviceStatus | null>(null);
  const [editing, setEditing] = useState<Editing>(null);
  const [failure, setFailure] = useState<string | null>(null);

  const refresh = async () => {
    try {
      const [produce, device] = await Promise.all([backend.listProduce(), backend.deviceStatus()]);
      setItems(produce);
      setStatus(device);
      setFailure(null);
    } catch (error) {
      setFailure(error instanceof BackendError ? error.api.code : "unexpected");
    }
  };
  useEffect(() => {
    void refresh();
  }, []);

  const done = () => {
    setEditing(null);
    void refresh();
  };
  if (editing?.mode === "new" || editing?.mode === "edit") {
    return <ProduceForm listing={editing.mode === "edit" ? editing.item.listing : undefined} onCancel={() => setEditing(null)} onSaved={done} />;
  }
  if (editing?.mode === "share") {
    return <ShareSheet item={editing.item} onClose={() => setEditing(null)} />;
  }
  if (editing?.mode === "pairing") {
    return <Pairing account={status?.account ?? null} onPaired={done} onClose={() => setEditing(null)} />;
  }

  const toggle = async (item: Produce) => {
    try {
      await (item.listing.status === "paused" ? backend.resumeProduce(item.listing.id) : backend.pauseProduce(item.listing.id));
      await refresh();
    } catch (error) {
      setFailure(error instanceof BackendError ? error.api.code : "unexpected");
    }
  };

  return (
    <section aria-labelledby="produce-heading">
      <h2 id="produce-heading" class="visually-hidden">{t("produce.title")}</h2>
      {failure && <p class="banner error" role="alert">{t(failure === "storage" ? "error.storage" : "error.unexpected")}</p>}
      <div class="toolbar">
        <SyncBar status={status} onSynced={() => void refresh()} />
        <button type="button" class="link" data-testid="open-pairing" onClick={() => setEditing({ mode: "pairing" })}>
          {t("produce.settings")}
        </button>
      </div>
      {items === null && !failure && <p class="muted">{t("produce.loading")}</p>}
      {items?.length === 0 && <p class="empty">{t("produce.empty")}</p>}
      <ul class="cards">
        {items?.map((item) => (
          <ListingCard item={item} onEdit={() => setEditing({ mode: "edit", item })} onShare={() => setEditing({ mode: "share", item })} onToggle={() => void toggle(item)} />
        ))}
      </ul>
      <button type="button" class="primary floating" data-testid="add-produce" onClick={() => setEditing({ mode: "new" })}>
        <span aria-hidden="true">＋</span> {t("produce.add")}
      </button>
    </section>
  );
}

function ListingCard(props: { item: Produce; onEdit: () => void; onShare: () => void; onToggle: () => void }) {
  const { t, locale } = useT();
  const { details, status, photos } = props.item.listing;
  const unit = t(`unit.${details.unit}`);
  const [thumbnail, setThumbnail] = useState<string | null>(null);
  const first = photos[0]?.sha256;
  useEffect(() => {
    // A photo synced from another device is not stored here yet: the card then shows none.
    if (first) void backend.photo(first).then(setThumbnail, () => setThumbnail(null));
  }, [first]);
  return (
    <li class="card" data-testid="listing">
      {thumbnail ? <img class="thumb" src={thumbnail} alt={details.title} data-testid="listing-photo" /> : <span class="thumb placeholder" aria-hidden="true">🌱</span>}
      <div class="card-main">
        <h3 class="card-title" data-testid="listing-title">{details.title}</h3>
        <p class="price" data-testid="listing-price">
          {t("produce.price_per_unit", { price: formatMoney(details.price, locale), unit })}
        </p>
        <p class="muted">
          {t("produce.stock_left", { quantity: `${formatQuantity(details.stock, locale)} ${unit}` })}
          {" · "}
          <span class={`badge ${status}`}>{t(`status.${status}`)}</span>
          {props.item.pending && (
            <>
              {" · "}
              <span class="badge pending" data-testid="listing-pending">{t("produce.pending")}</span>
            </>
          )}
        </p>
      </div>
      <div class="card-actions">
        <button type="button" class="secondary" data-testid="edit-produce" onClick={props.onEdit}>
          {t("produce.edit")}
        </button>
        <button type="button" class="secondary" data-testid="share-produce" onClick={props.onShare}>
          {t("share.open")}
        </button>
        {status !== "draft" && (
          <button type="button" class="secondary" data-testid="toggle-produce" onClick={props.onToggle}>
            {t(status === "paused" ? "produce.resume" : "produce.pause")}
          </button>
        )}
      </div>
    </li>
  );
}
