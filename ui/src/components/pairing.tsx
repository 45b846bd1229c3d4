// Connecting this device to a co-op: the server address and the 8-digit code from the co-op.
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
