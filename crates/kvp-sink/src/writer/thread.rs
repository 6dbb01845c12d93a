//! The writer thread: it takes what is queued, encodes it, and writes it
//! under the pool's locks, counting every record once, written or dropped
//! with a reason.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TryRecvError};
use kvp_codec::{EncodeError, Level, Limits, RECORD_SIZE};

use super::budget::ByteBudget;
use super::cap::{Cap, CapAllowance, CapDrops};
use super::encode::{Encoded, Pending};
use super::handle::Msg;
use super::wake::{Pause, Rhythm, Wake};
use crate::capture::Capture;
use crate::entry::{Body, Entry, EntryKind};
use crate::error::{Error, WithCauses};
use crate::pool::{Locked, PoolFile};
use crate::stats::{Counters, add};
use crate::throttled_stderr::ThrottledStderr;

/// Stop collecting a batch past this many bytes of encoded records.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// What the thread needs of the builder's options.
#[derive(Clone, Debug)]
pub(super) struct Config {
    pub(super) lock_timeout: Duration,
    pub(super) retry_interval: Duration,
    pub(super) limits: Limits,
    pub(super) max_chunks: usize,
    pub(super) report_interval: Duration,
    pub(super) max_delay: Duration,
    pub(super) cap: Cap,
    /// Producers wait for room ([`super::waiters::QueueWaiters`]) instead of dropping.
    pub(super) blocking: bool,
}

/// Why an entry was not encoded.
enum Rejected {
    /// Its key or value breaks the limits.
    Invalid(EncodeError),
    /// Its renderer could not render it (unknown, or it panicked).
    Unrendered,
}

/// The records a failed write left unwritten.
struct Failed {
    error: Error,
    unwritten: u64,
}

/// Renders a producer's capture. A capture whose `render` fails or panics
/// is rejected; the writer goes on.
fn render<C: Capture>(
    capture: &C,
    renderer: &mut C::Renderer,
    key: &mut String,
    value: &mut String,
) -> Result<(), Rejected> {
    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        capture.render(renderer, key, value)
    }));
    match rendered {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) | Err(_) => Err(Rejected::Unrendered),
    }
}

/// What appending one run of records did.
struct Appended {
    /// Records written.
    written: u64,
    /// Records the cap dropped, by level.
    dropped: CapDrops,
    /// Records kept by the cap but lost to a failed write, with the error.
    failed: Option<(Error, u64)>,
}

/// The writer thread: the pool and the channel, and the state the batches
/// work on (kept apart so a held lock can borrow the pool while the state
/// changes).
pub(super) struct Worker<C: Capture> {
    pool: PoolFile,
    rx: Receiver<Msg<C>>,
    shutdown: Arc<AtomicBool>,
    wake: Arc<Wake>,
    rhythm: Rhythm,
    state: State,
    /// Renders the producers' captures; theirs to set up, through
    /// `Msg::Configure`, and the writer's alone to use: no lock.
    renderer: C::Renderer,
}

struct State {
    counters: Arc<Counters>,
    /// Given back each entry's heap bytes as it is encoded.
    bytes: Arc<ByteBudget>,
    reporter: ThrottledStderr,
    pending: Pending,
    /// Records the cap dropped since the start, by level, for the marker.
    cap_dropped: CapDrops,
    /// Reused text of a rendered entry.
    key_buf: String,
    value_buf: String,
    config: Config,
}

impl<C: Capture> Worker<C> {
    pub(super) fn new(
        pool: PoolFile,
        rx: Receiver<Msg<C>>,
        shutdown: Arc<AtomicBool>,
        wake: Arc<Wake>,
        bytes: Arc<ByteBudget>,
        counters: Arc<Counters>,
        config: Config,
    ) -> Worker<C>
    where
        C::Renderer: Default,
    {
        Worker {
            renderer: C::Renderer::default(),
            pool,
            rx,
            shutdown,
            wake,
            rhythm: Rhythm::new(config.max_delay),
            state: State {
                counters,
                bytes,
                reporter: ThrottledStderr::new(config.report_interval),
                pending: Pending::default(),
                cap_dropped: CapDrops::default(),
                key_buf: String::new(),
                value_buf: String::new(),
                config,
            },
        }
    }

