//! What the application holds: the `Sink` it sends entries through and the
//! `WriterGuard` that flushes and stops the thread on drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError, bounded};
use kvp_codec::{Level, Limits};

use super::budget::ByteBudget;
use super::wake::Wake;
use crate::capture::{Capture, NoCapture};
use crate::entry::{Entry, EntryKind};
use crate::stats::{Counters, Stats, add};

/// What travels from the handles to the thread.
// Entries are the traffic; boxing them would put an allocation back on the
// caller's path, which is what the inline buffer is there to avoid.
#[allow(clippy::large_enum_variant)]
/// A producer's set-up of the writer's renderer (`C::Renderer`, reached
/// through `Any` so that a message needs no bound on `C`).
pub(super) type SetUp = Box<dyn FnOnce(&mut dyn std::any::Any) + Send>;

pub(super) enum Msg<C> {
    Entry(Entry<C>),
    /// Sets up the writer's renderer.
    Configure(SetUp),
    Flush(Sender<()>),
    Stop(Sender<()>),
}

/// The application's handle to a writer: cheap to clone, never blocks in
/// lossy mode. `C` is what a producer may send captured
/// ([`Sink::capture`]); a sink of text records only is a `Sink`.
pub struct Sink<C = NoCapture> {
    pub(super) tx: Sender<Msg<C>>,
    /// To wake the writer for a flush or a stop, which must not wait for
    /// its next look at the queue.
    pub(super) writer: thread::Thread,
    /// When a send must wake the writer (see the `wake` module).
    pub(super) wake: Arc<Wake>,
    /// The heap bytes queued entries may hold.
    pub(super) budget: Arc<ByteBudget>,
    pub(super) counters: Arc<Counters>,
    pub(super) blocking: bool,
    pub(super) limits: Limits,
    pub(super) max_chunks: usize,
}

// By hand: a derive would ask `C: Clone` and `C: Debug` of every capture.
impl<C> Clone for Sink<C> {
    fn clone(&self) -> Self {
        Sink {
            tx: self.tx.clone(),
            writer: self.writer.clone(),
            wake: Arc::clone(&self.wake),
            budget: Arc::clone(&self.budget),
            counters: Arc::clone(&self.counters),
            blocking: self.blocking,
            limits: self.limits,
            max_chunks: self.max_chunks,
        }
    }
}

impl<C> std::fmt::Debug for Sink<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sink")
            .field("queued", &self.tx.len())
            .field("blocking", &self.blocking)
            .finish_non_exhaustive()
    }
}

impl<C> std::fmt::Debug for Msg<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(_) => "Entry",
            Msg::Configure(_) => "Configure",
            Msg::Flush(_) => "Flush",
            Msg::Stop(_) => "Stop",
        })
    }
}

impl<C: Capture> Sink<C> {
    /// Queues `entry`. Returns `false` when it was dropped (and counted):
    /// the queue was full in lossy mode, or the writer has stopped.
    ///
    /// An ERROR record or an upsert wakes the writer at once; any other
    /// record waits for the writer's next look, at most
    /// [`WriterBuilder::max_delay`](super::WriterBuilder::max_delay).
    #[inline]
    pub(crate) fn send(&self, entry: Entry<C>) -> bool {
        let urgent = entry.level() == Some(Level::Error) || entry.kind() == EntryKind::Upsert;
        let heap = entry.heap_bytes();
        if !self.budget.take(heap) {
            // Over the byte budget: full, whichever mode (waiting for bytes
            // to free would need a second wait next to the channel's).
            self.wake.nudge(&self.writer);
            add(&self.counters.dropped_queue_full, 1);
            return false;
        }
        let sent = match self.tx.try_send(Msg::Entry(entry)) {
            Ok(()) => true,
            Err(TrySendError::Full(msg)) => {
                // The writer must drain the queue now, whichever mode.
                self.wake.nudge(&self.writer);
                self.blocking && self.send_when_room(msg)
            }
            Err(TrySendError::Disconnected(_)) => {
                self.stopped();
                false
            }
        };
        if !sent {
            self.budget.give(heap);
            add(&self.counters.dropped_queue_full, 1);
        } else if urgent {
            self.wake.nudge(&self.writer);
        } else {
            self.wake.after_send(&self.writer);
        }
        sent
    }

