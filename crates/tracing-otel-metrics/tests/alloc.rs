//! No heap allocation on the caller's thread per metric event in steady
//! state, counted by a global allocator that counts this thread's
//! allocations: bound (the default with the SDK's provider) with text,
//! numeric and boolean attributes, and unbound with numeric and boolean
//! ones (the `SmallVec` of 8).

#![allow(clippy::unwrap_used)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing_otel_metrics::{MetricsLayer, MetricsLayerBuilder};
use tracing_subscriber::prelude::*;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counter is a const-initialised
// thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

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
        let before = ALLOCATIONS.with(Cell::get);
        for i in 0..1_000 {
            emit(i);
        }
        ALLOCATIONS.with(Cell::get) - before
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
