//! What an operator measures, in the Prometheus text format (`GET /metrics`): requests by
//! route template, status and latency; the database pool; the outbox; reminder runs;
//! seals; stored documents; failed and throttled logins.
//!
//! One registry per process (production runs one application per process; tests that
//! start several share it, so they compare before and after). Counters and histograms are
//! kept as things happen; what the database knows (outbox, documents) is read when
//! `/metrics` is asked (`http::ops`).

use std::sync::LazyLock;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge, IntGaugeVec, Opts, Registry,
};

/// The metrics of this process.
pub struct Metrics {
    registry: Registry,
    /// `nnr_http_request_duration_seconds{method, route, status}`: `route` is the mounted
    /// template (`/vereinbarungen/<id>`), never the address with its ids.
    pub requests: HistogramVec,
    pub logins_failed: IntCounter,
    pub logins_throttled: IntCounter,
    pub reminder_runs: IntCounter,
    pub reminder_errors: IntCounter,
    pub seal_duration: Histogram,
    /// `nnr_db_pool_connections{state="open"|"idle"|"waiting"}`: connections the pool
    /// holds, those of them idle, and callers waiting for one.
    pub db_pool: IntGaugeVec,
    /// `nnr_outbox_mails{state="waiting"|"failed"}`: waiting includes failed ones that
    /// will be tried again.
    pub outbox: IntGaugeVec,
    pub outbox_oldest_age: IntGauge,
    pub documents: IntGauge,
}

/// Latency buckets from 1 ms to 10 s (pages are meant to stay under 100 ms at p99).
const SECONDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

impl Metrics {
    fn new() -> Metrics {
        let registry = Registry::new();
        // The names and labels are fixed here: registering cannot fail but for a
        // programming error, which the unit test below would show.
        let requests = HistogramVec::new(
            HistogramOpts::new(
                "nnr_http_request_duration_seconds",
                "Requests by method, route template and status, with their duration",
            )
            .buckets(SECONDS.to_vec()),
            &["method", "route", "status"],
        )
        .expect("request histogram");
        let counter = |name: &str, help: &str| IntCounter::new(name, help).expect(name);
        let metrics = Metrics {
            requests,
            logins_failed: counter(
                "nnr_logins_failed_total",
                "Logins refused for a wrong e-mail address or password",
            ),
            logins_throttled: counter(
                "nnr_logins_throttled_total",
                "Logins refused because the account or address tried too often",
            ),
            reminder_runs: counter("nnr_reminder_runs_total", "Runs of the reminder job"),
            reminder_errors: counter(
                "nnr_reminder_errors_total",
                "Runs of the reminder job that failed",
            ),
            seal_duration: Histogram::with_opts(
                HistogramOpts::new(
                    "nnr_seal_duration_seconds",
                    "Seals applied to documents, with their duration (time stamp included)",
                )
                .buckets(SECONDS.to_vec()),
            )
            .expect("seal histogram"),
            db_pool: IntGaugeVec::new(
                Opts::new("nnr_db_pool_connections", "The database pool's connections"),
                &["state"],
            )
            .expect("pool gauge"),
            outbox: IntGaugeVec::new(
                Opts::new("nnr_outbox_mails", "Mails in the outbox not yet sent"),
                &["state"],
            )
            .expect("outbox gauge"),
            outbox_oldest_age: IntGauge::new(
                "nnr_outbox_oldest_waiting_seconds",
                "Age of the oldest mail waiting in the outbox (0 when none waits)",
            )
            .expect("outbox age"),
            documents: IntGauge::new("nnr_documents_stored", "Sealed documents stored")
                .expect("documents"),
            registry,
        };
        let r = &metrics.registry;
        let all: [Box<dyn prometheus::core::Collector>; 10] = [
            Box::new(metrics.requests.clone()),
            Box::new(metrics.logins_failed.clone()),
            Box::new(metrics.logins_throttled.clone()),
            Box::new(metrics.reminder_runs.clone()),
            Box::new(metrics.reminder_errors.clone()),
            Box::new(metrics.seal_duration.clone()),
            Box::new(metrics.db_pool.clone()),
            Box::new(metrics.outbox.clone()),
            Box::new(metrics.outbox_oldest_age.clone()),
            Box::new(metrics.documents.clone()),
        ];
        for c in all {
            r.register(c).expect("metric registered once");
        }
        metrics
    }

    /// Everything, in the Prometheus text format.
    pub fn encode(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_default()
    }
}

/// The metrics of this process.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_registered_and_named_in_the_output() {
        METRICS.logins_failed.inc();
        METRICS
            .requests
            .with_label_values(&["GET", "/katalog", "200"])
            .observe(0.004);
        METRICS.db_pool.with_label_values(&["idle"]).set(3);
        METRICS.outbox.with_label_values(&["failed"]).set(0);
        let text = METRICS.encode();
        for name in [
            "nnr_http_request_duration_seconds_bucket{method=\"GET\",route=\"/katalog\",status=\"200\",le=\"0.005\"}",
            "nnr_logins_failed_total",
            "nnr_logins_throttled_total 0",
            "nnr_reminder_runs_total 0",
            "nnr_seal_duration_seconds_count",
            "nnr_db_pool_connections{state=\"idle\"} 3",
            "nnr_outbox_mails{state=\"failed\"} 0",
            "nnr_outbox_oldest_waiting_seconds",
            "nnr_documents_stored",
        ] {
            assert!(text.contains(name), "{name} in\n{text}");
        }
    }
}
