// Every language has every message, with the same placeholders, and every code the backend can
// send has a message.
import { describe, expect, it } from "vitest";

import { DOMAIN_ERROR_CODES } from "../api/bindings";
import { en } from "./en";
import { initialLocale, MESSAGES, translate, type Locale } from "./index";

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("messages", () => {
  for (const [locale, messages] of Object.entries(MESSAGES)) {
    it(`${locale} has exactly the English keys, with the same placeholders`, () => {
      expect(Object.keys(messages).sort()).toEqual(Object.keys(en).sort());
      for (const [key, text] of Object.entries(messages)) {
        expect(text.trim(), `${locale} ${key}`).not.toBe("");
        expect(placeholders(text), `${locale} ${key}`).toEqual(placeholders(en[key as keyof typeof en]));
      }
    });
  }

  it("has a message for every domain error code and every client error code", () => {
    for (const code of [...DOMAIN_ERROR_CODES, "invalid", "not_found", "storage", "unexpected"]) {
      expect(Object.keys(en), code).toContain(`error.${code}`);
    }
  });

  it("fills placeholders and leaves unknown ones visible", () => {
    expect(translate("en", "error.too_long", { limit: 120 })).toBe("At most 120 characters");
    expect(translate("zh-CN", "sync.pending", { count: 3 })).toBe("已保存在本机 · 3 条待同步");
    expect(translate("it", "error.too_long")).toBe("Al massimo {limit} caratteri");
  });
});

describe("initial locale", () => {
  const cases: [string | null, string[], Locale][] = [
    ["it", ["zh-CN"], "it"],
    [null, ["zh-TW", "en"], "zh-CN"],
    [null, ["it-IT"], "it"],
    [null, ["en-GB"], "en"],
    [null, ["fr-FR"], "zh-CN"],
    ["klingon", [], "zh-CN"],
  ];
  for (const [saved, preferred, expected] of cases) {
    it(`${saved} / ${preferred.join(",")} → ${expected}`, () => {
      expect(initialLocale(saved, preferred)).toBe(expected);
    });
  }
});
