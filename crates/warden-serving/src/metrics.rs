//! Prometheus metrics of the serving path (text exposition through `/metrics`).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    model: String,
    version: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    model: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct IngestLabels {
    model: String,
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PartitionLabels {
    group: String,
    topic: String,
    partition: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StreamLabels {
    group: String,
    topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    path: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MonitorLabels {
    model: String,
    monitor: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AlertLabels {
    model: String,
    severity: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// 25 µs to ~0.8 s: scoring latency lives at the low end, and the tail must be visible.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(25e-6, 2.0, 16))
}

/// The serving path's counters and histograms.
pub struct ScoringMetrics {
    registry: Registry,
    scored: Family<VersionLabels, Counter>,
    latency: HistogramFamily<VersionLabels>,
    errors: Family<ErrorLabels, Counter>,
    ingested: Family<IngestLabels, Counter>,
    stream_lag: Family<PartitionLabels, Gauge>,
    stream_connected: Family<StreamLabels, Gauge>,
    stream_expired: Family<StreamLabels, Gauge>,
    http_requests: Family<HttpLabels, Counter>,
    http_latency: HistogramFamily<HttpLabels>,
    pub log_queue: Gauge,
    pub log_committed: Counter,
    pub log_lost: Counter,
    pub log_refused: Counter,
    monitor_value: Family<MonitorLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    monitor_status: Family<MonitorLabels, Gauge>,
    open_alerts: Family<AlertLabels, Gauge>,
    /// The monitor series written so far, so that a version's can be dropped when it stops serving.
    monitor_series: std::sync::Mutex<std::collections::HashSet<MonitorLabels>>,
}

impl ScoringMetrics {
    pub fn new() -> ScoringMetrics {
        let mut registry = Registry::with_prefix("warden");
        let scored = Family::<VersionLabels, Counter>::default();
        let latency = HistogramFamily::<VersionLabels>::new_with_constructor(latency_histogram);
        let errors = Family::<ErrorLabels, Counter>::default();
        let ingested = Family::<IngestLabels, Counter>::default();
        let stream_lag = Family::<PartitionLabels, Gauge>::default();
        let stream_connected = Family::<StreamLabels, Gauge>::default();
        let stream_expired = Family::<StreamLabels, Gauge>::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        let http_latency = HistogramFamily::<HttpLabels>::new_with_constructor(latency_histogram);
        let (log_queue, log_committed, log_lost) = (Gauge::default(), Counter::default(), Counter::default());
        let log_refused = Counter::default();
        registry.register("scored_rows", "Rows scored, by model, version and route", scored.clone());
        registry.register("score_latency_seconds", "Time to check, score and queue a request", latency.clone());
        registry.register("score_errors", "Refused or failed score requests, by kind", errors.clone());
        registry.register(
            "ingested_decisions",
            "Decisions made elsewhere, by model, source and outcome: logged (of them, unapproved: no production \
             alias held the version), duplicate (already logged), dead (set aside with a reason)",
            ingested.clone(),
        );
        registry.register(
            "stream_lag",
            "Records of a partition not yet consumed (high watermark - stored position), by group, topic, partition",
            stream_lag.clone(),
        );
        registry.register(
            "stream_connected",
            "Whether a stream consumer's brokers answer (1) or not (0)",
            stream_connected.clone(),
        );
        registry.register(
            "stream_expired_records",
            "Records removed by their topic's retention before this server stored them (since it started), by group \
             and topic",
            stream_expired.clone(),
        );
        registry.register("http_requests", "HTTP requests by method, route and status", http_requests.clone());
        registry.register("http_request_duration_seconds", "HTTP request duration by route", http_latency.clone());
        registry.register("decision_log_queue", "Decisions waiting for the group commit", log_queue.clone());
        registry.register("decision_log_committed", "Decisions committed to the log", log_committed.clone());
        registry.register(
            "decision_log_lost",
            "Shadow decisions the log could not commit (never acknowledged)",
            log_lost.clone(),
        );
        registry.register(
            "decision_log_refused",
            "Decisions refused with 503 because the log could not commit them",
            log_refused.clone(),
        );
        let monitor_value = Family::<MonitorLabels, Gauge<f64, std::sync::atomic::AtomicU64>>::default();
        let monitor_status = Family::<MonitorLabels, Gauge>::default();
        let open_alerts = Family::<AlertLabels, Gauge>::default();
        registry.register("monitor_value", "A monitor's latest value (largest over features)", monitor_value.clone());
        registry.register(
            "monitor_status",
            "A monitor's latest status: 0 ok, 1 warn, 2 alert, -1 insufficient data, -2 unavailable",
            monitor_status.clone(),
        );
        registry.register("open_alerts", "Alerts firing or acknowledged, by model and severity", open_alerts.clone());
        ScoringMetrics {
            registry,
            scored,
            latency,
            errors,
            ingested,
            stream_lag,
            stream_connected,
            stream_expired,
            http_requests,
            http_latency,
            log_queue,
            log_committed,
            log_lost,
            log_refused,
            monitor_value,
            monitor_status,
            open_alerts,
            monitor_series: Default::default(),
        }
    }

    /// Counts an ingested batch.
    pub fn ingested(&self, model: &str, source: &str, logged: usize, duplicates: usize, unapproved: usize) {
        for (outcome, n) in [("logged", logged), ("duplicate", duplicates), ("unapproved", unapproved)] {
            if n > 0 {
                let labels =
                    IngestLabels { model: model.to_owned(), source: source.to_owned(), outcome: outcome.to_owned() };
                self.ingested.get_or_create(&labels).inc_by(n as u64);
            }
        }
    }

    /// A partition's lag (`None`: its end is not known yet, the series is left as it was).
    pub fn stream_lag(&self, group: &str, topic: &str, partition: i32, lag: Option<i64>) {
        if let Some(lag) = lag {
            let labels =
                PartitionLabels { group: group.to_owned(), topic: topic.to_owned(), partition: partition.to_string() };
            self.stream_lag.get_or_create(&labels).set(lag);
        }
    }

    /// Whether a stream's brokers answer, and how many of its records expired before they were stored.
    pub fn stream_state(&self, group: &str, topic: &str, connected: bool, expired: u64) {
        let labels = StreamLabels { group: group.to_owned(), topic: topic.to_owned() };
        self.stream_connected.get_or_create(&labels).set(i64::from(connected));
        self.stream_expired.get_or_create(&labels).set(expired.try_into().unwrap_or(i64::MAX));
    }

    /// Counts records set aside (dead letters) from a source.
    pub fn dead_records(&self, model: &str, source: &str, n: usize) {
        if n > 0 {
            let labels = IngestLabels { model: model.to_owned(), source: source.to_owned(), outcome: "dead".into() };
            self.ingested.get_or_create(&labels).inc_by(n as u64);
        }
    }

    /// Drops every series of a version that stopped serving (it left every alias): a stale
    /// `warden_monitor_status` would keep alert rules firing on a version nothing serves.
    pub fn forget_version(&self, model: &str, version: i64) {
        let version = version.to_string();
        self.monitor_series.lock().expect("metrics lock").retain(|labels| {
            let stale = labels.model == model && labels.version == version;
            if stale {
                self.monitor_status.remove(labels);
                self.monitor_value.remove(labels);
            }
            !stale
        });
        for route in warden_core::Route::NAMES {
            let labels =
                VersionLabels { model: model.to_owned(), version: version.clone(), route: (*route).to_owned() };
            self.scored.remove(&labels);
            self.latency.remove(&labels);
        }
    }

    /// Records a monitor evaluation.
    pub fn monitor(&self, model: &str, monitor: &str, version: i64, status: &str, value: Option<f64>) {
        let labels =
            MonitorLabels { model: model.to_owned(), monitor: monitor.to_owned(), version: version.to_string() };
        let code = match status {
            "ok" => 0,
            "warn" => 1,
            "alert" => 2,
            "unavailable" => -2,
            _ => -1,
        };
        self.monitor_status.get_or_create(&labels).set(code);
        if let Some(value) = value {
            self.monitor_value.get_or_create(&labels).set(value);
        }
        self.monitor_series.lock().expect("metrics lock").insert(labels);
    }

    /// Sets the open-alert counts (every model and severity seen so far, zero when none is open).
    pub fn open_alerts(&self, counts: &std::collections::BTreeMap<(String, String), i64>) {
        for ((model, severity), count) in counts {
            self.open_alerts
                .get_or_create(&AlertLabels { model: model.clone(), severity: severity.clone() })
                .set(*count);
        }
    }

    pub fn scored(&self, model: &str, version: i64, route: &str, rows: usize, latency: Duration) {
        let labels = VersionLabels { model: model.to_owned(), version: version.to_string(), route: route.to_owned() };
        self.scored.get_or_create(&labels).inc_by(rows as u64);
        self.latency.get_or_create(&labels).observe(latency.as_secs_f64());
    }

    pub fn error(&self, model: &str, kind: &str) {
        self.errors.get_or_create(&ErrorLabels { model: model.to_owned(), kind: kind.to_owned() }).inc();
    }

    pub fn http(&self, method: &str, path: &str, status: u16, duration: Duration) {
        let labels = HttpLabels { method: method.to_owned(), path: path.to_owned(), status: status.to_string() };
        self.http_requests.get_or_create(&labels).inc();
        self.http_latency.get_or_create(&labels).observe(duration.as_secs_f64());
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
