//! What the bridge refused to record, readable at any time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counts of values the bridge did not record, and why.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Negative values on `monotonic_counter.` or `histogram.` fields.
    pub rejected_negative: u64,
    /// u64 values above `i64::MAX` on `counter.` (up-down) fields.
    pub rejected_too_large: u64,
}

/// A handle to the bridge's counters; see [`crate::MetricsLayer::stats`].
#[derive(Clone, Debug, Default)]
pub struct StatsHandle {
    pub(crate) inner: Arc<Counters>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) negative: AtomicU64,
    pub(crate) too_large: AtomicU64,
}

impl StatsHandle {
    /// The counts now.
    pub fn get(&self) -> Stats {
        Stats {
            rejected_negative: self.inner.negative.load(Relaxed),
            rejected_too_large: self.inner.too_large.load(Relaxed),
        }
    }
}
