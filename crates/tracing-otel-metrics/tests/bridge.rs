//! The bridge against the real `opentelemetry_sdk`, read back through its
//! in-memory exporter.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::Value;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing::Dispatch;
use tracing_otel_metrics::{MetricsLayer, MetricsLayerBuilder, Stats, StatsHandle};
use tracing_subscriber::prelude::*;

/// One data point, flattened for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Point {
    /// `sum`, `up_down`, `histogram` or `gauge`, with the value type.
    shape: String,
    /// Sum, histogram sum, or gauge value.
    value: f64,
    /// Histogram count (0 for others).
    count: u64,
    unit: String,
    description: String,
    attrs: BTreeMap<String, String>,
}

struct Harness {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
    dispatch: Dispatch,
    stats: StatsHandle,
}

fn harness(configure: impl FnOnce(MetricsLayerBuilder) -> MetricsLayerBuilder) -> Harness {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let layer = configure(MetricsLayer::builder(provider.clone())).build();
    let stats = layer.stats();
    Harness {
        provider,
        exporter,
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        stats,
    }
}

fn attr_text(v: &Value) -> String {
    match v {
        Value::Bool(b) => format!("bool:{b}"),
        Value::I64(i) => format!("i64:{i}"),
        Value::F64(f) => format!("f64:{f}"),
        Value::String(s) => format!("str:{s}"),
        other => format!("other:{other:?}"),
    }
}

impl Harness {
    fn run(&self, f: impl FnOnce()) {
        tracing::dispatcher::with_default(&self.dispatch, f);
    }

    /// Every data point by metric name, from the latest (cumulative) export.
    fn collect(&self) -> BTreeMap<String, Vec<Point>> {
        self.provider.force_flush().unwrap();
        let exports = self.exporter.get_finished_metrics().unwrap();
        let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
        let Some(last) = exports.last() else {
            return out;
        };
        for metric in last.scope_metrics().flat_map(|s| s.metrics()) {
            let (unit, description) = (metric.unit().to_owned(), metric.description().to_owned());
            let mut push =
                |shape: String, value: f64, count: u64, attrs: BTreeMap<String, String>| {
                    out.entry(metric.name().to_owned())
                        .or_default()
                        .push(Point {
                            shape,
                            value,
                            count,
                            unit: unit.clone(),
                            description: description.clone(),
                            attrs,
                        });
                };
            macro_rules! points {
                ($data:expr, $ty:literal) => {
                    match $data {
                        MetricData::Sum(s) => {
                            let kind = if s.is_monotonic() { "sum" } else { "up_down" };
                            for p in s.data_points() {
                                push(
                                    format!("{kind}<{}>", $ty),
                                    p.value() as f64,
                                    0,
                                    attrs(p.attributes()),
                                );
                            }
                        }
                        MetricData::Histogram(h) => {
                            for p in h.data_points() {
                                push(
                                    format!("histogram<{}>", $ty),
                                    p.sum() as f64,
                                    p.count(),
                                    attrs(p.attributes()),
                                );
                            }
                        }
                        MetricData::Gauge(g) => {
                            for p in g.data_points() {
                                push(
                                    format!("gauge<{}>", $ty),
                                    p.value() as f64,
                                    0,
                                    attrs(p.attributes()),
                                );
                            }
                        }
                        MetricData::ExponentialHistogram(_) => panic!("not configured"),
                    }
                };
            }
            match metric.data() {
                AggregatedMetrics::U64(d) => points!(d, "u64"),
                AggregatedMetrics::I64(d) => points!(d, "i64"),
                AggregatedMetrics::F64(d) => points!(d, "f64"),
            }
        }
        out
    }

    fn only(&self, name: &str) -> Point {
        let all = self.collect();
        let points = all
            .get(name)
            .unwrap_or_else(|| panic!("no metric {name} in {all:?}"));
        assert_eq!(points.len(), 1, "{points:?}");
        points[0].clone()
    }
}