    /// A record came after the writer stopped: its guard was dropped, often
    /// by `let _ = ...`, which drops at once. Said once per writer, so
    /// that the loss is never silent.
    #[cold]
    fn stopped(&self) {
        if !self.counters.told_stopped.swap(true, Ordering::Relaxed) {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "kvp-sink: a record was sent after the KVP writer stopped, and is lost: its \
                 guard was dropped (`let _ = ...` drops it at once; keep it in a named \
                 variable such as `let _guard = ...` for as long as the program logs)"
            );
        }
    }

    /// Blocking mode with a full queue: waits for the writer to take a
    /// batch, then tries again. `false` once the writer has stopped.
    #[cold]
    fn send_when_room(&self, mut msg: Msg<C>) -> bool {
        loop {
            // However the wait ended, the queue is looked at again.
            let _ = self.wake.waiters.wait(|| self.tx.is_full());
            match self.tx.try_send(msg) {
                Ok(()) => return true,
                Err(TrySendError::Full(again)) => {
                    msg = again;
                    self.wake.nudge(&self.writer);
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.stopped();
                    return false;
                }
            }
        }
    }

    /// Queues a producer's record, rendered on the writer thread (see
    /// [`Capture`]); returns as [`Sink::append`] does.
    #[inline]
    pub fn capture(&self, capture: C) -> bool {
        self.send(Entry::captured(capture))
    }

    /// Runs `set_up` on the writer thread with the writer's renderer, in
    /// order with the records queued around it: records captured after
    /// this call are rendered with what it set up. Waits for room in a
    /// full queue, at most `timeout`; returns `false` when the writer has
    /// stopped or the queue stayed full.
    ///
    /// ```
    /// use kvp_sink::{Capture, RenderError, WriterBuilder};
    ///
    /// /// Samples named by the writer's table, set up once.
    /// struct Sample(usize, u64);
    ///
    /// impl Capture for Sample {
    ///     type Renderer = Vec<String>;
    ///     fn level(&self) -> Option<kvp_codec::Level> { None }
    ///     fn render(&self, names: &mut Vec<String>, key: &mut String, value: &mut String) -> Result<(), RenderError> {
    ///         key.push_str(names.get(self.0).ok_or(RenderError)?);
    ///         value.push_str(&format!("value={}", self.1));
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (sink, guard, _) = WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn_for::<Sample>()?;
    /// sink.configure_renderer(std::time::Duration::from_secs(5), |names| names.push("disk_writes".into()));
    /// sink.capture(Sample(0, 7));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn configure_renderer(
        &self,
        timeout: Duration,
        set_up: impl FnOnce(&mut C::Renderer) + Send + 'static,
    ) -> bool {
        let msg = Msg::Configure(Box::new(move |renderer: &mut dyn std::any::Any| {
            if let Some(renderer) = renderer.downcast_mut::<C::Renderer>() {
                set_up(renderer);
            }
        }));
        let sent = self.tx.send_deadline(msg, Instant::now() + timeout).is_ok();
        self.writer.unpark();
        sent
    }

    /// Queues a record to append. Returns `false` when it was dropped (and
    /// counted): the queue was full in lossy mode, or the writer has
    /// stopped. An ERROR record wakes the writer at once; any other record
    /// waits for the writer's next look, at most
    /// [`WriterBuilder::max_delay`](super::WriterBuilder::max_delay). A
    /// value longer than the most chunks could hold is cut here, so that it
    /// costs the queue no more than that (the writer marks it
    /// `…[truncated]`).
    pub fn append(&self, level: Option<kvp_codec::Level>, key: &str, value: &str) -> bool {
        let most = self.limits.value_bytes().saturating_mul(self.max_chunks);
        self.send(Entry::append(level, key, cut_past(value, most)))
    }

    /// Queues a record to upsert by key, and wakes the writer; returns as
    /// [`Sink::append`] does. The value is cut past one record, as
    /// [`Sink::append`] cuts.
    pub fn upsert(&self, level: Option<kvp_codec::Level>, key: &str, value: &str) -> bool {
        self.send(Entry::upsert(
            level,
            key,
            cut_past(value, self.limits.value_bytes()),
        ))
    }

    /// Waits until everything queued before the call has been handled, at
    /// most `timeout`. Returns `true` when it all reached the file: no
    /// record was lost after it was queued (cap, write error, invalid)
    /// since the last flush returned, and the writer did not stall on
    /// another process's lock past the deadline.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = bounded(1);
        // The writer may be asleep on its timer with the queue full: wake
        // it to make room, then again to see the flush.
        self.writer.unpark();
        if self.tx.send_deadline(Msg::Flush(ack_tx), deadline).is_err() {
            return false;
        }
        self.writer.unpark();
        if ack_rx.recv_deadline(deadline).is_err() {
            return false;
        }
        // Losses are counted when the writer comes to a record, which may
        // be before this call began (an ERROR record wakes the writer at
        // once): so compare with what the last flush saw, not with now.
        let lost = self.stats().lost_after_queue();
        self.counters.lost_at_flush.swap(lost, Ordering::Relaxed) == lost
    }

    /// The writer's counters now.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Entries waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }

    /// The limits records are encoded with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The most records one value may take.
    pub fn max_chunks(&self) -> usize {
        self.max_chunks
    }
}

/// `value` cut just past `most` bytes, at a character boundary: still too
/// long, so the writer cuts it and adds its marker, but no longer than that.
fn cut_past(value: &str, most: usize) -> &str {
    if value.len() <= most {
        return value;
    }
    let mut end = most + 1;
    while !value.is_char_boundary(end) {
        end += 1;
    }
    &value[..end]
}