    pub(super) fn run(mut self) {
        let mut acks = Vec::new();
        while let Some(first) = self.next_message() {
            let mut stop = self.state.take(first, &mut self.renderer, &mut acks);
            let mut taken = 1;
            while stop.is_none() && self.state.pending.batch.len() < MAX_BATCH_BYTES {
                match self.rx.try_recv() {
                    Ok(msg) => {
                        stop = self.state.take(msg, &mut self.renderer, &mut acks);
                        taken += 1;
                    }
                    Err(_) => break,
                }
            }
            // Only a blocking sink's producers wait for room: a lossy one's
            // batches need not take the waiters' lock.
            if self.state.config.blocking {
                self.wake.waiters.freed();
            }
            self.rhythm.batch(taken);
            self.state
                .counters
                .in_flight
                .store(self.state.pending.records(), Ordering::Relaxed);
            self.write_pending();
            self.state.counters.in_flight.store(0, Ordering::Relaxed);
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
            if let Some(ack) = stop {
                let _ = ack.send(());
                return;
            }
        }
        // Every handle is gone: write what is left.
        self.write_pending();
    }

    /// The next message, waiting as [`Rhythm`] says between looks at the
    /// queue (see the `wake` module). `None` once every handle is gone.
    fn next_message(&mut self) -> Option<Msg<C>> {
        loop {
            self.wake.seen();
            match self.rx.try_recv() {
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) => {}
            }
            match self.rhythm.pause() {
                Pause::For(pause) => thread::park_timeout(pause),
                Pause::UntilWoken => self
                    .wake
                    .sleep(|| self.rx.is_empty(), self.state.config.max_delay),
            }
        }
    }

    /// Writes the pending records, retrying while another process holds
    /// the locks, until done or told to shut down.
    fn write_pending(&mut self) {
        if self.state.pending.is_empty() {
            return;
        }
        loop {
            // Once the guard has given up waiting it has reported these
            // records lost, so they are counted and never written late.
            if self.shutdown.load(Ordering::SeqCst) {
                add(
                    &self.state.counters.dropped_lock,
                    self.state.pending.records(),
                );
                self.state.pending.clear();
                return;
            }
            match lock(&self.pool, &self.state) {
                Ok(locked) if !self.shutdown.load(Ordering::SeqCst) => {
                    self.state.write_locked(locked);
                    break;
                }
                // Told to stop while waiting: dropped above.
                Ok(_) => {}
                Err(Error::LockTimeout { .. }) => {
                    add(&self.state.counters.lock_timeouts, 1);
                    if !self.shutdown.load(Ordering::SeqCst) {
                        thread::sleep(self.state.config.retry_interval);
                    }
                }
                Err(e) => {
                    let n = self.state.pending.records();
                    add(&self.state.counters.write_errors, 1);
                    add(&self.state.counters.dropped_write_error, n);
                    self.state
                        .reporter
                        .report(format_args!("{}; dropped {n} records", WithCauses(&e)));
                    self.state.pending.clear();
                    return;
                }
            }
        }
        self.close_holes();
    }
}

impl<C: Capture> Worker<C> {
    /// Closes the holes an upsert of a key that was written twice left
    /// (see the `compact` module), a bounded step at a time; a failure is
    /// reported, and the next open finishes the work.
    fn close_holes(&mut self) {
        if !self.pool.compaction_pending() {
            return;
        }
        if let Err(e) = self.pool.compact(self.state.config.lock_timeout) {
            self.state
                .reporter
                .report(format_args!("cannot close holes yet: {}", WithCauses(&e)));
        }
    }
}