/// A data point's attributes; a key that comes twice fails the test
/// (OpenTelemetry requires unique keys).
fn attrs<'a>(it: impl Iterator<Item = &'a opentelemetry::KeyValue>) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for kv in it {
        let old = map.insert(kv.key.to_string(), attr_text(&kv.value));
        assert!(old.is_none(), "the key {} twice", kv.key);
    }
    map
}

#[test]
fn every_prefix_and_value_type() {
    let h = harness(|b| b);
    h.run(|| {
        tracing::info!(monotonic_counter.mc_u64 = 3u64);
        tracing::info!(monotonic_counter.mc_i64 = 4i64);
        tracing::info!(monotonic_counter.mc_f64 = 1.5f64);
        tracing::info!(counter.c_i64 = -7i64);
        tracing::info!(counter.c_u64 = 9u64);
        tracing::info!(counter.c_f64 = -2.5f64);
        tracing::info!(histogram.h_u64 = 10u64);
        tracing::info!(histogram.h_i64 = 20i64);
        tracing::info!(histogram.h_f64 = 0.25f64);
        tracing::info!(gauge.g_u64 = 5u64);
        tracing::info!(gauge.g_i64 = -5i64);
        tracing::info!(gauge.g_f64 = 6.5f64);
    });
    let all = h.collect();
    let shape = |n: &str| (all[n][0].shape.as_str(), all[n][0].value, all[n][0].count);
    assert_eq!(shape("mc_u64"), ("sum<u64>", 3.0, 0));
    assert_eq!(shape("mc_i64"), ("sum<u64>", 4.0, 0));
    assert_eq!(shape("mc_f64"), ("sum<f64>", 1.5, 0));
    assert_eq!(shape("c_i64"), ("up_down<i64>", -7.0, 0));
    assert_eq!(shape("c_u64"), ("up_down<i64>", 9.0, 0));
    assert_eq!(shape("c_f64"), ("up_down<f64>", -2.5, 0));
    assert_eq!(shape("h_u64"), ("histogram<u64>", 10.0, 1));
    assert_eq!(
        shape("h_i64"),
        ("histogram<u64>", 20.0, 1),
        "integer histograms are recorded"
    );
    assert_eq!(shape("h_f64"), ("histogram<f64>", 0.25, 1));
    assert_eq!(shape("g_u64"), ("gauge<u64>", 5.0, 0));
    assert_eq!(shape("g_i64"), ("gauge<i64>", -5.0, 0));
    assert_eq!(shape("g_f64"), ("gauge<f64>", 6.5, 0));
    assert_eq!(all.len(), 12);
    assert_eq!(h.stats.get(), Stats::default());
}

#[derive(Debug)]
#[allow(dead_code)]
struct Shape {
    sides: u8,
}

