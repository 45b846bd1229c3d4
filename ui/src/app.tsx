// The app shell: the language choice and the current screen.
import { useState } from "preact/hooks";

import logo from "../../icons/fieldcast.svg";
import { LOCALES, loadLocale, saveLocale, type Locale } from "./i18n";
import { I18nProvider, useT } from "./i18n/context";
import { ProduceScreen } from "./screens/produce";

export function App() {
  const [locale, setLocale] = useState<Locale>(() => {
    const initial = loadLocale();
    document.documentElement.lang = initial;
    return initial;
  });
  const choose = (next: Locale) => {
    saveLocale(next);
    setLocale(next);
  };
  return (
    <I18nProvider locale={locale}>
      <Header locale={locale} onLocale={choose} />
      <main class="screen">
        <ProduceScreen />
      </main>
    </I18nProvider>
  );
}

function Header(props: { locale: Locale; onLocale: (locale: Locale) => void }) {
  const { t } = useT();
  return (
    <header class="top-bar">
      <img class="brand" src={logo} alt="" width="36" height="36" />
      <h1>{t("produce.title")}</h1>
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