/// Keeps the writer thread; dropping it flushes what is queued, waiting at
/// most the shutdown timeout, then stops the thread. Hold it for the life of
/// the program (in `main`).
#[must_use = "dropping the guard stops the writer"]
pub struct WriterGuard<C: Capture = NoCapture> {
    pub(super) sink: Sink<C>,
    pub(super) shutdown: Arc<AtomicBool>,
    pub(super) handle: Option<JoinHandle<()>>,
    pub(super) timeout: Duration,
    /// The pool's path, for the line that reports a loss at shutdown.
    pub(super) path: std::path::PathBuf,
}

impl<C: Capture> std::fmt::Debug for WriterGuard<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterGuard")
            .field("sink", &self.sink)
            .finish_non_exhaustive()
    }
}

impl<C: Capture> WriterGuard<C> {
    /// See [`Sink::flush`].
    pub fn flush(&self, timeout: Duration) -> bool {
        self.sink.flush(timeout)
    }

    /// The writer's counters now.
    pub fn stats(&self) -> Stats {
        self.sink.stats()
    }

    /// Another handle to the writer.
    pub fn sink(&self) -> Sink<C> {
        self.sink.clone()
    }
}

impl<C: Capture> WriterGuard<C> {
    /// Flushes and stops the writer, waiting at most `timeout` (what
    /// dropping the guard does with the shutdown timeout), and says how it
    /// went: `Ok` with the writer's final counters when every record queued
    /// reached the file, else a [`ShutdownError`] with the counters and
    /// what was lost.
    ///
    /// ```
    /// use std::time::Duration;
    /// let dir = tempfile::tempdir()?;
    /// let (sink, guard, _) = kvp_sink::WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn()?;
    /// sink.append(None, "hello", "world");
    /// let stats = guard.shutdown(Duration::from_secs(5))?;
    /// assert_eq!(stats.written, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self, timeout: Duration) -> Result<Stats, ShutdownError> {
        let stopped = self.stop(timeout);
        let stats = self.sink.stats();
        if stopped && stats.dropped() == 0 {
            Ok(stats)
        } else {
            Err(ShutdownError {
                stats,
                timed_out: !stopped,
            })
        }
    }

    /// Flushes and stops the writer, waiting at most `timeout`. Returns
    /// whether it stopped in time. If the writer is still stuck behind
    /// another process's lock then, the records it has not written are
    /// given up, counted as `dropped_lock`, and reported on stderr before
    /// this returns, so the loss is on record even when the process exits
    /// at once.
    fn stop(&mut self, timeout: Duration) -> bool {
        if self.handle.is_none() {
            return true;
        }
        let deadline = Instant::now() + timeout;
        let (ack_tx, ack_rx) = bounded(1);
        // As in a flush: make room first if the queue is full.
        self.sink.writer.unpark();
        let stop_sent = self
            .sink
            .tx
            .send_deadline(Msg::Stop(ack_tx), deadline)
            .is_ok();
        let stopped = stop_sent && {
            self.sink.writer.unpark();
            ack_rx.recv_deadline(deadline).is_ok()
        };
        if stopped {
            if let Some(handle) = self.handle.take() {
                let _ = handle.join();
            }
            return true;
        }
        self.handle = None;
        // The writer is stuck behind another process's lock: tell it to
        // give up and leave it detached. What it holds and what is queued
        // (less the stop message) is lost.
        self.shutdown.store(true, Ordering::SeqCst);
        self.sink.writer.unpark();
        let queued = self.sink.tx.len().saturating_sub(usize::from(stop_sent)) as u64;
        let lost = queued + self.sink.counters.in_flight.load(Ordering::Relaxed);
        if lost > 0 {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "kvp-sink: {}: {lost} records not written at shutdown: the pool stayed \
                 locked by another process for {timeout:?}",
                self.path.display(),
            );
        }
        false
    }
}

impl<C: Capture> Drop for WriterGuard<C> {
    /// Flushes and stops the writer, waiting at most the shutdown timeout;
    /// see [`WriterGuard::shutdown`], which also says how it went.
    fn drop(&mut self) {
        self.stop(self.timeout);
    }
}

/// A writer that did not deliver everything it was given; see
/// [`WriterGuard::shutdown`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShutdownError {
    /// The writer's counters when it stopped (or was given up on).
    pub stats: Stats,
    /// The writer was still waiting for another process's lock at the
    /// deadline, and what it held was given up.
    pub timed_out: bool,
}

impl std::fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = &self.stats;
        write!(
            f,
            "{} KVP records written, {} lost (queue full {}, record cap {}, write errors {}, \
             lock {}, invalid {})",
            s.written,
            s.dropped(),
            s.dropped_queue_full,
            s.dropped_cap,
            s.dropped_write_error,
            s.dropped_lock,
            s.dropped_invalid
        )?;
        if self.timed_out {
            f.write_str("; the pool stayed locked by another process past the deadline")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownError {}
