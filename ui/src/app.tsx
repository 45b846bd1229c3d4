// The app shell: the language, the account's role, and the screens. A farmer gets the phone
// layout (Today, produce, orders, live, earnings, settings in a bottom bar within thumb reach);
// co-op staff get the console (orders table, pick lists, dashboard) with a side bar on a laptop.
// The same screens adapt to either width; the role only picks the set and the home screen.
import { useEffect, useState } from "preact/hooks";

import logo from "../../icons/fieldcast.svg";
import { backend, type Role } from "./api";
import { formatMoney } from "./format";
import { LOCALES, loadLocale, saveLocale, translate, type Locale, type MessageKey } from "./i18n";
import { I18nProvider, useT } from "./i18n/context";
import { ConsoleOrdersScreen } from "./screens/console-orders";
import { EarningsScreen } from "./screens/earnings";
import { FarmersScreen } from "./screens/farmers";
import { GoLiveScreen } from "./screens/go-live";
import { OrdersScreen } from "./screens/orders";
import { PickListScreen } from "./screens/pick-list";
import { ProduceScreen } from "./screens/produce";
import { SettingsScreen } from "./screens/settings";
import { TodayScreen } from "./screens/today";

type Screen = "today" | "produce" | "orders" | "live" | "earnings" | "settings" | "console" | "pick_lists" | "dashboard" | "farmers";

interface Tab {
  screen: Screen;
  icon: string;
  label: MessageKey;
}

const FARMER_TABS: Tab[] = [
  { screen: "today", icon: "☀", label: "nav.today" },
  { screen: "produce", icon: "🌽", label: "nav.produce" },
  { screen: "orders", icon: "🧾", label: "nav.orders" },
  { screen: "live", icon: "●", label: "nav.live" },
  { screen: "earnings", icon: "📈", label: "nav.earnings" },
  { screen: "settings", icon: "⚙", label: "nav.settings" },
];

const CONSOLE_TABS: Tab[] = [
  { screen: "console", icon: "🧾", label: "nav.orders" },
  { screen: "pick_lists", icon: "📋", label: "nav.pick_lists" },
  { screen: "dashboard", icon: "📈", label: "nav.dashboard" },
  { screen: "farmers", icon: "👩‍🌾", label: "nav.farmers" },
  { screen: "produce", icon: "🌽", label: "nav.produce" },
  { screen: "live", icon: "●", label: "nav.live" },
  { screen: "settings", icon: "⚙", label: "nav.settings" },
];

