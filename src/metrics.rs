//! What the server counts, for Prometheus: one [`Metrics`] per application
//! (never a global, so every test server and every instance counts its
//! own), handed to each part that records into it, and rendered in the
//! Prometheus text format by the metrics listener (`TASKQL_METRICS_LISTEN`).
//!
//! Label values are bounded: routes are the router's own paths, outcomes
//! are error codes, and operation names are kept for the first
//! [`OPERATION_NAMES`] distinct GraphQL names of at most [`OPERATION_NAME_CHARS`]
//! characters; any other is counted as `other`, so no client can grow the
//! number of series.
//!
//! Without a metrics listener nothing reads the series, and the request
//! path records nothing by label ([`Metrics::off`]): only gauges and
//! histograms that are a single atomic or lock are kept up.
//!
//! Figures that are read rather than counted (connections of the pool, the
//! mail queue, the process' memory, CPU time and file descriptors) are
//! read when scraped.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{
        counter::Counter,
        family::Family,
        gauge::Gauge,
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

/// The most distinct operation names counted by name.
pub const OPERATION_NAMES: usize = 200;
/// The longest operation name counted by name, in characters.
pub const OPERATION_NAME_CHARS: usize = 64;

/// Where the label `operation` says a name was not kept.
const OTHER: &str = "other";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: Arc<String>,
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationKind {
    operation: Arc<String>,
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderOutcome {
    provider: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct State {
    state: &'static str,
}

type DurationFamily = Family<OperationKind, Histogram, fn() -> Histogram>;

/// The application's counters, gauges and histograms. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    /// Whether anything will read the series (a metrics listener exists).
    recording: bool,
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    operations: Family<OperationLabels, Counter>,
    operation_seconds: DurationFamily,
    logins: Family<Outcome, Counter>,
    external_logins: Family<ProviderOutcome, Counter>,
    hash_queue_depth: Gauge,
    hash_seconds: Histogram,
    websocket_connections: Gauge,
    subscriptions: Gauge,
    listener_reconnects: Counter,
    mail_queue_depth: Gauge,
    reminders_pending: Gauge,
    reminder_overdue_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    mail_oldest_queued_seconds: Gauge<f64, std::sync::atomic::AtomicU64>,
    mail_sent: Family<Outcome, Counter>,
    db_connections: Family<State, Gauge>,
    resident_memory_bytes: Gauge,
    cpu_seconds: Counter<f64, std::sync::atomic::AtomicU64>,
    open_fds: Gauge,
    /// Operation names counted by name, each kept once.
    names: Mutex<HashMap<String, Arc<String>>>,
    anonymous: Arc<String>,
    other: Arc<String>,
    /// Held while the process' figures are read, one scrape at a time.
    reading: Mutex<()>,
}

fn operation_histogram() -> Histogram {
    // 0.5 ms to about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    /// Metrics that a listener serves.
    pub fn recording() -> Self {
        Self::with_recording(true)
    }

    /// Metrics that nothing reads: the labelled series record nothing.
    pub fn off() -> Self {
        Self::with_recording(false)
    }

    fn with_recording(recording: bool) -> Self {
        let mut root = Registry::default();
        let registry = root.sub_registry_with_prefix("taskql");
        let http_requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route and status",
            http_requests.clone(),
        );
        let operations = Family::default();
        registry.register(
            "graphql_operations",
            "GraphQL operations run, by name, kind and outcome (ok or the error code)",
            operations.clone(),
        );
        let operation_seconds: DurationFamily = Family::new_with_constructor(operation_histogram);
        registry.register(
            "graphql_operation_duration_seconds",
            "Time to run a GraphQL operation, by name and kind",
            operation_seconds.clone(),
        );
        let logins = Family::default();
        registry.register("logins", "Login attempts, by outcome", logins.clone());
        let external_logins = Family::default();
        registry.register(
            "external_logins",
            "Sign-ins with an identity provider, by provider and outcome",
            external_logins.clone(),
        );
        let hash_queue_depth = Gauge::default();
        registry.register(
            "password_hash_queue_depth",
            "Password hashes waiting for a hashing worker",
            hash_queue_depth.clone(),
        );
        let hash_seconds = Histogram::new(exponential_buckets(0.002, 2.0, 12));
        registry.register(
            "password_hash_seconds",
            "Time of one Argon2 computation",
            hash_seconds.clone(),
        );
        let websocket_connections = Gauge::default();
        registry.register(
            "websocket_connections",
            "Open WebSocket connections",
            websocket_connections.clone(),
        );
        let subscriptions = Gauge::default();
        registry.register(
            "subscriptions",
            "Active subscriptions",
            subscriptions.clone(),
        );
        let listener_reconnects = Counter::default();
        registry.register(
            "event_listener_reconnects",
            "Times the PostgreSQL event listener reconnected",
            listener_reconnects.clone(),
        );
        let mail_queue_depth = Gauge::default();
        registry.register(
            "mail_queue_depth",
            "Mail waiting to be sent",
            mail_queue_depth.clone(),
        );
        let reminders_pending = Gauge::default();
        registry.register(
            "reminders_pending",
            "Reminders waiting for their time",
            reminders_pending.clone(),
        );
        let reminder_overdue_seconds = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "reminder_overdue_seconds",
            "How long past its time the earliest waiting reminder is (0 when none is due)",
            reminder_overdue_seconds.clone(),
        );
        let mail_oldest_queued_seconds = Gauge::default();
        registry.register(
            "mail_oldest_queued_seconds",
            "Age of the oldest mail waiting to be sent",
            mail_oldest_queued_seconds.clone(),
        );
        let mail_sent = Family::default();
        registry.register(
            "mail_sent",
            "Mail delivery attempts, by outcome (sent, retry, given_up)",
            mail_sent.clone(),
        );
        let db_connections = Family::default();
        registry.register(
            "db_connections",
            "Database connections of the pool, by state (idle, in_use)",
            db_connections.clone(),
        );
        // The process' figures under the names every Prometheus client uses.
        let registry = &mut root;
        let resident_memory_bytes = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the process",
            resident_memory_bytes.clone(),
        );
        let cpu_seconds = Counter::default();
        registry.register(
            "process_cpu_seconds",
            "User and system CPU time the process has used",
            cpu_seconds.clone(),
        );
        let open_fds = Gauge::default();
        registry.register(
            "process_open_fds",
            "Open file descriptors of the process",
            open_fds.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                recording,
                registry: root,
                http_requests,
                operations,
                operation_seconds,
                logins,
                external_logins,
                hash_queue_depth,
                hash_seconds,
                websocket_connections,
                subscriptions,
                listener_reconnects,
                mail_queue_depth,
                reminders_pending,
                reminder_overdue_seconds,
                mail_oldest_queued_seconds,
                mail_sent,
                db_connections,
                resident_memory_bytes,
                cpu_seconds,
                open_fds,
                names: Mutex::new(HashMap::new()),
                anonymous: Arc::new("anonymous".to_owned()),
                other: Arc::new(OTHER.to_owned()),
                reading: Mutex::new(()),
            }),
        }
    }

    /// Whether a listener will read the series.
    pub fn is_recording(&self) -> bool {
        self.inner.recording
    }

    /// An HTTP request answered on `route` (the router's path, or `other`).
    pub fn http_request(&self, route: &'static str, status: u16) {
        self.inner
            .http_requests
            .get_or_create(&HttpLabels { route, status })
            .inc();
    }

    /// A GraphQL operation that ran (or was refused) in `took`.
    pub fn operation(
        &self,
        name: Option<&str>,
        kind: &'static str,
        outcome: &'static str,
        took: Duration,
    ) {
        if !self.inner.recording {
            return;
        }
        let operation = self.operation_label(name);
        self.inner
            .operation_seconds
            .get_or_create(&OperationKind {
                operation: Arc::clone(&operation),
                kind,
            })
            .observe(took.as_secs_f64());
        self.inner
            .operations
            .get_or_create(&OperationLabels {
                operation,
                kind,
                outcome,
            })
            .inc();
    }

    /// The label a client's operation name is counted under.
    fn operation_label(&self, name: Option<&str>) -> Arc<String> {
        let Some(name) = name.filter(|name| !name.is_empty()) else {
            return Arc::clone(&self.inner.anonymous);
        };
        if name.len() > OPERATION_NAME_CHARS || !is_graphql_name(name) {
            return Arc::clone(&self.inner.other);
        }
        let Ok(mut names) = self.inner.names.lock() else {
            return Arc::clone(&self.inner.other);
        };
        if let Some(kept) = names.get(name) {
            return Arc::clone(kept);
        }
        if names.len() >= OPERATION_NAMES || name == OTHER || name == "anonymous" {
            return Arc::clone(&self.inner.other);
        }
        let kept = Arc::new(name.to_owned());
        names.insert(name.to_owned(), Arc::clone(&kept));
        kept
    }

    /// A sign-in with the identity provider `provider` that ended with
    /// `outcome` (`ok` or an error code).
    pub fn external_login(&self, provider: &str, outcome: &'static str) {
        self.inner
            .external_logins
            .get_or_create(&ProviderOutcome {
                provider: provider.to_owned(),
                outcome,
            })
            .inc();
    }

    /// A login that ended with `outcome` (`ok` or an error code).
    pub fn login(&self, outcome: &'static str) {
        self.inner.logins.get_or_create(&Outcome { outcome }).inc();
    }

    /// The gauge of hashes waiting for a worker.
    pub fn hash_queue_depth(&self) -> Gauge {
        self.inner.hash_queue_depth.clone()
    }

    /// The histogram of Argon2 computation times.
    pub fn hash_seconds(&self) -> Histogram {
        self.inner.hash_seconds.clone()
    }

    /// The gauge of open WebSocket connections.
    pub fn websocket_connections(&self) -> Gauge {
        self.inner.websocket_connections.clone()
    }

    /// The gauge of active subscriptions.
    pub fn subscriptions(&self) -> Gauge {
        self.inner.subscriptions.clone()
    }

    /// The event listener reconnected.
    pub fn listener_reconnected(&self) {
        self.inner.listener_reconnects.inc();
    }

    /// A mail delivery attempt that ended with `outcome`.
    pub fn mail_sent(&self, outcome: &'static str) {
        self.inner
            .mail_sent
            .get_or_create(&Outcome { outcome })
            .inc();
    }

    /// What the mail queue holds now: how many, and the oldest one's age.
    pub fn mail_queue(&self, depth: u64, oldest: Option<Duration>) {
        self.inner
            .mail_queue_depth
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
        self.inner
            .mail_oldest_queued_seconds
            .set(oldest.map_or(0.0, |age| age.as_secs_f64()));
    }

    /// The reminders waiting now: how many, and how late the earliest is.
    pub fn reminders(&self, pending: u64, overdue: Duration) {
        self.inner
            .reminders_pending
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
        self.inner
            .reminder_overdue_seconds
            .set(overdue.as_secs_f64());
    }

    /// The pool's connections now.
    pub fn db_connections(&self, idle: u64, in_use: u64) {
        for (state, count) in [("idle", idle), ("in_use", in_use)] {
            self.inner
                .db_connections
                .get_or_create(&State { state })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Every series in the Prometheus text format, with the process'
    /// figures read now.
    pub fn render(&self) -> String {
        self.read_process();
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ =
            prometheus_client::encoding::prometheus_text::encode(&mut text, &self.inner.registry);
        text
    }

    /// Resident memory, CPU time and open descriptors, from `/proc`.
    fn read_process(&self) {
        let Some(process) = process::read() else {
            return;
        };
        self.inner
            .resident_memory_bytes
            .set(i64::try_from(process.resident_bytes).unwrap_or(i64::MAX));
        // A counter only goes up: by what the process used since the last
        // reading.
        if let Ok(_reading) = self.inner.reading.lock() {
            let counted = self.inner.cpu_seconds.get();
            if process.cpu_seconds > counted {
                self.inner.cpu_seconds.inc_by(process.cpu_seconds - counted);
            }
        }
        self.inner
            .open_fds
            .set(i64::try_from(process.open_fds).unwrap_or(i64::MAX));
    }
}

/// Whether `name` is a GraphQL name (`[_A-Za-z][_0-9A-Za-z]*`): a
/// request refused before it parsed may name its operation anything.
fn is_graphql_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|first| first == b'_' || first.is_ascii_alphabetic())
        && bytes.all(|byte| byte == b'_' || byte.is_ascii_alphanumeric())
}

