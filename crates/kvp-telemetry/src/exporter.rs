//! Metrics into the pool: each series upserted at each export, as the
//! record [`kvp_codec::schema::metric`] lays out (this file only reads the
//! SDK's data into it). Text attributes whose names match the redaction
//! policy (by default [`tracing_kvp::DEFAULT_DENY_LIST`]) are written as
//! `<redacted>`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvp_codec::schema::metric::{self, MetricKind, Point, SERIES_ID_LEN, SeriesId};
use kvp_codec::{KeyLayout, KeyLayoutError, Level};
use kvp_sink::{Capture, NoCapture, Sink};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::metrics::Temporality;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use telemetry_redact::DenyList;

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
        KvpMetricExporter::with_keys(sink, keys)
    }

    /// An exporter writing its keys with `layout`: the one a
    /// [`tracing_kvp`] layer writes with ([`tracing_kvp::KvpGuard::key_layout`]),
    /// so that the series sit under the layer's own prefix and vm_id.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use tracing_subscriber::prelude::*;
    /// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("vm-1")
    ///     .open(dir.path().join(".kvp_pool_1"))?;
    /// let sink = guard.sink().expect("the writer runs until the guard stops it");
    /// let exporter = kvp_telemetry::KvpMetricExporter::with_key_layout(sink, guard.key_layout().clone());
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop((subscriber, exporter));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_key_layout(sink: Sink<C>, layout: KeyLayout<String>) -> Self {
        KvpMetricExporter::with_keys(sink, Ok(layout))
    }

    fn with_keys(sink: Sink<C>, keys: Result<KeyLayout<String>, KeyLayoutError>) -> Self {
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
                        let kind = if s.is_monotonic() {
                            MetricKind::Sum
                        } else {
                            MetricKind::UpDown
                        };
                        for p in s.data_points() {
                            let value = p.value().to_string();
                            self.upsert(name, unit, p.attributes(), kind, Point::Value(&value));
                        }
                    }
                    MetricData::Gauge(g) => {
                        for p in g.data_points() {
                            let value = p.value().to_string();
                            let point = Point::Value(&value);
                            self.upsert(name, unit, p.attributes(), MetricKind::Gauge, point);
                        }
                    }
                    MetricData::Histogram(h) => {
                        for p in h.data_points() {
                            let (count, sum) = (p.count().to_string(), p.sum().to_string());
                            let min_max = p
                                .min()
                                .zip(p.max())
                                .map(|(a, b)| (a.to_string(), b.to_string()));
                            let point = Point::Distribution {
                                count: &count,
                                sum: &sum,
                                min_max: min_max.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
                            };
                            self.upsert(name, unit, p.attributes(), MetricKind::Histogram, point);
                        }
                    }
                    MetricData::ExponentialHistogram(h) => {
                        for p in h.data_points() {
                            let (count, sum) = (p.count().to_string(), p.sum().to_string());
                            let point = Point::Distribution {
                                count: &count,
                                sum: &sum,
                                min_max: None,
                            };
                            let kind = MetricKind::ExponentialHistogram;
                            self.upsert(name, unit, p.attributes(), kind, point);
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
        kind: MetricKind,
        point: Point<'_>,
    ) {
        let Ok(keys) = &self.keys else { return };
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
        // The id hashes the real values, so that series stay distinct
        // whatever redaction then hides.
        let id = SeriesId::new(name, attrs.iter().map(|(k, v, _)| (k.as_str(), v.as_str())));
        let mut key = String::new();
        // Writing into a String cannot fail.
        let _ = keys.write(
            &mut key,
            Level::Info,
            &metric::series_name(name),
            id.as_str(),
        );

        let mut value = String::new();
        metric::push_series_value(&mut value, kind, point, unit, &self.run);
        for (k, v, text) in &attrs {
            // Attributes come from event fields: keep secrets off the host
            // here too. A number or a bool is no secret.
            if *text && self.deny.is_denied(k) {
                metric::push_attribute(&mut value, k, None);
            } else if *text {
                metric::push_attribute(&mut value, k, Some(&self.deny.scrub(v)));
            } else {
                metric::push_attribute(&mut value, k, Some(v));
            }
        }
        self.sink.upsert(Some(Level::Info), &key, &value);
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