#[test]
fn attributes_keep_their_types() {
    let h = harness(|b| b);
    h.run(|| {
        tracing::info!(
            monotonic_counter.typed = 1u64,
            small = 7u64,
            huge = u64::MAX,
            neg = -3i64,
            ratio = 0.5f64,
            ok = true,
            name = "sda",
            shown = %"display",
            dbg = ?Shape { sides: 3 },
            "a message that is not an attribute"
        );
    });
    let p = h.only("typed");
    let expected: BTreeMap<String, String> = [
        ("small", "i64:7"),
        ("huge", "str:18446744073709551615"),
        ("neg", "i64:-3"),
        ("ratio", "f64:0.5"),
        ("ok", "bool:true"),
        ("name", "str:sda"),
        ("shown", "str:display"),
        ("dbg", "str:Shape { sides: 3 }"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(p.attrs, expected);
}

#[test]
fn message_can_be_an_attribute_when_asked() {
    let h = harness(|b| b.message_attribute(true));
    h.run(|| tracing::info!(monotonic_counter.m = 1u64, "hello"));
    assert_eq!(h.only("m").attrs["message"], "str:hello");
}

#[test]
fn several_metrics_in_one_event_share_its_attributes() {
    let h = harness(|b| b);
    h.run(|| {
        tracing::info!(
            monotonic_counter.a = 1u64,
            histogram.b = 2.0f64,
            gauge.c = 3i64,
            route = "/x",
            code = 200i64
        );
    });
    let all = h.collect();
    for name in ["a", "b", "c"] {
        assert_eq!(
            all[name][0].attrs,
            BTreeMap::from([
                ("code".to_owned(), "i64:200".to_owned()),
                ("route".to_owned(), "str:/x".to_owned()),
            ]),
            "{name}"
        );
    }
}

#[test]
fn four_threads_of_100_000_increments_sum_exactly() {
    let h = harness(|b| b);
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let dispatch = h.dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    for _ in 0..100_000 {
                        tracing::info!(monotonic_counter.hits = 1u64, parity = t % 2);
                    }
                });
            });
        }
    });
    let points = &h.collect()["hits"];
    let total: f64 = points.iter().map(|p| p.value).sum();
    assert_eq!(total, 400_000.0);
    assert_eq!(points.len(), 2, "two attribute sets: parity 0 and 1");
}

#[test]
fn negative_monotonic_values_are_rejected_and_counted() {
    let h = harness(|b| b);
    h.run(|| {
        tracing::info!(monotonic_counter.m = 5i64);
        tracing::info!(monotonic_counter.m = -1i64);
        tracing::info!(monotonic_counter.f = -0.5f64);
        tracing::info!(histogram.h = -3i64);
    });
    let all = h.collect();
    assert_eq!(all["m"][0].value, 5.0, "not 5 + 18446744073709551615");
    assert!(!all.contains_key("f"));
    assert!(!all.contains_key("h"));
    assert_eq!(
        h.stats.get(),
        Stats {
            rejected_negative: 3,
            rejected_too_large: 0
        }
    );
}

#[test]
fn u64_above_i64_max_on_an_up_down_counter_is_rejected_and_counted() {
    let h = harness(|b| b);
    h.run(|| {
        tracing::info!(counter.c = 1u64);
        tracing::info!(counter.c = u64::MAX);
        tracing::info!(counter.c = i64::MAX as u64 + 1);
        tracing::info!(counter.c = 41u64);
    });
    assert_eq!(h.only("c").value, 42.0);
    assert_eq!(
        h.stats.get(),
        Stats {
            rejected_negative: 0,
            rejected_too_large: 2
        }
    );
}

#[test]
fn units_and_descriptions() {
    let h = harness(|b| b.describe("latency", "ms", "Time to provision"));
    h.run(|| tracing::info!(histogram.latency = 12u64));
    let p = h.only("latency");
    assert_eq!(
        (p.unit.as_str(), p.description.as_str()),
        ("ms", "Time to provision")
    );
}

#[test]
fn span_fields_become_attributes_when_asked() {
    let h = harness(|b| b.span_attributes(true));
    h.run(|| {
        let outer = tracing::info_span!("provision", stage = "user");
        let _o = outer.enter();
        let inner = tracing::info_span!("step", attempt = 2i64);
        let _i = inner.enter();
        tracing::info!(monotonic_counter.steps = 1u64, ok = true);
    });
    assert_eq!(
        h.only("steps").attrs,
        BTreeMap::from([
            ("attempt".to_owned(), "i64:2".to_owned()),
            ("ok".to_owned(), "bool:true".to_owned()),
            ("stage".to_owned(), "str:user".to_owned()),
        ])
    );
}

