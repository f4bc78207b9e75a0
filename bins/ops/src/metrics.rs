//! A small Prometheus text-format registry: counters and gauges with fixed label sets.
//!
//! Our own tiny implementation instead of the `metrics` crates: the services need a few dozen
//! series, and this keeps the build lean. Rendering follows the Prometheus text exposition format
//! 0.0.4 (`# HELP`, `# TYPE`, `name{label="value"} number`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
}

#[derive(Debug)]
struct Family {
    help: String,
    kind: Kind,
    series: BTreeMap<String, f64>,
}

/// A counter series a service registers at 0 at start: name, help, labels.
pub type CounterSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// The counters (`{prefix}…_total` string literals) named in `sources` that `specs` does not
/// list, except `dynamic` ones (labels known only when they happen): a service's drift test
/// passes its sources with `include_str!` and expects none.
pub fn unlisted_counters(
    prefix: &str,
    sources: &[&str],
    specs: &[CounterSpec],
    dynamic: &[&str],
) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for src in sources {
        for part in src.split('"').skip(1).step_by(2) {
            if part.starts_with(prefix)
                && part.ends_with("_total")
                && !part.contains(char::is_whitespace)
                && !dynamic.contains(&part)
                && !specs.iter().any(|(n, _, _)| *n == part)
            {
                out.insert(part.to_string());
            }
        }
    }
    out.into_iter().collect()
}

/// A shared registry of metric families. Cloning shares it.
#[derive(Debug, Clone, Default)]
pub struct Metrics {
    families: Arc<Mutex<BTreeMap<String, Family>>>,
}

fn label_string(labels: &[(&str, &str)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let mut s = String::from("{");
    for (i, (k, v)) in labels.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        let _ = write!(s, "{k}=\"{v}\"");
    }
    s.push('}');
    s
}

impl Metrics {
    /// An empty registry.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn update(
        &self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        f: impl FnOnce(&mut f64),
    ) {
        let mut fams = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let fam = fams.entry(name.to_string()).or_insert_with(|| Family {
            help: help.to_string(),
            kind,
            series: BTreeMap::new(),
        });
        f(fam.series.entry(label_string(labels)).or_insert(0.0));
    }

    /// Adds `by` to a counter.
    pub fn inc_by(&self, name: &str, help: &str, labels: &[(&str, &str)], by: u64) {
        self.update(name, help, Kind::Counter, labels, |v| *v += by as f64);
    }

    /// Adds `by` (a fraction: seconds) to a counter; a negative or non-finite `by` is ignored.
    pub fn add(&self, name: &str, help: &str, labels: &[(&str, &str)], by: f64) {
        let by = if by.is_finite() && by > 0.0 { by } else { 0.0 };
        self.update(name, help, Kind::Counter, labels, |v| *v += by);
    }

    /// Adds one to a counter.
    pub fn inc(&self, name: &str, help: &str, labels: &[(&str, &str)]) {
        self.inc_by(name, help, labels, 1);
    }

    /// Sets a gauge.
    pub fn set(&self, name: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        self.update(name, help, Kind::Gauge, labels, |v| *v = value);
    }

    /// Registers every counter of `specs` at 0 (existing values are kept), so that `/metrics`
    /// shows them from the first scrape and an alert never waits for a first event.
    pub fn register_counters(&self, specs: &[CounterSpec]) {
        for (name, help, labels) in specs {
            self.inc_by(name, help, labels, 0);
        }
    }

    /// Sets a counter to a total counted elsewhere (a client's own counters); a lower value
    /// than the one held is ignored, so the counter never goes down.
    pub fn set_total(&self, name: &str, help: &str, labels: &[(&str, &str)], total: u64) {
        self.update(name, help, Kind::Counter, labels, |v| {
            *v = v.max(total as f64)
        });
    }

    /// Publishes a GC client's counters as `{service}_gc_requests_total`, `_gc_retries_total`,
    /// `_gc_rate_limited_total` (429s) and `_gc_paced_total` (pauses the client took because
    /// GC's `inin-ratelimit-*` headers said the budget was nearly spent).
    pub fn record_gc_client(&self, service: &str, s: gcex::ClientStats) {
        for (what, help, v) in [
            (
                "requests",
                "HTTP requests sent to Genesys Cloud (every attempt).",
                s.requests,
            ),
            (
                "retries",
                "Requests sent again after a transport failure, a 5xx or a 429 (a re-sent event relies on GC de-duplicating by eventId: gcex/README.md).",
                s.retries,
            ),
            (
                "rate_limited",
                "429 answers from Genesys Cloud.",
                s.rate_limited,
            ),
            (
                "paced",
                "Pauses taken before a 429 because GC's rate-limit headers said the budget was nearly spent.",
                s.paced,
            ),
        ] {
            self.set_total(&format!("{service}_gc_{what}_total"), help, &[], v);
        }
        self.set(
            &format!("{service}_gc_wait_seconds_total"),
            "Seconds spent waiting before retries (backoffs and Retry-After from 429s).",
            &[],
            s.waited_ms as f64 / 1000.0,
        );
    }

    /// [`Metrics::record_gc_client`] of a live client, plus its answers per endpoint and class:
    /// `{service}_gc_responses_total{method, endpoint, class}` (`class`: `2xx`, `4xx`, `429`,
    /// `5xx`, `transport`; ids in the endpoint are `{id}`).
    pub fn record_gc(&self, service: &str, gc: &gcex::GcClient) {
        self.record_gc_client(service, gc.stats());
        let name = format!("{service}_gc_responses_total");
        for e in gc.endpoint_stats() {
            self.set_total(
                &name,
                "Genesys Cloud answers by method, endpoint (ids as {id}) and class (2xx, 4xx, 429, 5xx, transport).",
                &[
                    ("method", e.method.as_str()),
                    ("endpoint", e.endpoint.as_str()),
                    ("class", e.class),
                ],
                e.count,
            );
        }
    }

    /// The current value of a series (for tests and status pages).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let fams = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        fams.get(name)?.series.get(&label_string(labels)).copied()
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let fams = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        let mut out = String::new();
        for (name, fam) in fams.iter() {
            let kind = match fam.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
            };
            let _ = writeln!(out, "# HELP {name} {}", fam.help.replace('\n', " "));
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, v) in &fam.series {
                let _ = writeln!(out, "{name}{labels} {v}");
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.inc(
            "exec_events_total",
            "Events handled.",
            &[("kind", "presence")],
        );
        m.inc_by(
            "exec_events_total",
            "Events handled.",
            &[("kind", "presence")],
            2,
        );
        m.set("exec_lag_seconds", "Lag.", &[], 0.5);
        m.inc("exec_odd", "Odd label.", &[("v", "a\"b")]);
        let text = m.render();
        assert!(
            text.contains("# TYPE exec_events_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("exec_events_total{kind=\"presence\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("exec_lag_seconds 0.5\n"), "{text}");
        assert!(text.contains("exec_odd{v=\"a\\\"b\"} 1\n"), "{text}");
        assert_eq!(
            m.value("exec_events_total", &[("kind", "presence")]),
            Some(3.0)
        );
    }
}