mod process {
    /// What `/proc/self` says of the process (Linux); `None` elsewhere.
    pub struct Process {
        pub resident_bytes: u64,
        pub cpu_seconds: f64,
        pub open_fds: usize,
    }

    /// Clock ticks per second of `/proc/self/stat`'s times: 100 on every
    /// Linux that runs on the architectures we build for.
    const TICKS_PER_SECOND: f64 = 100.0;
    const PAGE_BYTES: u64 = 4096;

    pub fn read() -> Option<Process> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let resident_pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // The fields after the command name, which is in parentheses and
        // may hold spaces: utime and stime are the 14th and 15th fields.
        let after_name = stat.rsplit_once(')')?.1;
        let mut fields = after_name.split_whitespace().skip(11);
        let user: f64 = fields.next()?.parse().ok()?;
        let system: f64 = fields.next()?.parse().ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
        Some(Process {
            resident_bytes: resident_pages * PAGE_BYTES,
            cpu_seconds: (user + system) / TICKS_PER_SECOND,
            open_fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let metrics = Metrics::recording();
        for i in 0..1000 {
            metrics.operation(
                Some(&format!("Op{i}")),
                "query",
                "ok",
                Duration::from_millis(1),
            );
        }
        metrics.operation(
            Some(&"x".repeat(65)),
            "query",
            "ok",
            Duration::from_millis(1),
        );
        metrics.operation(None, "query", "ok", Duration::from_millis(1));
        let odd = Metrics::recording();
        odd.operation(Some("a\"b\nc"), "unknown", "BAD_USER_INPUT", Duration::ZERO);
        assert!(odd.render().contains(r#"operation="other""#));
        let text = metrics.render();
        let series = text
            .lines()
            .filter(|line| line.starts_with("taskql_graphql_operations_total{"))
            .count();
        assert_eq!(
            series,
            OPERATION_NAMES + 2,
            "200 names, other and anonymous"
        );
        assert!(text.contains(r#"taskql_graphql_operations_total{operation="other",kind="query",outcome="ok"} 801"#), "{text}");
        assert!(text.contains(r#"operation="Op0""#));
        assert!(!text.contains(r#"operation="Op200""#));
    }

    #[test]
    fn the_process_is_read_from_proc() {
        let text = Metrics::recording().render();
        let resident = text
            .lines()
            .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
            .expect("resident memory");
        assert!(
            resident.parse::<u64>().expect("a number") > 1_000_000,
            "{resident}"
        );
    }
}
