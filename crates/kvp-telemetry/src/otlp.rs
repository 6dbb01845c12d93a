//! OTLP/HTTP export of traces, metrics and logs to an OpenTelemetry collector
//! (feature `otlp`). Uses the blocking HTTP client, so no async runtime is
//! needed; the SDK's batch span processor and periodic reader run on their
//! own threads.
//!
//! The standard variables are honoured: `OTEL_EXPORTER_OTLP_ENDPOINT` (when
//! the builder gives no endpoint), `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` and
//! `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
//! (full URLs, per signal), and
//! `OTEL_SDK_DISABLED=true` (no OTLP export at all). `https://` endpoints
//! use rustls (no system OpenSSL), with the system's root certificates.
//!
//! OTLP is best-effort, as KVP is: an endpoint that cannot work leaves
//! telemetry running without it (one stderr line, and
//! `Guard::otlp_unavailable`). A failed export, or one the collector does
//! not answer within the flush timeout, is counted and reported on stderr,
//! at most once a minute.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_otlp::{
    ExporterBuildError, LogExporter, MetricExporter, SpanExporter, WithExportConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{LogBatch, SdkLoggerProvider};
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, Temporality};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData};
use parking_lot::Mutex;

use crate::redact_spans::RedactSpans;

/// Why OTLP export could not be set up. Telemetry runs on without it
/// ([`Guard::otlp_unavailable`](crate::Guard::otlp_unavailable)).
#[derive(Debug)]
#[non_exhaustive]
pub enum OtlpError {
    /// The endpoint is not an `http://` or `https://` URL with a host.
    Malformed {
        /// The endpoint as given.
        endpoint: String,
        /// Where it came from: the builder, or the variable's name.
        source_name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The OpenTelemetry exporter refused its configuration.
    Exporter {
        /// `traces`, `metrics` or `logs`.
        signal: &'static str,
        /// The exporter's error.
        source: ExporterBuildError,
    },
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpError::Malformed {
                endpoint,
                source_name,
                reason,
            } => write!(
                f,
                "OTLP endpoint {endpoint:?} from {source_name} cannot be used: {reason}"
            ),
            OtlpError::Exporter { signal, .. } => {
                write!(f, "the OTLP {signal} exporter could not be built")
            }
        }
    }
}

impl std::error::Error for OtlpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OtlpError::Exporter { source, .. } => Some(source),
            OtlpError::Malformed { .. } => None,
        }
    }
}

/// What a guard keeps of OTLP: its failures, and why it is off if it is.
#[derive(Debug)]
pub(crate) struct OtlpState {
    pub(crate) failures: Failures,
    pub(crate) endpoint: String,
    pub(crate) unavailable: Option<OtlpError>,
}

/// Where traces, metrics and logs go.
pub(crate) struct Otlp {
    traces: String,
    metrics: String,
    logs: String,
    /// How long one export may take: a collector that accepts and never
    /// answers costs this, and is counted as a failure.
    timeout: Duration,
    pub(crate) failures: Failures,
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

/// `endpoint` without its trailing `/`, when it is a URL the HTTP client
/// can serve.
fn check<'a>(endpoint: &'a str, source_name: &str) -> Result<&'a str, OtlpError> {
    let base = endpoint.trim().trim_end_matches('/');
    let malformed = |reason| OtlpError::Malformed {
        endpoint: endpoint.to_owned(),
        source_name: source_name.to_owned(),
        reason,
    };
    let rest = base
        .strip_prefix("http://")
        .or_else(|| base.strip_prefix("https://"))
        .ok_or_else(|| malformed("it must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(malformed("its host holds a space or a control character"));
    }
    // `[v6]:port`, `host:port` or `host`.
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !authority.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() || host == "[]" {
        return Err(malformed("it names no host"));
    }
    if port.is_some_and(|p| p.parse::<u16>().is_err()) {
        return Err(malformed("its port is not a number from 0 to 65535"));
    }
    Ok(base)
}

/// The HTTP client (built with TLS support) needs a process-wide crypto
/// provider; the first call installs ours unless the application installed
/// one.
fn tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // rustls deprecates its ring provider because ring has no
        // post-quantum key exchange; aws-lc-rs, which has, needs a much
        // larger C build. Classical key exchange is what the export needs.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
    });
}

impl Otlp {
    /// Export to the collector at `endpoint` (a base address such as
    /// `http://127.0.0.1:4318`, from `source_name`); per-signal variables
    /// win for their signal. Each export may take at most `timeout`.
    pub(crate) fn new(
        endpoint: &str,
        source_name: &str,
        timeout: Duration,
    ) -> Result<Otlp, OtlpError> {
        let base = check(endpoint, source_name)?;
        let signal = |var: &str, path: &str| -> Result<String, OtlpError> {
            match std::env::var(var).ok().filter(|v| !v.trim().is_empty()) {
                Some(url) => check(&url, var).map(str::to_owned),
                None => Ok(format!("{base}{path}")),
            }
        };
        let otlp = Otlp {
            traces: signal("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces")?,
            metrics: signal("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics")?,
            logs: signal("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "/v1/logs")?,
            timeout,
            failures: Failures::default(),
        };
        // The HTTP client is built with TLS support whatever the scheme.
        tls_provider();
        Ok(otlp)
    }

    /// The traces endpoint, to name in reports.
    pub(crate) fn endpoint(&self) -> &str {
        &self.traces
    }

    pub(crate) fn tracer_provider(
        &self,
        resource: Resource,
        redaction: telemetry_redact::DenyList,
    ) -> Result<SdkTracerProvider, OtlpError> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(&self.traces)
            .with_timeout(self.timeout)
            .build()
            .map_err(|source| OtlpError::Exporter {
                signal: "traces",
                source,
            })?;
        // Span and event attributes are the application's fields as they
        // are: redact them on the way out, as the KVP layer does.
        let exporter = Reported {
            inner: RedactSpans::with_deny_list(exporter, redaction),
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
    pub(crate) fn logger_provider(
        &self,
        resource: Resource,
    ) -> Result<SdkLoggerProvider, OtlpError> {
        let exporter = LogExporter::builder()
            .with_http()
            .with_endpoint(&self.logs)
            .with_timeout(self.timeout)
            .build()
            .map_err(|source| OtlpError::Exporter {
                signal: "logs",
                source,
            })?;
        let exporter = Reported {
            inner: exporter,
            failures: self.failures.clone(),
            signal: "logs",
            endpoint: self.logs.clone(),
        };
        Ok(SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(exporter)
            .build())
    }

    pub(crate) fn metric_reader(
        &self,
        interval: Duration,
    ) -> Result<PeriodicReader<Reported<MetricExporter>>, OtlpError> {
        let exporter = MetricExporter::builder()
            .with_http()
            .with_endpoint(&self.metrics)
            .with_timeout(self.timeout)
            .build()
            .map_err(|source| OtlpError::Exporter {
                signal: "metrics",
                source,
            })?;
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

    pub(crate) fn failed(&self, signal: &str, endpoint: &str, error: &dyn std::fmt::Display) {
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

impl<E: opentelemetry_sdk::logs::LogExporter> opentelemetry_sdk::logs::LogExporter for Reported<E> {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let Err(e) = &result {
            self.failures.failed(self.signal, &self.endpoint, e);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
