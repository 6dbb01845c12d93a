//! OTLP/HTTP export of traces and metrics to an OpenTelemetry collector
//! (feature `otlp`). Uses the blocking HTTP client, so no async runtime is
//! needed; the SDK's batch span processor and periodic reader run on their
//! own threads.

use std::time::Duration;

use opentelemetry_otlp::{MetricExporter, SpanExporter, WithExportConfig};
use opentelemetry_sdk::metrics::PeriodicReader;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::error::Error;
use crate::redact_spans::RedactSpans;

/// A collector's OTLP/HTTP base address, such as `http://127.0.0.1:4318`.
pub(crate) struct Otlp {
    base: String,
}

impl Otlp {
    pub(crate) fn new(endpoint: &str) -> Result<Otlp, Error> {
        let base = endpoint.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Otlp(format!(
                "endpoint {endpoint:?} must start with http:// or https://"
            )));
        }
        Ok(Otlp {
            base: base.to_owned(),
        })
    }

    pub(crate) fn tracer_provider(&self) -> Result<SdkTracerProvider, Error> {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/traces", self.base))
            .build()
            .map_err(|e| Error::Otlp(e.to_string()))?;
        // Span and event attributes are the application's fields as they
        // are: redact them on the way out, as the KVP layer does.
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(RedactSpans::new(exporter))
            .build())
    }

    pub(crate) fn metric_reader(
        &self,
        interval: Duration,
    ) -> Result<PeriodicReader<MetricExporter>, Error> {
        let exporter = MetricExporter::builder()
            .with_http()
            .with_endpoint(format!("{}/v1/metrics", self.base))
            .build()
            .map_err(|e| Error::Otlp(e.to_string()))?;
        Ok(PeriodicReader::builder(exporter)
            .with_interval(interval)
            .build())
    }
}
