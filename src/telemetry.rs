//! Logging with tracing: human-readable or JSON lines on standard error,
//! filtered by `TASKQL_LOG`. Standard output stays free for command output
//! such as `taskql schema`.
//!
//! With `TASKQL_OTLP_ENDPOINT`, the same spans are also exported over
//! OTLP/HTTP: each HTTP request (continuing the caller's W3C `traceparent`),
//! its GraphQL operation, the database statements, password hashing and
//! mail delivery beneath it. Export runs on a thread of its own in batches;
//! a span that finds the queue full is dropped, so a collector that is slow
//! or down costs requests nothing.
//!
//! The spans beneath a request are at the `debug` level: without traces
//! they are off where they are written (unless `TASKQL_LOG` asks for them),
//! and the log shows only the request's span, with its `trace_id` once a
//! trace is known.

use std::{
    collections::HashMap,
    sync::{
        OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, SystemTime},
};

use axum::{
    extract::MatchedPath,
    http::{Request, StatusCode},
};
use opentelemetry::{
    KeyValue,
    propagation::TextMapPropagator,
    trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _},
};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter},
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, filter, fmt, prelude::*};

use crate::config::{LogFormat, LogSettings, OtlpEndpoint, TraceSettings};

/// The tracer spans are made with, once traces are on.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// What the process must do before it exits: send the spans still queued.
#[must_use = "call finish before exiting, or queued spans are lost"]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Exports what is queued, waiting at most a few seconds for the
    /// collector. Blocks: call it outside the runtime's worker threads.
    pub fn finish(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown_with_timeout(Duration::from_secs(3))
        {
            tracing::warn!(%error, "the last spans were not exported");
        }
    }
}

/// Sets up the log, and traces when `traces` names a collector.
pub fn init(log: &LogSettings, traces: Option<&TraceSettings>) -> anyhow::Result<Telemetry> {
    // webauthn-rs logs whole ceremonies below info (challenges, the
    // credentials browsers send); they stay out of the log unless a filter
    // names that target itself.
    let quiet = "webauthn_rs_core=info".parse()?;
    let filter = log.filter.directives().fold(
        EnvFilter::default().add_directive(quiet),
        EnvFilter::add_directive,
    );
    // Colours only for a person at a terminal, not in a container's or a
    // service manager's log.
    let lines = fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let lines = match log.format {
        LogFormat::Pretty => lines.boxed(),
        LogFormat::Json => lines.json().flatten_event(true).boxed(),
    }
    .with_filter(filter);
    let endpoint = traces.and_then(|traces| traces.otlp_endpoint.as_ref());
    let provider = endpoint.map(provider).transpose()?;
    let spans = provider.as_ref().map(|provider| {
        let tracer = provider.tracer("taskql");
        let _ = TRACER.set(tracer.clone());
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            // Spans only: an event's text is for the log (where development
            // writes mail, tokens and all), not for the collector.
            .with_filter(filter::filter_fn(|metadata| {
                metadata.is_span()
                    && metadata.target().starts_with("taskql")
                    && *metadata.level() <= tracing::Level::DEBUG
            }))
    });
    tracing_subscriber::registry()
        .with(lines)
        .with(spans)
        .try_init()?;
    if let Some(endpoint) = endpoint {
        tracing::info!(endpoint = endpoint.traces_url(), "exporting traces");
    }
    Ok(Telemetry { provider })
}

fn provider(endpoint: &OtlpEndpoint) -> anyhow::Result<SdkTracerProvider> {
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(endpoint.traces_url())
        .build()?;
    let mut resource = Resource::builder()
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")));
    // Named by OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES when set.
    let detected = Resource::builder().build();
    if detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"))
    {
        resource = resource.with_service_name("taskql");
    }
    Ok(SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(Reported {
            exporter,
            failing: AtomicBool::new(false),
        })
        .build())
}

/// The OTLP exporter, saying once in the log that the collector cannot be
/// reached and once that it can again, rather than at every batch.
#[derive(Debug)]
struct Reported {
    exporter: opentelemetry_otlp::SpanExporter,
    failing: AtomicBool,
}

impl SpanExporter for Reported {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.exporter.export(batch).await;
        match &result {
            Err(error) if !self.failing.swap(true, Ordering::Relaxed) => {
                tracing::warn!(%error, "cannot export traces; spans are dropped until the collector answers");
            }
            Ok(()) if self.failing.swap(false, Ordering::Relaxed) => {
                tracing::info!("exporting traces again");
            }
            _ => {}
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.exporter.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.exporter.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.exporter.set_resource(resource);
    }
}

/// Whether spans are exported.
pub fn is_tracing() -> bool {
    TRACER.get().is_some()
}

/// Makes `span` (a request's) the server span of the trace the request's
/// `traceparent` continues, or of a new one, named after the route, and
/// records its `trace_id` for the log.
pub fn request_started<B>(span: &Span, request: &Request<B>) {
    if !is_tracing() {
        return;
    }
    let method = request.method().as_str();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    span.record(
        "otel.name",
        route.map_or_else(|| method.to_owned(), |route| format!("{method} {route}")),
    );
    span.record("otel.kind", "server");
    let parent = TraceContextPropagator::new()
        .extract(&opentelemetry_http::HeaderExtractor(request.headers()));
    let _ = span.set_parent(parent);
    let context = span.context();
    let trace_id = context.span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span.set_attribute("http.request.method", method.to_owned());
    if let Some(route) = route {
        span.set_attribute("http.route", route.to_owned());
    }
    span.set_attribute("url.path", shown_path(request.uri().path()).to_owned());
    span.set_attribute("url.scheme", "http");
}

/// A request's path as logs and traces show it: a calendar feed's
/// (`/calendar/<token>.ics`) without its token, which is its only
/// credential.
pub fn shown_path(path: &str) -> &str {
    if path.starts_with("/calendar/") {
        "/calendar/…"
    } else {
        path
    }
}

/// Records the status a request was answered with on its span.
pub fn request_answered(span: &Span, status: StatusCode) {
    if !is_tracing() {
        return;
    }
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_status(Status::error(status.as_str().to_owned()));
    }
}

/// The current span's place in its trace as a `traceparent`, for work that
/// another task does later (mail delivery); `None` without traces.
pub fn current_traceparent() -> Option<String> {
    if !is_tracing() {
        return None;
    }
    let current = Span::current();
    let context = current.context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `traceparent` names, when it names one.
pub fn continue_trace(span: &Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent.filter(|_| is_tracing()) else {
        return;
    };
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    let _ = span.set_parent(TraceContextPropagator::new().extract(&carrier));
}

/// A statement that took `elapsed` and just ended, as a span of the
/// current one. Statements outside a traced span (the background tasks'
/// polls) are not recorded.
pub fn statement(system: &'static str, sql: &str, elapsed: Duration, failed: bool) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let parent = Span::current().context();
    if !parent.span().span_context().is_valid() {
        return;
    }
    let operation = sql
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    let end = SystemTime::now();
    let mut span = tracer
        .span_builder(operation.clone())
        .with_kind(SpanKind::Client)
        .with_start_time(end.checked_sub(elapsed).unwrap_or(end))
        .with_attributes([
            KeyValue::new("db.system.name", system),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.text", sql.to_owned()),
        ])
        .start_with_context(tracer, &parent);
    if failed {
        span.set_status(Status::error("the statement failed"));
    }
    span.end_with_timestamp(end);
}
