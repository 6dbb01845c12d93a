//! No heap allocation on the caller's thread per metric event in steady
//! state, counted by a global allocator that counts this thread's
//! allocations: bound (the default with the SDK's provider) with text,
//! numeric and boolean attributes, and unbound with numeric and boolean
//! ones (the `SmallVec` of 8).

#![allow(clippy::unwrap_used)]

use opentelemetry_sdk::metrics::SdkMeterProvider;
use test_support::allocations;
use tracing_otel_metrics::{MetricsLayer, MetricsLayerBuilder};
use tracing_subscriber::prelude::*;

#[global_allocator]
static GLOBAL: test_support::Counting = test_support::Counting;

/// Allocations made by 1,000 runs of `emit`, after 100 to warm up.
fn allocations_per_1000(
    configure: impl FnOnce(MetricsLayerBuilder) -> MetricsLayerBuilder,
    emit: impl Fn(u64),
) -> u64 {
    let layer = configure(MetricsLayer::builder(SdkMeterProvider::default())).build();
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..100 {
            emit(i);
        }
        let before = allocations();
        for i in 0..1_000 {
            emit(i);
        }
        allocations() - before
    })
}

#[test]
fn bound_events_with_text_attributes_allocate_nothing() {
    let n = allocations_per_1000(
        |b| b,
        |i| {
            tracing::info!(
                monotonic_counter.requests = 1u64,
                route = "/health",
                method = "GET",
                code = 200i64 + (i % 3) as i64,
                ok = true
            )
        },
    );
    assert_eq!(n, 0);
}

#[test]
fn unbound_events_with_numeric_and_boolean_attributes_allocate_nothing() {
    let n = allocations_per_1000(
        |b| b.bound_instruments(false),
        |i| {
            tracing::info!(
                histogram.latency_ms = 12.5f64,
                a = 1i64,
                b = 2.5f64,
                c = i % 2 == 0,
                d = 7u64,
                e = -3i64,
                f = 0.25f64,
                g = false,
                h = 9i64
            )
        },
    );
    assert_eq!(n, 0);
}
