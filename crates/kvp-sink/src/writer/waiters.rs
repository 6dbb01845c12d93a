//! Where a blocking producer waits for room in a full queue.
//!
//! The channel's own blocking send wakes one waiting producer for each
//! entry the writer takes. A producer faster than the disk then sleeps and
//! is woken once a record, and each wake-up is a system call made by the
//! writer: the thread that is already the bottleneck. A producer that finds
//! the queue full waits here instead, and the writer wakes every waiting
//! producer once per batch it takes from the queue, by which time a batch's
//! worth of slots is free.

use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How long a producer waits before it looks at the queue again on its
/// own. Only a safety net: the writer wakes it after every batch.
const LOOK_AGAIN: Duration = Duration::from_millis(100);

/// Producers waiting for room, and the writer's signal that there is some.
#[derive(Debug, Default)]
pub(super) struct QueueWaiters {
    /// How many producers wait. Under the lock, so that the writer's signal
    /// cannot fall between a producer's look at the queue and its wait.
    waiting: Mutex<usize>,
    freed: Condvar,
}

/// How a wait for room ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waited {
    /// The queue had room already: no wait.
    NotFull,
    /// The writer took a batch.
    Woken,
    /// Nobody signalled within [`LOOK_AGAIN`].
    TimedOut,
}

impl QueueWaiters {
    /// Waits until the writer has taken a batch, or a while, unless `full`
    /// already says there is waiters. The caller then tries again.
    pub(super) fn wait(&self, full: impl FnOnce() -> bool) -> Waited {
        let mut waiting = self.waiting.lock();
        if !full() {
            return Waited::NotFull;
        }
        *waiting += 1;
        let timed_out = self.freed.wait_for(&mut waiting, LOOK_AGAIN).timed_out();
        *waiting -= 1;
        if timed_out {
            Waited::TimedOut
        } else {
            Waited::Woken
        }
    }

    /// The writer has taken entries from the queue: wakes whoever waits.
    /// The writer takes the lock once per batch, and wakes nobody when no
    /// producer waits.
    pub(super) fn freed(&self) {
        let waiting = self.waiting.lock();
        if *waiting > 0 {
            self.freed.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[test]
    fn a_waiting_producer_is_woken_by_the_writer_freeing_room() {
        let waiters = Arc::new(QueueWaiters::default());
        let full = Arc::new(AtomicBool::new(true));
        let producer = {
            let (theirs, full) = (Arc::clone(&waiters), Arc::clone(&full));
            std::thread::spawn(move || theirs.wait(|| full.load(Ordering::SeqCst)))
        };
        // Let the producer start waiting, then free room as the writer does.
        while *waiters.waiting.lock() == 0 {
            std::thread::yield_now();
        }
        full.store(false, Ordering::SeqCst);
        waiters.freed();
        let waited = producer.join().expect("the producer does not panic");
        assert_eq!(waited, Waited::Woken);
        assert_eq!(*waiters.waiting.lock(), 0);
    }

    #[test]
    fn a_producer_that_finds_room_does_not_wait() {
        let waiters = QueueWaiters::default();
        assert_eq!(waiters.wait(|| false), Waited::NotFull);
        assert_eq!(*waiters.waiting.lock(), 0);
    }

    #[test]
    fn with_no_writer_signal_a_wait_ends_on_its_own() {
        let waiters = QueueWaiters::default();
        assert_eq!(waiters.wait(|| true), Waited::TimedOut);
        assert_eq!(*waiters.waiting.lock(), 0);
    }
}