/// Takes the pool's locks for `state`'s pending batch. When the batch will
/// search the file (it upserts, or comes near the cap and so looks for the
/// marker), the search is made first, without the locks, so that the time
/// they are held does not grow with the file (see the `scan` module).
fn lock<'p>(pool: &'p PoolFile, state: &State) -> Result<Locked<'p>, Error> {
    let timeout = state.config.lock_timeout;
    let pending = &state.pending;
    let cap = &state.config.cap;
    let mut keys: Vec<&[u8]> = pending
        .upserts
        .iter()
        .map(|(_, r)| kvp_codec::Record::new(r).key_bytes())
        .collect();
    let records = pool.records_unlocked().unwrap_or(0);
    if cap.near(records, pending.levels.len() + pending.upserts.len()) {
        keys.push(cap.marker_key.as_bytes());
    }
    if keys.is_empty() {
        return pool.lock(timeout);
    }
    match pool.scan_keys(&keys) {
        Ok(scan) => pool.lock_scanned(timeout, scan),
        // The search under the locks will say what is wrong.
        Err(_) => pool.lock(timeout),
    }
}

impl State {
    /// Encodes an entry into the pending records, or collects an ack.
    /// Returns the ack of a stop request.
    fn take<C: Capture>(
        &mut self,
        msg: Msg<C>,
        renderer: &mut C::Renderer,
        acks: &mut Vec<Sender<()>>,
    ) -> Option<Sender<()>> {
        match msg {
            Msg::Entry(entry) => {
                let encoded = self.encode(&entry, renderer);
                self.bytes.give(entry.heap_bytes());
                if let Err(why) = encoded {
                    add(&self.counters.dropped_invalid, 1);
                    match why {
                        Rejected::Invalid(e) => self.reporter.report(format_args!(
                            "dropped a record with key {:?}: {e}",
                            entry.text().map_or(self.key_buf.as_str(), |(k, _)| k)
                        )),
                        Rejected::Unrendered => self.reporter.report(format_args!(
                            "dropped a captured record its renderer could not render"
                        )),
                    }
                }
                None
            }
            Msg::Configure(set_up) => {
                set_up(renderer);
                None
            }
            Msg::Flush(ack) => {
                acks.push(ack);
                None
            }
            Msg::Stop(ack) => Some(ack),
        }
    }

    /// Renders `entry` if it is captured, and encodes it.
    fn encode<C: Capture>(
        &mut self,
        entry: &Entry<C>,
        renderer: &mut C::Renderer,
    ) -> Result<(), Rejected> {
        let (mut key, mut value) = (
            std::mem::take(&mut self.key_buf),
            std::mem::take(&mut self.value_buf),
        );
        key.clear();
        value.clear();
        let text = match &entry.body {
            Body::Text { .. } => entry.text().ok_or(Rejected::Unrendered),
            Body::Captured(capture) => render(capture, renderer, &mut key, &mut value)
                .map(|()| (key.as_str(), value.as_str())),
        };
        let limits = self.config.limits;
        let result = match text {
            Err(why) => Err(why),
            Ok(("", _)) => Err(Rejected::Unrendered),
            Ok((k, v)) => match entry.kind() {
                EntryKind::Append => {
                    self.pending
                        .append(entry.level(), k, v, &limits, self.config.max_chunks)
                }
                EntryKind::Upsert => self.pending.upsert(k, v, &limits),
            }
            .map_err(Rejected::Invalid),
        };
        if matches!(result, Ok(Encoded::Truncated)) {
            add(&self.counters.truncated_values, 1);
        }
        self.key_buf = key;
        self.value_buf = value;
        result.map(|_| ())
    }

    /// Writes the pending records under the held locks. Every record ends
    /// up counted exactly once: written or dropped with a reason.
    fn write_locked(&mut self, mut locked: Locked<'_>) {
        let pending = std::mem::take(&mut self.pending);
        if let Err(Failed { error, unwritten }) = self.write_under_lock(&mut locked, &pending) {
            add(&self.counters.write_errors, 1);
            add(&self.counters.dropped_write_error, unwritten);
            self.reporter.report(format_args!(
                "{}; dropped {unwritten} records",
                WithCauses(&error)
            ));
        }
        // Keep the allocations for the next batch.
        self.pending = pending;
        self.pending.clear();
    }

