//! Counters and latency histograms, served at `/metrics` in the Prometheus text format.
//!
//! A handful of fixed series, kept in a mutex-guarded map: a request costs one short lock. No
//! labels come from user input (routes are the matched patterns, not the paths), so the number of
//! series stays bounded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// `requests_total{method,route,status}`.
    requests: BTreeMap<(String, String, u16), u64>,
    /// Latency histogram per route: bucket counts, sum in seconds, count.
    latency: BTreeMap<String, Histogram>,
    orders_placed: BTreeMap<String, u64>,
    orders_refused: BTreeMap<String, u64>,
}

#[derive(Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    sum: Duration,
    count: u64,
}

impl Metrics {
    pub fn request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.requests.entry((method.to_owned(), route.to_owned(), status)).or_default() += 1;
        let histogram = inner.latency.entry(route.to_owned()).or_default();
        let seconds = elapsed.as_secs_f64();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.sum += elapsed;
        histogram.count += 1;
    }

    pub fn order_placed(&self, channel: &str) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()).orders_placed.entry(channel.to_owned()).or_default() += 1;
    }

    pub fn order_refused(&self, reason: &str) {
        *self.inner.lock().unwrap_or_else(|p| p.into_inner()).orders_refused.entry(reason.to_owned()).or_default() += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP fieldcast_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE fieldcast_http_requests_total counter\n");
        for ((method, route, status), count) in &inner.requests {
            let _ = writeln!(out, "fieldcast_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {count}", escape(route));
        }
        out.push_str("# HELP fieldcast_http_request_duration_seconds HTTP request latency by route.\n");
        out.push_str("# TYPE fieldcast_http_request_duration_seconds histogram\n");
        for (route, histogram) in &inner.latency {
            let route = escape(route);
            for (count, bound) in histogram.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(out, "fieldcast_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(out, "fieldcast_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}", histogram.count);
            let _ = writeln!(out, "fieldcast_http_request_duration_seconds_sum{{route=\"{route}\"}} {}", histogram.sum.as_secs_f64());
            let _ = writeln!(out, "fieldcast_http_request_duration_seconds_count{{route=\"{route}\"}} {}", histogram.count);
        }
        out.push_str("# HELP fieldcast_orders_placed_total Buyer orders placed, by channel.\n");
        out.push_str("# TYPE fieldcast_orders_placed_total counter\n");
        for (channel, count) in &inner.orders_placed {
            let _ = writeln!(out, "fieldcast_orders_placed_total{{channel=\"{channel}\"}} {count}");
        }
        out.push_str("# HELP fieldcast_orders_refused_total Buyer orders refused, by reason.\n");
        out.push_str("# TYPE fieldcast_orders_refused_total counter\n");
        for (reason, count) in &inner.orders_refused {
            let _ = writeln!(out, "fieldcast_orders_refused_total{{reason=\"{reason}\"}} {count}");
        }
        out
    }
}

/// Label values escape backslash, quote and newline.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        metrics.request("POST", "/api/v1/orders", 201, Duration::from_millis(3));
        metrics.request("POST", "/api/v1/orders", 409, Duration::from_millis(30));
        metrics.order_placed("order_link");
        metrics.order_refused("sold_out");
        let text = metrics.render();
        assert!(text.contains("fieldcast_http_requests_total{method=\"POST\",route=\"/api/v1/orders\",status=\"201\"} 1"));
        assert!(text.contains("fieldcast_http_request_duration_seconds_bucket{route=\"/api/v1/orders\",le=\"0.005\"} 1"));
        assert!(text.contains("fieldcast_http_request_duration_seconds_bucket{route=\"/api/v1/orders\",le=\"0.05\"} 2"));
        assert!(text.contains("fieldcast_http_request_duration_seconds_count{route=\"/api/v1/orders\"} 2"));
        assert!(text.contains("fieldcast_orders_placed_total{channel=\"order_link\"} 1"));
        assert!(text.contains("fieldcast_orders_refused_total{reason=\"sold_out\"} 1"));
    }
}
