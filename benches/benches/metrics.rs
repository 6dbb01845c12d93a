//! The metrics bridge side by side, in one run, with tracing-opentelemetry
//! 0.34's `MetricsLayer` (the peer) and with direct OpenTelemetry calls (the
//! floor), each on an SDK meter provider whose reader exports once an hour
//! (never during a run).
//!
//! `cargo bench -p kvp-benches --bench metrics`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

fn provider() -> SdkMeterProvider {
    let reader = PeriodicReader::builder(InMemoryMetricExporter::default())
        .with_interval(Duration::from_secs(3600))
        .build();
    SdkMeterProvider::builder().with_reader(reader).build()
}

fn ours() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_otel_metrics::MetricsLayer::builder(provider()).build()),
    )
}

fn peer() -> Dispatch {
    Dispatch::new(
        tracing_subscriber::registry().with(tracing_opentelemetry::MetricsLayer::new(provider())),
    )
}

fn bare() -> Dispatch {
    Dispatch::new(tracing_subscriber::registry())
}

const LAYERS: [(&str, Make); 2] = [("ours", ours), ("peer_tracing_opentelemetry", peer)];

fn emit_counter_4() {
    tracing::info!(
        monotonic_counter.requests = 1u64,
        route = "/health",
        method = "GET",
        code = 200i64,
        ok = true
    );
}

/// Each contender is built only when measured and dropped after: callsite
/// interest is combined over every live dispatcher, so one contender alive
/// during another's run would change what the callsite costs.
type Make = fn() -> Dispatch;

fn non_metric_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_non_metric_event");
    let contenders: [(&str, Make); 3] = [
        ("bare_registry", bare),
        ("ours", ours),
        ("peer_tracing_opentelemetry", peer),
    ];
    for (name, make) in contenders {
        let d = make();
        tracing::dispatcher::with_default(&d, || {
            g.bench_function(name, |b| {
                b.iter(|| {
                    tracing::info!(
                        user = "azureuser",
                        attempt = black_box(3u64),
                        "created user"
                    )
                })
            });
        });
    }
    g.finish();
}

fn counter_no_attributes(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_counter_no_attributes");
    for (name, make) in LAYERS {
        let d = make();
        tracing::dispatcher::with_default(&d, || {
            g.bench_function(name, |b| {
                b.iter(|| tracing::info!(monotonic_counter.requests = black_box(1u64)))
            });
        });
    }
    let counter = provider().meter("direct").u64_counter("requests").build();
    g.bench_function("direct_counter_add", |b| {
        b.iter(|| counter.add(black_box(1), &[]))
    });
    g.finish();
}

fn counter_4_attributes(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_counter_4_attributes");
    for (name, make) in LAYERS {
        let d = make();
        tracing::dispatcher::with_default(&d, || {
            g.bench_function(name, |b| b.iter(emit_counter_4))
        });
    }
    let counter = provider().meter("direct").u64_counter("requests").build();
    g.bench_function("direct_counter_add", |b| {
        b.iter(|| {
            counter.add(
                black_box(1),
                &[
                    KeyValue::new("route", "/health"),
                    KeyValue::new("method", "GET"),
                    KeyValue::new("code", 200i64),
                    KeyValue::new("ok", true),
                ],
            )
        })
    });
    g.finish();
}

fn histogram_4_attributes(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_histogram_4_attributes");
    for (name, make) in LAYERS {
        let d = make();
        tracing::dispatcher::with_default(&d, || {
            g.bench_function(name, |b| {
                b.iter(|| {
                    tracing::info!(
                        histogram.latency_ms = black_box(12.5f64),
                        route = "/health",
                        method = "GET",
                        code = 200i64,
                        ok = true
                    )
                })
            });
        });
    }
    let histogram = provider()
        .meter("direct")
        .f64_histogram("latency_ms")
        .build();
    g.bench_function("direct_histogram_record", |b| {
        b.iter(|| {
            histogram.record(
                black_box(12.5),
                &[
                    KeyValue::new("route", "/health"),
                    KeyValue::new("method", "GET"),
                    KeyValue::new("code", 200i64),
                    KeyValue::new("ok", true),
                ],
            )
        })
    });
    g.finish();
}

/// Wall time per event per thread, 2 threads emitting at once.
fn on_two_threads(iters: u64, work: impl Fn() + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..iters {
                    work();
                }
            });
        }
    });
    start.elapsed()
}

fn two_threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("metrics_counter_4_attributes_2_threads");
    for (name, make) in LAYERS {
        let d = make();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                on_two_threads(iters, || {
                    tracing::dispatcher::with_default(&d, emit_counter_4)
                })
            })
        });
    }
    let counter = provider().meter("direct").u64_counter("requests").build();
    g.bench_function("direct_counter_add", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, || {
                counter.add(
                    1,
                    &[
                        KeyValue::new("route", "/health"),
                        KeyValue::new("method", "GET"),
                        KeyValue::new("code", 200i64),
                        KeyValue::new("ok", true),
                    ],
                )
            })
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = non_metric_event, counter_no_attributes, counter_4_attributes, histogram_4_attributes, two_threads
}
criterion_main!(benches);
