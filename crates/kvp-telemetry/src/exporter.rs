//! Metrics into the pool: one record per series, upserted at each export.
//!
//! A series is a metric name plus one attribute set. Its key is
//! `<prefix>|<vm_id>|INFO|metric.<name>|<series id>`, where the id is a
//! hash of the name and the sorted attributes, the same at every export, so
//! a periodic export replaces the series' record in place and never grows
//! the file. The value is `kind=... value=...` (or `count= sum= min= max=`
//! for histograms), `unit=`, `run=<pid>@<unix ms>` naming the process run
//! that wrote it (a later run in the same boot replaces the series' record,
//! and this says whose it is), then the attributes, each name prefixed
//! with `a.` so that an attribute called `kind` cannot be mistaken for the
//! series' kind; all escaped as [`tracing_kvp::parse_fields`] reads them.
//! Text attributes whose names match the redaction policy (by default
//! [`tracing_kvp::DEFAULT_DENY_LIST`]) are written as `<redacted>`.

use std::hash::Hasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvp_codec::schema::field;
use kvp_codec::{KeyLayout, KeyLayoutError, Level};
use kvp_sink::{Capture, NoCapture, Sink};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use telemetry_redact::DenyList;
use tracing_kvp::{push_field, push_redacted};

/// An OpenTelemetry push exporter that upserts each metric series into the
/// pool through a [`Sink`]. Cumulative temporality: a record holds the
/// series' running total.
///
/// `C` is the capture type of the sink it writes through (any: the
/// exporter sends text records).
#[derive(Debug)]
pub struct KvpMetricExporter<C: Capture = NoCapture> {
    sink: Sink<C>,
    /// The key layout, or why `prefix` and `vm_id` leave no room for one.
    keys: Result<KeyLayout<String>, KeyLayoutError>,
    /// `<pid>@<unix ms>` of the exporter's creation: which run wrote a
    /// record.
    run: String,
    shut_down: AtomicBool,
    /// The redaction policy for attributes.
    deny: DenyList,
}

/// A series id: 16 hex digits and `-m`.
const SERIES_ID_LEN: usize = 18;

impl<C: Capture> KvpMetricExporter<C> {
    /// An exporter writing keys `<prefix>|<vm_id>|INFO|metric.<name>|<id>`
    /// ([`kvp_codec::KeyLayout`]). When `prefix` and `vm_id` leave no room
    /// in a key for a name, every export fails with an error that says
    /// so; [`KvpMetricExporter::try_new`] tells at once.
    pub fn new(sink: Sink<C>, prefix: &str, vm_id: &str) -> Self {
        let keys = KeyLayout::new(
            String::new(),
            prefix,
            vm_id,
            &sink.limits(),
            1,
            SERIES_ID_LEN,
        );
        let started_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        KvpMetricExporter {
            sink,
            keys,
            run: format!("{}@{started_ms}", std::process::id()),
            shut_down: AtomicBool::new(false),
            deny: DenyList::default(),
        }
    }

