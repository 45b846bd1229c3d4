// A bar chart a person reads at a glance: one labelled bar per row, the amount written beside it.
// Plain SVG-free markup (a bar is a sized block), so it scales with the text, prints, and reads
// out as a list to a screen reader.
import type { Bucket } from "../api";
import { formatMoney } from "../format";
import { useT } from "../i18n/context";

export function BarChart(props: { title: string; buckets: Bucket[]; label?: (bucket: Bucket) => string; testid?: string }) {
  const { locale } = useT();
  const max = Math.max(1, ...props.buckets.map((b) => b.amount.minor));
  return (
    <figure class="chart" data-testid={props.testid}>
      <figcaption>{props.title}</figcaption>
      <ul>
        {props.buckets.map((bucket) => {
          const share = bucket.amount.minor / max;
          return (
            <li key={bucket.key}>
              <span class="chart-label">{props.label ? props.label(bucket) : bucket.label}</span>
              <span class="chart-bar" aria-hidden="true">
                <span style={{ width: `${Math.max(share * 100, bucket.amount.minor > 0 ? 2 : 0)}%` }} />
              </span>
              <span class="chart-value">{formatMoney(bucket.amount, locale)}</span>
            </li>
          );
        })}
      </ul>
    </figure>
  );
}
