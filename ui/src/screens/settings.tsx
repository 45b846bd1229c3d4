// "Settings": the language, who this device is connected as (and to which co-op, in which
// currency), this device's name in the co-op's list, and connecting it to a co-op with a
// pairing code.
import { useState } from "preact/hooks";

import { backend } from "../api";
import { ErrorBanner } from "../components/error-banner";
import { Pairing } from "../components/pairing";
import { errorCode, useBackend } from "../hooks";
import { LOCALES, type Locale } from "../i18n";
import { useT } from "../i18n/context";

export function SettingsScreen(props: { onLocale: (locale: Locale) => void; onPaired: () => void }) {
  const { t, locale } = useT();
  const [pairing, setPairing] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [failure, setFailure] = useState<string | null>(null);
  const signOut = async () => {
    try {
      await backend.signOut();
      setFailure(null);
      setConfirming(false);
      props.onPaired();
    } catch (error) {
      setFailure(errorCode(error));
    }
  };
  const loaded = useBackend(() => backend.deviceStatus());
  const account = loaded.data?.account ?? null;
  if (pairing) {
    return (
      <Pairing
        account={account}
        onClose={() => setPairing(false)}
        onPaired={() => {
          setPairing(false);
          void loaded.reload();
          props.onPaired();
        }}
      />
    );
  }
  return (
    <section class="settings" aria-labelledby="settings-heading">
      <h2 id="settings-heading" class="visually-hidden">{t("nav.settings")}</h2>
      <ErrorBanner code={failure ?? loaded.failure} />
      <fieldset class="panel">
        <legend>{t("language.label")}</legend>
        {LOCALES.map((l) => (
          <label class="check">
            <input type="radio" name="locale" value={l.code} checked={locale === l.code} onChange={() => props.onLocale(l.code)} data-testid={`locale-${l.code}`} />
            <span lang={l.code}>{l.name}</span>
          </label>
        ))}
      </fieldset>
      <div class="panel">
        <h3>{t("settings.coop")}</h3>
        {account ? (
          <dl class="facts" data-testid="account">
            <dt>{t("settings.member")}</dt>
            <dd>{account.member_name}</dd>
            <dt>{t("settings.coop_name")}</dt>
            <dd>{account.coop_name}</dd>
            <dt>{t("settings.role")}</dt>
            <dd>{t(`role.${account.role}`)}</dd>
            <dt>{t("settings.currency")}</dt>
            <dd>{account.currency}</dd>
            <dt>{t("pair.server")}</dt>
            <dd class="wrap">{account.server_url}</dd>
          </dl>
        ) : (
          <p class="muted">{t("error.not_paired")}</p>
        )}
        <button type="button" class="secondary" data-testid="open-pairing" onClick={() => setPairing(true)}>
          {t(account ? "settings.pair_again" : "pair.title")}
        </button>
      </div>
      {account && <DeviceName current={account.device_name} onRenamed={() => void loaded.reload()} />}
      {account && (
        <div class="panel">
          {confirming ? (
            <>
              <p role="alert">{t("settings.sign_out_confirm")}</p>
              <div class="actions">
                <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                  {t("form.cancel")}
                </button>
                <button type="button" class="danger" data-testid="sign-out-confirm" onClick={() => void signOut()}>
                  {t("settings.sign_out")}
                </button>
              </div>
            </>
          ) : (
            <button type="button" class="secondary" data-testid="sign-out" onClick={() => setConfirming(true)}>
              {t("settings.sign_out")}
            </button>
          )}
        </div>
      )}
    </section>
  );
}

/** This device's name in the co-op's device list; renaming needs the marketplace. */
function DeviceName(props: { current: string; onRenamed: () => void }) {
  const { t } = useT();
  const [name, setName] = useState(props.current);
  const [state, setState] = useState<"editing" | "saving" | "saved">("editing");
  const [failure, setFailure] = useState<string | null>(null);
  const save = async (event: Event) => {
    event.preventDefault();
    setState("saving");
    try {
      const account = await backend.renameDevice(name);
      setName(account.device_name);
      setFailure(null);
      setState("saved");
      props.onRenamed();
    } catch (error) {
      setFailure(errorCode(error));
      setState("editing");
    }
  };
  return (
    <form class="panel" onSubmit={(e) => void save(e)}>
      <label class="field">
        <span>{t("settings.device_name")}</span>
        <input
          name="device_name"
          value={name}
          maxLength={80}
          required
          onInput={(e) => {
            setName(e.currentTarget.value);
            setState("editing");
          }}
          data-testid="device-name"
        />
      </label>
      <ErrorBanner code={failure} />
      <button type="submit" class="secondary" disabled={state === "saving"} data-testid="device-name-save">
        {t("settings.rename")}
      </button>
      {state === "saved" && (
        <p role="status" data-testid="device-name-saved">
          {t("settings.renamed")}
        </p>
      )}
    </form>
  );
}
