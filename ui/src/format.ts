// Turning integer money and quantities into text, without ever holding them in a float.
//
// Amounts are integer minor units and quantities integer thousandths (see api/bindings.ts). They
// become exact decimal strings here, and Intl formats those strings for the person's locale.
import type { Money, Quantity } from "./api";

/** The exact decimal text of `value / 10^scale`, e.g. (350, 2) → "3.50". */
export function decimalText(value: number, scale: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer: ${value}`);
  const digits = Math.abs(value).toString().padStart(scale + 1, "0");
  const sign = value < 0 ? "-" : "";
  if (scale === 0) return sign + digits;
  return `${sign}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Like `decimalText` without trailing fraction zeros: 2500 thousandths → "2.5". */
export function trimmedDecimalText(value: number, scale: number): string {
  const text = decimalText(value, scale);
  return text.includes(".") ? text.replace(/0+$/, "").replace(/\.$/, "") : text;
}

const MINOR_DIGITS = 2; // CNY, EUR and USD all have two; the Rust side owns the table.

// Intl formats exact decimal strings (ECMA-402 "Intl.NumberFormat v3"); the cast only widens the
// parameter type for TypeScript's older declaration.
type DecimalFormat = (value: string) => string;

export function formatMoney(money: Money, locale: string): string {
  const format = new Intl.NumberFormat(locale, { style: "currency", currency: money.currency });
  return (format.format as unknown as DecimalFormat)(decimalText(money.minor, MINOR_DIGITS));
}

export function formatQuantity(quantity: Quantity, locale: string): string {
  const format = new Intl.NumberFormat(locale, { maximumFractionDigits: 3 });
  return (format.format as unknown as DecimalFormat)(trimmedDecimalText(quantity, 3));
}

/** The text to put back into a price field when editing. */
export function moneyInput(money: Money): string {
  return decimalText(money.minor, MINOR_DIGITS);
}

/** The text to put back into a quantity field when editing. */
export function quantityInput(quantity: Quantity): string {
  return trimmedDecimalText(quantity, 3);
}

/** "2 minutes ago" in the locale's words, from two epoch-millisecond times. */
export function relativeTime(then: number, now: number, locale: string): string {
  const seconds = Math.round((then - now) / 1000);
  const format = new Intl.RelativeTimeFormat(locale, { numeric: "auto" });
  const steps: [Intl.RelativeTimeFormatUnit, number][] = [["second", 60], ["minute", 60], ["hour", 24], ["day", Infinity]];
  let value = seconds;
  for (const [unit, size] of steps) {
    if (Math.abs(value) < size) return format.format(value, unit);
    value = Math.round(value / size);
  }
  return format.format(value, "day");
}
