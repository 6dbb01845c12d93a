//! No heap allocation on the caller's thread per event in steady state,
//! counted by a global allocator that counts this thread's allocations.

#![allow(clippy::unwrap_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tracing_kvp::KvpLayer;
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

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

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
