// The i18n layer: every string a person reads comes from `t`, in the chosen language.
import { en, type MessageKey, type Messages } from "./en";
import { it } from "./it";
import { zhCN } from "./zh-CN";

export type Locale = "zh-CN" | "en" | "it";
export type { MessageKey };

export const LOCALES: readonly { code: Locale; name: string }[] = [
  { code: "zh-CN", name: "中文" },
  { code: "en", name: "English" },
  { code: "it", name: "Italiano" },
];

export const MESSAGES: Record<Locale, Messages> = { "zh-CN": zhCN, en, it };

const STORAGE_KEY = "fieldcast.locale";

/** The saved choice, else the system language, else Chinese (the farmers we build for first). */
export function initialLocale(saved: string | null, preferred: readonly string[]): Locale {
  if (saved === "zh-CN" || saved === "en" || saved === "it") return saved;
  for (const tag of preferred) {
    const lower = tag.toLowerCase();
    if (lower.startsWith("zh")) return "zh-CN";
    if (lower.startsWith("it")) return "it";
    if (lower.startsWith("en")) return "en";
  }
  return "zh-CN";
}

export function loadLocale(): Locale {
  return initialLocale(localStorage.getItem(STORAGE_KEY), navigator.languages ?? [navigator.language]);
}

export function saveLocale(locale: Locale): void {
  localStorage.setItem(STORAGE_KEY, locale);
  document.documentElement.lang = locale;
}

/** Looks up `key` in `locale` and fills `{name}` placeholders from `params`. */
export function translate(locale: Locale, key: MessageKey, params: Record<string, string | number> = {}): string {
  const template = MESSAGES[locale][key];
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
}

/** Whether `key` names a message; used for codes that arrive from the backend at run time. */
export function isMessageKey(key: string): key is MessageKey {
  return key in en;
}
