//! When the writer thread wakes, and who wakes it.
//!
//! Waking a sleeping thread is a system call on the waker's side, so an
//! ordinary record does it only when nothing else would: while records
//! come, the writer looks at its queue on its own timer ([`Rhythm`]), at
//! most [`WriterBuilder::max_delay`] apart, and the first look that finds
//! the queue empty puts it to sleep with no timer. A producer wakes it
//! when it must not wait for that timer:
//!
//! - an ERROR record or an upsert (a report, a metric series): it should
//!   reach the host at once;
//! - a full queue: the writer must drain it before more records are lost
//!   (lossy) or the producer waits long (blocking);
//! - the first record after the writer went to sleep with no timer: that
//!   wake-up writes it at once. A record that came long after the one
//!   before it ([`LONE_GAP`] delays) is taken for a lone one, and the
//!   writer goes back to sleep at once; otherwise more may follow soon,
//!   and the writer looks again on its timer, so that they cost their
//!   producers no wake-up.
//!
//! So a record reaches the file within `max_delay` whatever the rate,
//! records a few milliseconds apart cost their producers no system call,
//! a record a second costs one wake-up, and an idle writer does not wake
//! at all.
//!
//! The first two share one flag, so a burst of ERROR records wakes the
//! writer once, not once per record.
//!
//! The third needs the writer and a producer to agree on whether the writer
//! is asleep: either the writer sees the record before it parks, or the
//! producer sees the writer asleep. That takes a full memory barrier on
//! both sides, and a barrier on every send waits for the record's stores to
//! drain, which measurably slowed bursts. So the barrier is asymmetric: the
//! writer, which falls asleep rarely, asks the kernel (`membarrier`) for a
//! barrier on every running thread of the process, and a send needs only a
//! compiler fence. Where `membarrier` is unavailable, the writer never
//! sleeps without a timer: it looks once a second instead.
//!
//! [`WriterBuilder::max_delay`]: super::WriterBuilder::max_delay

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering, compiler_fence};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use super::waiters::QueueWaiters;

/// What producers and the writer share to agree on wake-ups.
#[derive(Debug, Default)]
pub(super) struct Wake {
    /// The writer sleeps with no timer: only a producer can wake it.
    asleep: AtomicBool,
    /// A producer asked for a wake-up that the writer has not yet seen.
    nudged: AtomicBool,
    /// The other way round: where blocking producers wait for the writer
    /// to free room in a full queue.
    pub(super) waiters: QueueWaiters,
}

/// `membarrier(2)` commands, from `include/uapi/linux/membarrier.h`.
const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

fn membarrier(cmd: libc::c_long) -> bool {
    // SAFETY: membarrier takes two integers (a command and flags, 0) and
    // touches no memory of ours.
    unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) == 0 }
}

/// Whether this process can have a barrier run on all its threads: the
/// registration is process-wide and asked for once.
fn process_barrier_available() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
}

impl Wake {
    /// Wakes the writer now, unless another producer already asked since
    /// the writer last looked.
    pub(super) fn nudge(&self, writer: &Thread) {
        // Read first: in a burst every send may find the queue full, and a
        // write on each would bounce the line between the producers' cores.
        if !self.nudged.load(Ordering::Relaxed) && !self.nudged.swap(true, Ordering::AcqRel) {
            writer.unpark();
        }
    }

    /// Called after every queued record: wakes the writer only when it is
    /// asleep without a timer. Costs a load otherwise.
    #[inline]
    pub(super) fn after_send(&self, writer: &Thread) {
        // Pairs with the process-wide barrier in `sleep`: the compiler keeps
        // the queue's stores before this load, and the writer's barrier
        // orders the processor's.
        compiler_fence(Ordering::SeqCst);
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
    /// the writer announced its sleep) says a record slipped in. Without
    /// the process-wide barrier it cannot know, and looks again after
    /// `fallback` (the longest a record may wait).
    pub(super) fn sleep(&self, queue_empty: impl Fn() -> bool, fallback: Duration) {
        if !process_barrier_available() {
            thread::park_timeout(fallback);
            return;
        }
        self.asleep.store(true, Ordering::Relaxed);
        // Every thread of the process passes a full barrier: a producer's
        // record is in the queue for `queue_empty`, or its later load of
        // `asleep` sees `true`.
        let barrier = membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
        if !barrier {
            self.asleep.store(false, Ordering::Relaxed);
            thread::park_timeout(fallback);
            return;
        }
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
    /// The last record found came [`LONE_GAP`] delays or more after the
    /// one before: sleep with no timer at once.
    lone: bool,
    /// The pause while a burst lasts, doubled from [`BURST_FIRST`] up to
    /// [`BURST_LONGEST`].
    burst_pause: Option<Duration>,
}

/// A batch of at least this many records means a burst: the writer looks
/// again soon, as the queue may fill before its next ordinary look.
const BURST_RECORDS: u64 = 64;
const BURST_FIRST: Duration = Duration::from_millis(1);
const BURST_LONGEST: Duration = Duration::from_millis(10);
/// A record this many `max_delay`s after the one before it is a lone one.
const LONE_GAP: u32 = 5;

impl Rhythm {
    pub(super) fn new(max_delay: Duration) -> Self {
        Rhythm {
            max_delay,
            last_record: Instant::now(),
            lone: false,
            burst_pause: None,
        }
    }

    /// Records that the last batch held `records` records.
    pub(super) fn batch(&mut self, records: u64) {
        if records > 0 {
            let now = Instant::now();
            self.lone = now.duration_since(self.last_record) >= self.max_delay * LONE_GAP;
            self.last_record = now;
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
        // A lone record, or one timed look that found nothing, ends the
        // trickle: a record after it wakes the writer itself.
        if self.lone || self.last_record.elapsed() >= self.max_delay {
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
    fn a_lone_record_puts_the_writer_back_to_sleep_at_once() {
        let mut r = Rhythm::new(Duration::from_millis(10));
        r.last_record = Instant::now() - Duration::from_millis(50);
        r.batch(1);
        assert_eq!(r.pause(), Pause::UntilWoken);
        r.batch(1);
        assert_eq!(
            r.pause(),
            Pause::For(Duration::from_millis(10)),
            "a record soon after another: more may follow"
        );
    }

    #[test]
    fn a_look_that_finds_nothing_puts_the_writer_to_sleep_until_woken() {
        let mut r = Rhythm::new(Duration::from_millis(900));
        r.last_record = Instant::now() - Duration::from_millis(900);
        assert_eq!(r.pause(), Pause::UntilWoken);
    }

    #[test]
    fn a_record_queued_as_the_writer_falls_asleep_wakes_it() {
        let wake = std::sync::Arc::new(Wake::default());
        let queued = std::sync::Arc::new(AtomicBool::new(false));
        let (w, q) = (std::sync::Arc::clone(&wake), std::sync::Arc::clone(&queued));
        let writer =
            thread::spawn(move || w.sleep(|| !q.load(Ordering::SeqCst), Duration::from_secs(1)));
        queued.store(true, Ordering::SeqCst);
        wake.after_send(writer.thread());
        // Either the writer saw the record and never parked, or this call
        // saw it asleep and unparked it; both end the thread.
        writer.join().unwrap();
    }
}