export function App() {
  const [locale, setLocale] = useState<Locale>(() => {
    const initial = loadLocale();
    document.documentElement.lang = initial;
    return initial;
  });
  const [role, setRole] = useState<Role | null>(null);
  const [screen, setScreen] = useState<Screen>("today");
  // Bumped when a pull brings buyers' orders: the screens that count orders load again.
  const [arrived, setArrived] = useState(0);
  const [arrival, setArrival] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => void) | undefined;
    void backend
      .onOrdersArrived((orders) => {
        const first = orders[0];
        if (!first) return;
        const title = orders.length === 1 ? translate(locale, "notify.new_order") : translate(locale, "notify.new_orders", { count: orders.length });
        const body = translate(locale, "notify.order_body", { buyer: first.buyer_name, total: formatMoney(first.total, locale) });
        setArrival(`${title} · ${body}`);
        setArrived((n) => n + 1);
        void backend.notify(title, body).catch(() => false);
      })
      .then((unlisten) => (stop = unlisten));
    return () => stop?.();
  }, [locale]);
  // Where the last export went: the app's webview shows no download bar of its own.
  const [saved, setSaved] = useState<string | null>(null);
  useEffect(() => {
    let stop: (() => void) | undefined;
    void backend
      .onDownloaded(({ path, success }) => setSaved(success && path ? translate(locale, "download.saved", { path }) : translate(locale, "download.failed")))
      .then((unlisten) => (stop = unlisten));
    return () => stop?.();
  }, [locale]);
  const loadRole = async () => {
    const status = await backend.deviceStatus().catch(() => null);
    const next = status?.account?.role ?? "farmer";
    setRole(next);
    return next;
  };
  useEffect(() => {
    void loadRole().then((next) => setScreen(next === "farmer" ? "today" : "console"));
  }, []);
  useEffect(() => {
    // Two frames after the first screen renders, it is on the glass.
    if (role !== null) requestAnimationFrame(() => requestAnimationFrame(() => void backend.painted().catch(() => undefined)));
  }, [role === null]);
  const choose = (next: Locale) => {
    saveLocale(next);
    setLocale(next);
  };
  const consoleLayout = role === "admin" || role === "staff";
  const tabs = consoleLayout ? CONSOLE_TABS : FARMER_TABS;
  return (
    <I18nProvider locale={locale}>
      <div class={consoleLayout ? "layout console" : "layout phone"} data-role={role ?? "loading"}>
        <Header locale={locale} onLocale={choose} title={tabs.find((t) => t.screen === screen)?.label ?? "nav.today"} />
        <Tabs tabs={tabs} screen={screen} onScreen={setScreen} />
        <main class="screen">
          {arrival && (
            <p class="banner arrival" role="status" data-testid="order-arrived">
              <span aria-hidden="true">🔔 </span>
              {arrival}
              <button type="button" class="link" onClick={() => setArrival(null)}>
                {translate(locale, "notify.dismiss")}
              </button>
            </p>
          )}
          {saved && (
            <p class="banner" role="status" data-testid="download-saved">
              {saved}
              <button type="button" class="link" onClick={() => setSaved(null)}>
                {translate(locale, "notify.dismiss")}
              </button>
            </p>
          )}
          {role !== null && (
            <Current
              refresh={arrived}
              screen={screen}
              onGo={setScreen}
              onLocale={choose}
              onPaired={() => void loadRole().then((next) => setScreen(next === "farmer" ? "today" : "console"))}
            />
          )}
        </main>
      </div>
    </I18nProvider>
  );
}

function Current(props: { screen: Screen; refresh: number; onGo: (screen: Screen) => void; onLocale: (locale: Locale) => void; onPaired: () => void }) {
  switch (props.screen) {
    case "today":
      return <TodayScreen onGo={props.onGo} refresh={props.refresh} />;
    case "produce":
      return <ProduceScreen />;
    case "orders":
      return <OrdersScreen refresh={props.refresh} />;
    case "live":
      return <GoLiveScreen />;
    case "earnings":
    case "dashboard":
      return <EarningsScreen perFarmer />;
    case "settings":
      return <SettingsScreen onLocale={props.onLocale} onPaired={props.onPaired} />;
    case "console":
      return <ConsoleOrdersScreen refresh={props.refresh} />;
    case "pick_lists":
      return <PickListScreen />;
    case "farmers":
      return <FarmersScreen />;
  }
}

function Tabs(props: { tabs: Tab[]; screen: Screen; onScreen: (screen: Screen) => void }) {
  const { t } = useT();
  return (
    <nav class="tabs" aria-label={t("nav.label")}>
      {props.tabs.map((tab) => (
        <button
          type="button"
          aria-current={props.screen === tab.screen ? "page" : undefined}
          data-testid={`tab-${tab.screen}`}
          onClick={() => props.onScreen(tab.screen)}
        >
          <span class="tab-icon" aria-hidden="true">
            {tab.icon}
          </span>
          <span class="tab-label">{t(tab.label)}</span>
        </button>
      ))}
    </nav>
  );
}

function Header(props: { locale: Locale; onLocale: (locale: Locale) => void; title: MessageKey }) {
  const { t } = useT();
  return (
    <header class="top-bar">
      <img class="brand" src={logo} alt="" width="36" height="36" />
      <h1>{t(props.title)}</h1>
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
