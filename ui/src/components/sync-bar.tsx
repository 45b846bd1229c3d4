// The sync status line: "offline · 12 waiting", "sending 3 of 120", "synced 2 minutes ago", with a
// "sync now" button. It follows the driver's progress events and tells the backend when the
// webview sees the network come and go.
import { useEffect, useState } from "preact/hooks";

import { backend, type DeviceStatus, type Progress } from "../api";
import { useT } from "../i18n/context";
import { relativeTime } from "../format";

export function SyncBar(props: { status: DeviceStatus | null; onSynced: () => void }) {
  const { t, locale } = useT();
  const [progress, setProgress] = useState<Progress | null>(null);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    let stop: (() => void) | undefined;
    void backend.syncProgress().then(setProgress).catch(() => undefined);
    void backend
      .onSyncProgress((next) => {
        setProgress(next);
        if (next.phase === "idle") props.onSynced();
      })
      .then((unlisten) => (stop = unlisten));
    const online = () => void backend.networkChanged(true);
    const offline = () => void backend.networkChanged(false);
    window.addEventListener("online", online);
    window.addEventListener("offline", offline);
    // "Synced 2 minutes ago" has to age while the screen is open.
    const clock = window.setInterval(() => setNow(Date.now()), 30_000);
    return () => {
      stop?.();
      window.removeEventListener("online", online);
      window.removeEventListener("offline", offline);
      window.clearInterval(clock);
    };
  }, []);

  const pending = progress?.pending ?? props.status?.pending_changes ?? 0;
  const paired = props.status?.account != null;
  const lastSynced = progress?.last_synced_at ?? props.status?.last_synced_at ?? null;
  let text: string;
  if (!paired) {
    text = pending > 0 ? t("sync.pending", { count: pending }) : t("sync.none_pending");
  } else {
    switch (progress?.phase) {
      case "offline":
        text = t("sync.offline", { count: pending });
        break;
      case "backoff":
        text = t("sync.retrying", { count: pending });
        break;
      case "pushing":
        text = t("sync.sending", { sent: progress.sent, total: progress.round_total });
        break;
      case "pulling":
        text = t("sync.receiving");
        break;
      case "unauthorized":
        text = t("sync.unauthorized");
        break;
      default:
        text = lastSynced === null ? t("sync.never") : t("sync.synced", { ago: relativeTime(lastSynced, now, locale) });
    }
  }
  return (
    <div class="sync-line" role="status">
      <span data-testid="sync-status">{text}</span>
      {paired && (
        <button type="button" class="link" data-testid="sync-now" onClick={() => void backend.syncNow()}>
          {t("sync.now")}
        </button>
      )}
    </div>
  );
}
