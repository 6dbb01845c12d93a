//! Failed exports: counted, and said on stderr at most once a minute.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::LogBatch;
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::trace::SpanData;
use parking_lot::Mutex;

/// Counts failed exports of every signal and reports them on stderr, at
/// most once a minute with the number held back, so that a missing
/// collector is seen without flooding the journal.
#[derive(Clone, Debug, Default)]
pub(crate) struct Failures {
    /// Per signal, in the order of [`SIGNALS`].
    counts: Arc<[AtomicU64; 3]>,
    last_report: Arc<Mutex<Option<(Instant, u64)>>>,
}

/// The signals whose exports are counted, in the order their counts are
/// kept and given.
pub(crate) const SIGNALS: [&str; 3] = ["metrics", "traces", "logs"];

/// How often a failed export is reported.
const REPORT_EVERY: Duration = Duration::from_secs(60);

impl Failures {
    /// Failed exports of every signal.
    pub(crate) fn count(&self) -> u64 {
        self.by_signal().iter().sum()
    }

    /// Failed exports per signal, in the order of [`SIGNALS`].
    pub(crate) fn by_signal(&self) -> [u64; 3] {
        self.counts
            .each_ref()
            .map(|count| count.load(Ordering::Relaxed))
    }

    pub(crate) fn failed(&self, signal: &str, endpoint: &str, error: &dyn std::fmt::Display) {
        // A signal this file does not know is counted with the logs.
        let at = SIGNALS.iter().position(|s| *s == signal).unwrap_or(2);
        self.counts[at].fetch_add(1, Ordering::Relaxed);
        let total = self.count();
        let mut last = self.last_report.lock();
        let due = last.is_none_or(|(at, _)| at.elapsed() >= REPORT_EVERY);
        if due {
            let held = last.map_or(0, |(_, reported)| total.saturating_sub(reported + 1));
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

/// An exporter whose failures are counted and reported. It wraps the
/// span, metric and log exporters alike: each trait's `export` hands its
/// result to [`Reported::note`].
#[derive(Debug)]
pub(crate) struct Reported<E> {
    pub(super) inner: E,
    pub(super) failures: Failures,
    pub(super) signal: &'static str,
    pub(super) endpoint: String,
}

impl<E> Reported<E> {
    /// The same reporting around `f(inner)`.
    pub(super) fn map<F>(self, f: impl FnOnce(E) -> F) -> Reported<F> {
        Reported {
            inner: f(self.inner),
            failures: self.failures,
            signal: self.signal,
            endpoint: self.endpoint,
        }
    }

    /// Counts `result` if it is a failure, and passes it on.
    fn note(&self, result: OTelSdkResult) -> OTelSdkResult {
        if let Err(e) = &result {
            self.failures.failed(self.signal, &self.endpoint, e);
        }
        result
    }
}

impl<E: opentelemetry_sdk::trace::SpanExporter> opentelemetry_sdk::trace::SpanExporter
    for Reported<E>
{
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.note(self.inner.export(batch).await)
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
        self.note(self.inner.export(metrics).await)
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
        self.note(self.inner.export(batch).await)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}
