//! Helpers for the layer's tests: a real sink on a temporary pool file, and
//! reading the records back.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvp_sink::{Sink, WriterBuilder, WriterGuard};

pub struct Pool {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub sink: Sink<tracing_kvp::Captured>,
    pub guard: WriterGuard<tracing_kvp::Captured>,
}

pub fn pool() -> Pool {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(None)
        .capacity(65_536)
        .spawn_for::<tracing_kvp::Captured>()
        .unwrap();
    Pool {
        dir,
        path,
        sink,
        guard,
    }
}

/// Logical records (chunks joined) as `(key, value)`.
pub use test_support::pool_records as records;

impl Pool {
    pub fn flush(&self) -> Vec<(String, String)> {
        assert!(self.guard.flush(Duration::from_secs(10)));
        records(&self.path)
    }
}

/// A clock that starts at 2026-11-21T12:00:00Z and moves 1 ms per reading.
pub fn stepping_clock() -> impl Fn() -> SystemTime + Send + Sync + 'static {
    let ticks = AtomicU64::new(0);
    move || {
        UNIX_EPOCH
            + Duration::from_secs(1_795_262_400)
            + Duration::from_millis(ticks.fetch_add(1, Ordering::Relaxed))
    }
}
