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
//! use rustls (no system OpenSSL), with the system's root certificates and
//! the files the `OTEL_EXPORTER_OTLP_*CERTIFICATE` and `*CLIENT_KEY`
//! variables name ([`tls`]).
//!
//! OTLP is best-effort, as KVP is: an endpoint that cannot work leaves
//! telemetry running without it (one stderr line, and
//! `Guard::otlp_unavailable`). A failed export, or one the collector does
//! not answer within the flush timeout, is counted and reported on stderr,
//! at most once a minute.

mod exporters;
mod failures;
mod tls;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use opentelemetry_otlp::{
    ExporterBuildError, LogExporter, MetricExporter, SpanExporter, WithExportConfig, WithHttpConfig,
};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::trace::SdkTracerProvider;

pub use exporters::OtlpExporters;
pub(crate) use failures::{Failures, Reported, SIGNALS};
use tls::TlsFiles;

/// The three OTLP builders' `build`, under one name.
trait HttpExporterBuild<E> {
    fn build_exporter(self) -> Result<E, ExporterBuildError>;
}

impl HttpExporterBuild<SpanExporter>
    for opentelemetry_otlp::SpanExporterBuilder<opentelemetry_otlp::HttpExporterBuilderSet>
{
    fn build_exporter(self) -> Result<SpanExporter, ExporterBuildError> {
        self.build()
    }
}

impl HttpExporterBuild<LogExporter>
    for opentelemetry_otlp::LogExporterBuilder<opentelemetry_otlp::HttpExporterBuilderSet>
{
    fn build_exporter(self) -> Result<LogExporter, ExporterBuildError> {
        self.build()
    }
}

impl HttpExporterBuild<MetricExporter>
    for opentelemetry_otlp::MetricExporterBuilder<opentelemetry_otlp::HttpExporterBuilderSet>
{
    fn build_exporter(self) -> Result<MetricExporter, ExporterBuildError> {
        self.build()
    }
}

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
    /// A file an `OTEL_EXPORTER_OTLP_*CERTIFICATE` or `*CLIENT_KEY`
    /// variable names cannot be read or holds no usable PEM.
    Certificate {
        /// The variable that names the file.
        variable: String,
        /// The file.
        path: PathBuf,
        /// Why it cannot be used.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The HTTP client could not be built with those certificates.
    Client {
        /// The HTTP client's error.
        source: Box<dyn std::error::Error + Send + Sync>,
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
            OtlpError::Certificate { variable, path, .. } => write!(
                f,
                "the TLS file {} that {variable} names cannot be used",
                path.display()
            ),
            OtlpError::Client { .. } => {
                write!(f, "the OTLP HTTP client could not be built")
            }
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
            OtlpError::Certificate { source, .. } | OtlpError::Client { source } => {
                Some(source.as_ref())
            }
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
    traces: Endpoint,
    metrics: Endpoint,
    logs: Endpoint,
    /// How long one export may take: a collector that accepts and never
    /// answers costs this, and is counted as a failure.
    timeout: Duration,
    pub(crate) failures: Failures,
}

/// One signal's URL, and the HTTP client its TLS variables ask for (the
/// exporter's own when they ask for nothing).
struct Endpoint {
    url: String,
    client: Option<reqwest::blocking::Client>,
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
        // The HTTP client is built with TLS support whatever the scheme.
        tls_provider();
        // Signals that name the same TLS files share one client.
        let mut built: Vec<(TlsFiles, reqwest::blocking::Client)> = Vec::new();
        let mut signal = |name: &str, path: &str| -> Result<Endpoint, OtlpError> {
            let var = format!("OTEL_EXPORTER_OTLP_{name}_ENDPOINT");
            let url = match std::env::var(&var).ok().filter(|v| !v.trim().is_empty()) {
                Some(url) => check(&url, &var)?.to_owned(),
                None => format!("{base}{path}"),
            };
            let files = TlsFiles::from_env(name);
            let client = if files.is_empty() {
                None
            } else if let Some((_, client)) = built.iter().find(|(f, _)| *f == files) {
                Some(client.clone())
            } else {
                let client = files.client(timeout)?;
                built.push((files, client.clone()));
                Some(client)
            };
            Ok(Endpoint { url, client })
        };
        Ok(Otlp {
            traces: signal("TRACES", "/v1/traces")?,
            metrics: signal("METRICS", "/v1/metrics")?,
            logs: signal("LOGS", "/v1/logs")?,
            timeout,
            failures: Failures::default(),
        })
    }

    /// The traces endpoint, to name in reports.
    pub(crate) fn endpoint(&self) -> &str {
        &self.traces.url
    }

    /// One signal's HTTP exporter, sending to its endpoint through the
    /// client its TLS variables ask for.
    fn exporter<B, E>(&self, signal: &'static str, builder: B) -> Result<Reported<E>, OtlpError>
    where
        B: WithExportConfig + WithHttpConfig + HttpExporterBuild<E>,
    {
        let endpoint = match signal {
            "traces" => &self.traces,
            "metrics" => &self.metrics,
            _ => &self.logs,
        };
        let mut builder = builder
            .with_endpoint(&endpoint.url)
            .with_timeout(self.timeout);
        if let Some(client) = &endpoint.client {
            builder = builder.with_http_client(client.clone());
        }
        let inner = builder
            .build_exporter()
            .map_err(|source| OtlpError::Exporter { signal, source })?;
        Ok(Reported {
            inner,
            failures: self.failures.clone(),
            signal,
            endpoint: endpoint.url.clone(),
        })
    }

    pub(crate) fn span_exporter(&self) -> Result<Reported<SpanExporter>, OtlpError> {
        self.exporter("traces", SpanExporter::builder().with_http())
    }

    pub(crate) fn log_exporter(&self) -> Result<Reported<LogExporter>, OtlpError> {
        self.exporter("logs", LogExporter::builder().with_http())
    }

    pub(crate) fn metric_exporter(&self) -> Result<Reported<MetricExporter>, OtlpError> {
        self.exporter("metrics", MetricExporter::builder().with_http())
    }

    pub(crate) fn tracer_provider(
        &self,
        resource: Resource,
        redaction: telemetry_redact::DenyList,
    ) -> Result<SdkTracerProvider, OtlpError> {
        // Span and event attributes are the application's fields as they
        // are: redact them on the way out, as the KVP layer does.
        let exporter = self
            .span_exporter()?
            .map(|inner| RedactSpans::with_deny_list(inner, redaction));
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
        Ok(SdkLoggerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(self.log_exporter()?)
            .build())
    }

    pub(crate) fn metric_reader(
        &self,
        interval: Duration,
    ) -> Result<PeriodicReader<Reported<MetricExporter>>, OtlpError> {
        Ok(PeriodicReader::builder(self.metric_exporter()?)
            .with_interval(interval)
            .build())
    }
}
