//! The cases tracing-opentelemetry 0.34's own metrics test suite checks,
//! against this crate through `MetricsLayer::new` (the constructor a
//! migrating user keeps): each instrument kind and value type, with and
//! without attributes, `Display` and `Debug` attributes, and the
//! instrumentation scope, which is this crate's name and version. The
//! deliberate differences from upstream are tested at the end.

#![allow(clippy::unwrap_used)]

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing_otel_metrics::{METER_NAME, MetricsLayer, Stats};
use tracing_subscriber::prelude::*;

/// A number as exported, with its type.
#[derive(Clone, Copy, Debug, PartialEq)]
enum N {
    U(u64),
    I(i64),
    F(f64),
}

/// One exported data point.
#[derive(Debug)]
struct Point {
    scope: (String, Option<String>),
    name: String,
    /// `counter`, `up_down_counter`, `gauge` or `histogram`.
    kind: &'static str,
    /// The sum, the gauge's value, or the histogram's sum.
    value: N,
    /// How many values a histogram point holds (0 for the others).
    count: u64,
    /// Sorted by key.
    attrs: Vec<(String, Value)>,
}

/// Runs `emit` under `MetricsLayer::new` and returns every data point the
/// SDK exports afterwards, in a stable order.
fn export(emit: impl FnOnce()) -> (Vec<Point>, Stats) {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let layer = MetricsLayer::new(provider.clone());
    let stats = layer.stats();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
    provider.force_flush().unwrap();
    let exports = exporter.get_finished_metrics().unwrap();
    let mut points = Vec::new();
    for scoped in exports.last().into_iter().flat_map(|rm| rm.scope_metrics()) {
        let scope = (
            scoped.scope().name().to_owned(),
            scoped.scope().version().map(str::to_owned),
        );
        for metric in scoped.metrics() {
            let mut push = |kind, value, count, attrs: Vec<KeyValue>| {
                let mut attrs: Vec<(String, Value)> = attrs
                    .into_iter()
                    .map(|kv| (kv.key.to_string(), kv.value))
                    .collect();
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                points.push(Point {
                    scope: scope.clone(),
                    name: metric.name().to_owned(),
                    kind,
                    value,
                    count,
                    attrs,
                });
            };
            macro_rules! read {
                ($data:expr, $n:path) => {
                    match $data {
                        MetricData::Sum(s) => {
                            let kind = if s.is_monotonic() {
                                "counter"
                            } else {
                                "up_down_counter"
                            };
                            for p in s.data_points() {
                                push(kind, $n(p.value()), 0, p.attributes().cloned().collect());
                            }
                        }
                        MetricData::Gauge(g) => {
                            for p in g.data_points() {
                                push("gauge", $n(p.value()), 0, p.attributes().cloned().collect());
                            }
                        }
                        MetricData::Histogram(h) => {
                            for p in h.data_points() {
                                let attrs = p.attributes().cloned().collect();
                                push("histogram", $n(p.sum()), p.count(), attrs);
                            }
                        }
                        MetricData::ExponentialHistogram(_) => panic!("not configured"),
                    }
                };
            }
            match metric.data() {
                AggregatedMetrics::U64(d) => read!(d, N::U),
                AggregatedMetrics::I64(d) => read!(d, N::I),
                AggregatedMetrics::F64(d) => read!(d, N::F),
            }
        }
    }
    (points, stats.get())
}

/// The one point `emit` exports, after checking its scope, name and kind.
fn only(name: &str, kind: &str, emit: impl FnOnce()) -> Point {
    let (mut points, stats) = export(emit);
    assert_eq!(points.len(), 1, "{points:?}");
    assert_eq!(stats, Stats::default());
    let p = points.remove(0);
    assert_eq!(
        p.scope,
        (
            METER_NAME.to_owned(),
            Some(env!("CARGO_PKG_VERSION").to_owned())
        ),
        "the scope is this crate's name and version"
    );
    assert_eq!((p.name.as_str(), p.kind), (name, kind));
    p
}

