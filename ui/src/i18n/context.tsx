// The current language for the component tree, and the `useT` hook screens use to read strings.
import { createContext, type ComponentChildren } from "preact";
import { useContext } from "preact/hooks";

import { translate, type Locale, type MessageKey } from "./index";

export interface I18n {
  locale: Locale;
  t: (key: MessageKey, params?: Record<string, string | number>) => string;
}

const I18nContext = createContext<I18n>({ locale: "en", t: (key, params) => translate("en", key, params) });

export function I18nProvider(props: { locale: Locale; children: ComponentChildren }) {
  const value: I18n = { locale: props.locale, t: (key, params) => translate(props.locale, key, params) };
  return <I18nContext.Provider value={value}>{props.children}</I18nContext.Provider>;
}

export function useT(): I18n {
  return useContext(I18nContext);
}
