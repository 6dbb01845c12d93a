//! OTLP/HTTP export of traces, metrics and logs to an OpenTelemetry collector
//! (feature `otlp`). Uses the blocking HTTP client, so no async runtime is
//! needed; the SDK's batch span processor and periodic reader run on their
//! own threads.
//!
//! The standard variables are honoured: `OTEL_EXPORTER_OTLP_ENDPOINT` (when
//! the builder gives no endpoint), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
//! (full URLs, per signal), and
//! `OTEL_SDK_DISABLED=true` (no OTLP export at all). A failed export is
//! counted and reported on stderr, at most once a minute.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{LogExporter, MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use parking_lot::Mutex;

use crate::error::Error;
use crate::redact_spans::RedactSpans;

/// Where traces, metrics and logs go.
pub(crate) struct Otlp {
    traces: String,
    metrics: String,
    logs: String,
    failures: Failures,
}

/// `OTEL_SDK_DISABLED` is `true`.
pub(crate) fn sdk_disabled() -> bool {
    std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// The endpoint `OTEL_EXPORTER_OTLP_ENDPOINT` gives, if any.
pub(crate) fn env_endpoint() -> Option<String> {
    std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

fn check(endpoint: &str) -> Result<&str, Error> {
    let base = endpoint.trim().trim_end_matches('/');
    if base.starts_with("https://") {
        return Err(Error::Otlp(format!(
            "endpoint {endpoint:?} is https://, and this build has no TLS backend: \
             use http:// (a collector or agent on loopback)"
        )));
    }
    if !base.starts_with("http://") {
        return Err(Error::Otlp(format!(
            "endpoint {endpoint:?} must start with http://"
        )));
    }
    Ok(base)
}

impl Otlp {
    /// Export to the collector at `endpoint` (a base address such as
    /// `http://127.0.0.1:4318`); per-signal variables win for their signal.
    pub(crate) fn new(endpoint: &str) -> Result<Otlp, Error> {
        let base = check(endpoint)?;
        let signal = |var: &str, path: &str| -> Result<String, Error> {
            match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
                Some(url) => check(&url).map(str::to_owned),
                None => Ok(format!("{base}{path}")),
            }
        };
        Ok(Otlp {
            traces: signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?,
            metrics: signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")?,
            logs: signal("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")?,
            failures: Failures::default(),
        })
    }

    /// Failed exports so far, of both signals.
    pub(crate) fn failures(&self) -> Failures {
        self.failures.clone()
    }

    pub(crate) fn tracer_provider(&self, resource: Resource) -> Result<SdkTracerProvider, Error> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(&self.traces)
            .build()
            .map_err(|e| Error::Otlp(e.to_string()))?;
        // Span and event attributes are the application's fields as they
        // are: redact them on the way out, as the KVP layer does.
        let exporter = Reported {
            inner: RedactSpans::new(exporter),
            failures: self.failures.clone(),
            signal: "traces",
            endpoint: self.traces.clone(),
        };
        Ok(SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build())
    }

    /// Events as log records ([`crate::otlp_logs`]), batched to the
    /// collector.
    pub(crate) fn logger_provider(&self, resource: Resource) -> Result<SdkLoggerProvider, Error> {
        let exporter = LogExporter::builder()
            .with_http()
            .with_endpoint(&self.logs)
            .build()
            .map_err(|e| Error::Otlp(e.to_string()))?;
        Ok(SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build())
    }

    pub(crate) fn metric_reader(
        &self,
        interval: Duration,
    ) -> Result<PeriodicReader<Reported<MetricExporter>>, Error> {
        let exporter = MetricExporter::builder()
            .with_http()
            .with_endpoint(&self.metrics)
            .build()
            .map_err(|e| Error::Otlp(e.to_string()))?;
        let exporter = Reported {
            inner: exporter,
            failures: self.failures.clone(),
            signal: "metrics",
            endpoint: self.metrics.clone(),
        };
        Ok(PeriodicReader::builder(exporter)
            .with_interval(interval)
            .build())
    }
}

/// Counts failed exports and reports them on stderr, at most once a
/// minute with the number held back, so that a missing collector is seen
/// without flooding the journal.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failures {
    count: Arc<AtomicU64>,
    last_report: Arc<Mutex<Option<(Instant, u64)>>>,
}

/// How often a failed export is reported.
const REPORT_EVERY: Duration = Duration::from_secs(60);

impl Failures {
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    fn failed(&self, signal: &str, endpoint: &str, error: &dyn std::fmt::Display) {
        let total = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let mut last = self.last_report.lock();
        let due = last.is_none_or(|(at, _)| at.elapsed() >= REPORT_EVERY);
        if due {
            let held = last.map_or(0, |(_, reported)| total - 1 - reported);
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "kvp-telemetry: OTLP {signal} export to {endpoint} failed ({total} failed so far{}): {error}",
                if held > 0 {
                    format!(", {held} not reported")
                } else {
                    String::new()
                }
            );
            *last = Some((Instant::now(), total));
        }
    }
}

/// An exporter whose failures are counted and reported.
#[derive(Debug)]
pub(crate) struct Reported<E> {
    inner: E,
    failures: Failures,
    signal: &'static str,
    endpoint: String,
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for Reported<E>
{
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            self.failures.failed(self.signal, &self.endpoint, e);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

impl<E: PushMetricExporter> PushMetricExporter for Reported<E> {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        let result = self.inner.export(metrics).await;
        if let Err(e) = &result {
            self.failures.failed(self.signal, &self.endpoint, e);
        }
        result
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn temporality(&self) -> Temporality {
        self.inner.temporality()
    }
}
