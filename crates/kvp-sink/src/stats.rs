//! Counters the writer keeps, readable at any time from any thread.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crossbeam_utils::CachePadded;

/// A snapshot of a writer's counters. Counts are in records; an entry
/// dropped before it was split into chunks counts as one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records written to the file.
    pub written: u64,
    /// Entries dropped because the queue was full (lossy mode) or the
    /// writer had stopped.
    pub dropped_queue_full: u64,
    /// Records dropped because the pool reached its record cap.
    pub dropped_cap: u64,
    /// Records dropped because writing them failed.
    pub dropped_write_error: u64,
    /// Records dropped because the locks could not be had before shutdown.
    pub dropped_lock: u64,
    /// Entries dropped because their key could not be encoded.
    pub dropped_invalid: u64,
    /// Attempts that gave up waiting for another process's lock.
    pub lock_timeouts: u64,
    /// Failed writes (each may drop several records).
    pub write_errors: u64,
    /// Torn tails (a partial last record) cut off the file.
    pub torn_tails_repaired: u64,
    /// Values cut because they needed more chunks than allowed.
    pub truncated_values: u64,
}

impl Stats {
    /// Every record or entry lost, whatever the reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_queue_full
            + self.dropped_cap
            + self.dropped_write_error
            + self.dropped_lock
            + self.dropped_invalid
    }

    /// Records lost after they were queued (everything but a full queue).
    pub fn lost_after_queue(&self) -> u64 {
        self.dropped() - self.dropped_queue_full
    }
}

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// The live counters behind [`Stats`].
        #[derive(Debug, Default)]
        pub(crate) struct Counters {
            /// Bumped by the application's threads, the others by the
            /// writer: on a cache line of its own, so that neither side's
            /// updates evict the line the other is writing.
            pub(crate) dropped_queue_full: CachePadded<AtomicU64>,
            /// Records the writer has taken from the queue and not yet
            /// written or counted: what the guard reports lost when it
            /// gives up waiting (not part of [`Stats`]).
            pub(crate) in_flight: AtomicU64,
            /// Records lost after queueing as the last flush saw them.
            pub(crate) lost_at_flush: AtomicU64,
            /// A send after the writer stopped has been reported on stderr.
            pub(crate) told_stopped: std::sync::atomic::AtomicBool,
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Counters {
            pub(crate) fn snapshot(&self) -> Stats {
                Stats {
                    dropped_queue_full: self.dropped_queue_full.load(Relaxed),
                    $($name: self.$name.load(Relaxed),)*
                }
            }
        }
    };
}

counters!(
    written,
    dropped_cap,
    dropped_write_error,
    dropped_lock,
    dropped_invalid,
    lock_timeouts,
    write_errors,
    torn_tails_repaired,
    truncated_values,
);

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
}
