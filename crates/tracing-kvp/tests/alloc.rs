//! No heap allocation on the caller's thread per event or per span in
//! steady state, counted by a global allocator that counts this thread's
//! allocations.

#![allow(clippy::unwrap_used)]

mod common;

use counting_alloc::allocations;
use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

#[test]
fn events_allocate_nothing_in_steady_state() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        // This test measures the write path, not the limiter.
        .rate_limit(None)
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let span = tracing::info_span!("provision", user = "azureuser");
        let _entered = span.enter();
        let event =
            |i: u64| tracing::info!(user = "azureuser", attempt = i, ok = true, "created user");
        // Warm-up with values as wide as the measured ones (5 digits), so
        // the reused buffers have reached their size.
        for i in 10_000..12_000 {
            event(i);
        }
        let before = allocations();
        for i in 10_000..60_000 {
            event(i);
        }
        let per_event = (allocations() - before) as f64 / 50_000.0;
        assert_eq!(
            allocations() - before,
            0,
            "{per_event} allocations per event"
        );
    });
    let written = pool.flush().len();
    assert!(written > 100, "events reached the pool: {written}");
}

#[test]
fn spans_allocate_nothing_in_steady_state() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .rate_limit(None)
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let outer = tracing::info_span!("provision", user = "azureuser");
        let _entered = outer.enter();
        // A child of the entered span, with a field given at open and one
        // recorded later: every span path but the open record.
        let step = |i: u64| {
            let span = tracing::info_span!("step", n = i, done = tracing::field::Empty);
            span.record("done", true);
        };
        for i in 10_000..12_000 {
            step(i);
        }
        let before = allocations();
        for i in 10_000..60_000 {
            step(i);
        }
        let per_span = (allocations() - before) as f64 / 50_000.0;
        assert_eq!(allocations() - before, 0, "{per_span} allocations per span");
    });
    let written = pool.flush().len();
    assert!(written > 100, "spans reached the pool: {written}");
}