/// Nested spans that share a field name, and an event that shares one
/// with its span: each key once, the nearest scope's value.
#[test]
fn the_nearest_scope_wins_a_shared_attribute_name() {
    let h = harness(|b| b.span_attributes(true));
    h.run(|| {
        let _outer =
            tracing::info_span!("provision", stage = "outer", user = "azureuser").entered();
        let _inner = tracing::info_span!("step", stage = "inner", attempt = 1i64).entered();
        tracing::info!(monotonic_counter.nested = 1u64, attempt = 2i64);
    });
    assert_eq!(
        h.only("nested").attrs,
        BTreeMap::from([
            ("attempt".to_owned(), "i64:2".to_owned()),
            ("stage".to_owned(), "str:inner".to_owned()),
            ("user".to_owned(), "str:azureuser".to_owned()),
        ])
    );
}

#[test]
fn the_layer_keeps_its_provider_alive() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter.clone())
                .with_interval(Duration::from_millis(50))
                .build(),
        )
        .build();
    let layer = MetricsLayer::builder(provider).build();
    // The caller kept no handle to the provider: only the layer has it.
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || tracing::info!(monotonic_counter.alive = 1u64));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names: Vec<String> = exporter
            .get_finished_metrics()
            .unwrap()
            .iter()
            .flat_map(|rm| {
                rm.scope_metrics()
                    .flat_map(|s| s.metrics())
                    .map(|m| m.name().to_owned())
                    .collect::<Vec<_>>()
            })
            .collect();
        if names.iter().any(|n| n == "alive") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the periodic reader never exported"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Events over many attribute sets, value types and several metrics each.
fn mixed_workload() {
    for round in 0..3u64 {
        for user in 0..40u64 {
            tracing::info!(
                monotonic_counter.logins = 1u64,
                histogram.login_ms = round * 10 + user,
                user = user,
                admin = user % 7 == 0,
                shell = ?format!("sh{}", user % 3),
                ratio = 0.5f64 * (user % 2) as f64,
            );
            tracing::info!(counter.sessions = -1i64, gauge.load = 1.5f64, host = "vm1");
        }
    }
}

#[test]
fn bound_and_unbound_paths_record_the_same_points() {
    let bound = harness(|b| b);
    bound.run(mixed_workload);
    let unbound = harness(|b| b.bound_instruments(false));
    unbound.run(mixed_workload);
    let (bound, unbound) = (bound.collect(), unbound.collect());
    assert_eq!(bound["logins"].len(), 40);
    let sorted = |mut v: Vec<Point>| {
        v.sort_by(|a, b| format!("{:?}", a.attrs).cmp(&format!("{:?}", b.attrs)));
        v
    };
    for name in ["logins", "login_ms", "sessions", "load"] {
        assert_eq!(
            sorted(bound[name].clone()),
            sorted(unbound[name].clone()),
            "{name}"
        );
    }
    assert_eq!(bound["sessions"][0].value, -120.0);
}

#[test]
fn more_attribute_sets_than_a_thread_keeps_bound_are_all_counted() {
    // 1,500 sets: past the 1,024 a thread keeps bound, under the SDK's
    // cardinality limit of 2,000.
    let h = harness(|b| b);
    h.run(|| {
        for _ in 0..3 {
            for id in 0..1_500u64 {
                tracing::info!(monotonic_counter.seen = 1u64, id = id);
            }
        }
    });
    let points = &h.collect()["seen"];
    assert_eq!(points.len(), 1_500);
    assert!(points.iter().all(|p| p.value == 3.0), "{points:?}");
}

#[test]
fn attribute_values_that_concatenate_alike_stay_apart() {
    let h = harness(|b| b);
    h.run(|| {
        for (a, b) in [("ab", "c"), ("a", "bc"), ("", "abc"), ("abc", "")] {
            tracing::info!(monotonic_counter.pairs = 1u64, a = a, b = b);
        }
        for v in ["1", "\u{1}"] {
            tracing::info!(monotonic_counter.texts = 1u64, v = ?v);
        }
    });
    let all = h.collect();
    assert_eq!(all["pairs"].len(), 4, "{:?}", all["pairs"]);
    assert!(all["pairs"].iter().all(|p| p.value == 1.0));
    assert_eq!(all["texts"].len(), 2);
}

