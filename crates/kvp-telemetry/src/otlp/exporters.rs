//! The facade's OTLP exporters for a program that builds its own pipeline
//! (`kvp export` replays a pool file through them): the same endpoint
//! rules, TLS variables and failure counting as the facade's own export.

use std::time::Duration;

use opentelemetry_sdk::logs::LogExporter;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanExporter;

use super::{Otlp, OtlpError};

/// OTLP/HTTP exporters for traces, logs and metrics, configured as the
/// facade configures its own: `endpoint` (a base address such as
/// `http://127.0.0.1:4318`) unless a per-signal
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` names another, `https://` by
/// rustls with the `OTEL_EXPORTER_OTLP_*CERTIFICATE` and `*CLIENT_KEY`
/// files, each export limited to `timeout`. Failed exports are counted
/// ([`failures`](Self::failures)) and said on stderr at most once a minute.
///
/// ```
/// let exporters = kvp_telemetry::OtlpExporters::new(
///     "http://127.0.0.1:4318",
///     "--otlp",
///     std::time::Duration::from_secs(5),
/// )?;
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_simple_exporter(exporters.spans()?)
///     .build();
/// # drop(provider);
/// assert_eq!(exporters.failures(), 0);
/// # Ok::<(), kvp_telemetry::OtlpError>(())
/// ```
pub struct OtlpExporters {
    otlp: Otlp,
}

impl std::fmt::Debug for OtlpExporters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpExporters")
            .field("traces", &self.otlp.endpoint())
            .finish_non_exhaustive()
    }
}

impl OtlpExporters {
    /// Exporters to the collector at `endpoint`; `source_name` says where
    /// the endpoint came from (a flag, a variable) in errors.
    ///
    /// # Errors
    ///
    /// [`OtlpError`] when the endpoint, a per-signal endpoint or a TLS
    /// file cannot be used, naming which.
    pub fn new(endpoint: &str, source_name: &str, timeout: Duration) -> Result<Self, OtlpError> {
        Ok(OtlpExporters {
            otlp: Otlp::new(endpoint, source_name, timeout)?,
        })
    }

    /// The span exporter.
    ///
    /// # Errors
    ///
    /// [`OtlpError::Exporter`] when OpenTelemetry refuses the settings.
    pub fn spans(&self) -> Result<impl SpanExporter + 'static, OtlpError> {
        self.otlp.span_exporter()
    }

    /// The log record exporter.
    ///
    /// # Errors
    ///
    /// [`OtlpError::Exporter`] when OpenTelemetry refuses the settings.
    pub fn logs(&self) -> Result<impl LogExporter + 'static, OtlpError> {
        self.otlp.log_exporter()
    }

    /// The metric exporter.
    ///
    /// # Errors
    ///
    /// [`OtlpError::Exporter`] when OpenTelemetry refuses the settings.
    pub fn metrics(&self) -> Result<impl PushMetricExporter + 'static, OtlpError> {
        self.otlp.metric_exporter()
    }

    /// How many exports have failed so far, every signal counted.
    pub fn failures(&self) -> u64 {
        self.otlp.failures.count()
    }
}
