// The co-op's farmers and their devices: add a farmer, give a farmer a pairing code for a new
// phone (eight digits to read out, a QR code to scan), and revoke a lost or stolen device. These
// need the marketplace: a pairing code only exists there.
import { useState } from "preact/hooks";

import { backend, type DeviceInfo, type MemberInfo, type PairingInfo } from "../api";
import { ErrorBanner } from "../components/error-banner";
import { useAction, useBackend } from "../hooks";
import { useT } from "../i18n/context";

interface Data {
  members: MemberInfo[];
  devices: DeviceInfo[];
}

export function FarmersScreen() {
  const { t, locale } = useT();
  const loaded = useBackend<Data>(async () => {
    const [members, devices] = await Promise.all([backend.members(), backend.devices()]);
    return { members, devices };
  });
  const [name, setName] = useState("");
  const [pairing, setPairing] = useState<PairingInfo | null>(null);
  const { failure, act } = useAction(loaded.reload);
  const farmers = loaded.data?.members.filter((m) => m.role === "farmer") ?? [];
  const date = (millis: number) => new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(millis);
  return (
    <section class="farmers" aria-labelledby="farmers-heading">
      <h2 id="farmers-heading">{t("nav.farmers")}</h2>
      <ErrorBanner code={failure ?? loaded.failure} />
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void act(async () => {
            const added = await backend.addFarmer(name.trim());
            setPairing(added.pairing);
            setName("");
          });
        }}
      >
        <label class="field">
          <span>{t("farmers.name")}</span>
          <input name="farmer_name" value={name} onInput={(e) => setName(e.currentTarget.value)} onChange={(e) => setName(e.currentTarget.value)} data-testid="farmer-name" />
        </label>
        <button type="submit" class="primary" data-testid="add-farmer">
          {t("farmers.add")}
        </button>
      </form>
      {pairing && (
        <div class="panel pairing-code" role="status" data-testid="pairing-code">
          <p>{t("farmers.code_for", { name: pairing.member.name })}</p>
          <p class="code-digits" data-testid="pairing-digits">
            {pairing.code.slice(0, 4)} {pairing.code.slice(4)}
          </p>
          <img src={`data:image/svg+xml;base64,${btoa(pairing.qr_svg)}`} width="180" height="180" alt={t("farmers.qr", { code: pairing.code })} data-testid="pairing-qr" />
          <p class="muted">{t("farmers.expires", { at: date(pairing.expires_at) })}</p>
        </div>
      )}
      <table class="orders-table" data-testid="farmers-table">
        <caption class="visually-hidden">{t("nav.farmers")}</caption>
        <thead>
          <tr>
            <th>{t("farmers.name")}</th>
            <th>{t("farmers.devices")}</th>
            <th>
              <span class="visually-hidden">{t("farmers.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {farmers.map((farmer) => (
            <tr data-testid="farmer-row">
              <td>{farmer.name}</td>
              <td>{loaded.data?.devices.filter((d) => d.member_id === farmer.id && d.revoked_at === null).length ?? 0}</td>
              <td>
                <button type="button" class="secondary" data-testid="new-code" onClick={() => void act(async () => setPairing(await backend.newPairingCode(farmer.id)))}>
                  {t("farmers.new_code")}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h3>{t("farmers.devices")}</h3>
      <table class="orders-table" data-testid="devices-table">
        <thead>
          <tr>
            <th>{t("farmers.device")}</th>
            <th>{t("farmers.member")}</th>
            <th>{t("farmers.paired")}</th>
            <th>
              <span class="visually-hidden">{t("farmers.actions")}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {loaded.data?.devices.map((device) => (
            <tr data-testid="device-row" data-revoked={device.revoked_at !== null}>
              <td>{device.name}</td>
              <td>{device.member_name}</td>
              <td>{date(device.created_at)}</td>
              <td>
                {device.revoked_at === null ? (
                  <button type="button" class="danger" data-testid="revoke" onClick={() => void act(() => backend.revokeDevice(device.id))}>
                    {t("farmers.revoke")}
                  </button>
                ) : (
                  <span class="muted">{t("farmers.revoked")}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