/// The attributes upstream's cases attach, as they are exported.
fn five_attributes() -> Vec<(String, Value)> {
    let mut v = vec![
        ("bool_key_1".to_owned(), Value::Bool(true)),
        ("f64_key_1".to_owned(), Value::F64(3.0)),
        ("i64_key_1".to_owned(), Value::I64(2)),
        ("str_key_1".to_owned(), Value::from("foo")),
        ("u64_key_1".to_owned(), Value::I64(1)),
    ];
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

/// Emits a metric field with the five attributes.
macro_rules! with_five {
    ($($metric:tt)+) => {
        tracing::info!(
            $($metric)+,
            u64_key_1 = 1_u64,
            i64_key_1 = 2_i64,
            f64_key_1 = 3_f64,
            str_key_1 = "foo",
            bool_key_1 = true,
        )
    };
}

#[test]
fn u64_monotonic_counter() {
    let p = only("sent", "counter", || {
        tracing::info!(monotonic_counter.sent = 1_u64)
    });
    assert_eq!((p.value, p.attrs.len()), (N::U(1), 0));
}

#[test]
fn i64_on_a_monotonic_counter_is_a_u64_counter() {
    let p = only("sent", "counter", || {
        tracing::info!(monotonic_counter.sent = 1_i64)
    });
    assert_eq!(p.value, N::U(1));
}

#[test]
fn f64_monotonic_counter() {
    let p = only("sent", "counter", || {
        tracing::info!(monotonic_counter.sent = 1.000000123_f64)
    });
    assert_eq!(p.value, N::F(1.000000123));
}

#[test]
fn i64_up_down_counter() {
    let p = only("depth", "up_down_counter", || {
        tracing::info!(counter.depth = -5_i64)
    });
    assert_eq!(p.value, N::I(-5));
}

#[test]
fn u64_on_an_up_down_counter_is_an_i64_counter() {
    let p = only("depth", "up_down_counter", || {
        tracing::info!(counter.depth = 5_u64)
    });
    assert_eq!(p.value, N::I(5));
}

#[test]
fn f64_up_down_counter() {
    let p = only("depth", "up_down_counter", || {
        tracing::info!(counter.depth = 99.123_f64)
    });
    assert_eq!(p.value, N::F(99.123));
}

#[test]
fn u64_gauge_keeps_the_last_value() {
    let p = only("level", "gauge", || {
        tracing::info!(gauge.level = 1_u64);
        tracing::info!(gauge.level = 2_u64);
    });
    assert_eq!(p.value, N::U(2));
}

#[test]
fn f64_gauge() {
    let p = only("level", "gauge", || tracing::info!(gauge.level = 1_f64));
    assert_eq!(p.value, N::F(1.0));
}

#[test]
fn i64_gauge() {
    let p = only("level", "gauge", || tracing::info!(gauge.level = -1_i64));
    assert_eq!(p.value, N::I(-1));
}

#[test]
fn u64_histogram() {
    let p = only("took", "histogram", || {
        tracing::info!(histogram.took = 1_u64)
    });
    assert_eq!((p.value, p.count), (N::U(1), 1));
}

#[test]
fn f64_histogram() {
    let p = only("took", "histogram", || {
        tracing::info!(histogram.took = 1_f64)
    });
    assert_eq!((p.value, p.count), (N::F(1.0), 1));
}

#[test]
fn u64_monotonic_counter_with_attributes() {
    let p = only("sent", "counter", || {
        with_five!(monotonic_counter.sent = 1_u64)
    });
    assert_eq!((p.value, p.attrs), (N::U(1), five_attributes()));
}

#[test]
fn f64_monotonic_counter_with_attributes() {
    let p = only("sent", "counter", || {
        with_five!(monotonic_counter.sent = 1_f64)
    });
    assert_eq!((p.value, p.attrs), (N::F(1.0), five_attributes()));
}

#[test]
fn i64_up_down_counter_with_attributes() {
    let p = only("depth", "up_down_counter", || {
        with_five!(counter.depth = -1_i64)
    });
    assert_eq!((p.value, p.attrs), (N::I(-1), five_attributes()));
}

#[test]
fn f64_up_down_counter_with_attributes() {
    let p = only("depth", "up_down_counter", || {
        with_five!(counter.depth = -1_f64)
    });
    assert_eq!((p.value, p.attrs), (N::F(-1.0), five_attributes()));
}

#[test]
fn f64_gauge_with_attributes() {
    let p = only("level", "gauge", || with_five!(gauge.level = 1_f64));
    assert_eq!((p.value, p.attrs), (N::F(1.0), five_attributes()));
}

#[test]
fn u64_gauge_with_attributes() {
    let p = only("level", "gauge", || with_five!(gauge.level = 1_u64));
    assert_eq!((p.value, p.attrs), (N::U(1), five_attributes()));
}

#[test]
fn i64_gauge_with_attributes() {
    let p = only("level", "gauge", || with_five!(gauge.level = 1_i64));
    assert_eq!((p.value, p.attrs), (N::I(1), five_attributes()));
}

#[test]
fn u64_histogram_with_attributes() {
    let p = only("took", "histogram", || with_five!(histogram.took = 1_u64));
    assert_eq!((p.value, p.attrs), (N::U(1), five_attributes()));
}

#[test]
fn f64_histogram_with_attributes() {
    let p = only("took", "histogram", || with_five!(histogram.took = 1_f64));
    assert_eq!((p.value, p.attrs), (N::F(1.0), five_attributes()));
}

struct Shown(&'static str);

impl std::fmt::Display for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "display: {}", self.0)
    }
}

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "debug: {}", self.0)
    }
}

