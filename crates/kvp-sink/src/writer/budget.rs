//! The queue's byte budget: entries are counted by the queue's capacity,
//! and the heap bytes they carry (long text, large captures) by this, so
//! that memory is bounded by bytes whatever the values hold.
//!
//! Only an entry that spilled to the heap touches the budget; the common
//! small entry, kept inline, pays nothing.

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

/// Heap bytes queued, against a limit.
#[derive(Debug)]
pub(super) struct ByteBudget {
    used: CachePadded<AtomicUsize>,
    limit: usize,
}

impl ByteBudget {
    pub(super) fn new(limit: usize) -> Self {
        ByteBudget {
            used: CachePadded::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Takes `bytes` from the budget; `false`, taking nothing, when they do
    /// not fit.
    pub(super) fn take(&self, bytes: usize) -> bool {
        if bytes == 0 {
            return true;
        }
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > self.limit {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives back what [`ByteBudget::take`] took.
    pub(super) fn give(&self, bytes: usize) {
        if bytes > 0 {
            self.used.fetch_sub(bytes, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteBudget;

    #[test]
    fn takes_what_fits_and_gets_it_back() {
        let b = ByteBudget::new(100);
        assert!(b.take(0));
        assert!(b.take(60));
        assert!(!b.take(60), "over the limit");
        assert!(b.take(40));
        b.give(60);
        assert!(b.take(60));
    }
}
