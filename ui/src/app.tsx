// The app shell: the language choice, the screens' tabs and the current screen.
import { useState } from "preact/hooks";

import logo from "../../icons/fieldcast.svg";
import { LOCALES, loadLocale, saveLocale, type Locale } from "./i18n";
import { I18nProvider, useT } from "./i18n/context";
import { GoLiveScreen } from "./screens/go-live";
import { ProduceScreen } from "./screens/produce";

type Screen = "produce" | "live";

export function App() {
  const [locale, setLocale] = useState<Locale>(() => {
    const initial = loadLocale();
    document.documentElement.lang = initial;
    return initial;
  });
  const [screen, setScreen] = useState<Screen>("produce");
  const choose = (next: Locale) => {
    saveLocale(next);
    setLocale(next);
  };
  return (
    <I18nProvider locale={locale}>
      <Header locale={locale} onLocale={choose} screen={screen} />
      <Tabs screen={screen} onScreen={setScreen} />
      <main class="screen">{screen === "produce" ? <ProduceScreen /> : <GoLiveScreen />}</main>
    </I18nProvider>
  );
}

function Tabs(props: { screen: Screen; onScreen: (screen: Screen) => void }) {
  const { t } = useT();
  const tab = (screen: Screen, icon: string, label: string) => (
    <button type="button" role="tab" aria-selected={props.screen === screen} data-testid={`tab-${screen}`} onClick={() => props.onScreen(screen)}>
      <span aria-hidden="true">{icon}</span> {label}
    </button>
  );
  return (
    <nav class="tabs" role="tablist">
      {tab("produce", "🌽", t("nav.produce"))}
      {tab("live", "●", t("nav.live"))}
    </nav>
  );
}

function Header(props: { locale: Locale; onLocale: (locale: Locale) => void; screen: Screen }) {
  const { t } = useT();
  return (
    <header class="top-bar">
      <img class="brand" src={logo} alt="" width="36" height="36" />
      <h1>{t(props.screen === "produce" ? "produce.title" : "live.title")}</h1>
      <label class="language">
        <span class="visually-hidden">{t("language.label")}</span>
        <select
          data-testid="language"
          value={props.locale}
          onChange={(event) => props.onLocale((event.currentTarget as HTMLSelectElement).value as Locale)}
        >
          {LOCALES.map((l) => (
            <option value={l.code}>{l.name}</option>
          ))}
        </select>
      </label>
    </header>
  );
}
