//! No heap allocation on the caller's thread per event or per span in
//! steady state, counted by a global allocator that counts this thread's
//! allocations.

#![allow(clippy::unwrap_used)]

mod common;

use test_support::allocations;
use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

#[global_allocator]
static GLOBAL: test_support::Counting = test_support::Counting;

/// Runs `step(i)` inside an entered span, first to warm up, then 50,000
/// times counting this thread's allocations, which must be none; `what`
/// names a step in the message. The records must reach the pool.
fn allocates_nothing(what: &str, step: impl Fn(u64)) {
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
        // Warm-up with values as wide as the measured ones (5 digits), so
        // the reused buffers and maps have reached their size.
        for i in 10_000..12_000 {
            step(i);
        }
        let before = allocations();
        for i in 10_000..60_000 {
            step(i);
        }
        let per_step = (allocations() - before) as f64 / 50_000.0;
        assert_eq!(
            allocations() - before,
            0,
            "{per_step} allocations per {what}"
        );
    });
    let written = pool.flush().len();
    assert!(written > 100, "{what}s reached the pool: {written}");
}

#[test]
fn events_allocate_nothing_in_steady_state() {
    allocates_nothing("event", |i| {
        tracing::info!(user = "azureuser", attempt = i, ok = true, "created user");
    });
}

#[test]
fn spans_allocate_nothing_in_steady_state() {
    // A child of the entered span, with a field given at open and one
    // recorded later: every span path but the open record.
    allocates_nothing("span", |i| {
        let span = tracing::info_span!("step", n = i, done = tracing::field::Empty);
        span.record("done", true);
    });
}