    /// Redacts attributes by `policy` instead of the built-in deny list.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (sink, _guard, _) = kvp_sink::WriterBuilder::new(dir.path().join("p")).spawn()?;
    /// let policy = kvp_telemetry::telemetry_redact::DenyList::default().allowing(["session_kind"]);
    /// let exporter = kvp_telemetry::KvpMetricExporter::new(sink, "agent", "vm-1").with_redaction(policy);
    /// # drop(exporter);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_redaction(mut self, policy: DenyList) -> Self {
        self.deny = policy;
        self
    }

    /// [`KvpMetricExporter::new`], or why `prefix` and `vm_id` leave no
    /// room in a key for a metric's name.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (sink, _guard, _) = kvp_sink::WriterBuilder::new(dir.path().join("p")).spawn()?;
    /// use kvp_telemetry::KvpMetricExporter;
    /// assert!(KvpMetricExporter::try_new(sink.clone(), "agent", "vm-1").is_ok());
    /// assert!(KvpMetricExporter::try_new(sink, &"p".repeat(300), "vm-1").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_new(sink: Sink<C>, prefix: &str, vm_id: &str) -> Result<Self, KeyLayoutError> {
        let exporter = KvpMetricExporter::new(sink, prefix, vm_id);
        match &exporter.keys {
            Ok(_) => Ok(exporter),
            Err(e) => Err(*e),
        }
    }

    fn export_metric(&self, metric: &Metric) {
        let name = metric.name();
        let unit = metric.unit();
        macro_rules! points {
            ($data:expr) => {
                match $data {
                    MetricData::Sum(s) => {
                        let kind = if s.is_monotonic() { "sum" } else { "up_down" };
                        for p in s.data_points() {
                            self.upsert(name, unit, p.attributes(), |v| {
                                push_field(v, field::KIND, kind);
                                push_field(v, field::VALUE, &p.value().to_string());
                            });
                        }
                    }
                    MetricData::Gauge(g) => {
                        for p in g.data_points() {
                            self.upsert(name, unit, p.attributes(), |v| {
                                push_field(v, field::KIND, "gauge");
                                push_field(v, field::VALUE, &p.value().to_string());
                            });
                        }
                    }
                    MetricData::Histogram(h) => {
                        for p in h.data_points() {
                            self.upsert(name, unit, p.attributes(), |v| {
                                push_field(v, field::KIND, "histogram");
                                push_field(v, "count", &p.count().to_string());
                                push_field(v, "sum", &p.sum().to_string());
                                if let (Some(min), Some(max)) = (p.min(), p.max()) {
                                    push_field(v, "min", &min.to_string());
                                    push_field(v, "max", &max.to_string());
                                }
                            });
                        }
                    }
                    MetricData::ExponentialHistogram(h) => {
                        for p in h.data_points() {
                            self.upsert(name, unit, p.attributes(), |v| {
                                push_field(v, field::KIND, "exponential_histogram");
                                push_field(v, "count", &p.count().to_string());
                                push_field(v, "sum", &p.sum().to_string());
                            });
                        }
                    }
                }
            };
        }
        match metric.data() {
            AggregatedMetrics::F64(d) => points!(d),
            AggregatedMetrics::U64(d) => points!(d),
            AggregatedMetrics::I64(d) => points!(d),
        }
    }

    fn upsert<'a>(
        &self,
        name: &str,
        unit: &str,
        attrs: impl Iterator<Item = &'a KeyValue>,
        values: impl FnOnce(&mut String),
    ) {
        // (name, value, whether the value is text and so may be a secret)
        let mut attrs: Vec<(String, String, bool)> = attrs
            .map(|kv| {
                let text = matches!(
                    kv.value,
                    opentelemetry::Value::String(_) | opentelemetry::Value::Array(_)
                );
                (kv.key.to_string(), kv.value.to_string(), text)
            })
            .collect();
        attrs.sort();
        let mut h = fnv::Fnv::default();
        h.write(name.as_bytes());
        for (k, v, _) in &attrs {
            h.write(&[0]);
            h.write(k.as_bytes());
            h.write(&[1]);
            h.write(v.as_bytes());
        }
        let id = format!("{:016x}-m", h.finish());
        let Ok(keys) = &self.keys else { return };
        let mut key = String::new();
        // Writing into a String cannot fail.
        let _ = keys.write(
            &mut key,
            Level::Info,
            &format!("{}{name}", field::METRIC_NAME_PREFIX),
            &id,
        );

        let mut value = String::new();
        values(&mut value);
        if !unit.is_empty() {
            push_field(&mut value, field::UNIT, unit);
        }
        push_field(&mut value, field::RUN, &self.run);
        for (k, v, text) in &attrs {
            // Attributes come from event fields: keep secrets off the host
            // here too. (The series id above hashes the real value, so
            // series stay distinct.) A number or a bool is no secret.
            let name = format!("{}{k}", field::ATTRIBUTE_PREFIX);
            if *text && self.deny.is_denied(k) {
                push_redacted(&mut value, &name);
            } else if *text {
                push_field(&mut value, &name, &self.deny.scrub(v));
            } else {
                push_field(&mut value, &name, v);
            }
        }
        self.sink.upsert(Some(Level::Info), &key, &value);
    }
}

/// FNV-1a: a stable hash, so a series keeps its id across processes and
/// toolchain versions (std's `DefaultHasher` promises neither).
mod fnv {
    pub(super) struct Fnv(u64);

    impl Default for Fnv {
        fn default() -> Self {
            Fnv(0xcbf2_9ce4_8422_2325)
        }
    }

    impl std::hash::Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 ^= u64::from(b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
}

impl<C: Capture> PushMetricExporter for KvpMetricExporter<C> {
    fn export(
        &self,
        metrics: &ResourceMetrics,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let result = if self.shut_down.load(Ordering::Relaxed) {
            Err(OTelSdkError::AlreadyShutdown)
        } else if let Err(e) = &self.keys {
            Err(OTelSdkError::InternalFailure(format!(
                "metric records cannot be keyed: {e}"
            )))
        } else {
            for metric in metrics.scope_metrics().flat_map(|s| s.metrics()) {
                self.export_metric(metric);
            }
            Ok(())
        };
        std::future::ready(result)
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.sink.flush(Duration::from_secs(5)) {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(
                "the KVP writer did not flush in time".into(),
            ))
        }
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        self.shut_down.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}