#[test]
fn display_attribute() {
    let p = only(
        "sent",
        "counter",
        || tracing::info!(monotonic_counter.sent = 1_u64, shown = %Shown("foo")),
    );
    assert_eq!(p.attrs, [("shown".to_owned(), Value::from("display: foo"))]);
}

#[test]
fn debug_attribute() {
    let p = only(
        "sent",
        "counter",
        || tracing::info!(monotonic_counter.sent = 1_u64, shown = ?Shown("foo")),
    );
    assert_eq!(p.attrs, [("shown".to_owned(), Value::from("debug: foo"))]);
}

// The deliberate differences from upstream, each as documented in the
// crate's migration table.

#[test]
fn prefixed_non_numeric_fields_are_attributes_under_their_whole_name() {
    let p = only("sent", "counter", || {
        tracing::info!(
            monotonic_counter.sent = 1_u64,
            monotonic_counter.ok = true,
            histogram.unit = "ms",
            gauge.how = ?Shown("x"),
        )
    });
    assert_eq!(
        p.attrs,
        [
            ("gauge.how".to_owned(), Value::from("debug: x")),
            ("histogram.unit".to_owned(), Value::from("ms")),
            ("monotonic_counter.ok".to_owned(), Value::Bool(true)),
        ]
    );
}

#[test]
fn i64_on_a_histogram_is_a_u64_measurement_and_not_an_attribute() {
    let (points, stats) = export(|| {
        tracing::info!(histogram.took = 12_i64, monotonic_counter.sent = 1_u64);
        tracing::info!(histogram.took = -1_i64);
    });
    let took = points.iter().find(|p| p.name == "took").unwrap();
    assert_eq!(
        (took.kind, took.value, took.count),
        ("histogram", N::U(12), 1)
    );
    let sent = points.iter().find(|p| p.name == "sent").unwrap();
    assert!(
        sent.attrs.is_empty(),
        "`histogram.took` is the event's measurement, not its attribute: {:?}",
        sent.attrs
    );
    assert_eq!(stats.rejected_negative, 1, "the negative value is counted");
}

#[test]
fn message_is_not_an_attribute_by_default() {
    let p = only("sent", "counter", || {
        tracing::info!(monotonic_counter.sent = 1_u64, "a message per event")
    });
    assert!(p.attrs.is_empty(), "{:?}", p.attrs);
}

#[test]
fn a_u64_attribute_above_i64_max_is_kept_as_text() {
    let p = only("sent", "counter", || {
        tracing::info!(monotonic_counter.sent = 1_u64, big = u64::MAX)
    });
    assert_eq!(
        p.attrs,
        [("big".to_owned(), Value::from(u64::MAX.to_string()))]
    );
}

#[test]
fn the_scope_can_be_set_to_upstreams() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let layer = MetricsLayer::builder(provider.clone())
        .scope(
            opentelemetry::InstrumentationScope::builder("tracing/tracing-opentelemetry")
                .with_version("0.34.0")
                .build(),
        )
        .build();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(monotonic_counter.sent = 1_u64)
    });
    provider.force_flush().unwrap();
    let exports = exporter.get_finished_metrics().unwrap();
    let scopes: Vec<(String, Option<String>)> = exports
        .iter()
        .flat_map(|rm| rm.scope_metrics())
        .map(|s| {
            (
                s.scope().name().to_owned(),
                s.scope().version().map(str::to_owned),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [(
            "tracing/tracing-opentelemetry".to_owned(),
            Some("0.34.0".to_owned())
        )]
    );
}
