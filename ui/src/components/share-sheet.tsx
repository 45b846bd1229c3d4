// Sharing a product's order link: the link itself, copy, the system share sheet where the
// platform has one, and a QR code on screen for a buyer standing next to the farmer. The link and
// its QR code come from the marketplace, so they exist once the product has synced.
import { useState } from "preact/hooks";

import type { Produce } from "../api";
import { useT } from "../i18n/context";

export function ShareSheet(props: { item: Produce; onClose: () => void }) {
  const { t } = useT();
  const [copied, setCopied] = useState(false);
  const link = props.item.order_link;
  const title = props.item.listing.details.title;
  return (
    <div class="sheet share" role="dialog" aria-labelledby="share-heading" data-testid="share-sheet">
      <h2 id="share-heading">{t("share.title", { title })}</h2>
      {link === null ? (
        <p class="muted">{t("share.not_synced")}</p>
      ) : (
        <>
          <p class="wrap" data-testid="share-link">
            {link}
          </p>
          <img class="qr" src={`${link}/qr.svg`} width="220" height="220" alt={t("share.qr", { title })} data-testid="share-qr" />
          <div class="actions">
            <button
              type="button"
              class="secondary"
              data-testid="share-copy"
              onClick={() => void navigator.clipboard.writeText(link).then(() => setCopied(true), () => setCopied(false))}
            >
              {t(copied ? "share.copied" : "share.copy")}
            </button>
            {"share" in navigator && (
              <button type="button" class="primary" data-testid="share-system" onClick={() => void navigator.share({ title, url: link }).catch(() => undefined)}>
                {t("share.system")}
              </button>
            )}
          </div>
        </>
      )}
      <div class="actions">
        <button type="button" class="secondary" data-testid="share-close" onClick={props.onClose}>
          {t("share.close")}
        </button>
      </div>
    </div>
  );
}