/// A provider the bridge does not know: it must not rely on `bind()`.
struct Wrapped(SdkMeterProvider);

impl opentelemetry::metrics::MeterProvider for Wrapped {
    fn meter_with_scope(
        &self,
        scope: opentelemetry::InstrumentationScope,
    ) -> opentelemetry::metrics::Meter {
        self.0.meter_with_scope(scope)
    }
}

#[test]
fn other_providers_take_the_unbound_path_and_lose_nothing() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let layer = MetricsLayer::builder(Wrapped(provider.clone()))
        .bound_instruments(true)
        .build();
    let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..5 {
            tracing::info!(monotonic_counter.wrapped = 2u64, k = "v");
        }
    });
    let h = Harness {
        provider,
        exporter,
        dispatch,
        stats: StatsHandle::default(),
    };
    assert_eq!(h.only("wrapped").value, 10.0);
}

/// Formatting it would be a leak: it panics if asked.
struct Untouchable;

impl std::fmt::Debug for Untouchable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("a denied attribute was formatted");
    }
}

#[test]
fn secret_attributes_are_redacted_and_share_one_series() {
    for bound in [true, false] {
        let h = harness(|b| b.bound_instruments(bound));
        h.run(|| {
            for n in 0..3u64 {
                tracing::info!(
                    monotonic_counter.logins = 1u64,
                    apiKey = format!("KEY-{n}-hunter2").as_str(),
                    "x-api-key" = format!("k{n}").as_str(),
                    token_count = 2u64,
                    session_id = ?Untouchable,
                    ok = true,
                    url = "https://a.blob.core.windows.net/c?sv=2024&sig=SIG-hunter2",
                );
            }
        });
        let points = &h.collect()["logins"];
        assert_eq!(points.len(), 1, "bound={bound}: one series, {points:?}");
        assert_eq!(points[0].value, 3.0);
        assert_eq!(
            points[0].attrs,
            BTreeMap::from([
                ("apiKey".to_owned(), "str:<redacted>".to_owned()),
                ("ok".to_owned(), "bool:true".to_owned()),
                ("session_id".to_owned(), "str:<redacted>".to_owned()),
                ("token_count".to_owned(), "i64:2".to_owned()),
                (
                    "url".to_owned(),
                    "str:https://a.blob.core.windows.net/c?sv=2024&sig=<redacted>".to_owned()
                ),
                ("x-api-key".to_owned(), "str:<redacted>".to_owned()),
            ]),
            "bound={bound}"
        );
    }
}

#[test]
fn secret_span_attributes_are_redacted() {
    let h = harness(|b| b.span_attributes(true));
    h.run(|| {
        let _s = tracing::info_span!(
            "upload",
            token = "TOKEN-hunter2",
            conn = "AccountName=a;AccountKey=K-hunter2==",
            password = ?Untouchable,
        )
        .entered();
        tracing::info!(monotonic_counter.uploads = 1u64);
    });
    let attrs = h.only("uploads").attrs;
    assert_eq!(attrs["token"], "str:<redacted>");
    assert_eq!(attrs["password"], "str:<redacted>");
    assert_eq!(attrs["conn"], "str:AccountName=a;AccountKey=<redacted>");
}

#[test]
fn a_custom_deny_list_replaces_the_default() {
    let h = harness(|b| b.deny_list(["tenant_id"]));
    h.run(|| {
        tracing::info!(
            monotonic_counter.c = 1u64,
            tenantId = "t-1",
            token = "visible"
        )
    });
    let attrs = h.only("c").attrs;
    assert_eq!(attrs["tenantId"], "str:<redacted>");
    assert_eq!(attrs["token"], "str:visible", "not on this list");
}
