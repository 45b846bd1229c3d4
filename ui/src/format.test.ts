// Money and quantities become text exactly, with no float in between.
import { describe, expect, it } from "vitest";

import { decimalText, formatMoney, formatQuantity, moneyInput, quantityInput, relativeTime, trimmedDecimalText } from "./format";

describe("decimal text", () => {
  it("places the decimal point by integer arithmetic", () => {
    expect(decimalText(350, 2)).toBe("3.50");
    expect(decimalText(5, 2)).toBe("0.05");
    expect(decimalText(-5, 2)).toBe("-0.05");
    expect(decimalText(12, 0)).toBe("12");
    expect(decimalText(9_007_199_254_740_991, 2)).toBe("90071992547409.91");
    expect(() => decimalText(0.5, 2)).toThrow(RangeError);
  });

  it("trims fraction zeros for quantities", () => {
    expect(trimmedDecimalText(2500, 3)).toBe("2.5");
    expect(trimmedDecimalText(3000, 3)).toBe("3");
    expect(trimmedDecimalText(1, 3)).toBe("0.001");
  });
});

describe("formatting for people", () => {
  it("formats money in each locale", () => {
    expect(formatMoney({ minor: 350, currency: "CNY" }, "zh-CN")).toBe("¥3.50");
    expect(formatMoney({ minor: 123456, currency: "EUR" }, "it")).toBe("1234,56\u00a0€");
    expect(formatMoney({ minor: 10, currency: "USD" }, "en")).toBe("$0.10");
  });

  it("keeps large amounts exact", () => {
    expect(formatMoney({ minor: 100_000_000_000_001, currency: "CNY" }, "en")).toBe("CN¥1,000,000,000,000.01");
  });

  it("formats quantities and round-trips edit fields", () => {
    expect(formatQuantity(2500, "it")).toBe("2,5");
    expect(formatQuantity(50_000, "zh-CN")).toBe("50");
    expect(moneyInput({ minor: 400, currency: "CNY" })).toBe("4.00");
    expect(quantityInput(1500)).toBe("1.5");
  });
});

describe("relative time", () => {
  it("says how long ago in each language", () => {
    const now = 1_800_000_000_000;
    expect(relativeTime(now - 2 * 60_000, now, "en")).toBe("2 minutes ago");
    expect(relativeTime(now - 3 * 3_600_000, now, "zh-CN")).toBe("3小时前");
    expect(relativeTime(now - 86_400_000, now, "it")).toBe("ieri");
    expect(relativeTime(now, now, "en")).toBe("now");
  });
});
