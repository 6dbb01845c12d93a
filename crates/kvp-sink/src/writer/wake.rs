//! When the writer thread wakes, and who wakes it.
//!
//! Waking a sleeping thread is a system call on the waker's side, so an
//! ordinary record never does it: the writer looks at its queue on its own
//! timer ([`Rhythm`]), at most [`WriterBuilder::max_delay`] apart while
//! records come, and not at all after a quiet spell. A producer wakes it
//! only when it must not wait for that timer:
//!
//! - an ERROR record or an upsert (a report, a metric series): it should
//!   reach the host at once;
//! - a full queue: the writer must drain it before more records are lost
//!   (lossy) or the producer waits long (blocking);
//! - the first record after the writer went to sleep with no timer.
//!
//! The first two share one flag, so a burst of ERROR records wakes the
//! writer once, not once per record.
//!
//! [`WriterBuilder::max_delay`]: super::WriterBuilder::max_delay

use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// What producers and the writer share to agree on wake-ups.
#[derive(Debug, Default)]
pub(super) struct Wake {
    /// The writer sleeps with no timer: only a producer can wake it.
    asleep: AtomicBool,
    /// A producer asked for a wake-up that the writer has not yet seen.
    nudged: AtomicBool,
}

impl Wake {
    /// Wakes the writer now, unless another producer already asked since
    /// the writer last looked.
    pub(super) fn nudge(&self, writer: &Thread) {
        if !self.nudged.swap(true, Ordering::AcqRel) {
            writer.unpark();
        }
    }

    /// Called after every queued record: wakes the writer only when it is
    /// asleep without a timer. Costs a fence and a load otherwise.
    #[inline]
    pub(super) fn after_send(&self, writer: &Thread) {
        // Pairs with the fence in `sleep`: either the writer sees the record
        // in the queue before it parks, or this load sees it asleep.
        fence(Ordering::SeqCst);
        if self.asleep.load(Ordering::Relaxed) && self.asleep.swap(false, Ordering::AcqRel) {
            writer.unpark();
        }
    }

    /// The writer saw the queue: later nudges must wake it again.
    pub(super) fn seen(&self) {
        // Read first: a store on every look would take the line from the
        // producers' caches, and they read `asleep` beside it on every send.
        if self.nudged.load(Ordering::Relaxed) {
            self.nudged.store(false, Ordering::Release);
        }
    }

    /// Parks the writer with no timer, unless `queue_empty` (asked after
    /// the writer announced its sleep) says a record slipped in.
    pub(super) fn sleep(&self, queue_empty: impl Fn() -> bool) {
        self.asleep.store(true, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if queue_empty() {
            thread::park();
        }
        self.asleep.store(false, Ordering::Relaxed);
    }
}

/// How long the writer waits before it looks at the queue again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Pause {
    /// Wait at most this long.
    For(Duration),
    /// Wait with no timer until a producer wakes the writer.
    UntilWoken,
}

/// The writer's timer, from what the last looks found.
#[derive(Debug)]
pub(super) struct Rhythm {
    max_delay: Duration,
    /// When the writer last found a record.
    last_record: Instant,
    /// The pause while a burst lasts, doubled from [`BURST_FIRST`] up to
    /// [`BURST_LONGEST`].
    burst_pause: Option<Duration>,
}

/// A batch of at least this many records means a burst: the writer looks
/// again soon, as the queue may fill before its next ordinary look.
const BURST_RECORDS: u64 = 64;
const BURST_FIRST: Duration = Duration::from_millis(1);
const BURST_LONGEST: Duration = Duration::from_millis(10);
/// After this long without a record, the writer sleeps with no timer.
pub(super) const SLEEP_AFTER: Duration = Duration::from_secs(2);

impl Rhythm {
    pub(super) fn new(max_delay: Duration) -> Self {
        Rhythm {
            max_delay,
            last_record: Instant::now(),
            burst_pause: None,
        }
    }

    /// Records that the last batch held `records` records.
    pub(super) fn batch(&mut self, records: u64) {
        if records > 0 {
            self.last_record = Instant::now();
        }
        self.burst_pause = if records >= BURST_RECORDS {
            Some(BURST_FIRST)
        } else if records > 0 {
            // A trickle after a burst: keep looking soon, backing off.
            self.burst_pause.map(|p| (p * 2).min(BURST_LONGEST))
        } else {
            None
        };
    }

    /// The pause before the next look at an empty queue.
    pub(super) fn pause(&mut self) -> Pause {
        if let Some(p) = self.burst_pause {
            self.burst_pause = Some((p * 2).min(BURST_LONGEST));
            if p < BURST_LONGEST {
                return Pause::For(p);
            }
            // Past the longest burst pause, the burst is over.
            self.burst_pause = None;
        }
        if self.last_record.elapsed() >= SLEEP_AFTER {
            Pause::UntilWoken
        } else {
            Pause::For(self.max_delay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trickle_waits_the_max_delay_and_a_burst_looks_again_soon() {
        let mut r = Rhythm::new(Duration::from_millis(900));
        r.batch(1);
        assert_eq!(r.pause(), Pause::For(Duration::from_millis(900)));
        r.batch(100);
        assert_eq!(r.pause(), Pause::For(Duration::from_millis(1)));
        assert_eq!(r.pause(), Pause::For(Duration::from_millis(2)));
        r.batch(0);
        assert_eq!(r.pause(), Pause::For(Duration::from_millis(900)));
    }

    #[test]
    fn after_a_quiet_spell_the_writer_sleeps_until_woken() {
        let mut r = Rhythm::new(Duration::from_millis(900));
        r.last_record = Instant::now() - SLEEP_AFTER;
        assert_eq!(r.pause(), Pause::UntilWoken);
    }

    #[test]
    fn a_record_queued_as_the_writer_falls_asleep_wakes_it() {
        let wake = std::sync::Arc::new(Wake::default());
        let queued = std::sync::Arc::new(AtomicBool::new(false));
        let (w, q) = (std::sync::Arc::clone(&wake), std::sync::Arc::clone(&queued));
        let writer = thread::spawn(move || w.sleep(|| !q.load(Ordering::SeqCst)));
        queued.store(true, Ordering::SeqCst);
        wake.after_send(writer.thread());
        // Either the writer saw the record and never parked, or this call
        // saw it asleep and unparked it; both end the thread.
        writer.join().unwrap();
    }
}
