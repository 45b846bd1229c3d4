// Connecting this device to a co-op: the server address and the 8-digit code from the co-op,
// typed in or read from a photo of the co-op's QR code (on a phone the file input opens the
// camera; the backend finds the code in the picture).
import { useState } from "preact/hooks";

import { backend, BackendError, type AccountInfo } from "../api";
import { isMessageKey } from "../i18n";
import { useT } from "../i18n/context";

export function Pairing(props: { account: AccountInfo | null; onPaired: () => void; onClose: () => void }) {
  const { t } = useT();
  const [server, setServer] = useState(props.account?.server_url ?? "");
  const [code, setCode] = useState("");
  const [name, setName] = useState("");
  const [failure, setFailure] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [scanning, setScanning] = useState(false);
  const [scanned, setScanned] = useState(false);

  const scan = async (file: File | undefined) => {
    if (!file) return;
    setScanning(true);
    setScanned(false);
    try {
      const link = await backend.readPairingCode(file);
      setServer(link.server_url);
      setCode(link.code);
      setFailure(null);
      setScanned(true);
    } catch (error) {
      // A picture without a code and a code that is not ours are told apart by the field's code.
      const api = error instanceof BackendError ? error.api : null;
      setFailure(api?.fields[0]?.code ?? api?.code ?? "unexpected");
    } finally {
      setScanning(false);
    }
  };

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    try {
      await backend.pair(server.trim(), code.trim(), name.trim() || t("pair.default_name"));
      setFailure(null);
      props.onPaired();
    } catch (error) {
      setFailure(error instanceof BackendError ? error.api.code : "unexpected");
    } finally {
      setBusy(false);
    }
  };
  const failureKey = `error.${failure ?? "unexpected"}`;
  return (
    <form class="sheet" onSubmit={submit} noValidate>
      <h2>{t("pair.title")}</h2>
      {props.account && (
        <p class="muted" data-testid="paired-as">
          {t("pair.connected", { name: props.account.member_name, coop: props.account.coop_name })}
        </p>
      )}
      {failure && (
        <p class="banner error" role="alert" data-testid="pair-error">
          {t(isMessageKey(failureKey) ? failureKey : "error.unexpected")}
        </p>
      )}
      {scanned && (
        <p class="banner" role="status" data-testid="pair-scanned">
          {t("pair.scanned")}
        </p>
      )}
      <label class="secondary scan" data-testid="pair-scan">
        <span aria-hidden="true">▣</span> {t(scanning ? "pair.scanning" : "pair.scan")}
        {/* capture: a phone opens its camera; a laptop offers a file. */}
        <input type="file" accept="image/*" capture="environment" class="visually-hidden" data-testid="pair-scan-input" disabled={scanning} onChange={(e) => void scan(e.currentTarget.files?.[0])} />
      </label>
      <label class="field">
        <span>{t("pair.server")}</span>
        <input name="server" value={server} onInput={(e) => setServer(e.currentTarget.value)} onChange={(e) => setServer(e.currentTarget.value)} inputMode="url" placeholder="https://" autocomplete="url" />
      </label>
      <label class="field">
        <span>{t("pair.code")}</span>
        <input name="code" value={code} onInput={(e) => setCode(e.currentTarget.value)} onChange={(e) => setCode(e.currentTarget.value)} inputMode="numeric" autocomplete="one-time-code" placeholder="1234 5678" />
      </label>
      <label class="field">
        <span>{t("pair.device_name")}</span>
        <input name="device_name" value={name} onInput={(e) => setName(e.currentTarget.value)} onChange={(e) => setName(e.currentTarget.value)} placeholder={t("pair.default_name")} />
      </label>
      <div class="actions">
        <button type="button" class="secondary" onClick={props.onClose}>
          {t("form.cancel")}
        </button>
        <button type="submit" class="primary" data-testid="pair-submit" disabled={busy}>
          {t("pair.submit")}
        </button>
      </div>
    </form>
  );
}