    fn write_under_lock(
        &mut self,
        locked: &mut Locked<'_>,
        pending: &Pending,
    ) -> Result<(), Failed> {
        let total = pending.records();
        let mut handled = 0;
        let fail = |error, handled| Failed {
            error,
            unwritten: total - handled,
        };
        if locked
            .repair_tail()
            .map_err(|e| fail(e, handled))?
            .is_some()
        {
            add(&self.counters.torn_tails_repaired, 1);
        }
        let batch = pending.batch.as_slice();
        let mut budget = self
            .config
            .cap
            .budget(locked, pending.levels.len() + pending.upserts.len())
            .map_err(|e| fail(e, handled))?;
        let mut dropped = CapDrops::default();
        // In arrival order: the appends queued before each upsert, then the
        // upsert. Usually there is no upsert and the batch is one write.
        let mut done = 0;
        for (before, record) in &pending.upserts {
            let run = done..*before;
            let appended = self.append_run(
                locked,
                &batch[run.start * RECORD_SIZE..run.end * RECORD_SIZE],
                &pending.levels[run.clone()],
                &mut budget,
            );
            handled += run.len() as u64;
            self.count(appended, &mut dropped);
            done = *before;
            // Replacing in place takes no room; a new key may use the reserve.
            let replaces = locked
                .find(kvp_codec::Record::new(record).key_bytes())
                .map_err(|e| fail(e, handled))?
                .is_some();
            handled += 1;
            if !replaces && !budget.take(true) {
                dropped.upserts += 1;
                continue;
            }
            match locked.upsert(record) {
                Ok(_) => add(&self.counters.written, 1),
                Err(e) => {
                    add(&self.counters.write_errors, 1);
                    add(&self.counters.dropped_write_error, 1);
                    self.reporter.report(e);
                }
            }
        }
        let appended = self.append_run(
            locked,
            &batch[done * RECORD_SIZE..],
            &pending.levels[done..],
            &mut budget,
        );
        handled += (pending.levels.len() - done) as u64;
        self.count(appended, &mut dropped);
        if dropped.total() > 0 {
            add(&self.counters.dropped_cap, dropped.total());
            self.cap_dropped.merge(&dropped);
            let marker = self
                .config
                .cap
                .write_marker(locked, &self.cap_dropped, &self.config.limits)
                .map_err(|e| fail(e, handled))?;
            if let Some(e) = marker {
                self.reporter.report(format_args!(
                    "cannot write the cap marker: {}",
                    WithCauses(&e)
                ));
            }
        }
        Ok(())
    }

    /// Counts what appending a run did, adding the cap's drops to
    /// `dropped`.
    fn count(&mut self, appended: Appended, dropped: &mut CapDrops) {
        add(&self.counters.written, appended.written);
        dropped.merge(&appended.dropped);
        if let Some((e, n)) = appended.failed {
            add(&self.counters.write_errors, 1);
            add(&self.counters.dropped_write_error, n);
            self.reporter
                .report(format_args!("{}; dropped {n} records", WithCauses(&e)));
        }
    }

    /// Appends the records of `run` the budget admits, with one write.
    fn append_run(
        &self,
        locked: &mut Locked<'_>,
        run: &[u8],
        levels: &[Option<Level>],
        budget: &mut CapAllowance,
    ) -> Appended {
        let mut dropped = CapDrops::default();
        let keep: Vec<bool> = levels
            .iter()
            .map(|&level| {
                let kept = budget.take(level == Some(Level::Error));
                if !kept {
                    dropped.add(level);
                }
                kept
            })
            .collect();
        let kept = keep.iter().filter(|k| **k).count();
        let mut appended = Appended {
            written: 0,
            dropped,
            failed: None,
        };
        if kept == 0 {
            return appended;
        }
        let compacted: Vec<u8>;
        let bytes = if kept == levels.len() {
            run
        } else {
            compacted = run
                .chunks_exact(RECORD_SIZE)
                .zip(&keep)
                .filter(|(_, k)| **k)
                .flat_map(|(r, _)| r.iter().copied())
                .collect();
            &compacted
        };
        match locked.append(bytes) {
            Ok(()) => appended.written = kept as u64,
            Err(e) => appended.failed = Some((e, kept as u64)),
        }
        appended
    }
}
