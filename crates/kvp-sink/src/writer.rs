//! The writer thread and the handles the application holds.
//!
//! Like `tracing-appender`'s `non_blocking`: a dedicated thread fed by a
//! bounded channel, lossy by default (a full queue drops the record, counts
//! it and returns at once), a guard that flushes on drop. Everything queued
//! when the thread wakes is written as one batch under one lock acquisition.
//! Memory is bounded by the queue capacity whatever the disk or the other
//! lock holders do.
//!
//! Unlike `non_blocking`, the thread does not wait on the queue while
//! records come: it looks every 1 ms, backing off to every 10 ms. A thread
//! waiting on the queue must be woken by the next send, and that wake-up
//! is a system call on the application's thread: about 9 µs here, thirty
//! times the rest of an event, paid by every event of an agent that logs a
//! few a second (`event_writer_idle` in docs/PERFORMANCE.md). After 2 s
//! with nothing queued it does wait on the queue, so an idle process has no
//! timer; the first record after such a pause pays the wake-up once.
//! Flushes and the guard's stop wake the thread themselves. A pause is where
//! a burst could overflow the queue: at the longest, it takes more than
//! 400,000 records a second to fill the default 4,096 entries (lossy mode
//! drops and counts the rest; blocking mode waits at most the pause).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, bounded};
use kvp_codec::{
    EncodeError, Field, Level, Limits, RECORD_SIZE, encode, encode_chunk, split_value, utf16_len,
};

use crate::batch::Batch;
use crate::entry::{Body, Entry, EntryKind};
use crate::error::Error;
use crate::pool::{Locked, OpenOptionsPool, OpenReport, PoolFile};
use crate::render::{Render, RendererId, Renderers};
use crate::report::Reporter;
use crate::stats::{Counters, Stats, add};

/// Appended to a value cut because it needed more chunks than allowed.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

/// Default key of the record that counts what the record cap dropped.
pub const DEFAULT_MARKER_KEY: &str = "KVP_SINK_DROPPED";

/// Stop collecting a batch past this many bytes of encoded records.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The writer's first pause on an empty queue, doubled up to the longest.
const POLL_FIRST: Duration = Duration::from_millis(1);
const POLL_LONGEST: Duration = Duration::from_millis(10);
/// After this long with an empty queue, the writer waits on the queue.
const WAIT_AFTER: Duration = Duration::from_secs(2);

// Entries are the traffic; boxing them would put an allocation back on the
// caller's path, which is what the inline buffer is there to avoid.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Entry(Entry),
    Flush(Sender<()>),
    Stop(Sender<()>),
}

/// Configures and starts a writer. See [`WriterBuilder::spawn`].
#[derive(Clone, Debug)]
pub struct WriterBuilder {
    path: PathBuf,
    open: OpenOptionsPool,
    capacity: usize,
    blocking: bool,
    cap: Option<u64>,
    reserve_percent: u8,
    lock_timeout: Duration,
    retry_interval: Duration,
    limits: Limits,
    max_chunks: usize,
    marker_key: String,
    shutdown_timeout: Duration,
    report_interval: Duration,
}

impl WriterBuilder {
    /// A writer for the pool file at `path`, with the defaults below.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        WriterBuilder {
            path: path.into(),
            open: OpenOptionsPool::default(),
            capacity: 4096,
            blocking: false,
            cap: Some(1024),
            reserve_percent: 10,
            lock_timeout: Duration::from_millis(100),
            retry_interval: Duration::from_millis(50),
            limits: Limits::SAFE,
            max_chunks: 16,
            marker_key: DEFAULT_MARKER_KEY.to_owned(),
            shutdown_timeout: Duration::from_secs(1),
            report_interval: Duration::from_secs(10),
        }
    }

    /// Entries the queue holds (default 4,096). When it is full, lossy mode
    /// drops and counts, blocking mode waits.
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries.max(1);
        self
    }

    /// Wait for room in the queue instead of dropping (default: lossy).
    pub fn blocking(mut self, blocking: bool) -> Self {
        self.blocking = blocking;
        self
    }

    /// The most records the file may hold (default 1,024, as azure-init
    /// documents; `None` for no cap). When full, new records are dropped and
    /// counted, and the last slot holds one marker record saying how many.
    pub fn record_cap(mut self, cap: Option<u64>) -> Self {
        self.cap = cap.map(|c| c.max(1));
        self
    }

    /// The part of the cap, in percent (default 10), that only ERROR records
    /// and upserts (`PROVISIONING_REPORT`, metric series) may use, so that a
    /// noisy INFO/WARN phase cannot starve them.
    pub fn reserve_percent(mut self, percent: u8) -> Self {
        self.reserve_percent = percent.min(100);
        self
    }

    /// How long one attempt waits for the locks (default 100 ms) before it
    /// gives up, counts a lock timeout and retries later.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The pause between lock attempts (default 50 ms).
    pub fn retry_interval(mut self, interval: Duration) -> Self {
        self.retry_interval = interval;
        self
    }

    /// Key and value limits (default [`Limits::SAFE`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The most records one value may take (default 16); a longer value is
    /// cut and its last chunk ends with [`TRUNCATED_MARKER`].
    pub fn max_chunks(mut self, chunks: usize) -> Self {
        self.max_chunks = chunks.max(1);
        self
    }

    /// The key of the cap's marker record (default [`DEFAULT_MARKER_KEY`]).
    pub fn marker_key(mut self, key: impl Into<String>) -> Self {
        self.marker_key = key.into();
        self
    }

    /// Create the pool's directory when missing (default: an error).
    pub fn create_dir(mut self, create: bool) -> Self {
        self.open.create_dir = create;
        self
    }

    /// Truncate data written before this boot when opening (default off).
    pub fn truncate_stale(mut self, truncate: bool) -> Self {
        self.open.truncate_stale = truncate;
        self
    }

    /// How long dropping the guard waits for the queue to drain (default 1 s).
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// At most one error line on stderr per interval (default 10 s).
    pub fn report_interval(mut self, interval: Duration) -> Self {
        self.report_interval = interval;
        self
    }

    /// Opens the pool file (see [`PoolFile::open`]; errors such as a missing
    /// directory or a symlink are returned here) and starts the thread.
    ///
    /// ```
    /// use kvp_sink::WriterBuilder;
    /// use std::time::Duration;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (sink, guard, _report) = WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn()?;
    /// sink.append(None, "hello", "world");
    /// assert!(guard.flush(Duration::from_secs(5)));
    /// assert_eq!(guard.stats().written, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn(self) -> Result<(Sink, WriterGuard, OpenReport), Error> {
        let (pool, report) = PoolFile::open(&self.path, &self.open)?;
        let counters = Arc::new(Counters::default());
        if report.torn_tail_bytes.is_some() {
            add(&counters.torn_tails_repaired, 1);
        }
        let (tx, rx) = bounded(self.capacity);
        let shutdown = Arc::new(AtomicBool::new(false));
        let renderers = Renderers::default();
        let worker = Worker {
            pool,
            rx,
            shutdown: Arc::clone(&shutdown),
            state: State {
                counters: Arc::clone(&counters),
                reporter: Reporter::new(self.report_interval),
                batch: Batch::default(),
                batch_levels: Vec::new(),
                upserts: Vec::new(),
                cap_dropped: CapDrops::default(),
                renderers: renderers.clone(),
                renderers_seen: Vec::new(),
                key_buf: String::new(),
                value_buf: String::new(),
                config: self.clone(),
            },
        };
        let handle = thread::Builder::new()
            .name("kvp-writer".into())
            .spawn(move || worker.run())
            .map_err(|source| Error::Io {
                path: self.path.clone(),
                op: "spawn writer thread",
                source,
            })?;
        let sink = Sink {
            tx,
            writer: handle.thread().clone(),
            counters,
            blocking: self.blocking,
            limits: self.limits,
            max_chunks: self.max_chunks,
            renderers,
        };
        let guard = WriterGuard {
            sink: sink.clone(),
            shutdown,
            handle: Some(handle),
            timeout: self.shutdown_timeout,
        };
        Ok((sink, guard, report))
    }
}

/// The application's handle to a writer: cheap to clone, never blocks in
/// lossy mode.
#[derive(Clone, Debug)]
pub struct Sink {
    tx: Sender<Msg>,
    /// To wake the writer for a flush or a stop, which must not wait for
    /// its next look at the queue.
    writer: thread::Thread,
    counters: Arc<Counters>,
    blocking: bool,
    limits: Limits,
    max_chunks: usize,
    renderers: Renderers,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Entry(_) => "Entry",
            Msg::Flush(_) => "Flush",
            Msg::Stop(_) => "Stop",
        })
    }
}

impl Sink {
    /// Queues `entry`. Returns `false` when it was dropped (and counted):
    /// the queue was full in lossy mode, or the writer has stopped.
    #[inline]
    pub fn send(&self, entry: Entry) -> bool {
        let sent = if self.blocking {
            self.tx.send(Msg::Entry(entry)).is_ok()
        } else {
            match self.tx.try_send(Msg::Entry(entry)) {
                Ok(()) => true,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
            }
        };
        if !sent {
            add(&self.counters.dropped_queue_full, 1);
        }
        sent
    }

    /// Queues a record to append; see [`Sink::send`].
    pub fn append(&self, level: Option<kvp_codec::Level>, key: &str, value: &str) -> bool {
        self.send(Entry::append(level, key, value))
    }

    /// Queues a record to upsert by key; see [`Sink::send`].
    pub fn upsert(&self, level: Option<kvp_codec::Level>, key: &str, value: &str) -> bool {
        self.send(Entry::upsert(level, key, value))
    }

    /// Waits until everything queued before the call has been handled, at
    /// most `timeout`. Returns `true` when it all reached the file: nothing
    /// queued was dropped meanwhile (cap, write error) and the writer did not
    /// stall on another process's lock past the deadline.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let lost_before = self.stats().lost_after_queue();
        let (ack_tx, ack_rx) = bounded(1);
        if self.tx.send_deadline(Msg::Flush(ack_tx), deadline).is_err() {
            return false;
        }
        self.writer.unpark();
        ack_rx.recv_deadline(deadline).is_ok() && self.stats().lost_after_queue() == lost_before
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

    /// Registers `render` for this writer's captured entries (see
    /// [`Entry::captured`]). Registration is for the writer's life: do it
    /// once per producer, not per record.
    #[doc(hidden)] // plumbing for tracing-kvp; see `lib.rs`
    pub fn register_renderer(&self, render: Arc<dyn Render>) -> RendererId {
        self.renderers.register(render)
    }
}

/// Keeps the writer thread; dropping it flushes what is queued, waiting at
/// most the shutdown timeout, then stops the thread. Hold it for the life of
/// the program (in `main`).
#[derive(Debug)]
#[must_use = "dropping the guard stops the writer"]
pub struct WriterGuard {
    sink: Sink,
    shutdown: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    timeout: Duration,
}

impl WriterGuard {
    /// See [`Sink::flush`].
    pub fn flush(&self, timeout: Duration) -> bool {
        self.sink.flush(timeout)
    }

    /// The writer's counters now.
    pub fn stats(&self) -> Stats {
        self.sink.stats()
    }

    /// Another handle to the writer.
    pub fn sink(&self) -> Sink {
        self.sink.clone()
    }
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let deadline = Instant::now() + self.timeout;
        let (ack_tx, ack_rx) = bounded(1);
        let stopped = self
            .sink
            .tx
            .send_deadline(Msg::Stop(ack_tx), deadline)
            .is_ok()
            && {
                self.sink.writer.unpark();
                ack_rx.recv_deadline(deadline).is_ok()
            };
        if stopped {
            if let Some(handle) = self.handle.take() {
                let _ = handle.join();
            }
        } else {
            // The writer is stuck behind another process's lock: tell it to
            // give up (counting what it drops) and leave it detached.
            self.shutdown.store(true, Ordering::Relaxed);
        }
    }
}

/// The writer thread: the pool and the channel, and the state the batches
/// work on (kept apart so a held lock can borrow the pool while the state
/// changes).
struct Worker {
    pool: PoolFile,
    rx: Receiver<Msg>,
    shutdown: Arc<AtomicBool>,
    state: State,
}

struct State {
    counters: Arc<Counters>,
    reporter: Reporter,
    /// Encoded records waiting to be appended.
    batch: Batch,
    /// The level of each record in `batch`.
    batch_levels: Vec<Option<Level>>,
    /// Encoded records waiting to be upserted, each with the number of
    /// batch records queued before it, so that arrival order is kept.
    upserts: Vec<(usize, [u8; RECORD_SIZE])>,
    /// Records the cap dropped since the start, by level, for the marker.
    cap_dropped: CapDrops,
    /// Renderers of captured entries, and this thread's copy of the list.
    renderers: Renderers,
    renderers_seen: Vec<Arc<dyn Render>>,
    /// Reused text of a rendered entry.
    key_buf: String,
    value_buf: String,
    config: WriterBuilder,
}

impl Worker {
    fn run(mut self) {
        let mut acks = Vec::new();
        while let Some(first) = self.next_message() {
            let mut stop = self.state.take(first, &mut acks);
            while stop.is_none() && self.state.batch.len() < MAX_BATCH_BYTES {
                match self.rx.try_recv() {
                    Ok(msg) => stop = self.state.take(msg, &mut acks),
                    Err(_) => break,
                }
            }
            self.write_pending();
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

    /// The next message, looking at the queue every [`POLL_FIRST`] to
    /// [`POLL_LONGEST`] while records come, waiting on it after
    /// [`WAIT_AFTER`] without any (see the module docs). `None` once every
    /// handle is gone.
    fn next_message(&self) -> Option<Msg> {
        let empty_since = Instant::now();
        let mut pause = POLL_FIRST;
        loop {
            match self.rx.try_recv() {
                Ok(msg) => return Some(msg),
                Err(TryRecvError::Disconnected) => return None,
                Err(TryRecvError::Empty) if empty_since.elapsed() < WAIT_AFTER => {
                    // A flush or stop unparks the thread at once.
                    thread::park_timeout(pause);
                    pause = (pause * 2).min(POLL_LONGEST);
                }
                Err(TryRecvError::Empty) => return self.rx.recv().ok(),
            }
        }
    }

    /// Writes the pending batch and upserts, retrying while another process
    /// holds the locks, until done or told to shut down.
    fn write_pending(&mut self) {
        if self.state.batch.is_empty() && self.state.upserts.is_empty() {
            return;
        }
        loop {
            match self.pool.lock(self.state.config.lock_timeout) {
                Ok(locked) => {
                    self.state.write_locked(locked);
                    return;
                }
                Err(Error::LockTimeout { .. }) => {
                    add(&self.state.counters.lock_timeouts, 1);
                    if self.shutdown.load(Ordering::Relaxed) {
                        let n = self.state.pending_records();
                        add(&self.state.counters.dropped_lock, n);
                        self.state.reporter.report(format_args!(
                            "{}: dropped {n} records at shutdown: the pool stayed locked",
                            self.pool.path().display()
                        ));
                        self.state.clear_pending();
                        return;
                    }
                    thread::sleep(self.state.config.retry_interval);
                }
                Err(e) => {
                    let n = self.state.pending_records();
                    add(&self.state.counters.write_errors, 1);
                    add(&self.state.counters.dropped_write_error, n);
                    self.state
                        .reporter
                        .report(format_args!("{e}; dropped {n} records"));
                    self.state.clear_pending();
                    return;
                }
            }
        }
    }
}

impl State {
    /// Encodes an entry into the pending batch, or collects an ack. Returns
    /// the ack of a stop request.
    fn take(&mut self, msg: Msg, acks: &mut Vec<Sender<()>>) -> Option<Sender<()>> {
        match msg {
            Msg::Entry(entry) => {
                let (mut key, mut value) = (
                    std::mem::take(&mut self.key_buf),
                    std::mem::take(&mut self.value_buf),
                );
                let (k, v) = match entry.text() {
                    Some(text) => text,
                    None => {
                        key.clear();
                        value.clear();
                        self.render(&entry, &mut key, &mut value);
                        (key.as_str(), value.as_str())
                    }
                };
                let result = if k.is_empty() {
                    Err(None)
                } else {
                    match entry.kind() {
                        EntryKind::Append => self.encode_append(entry.level(), k, v),
                        EntryKind::Upsert => self.encode_upsert(k, v),
                    }
                    .map_err(Some)
                };
                if let Err(e) = result {
                    add(&self.counters.dropped_invalid, 1);
                    match e {
                        Some(e) => self
                            .reporter
                            .report(format_args!("dropped a record with key {k:?}: {e}")),
                        None => self.reporter.report(format_args!(
                            "dropped a captured record its renderer could not render"
                        )),
                    }
                }
                self.key_buf = key;
                self.value_buf = value;
                None
            }
            Msg::Flush(ack) => {
                acks.push(ack);
                None
            }
            Msg::Stop(ack) => Some(ack),
        }
    }

    /// Renders a captured entry with its renderer. A renderer that panics
    /// or is unknown leaves the key empty: the record is dropped and
    /// counted, and the writer goes on.
    fn render(&mut self, entry: &Entry, key: &mut String, value: &mut String) {
        let Body::Captured { renderer, context } = entry.body else {
            return;
        };
        let index = renderer.0 as usize;
        if index >= self.renderers_seen.len() {
            self.renderers_seen = self.renderers.snapshot();
        }
        let Some(render) = self.renderers_seen.get(index) else {
            return;
        };
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render.render(context, entry.bytes(), key, value)
        }));
        if rendered.is_err() {
            key.clear();
        }
    }

    fn encode_append(
        &mut self,
        level: Option<Level>,
        key: &str,
        value: &str,
    ) -> Result<(), EncodeError> {
        let limits = self.config.limits;
        let start = self.batch.len();
        // Most values fit one record: try that first rather than checking
        // the value twice, and split only a value too long for it.
        let result = match encode(key, value, &limits, self.batch.new_slot()) {
            Err(EncodeError::TooLong {
                field: Field::Value,
                ..
            }) => {
                self.batch.truncate(start);
                self.encode_chunks(key, value)
            }
            done => done,
        };
        if result.is_err() {
            self.batch.truncate(start);
        }
        self.batch_levels.resize(self.batch.records(), level);
        result
    }

    fn encode_chunks(&mut self, key: &str, value: &str) -> Result<(), EncodeError> {
        let limits = self.config.limits;
        let max = self.config.max_chunks;
        let mut chunks = split_value(value, &limits);
        for index in 0..max {
            let Some(chunk) = chunks.next() else {
                return Ok(());
            };
            let index32 = u32::try_from(index).unwrap_or(u32::MAX);
            if index + 1 == max && !chunks.rest().is_empty() {
                add(&self.counters.truncated_values, 1);
                let cut = with_marker(chunk, &limits);
                return encode_chunk(key, index32, &cut, &limits, self.batch.new_slot());
            }
            encode_chunk(key, index32, chunk, &limits, self.batch.new_slot())?;
        }
        Ok(())
    }

    fn encode_upsert(&mut self, key: &str, value: &str) -> Result<(), EncodeError> {
        let limits = self.config.limits;
        let mut record = [0u8; RECORD_SIZE];
        if limits.value_fits(value) {
            encode(key, value, &limits, &mut record)?;
        } else {
            add(&self.counters.truncated_values, 1);
            let first = split_value(value, &limits).next().unwrap_or_default();
            encode(key, &with_marker(first, &limits), &limits, &mut record)?;
        }
        self.upserts.push((self.batch.records(), record));
        Ok(())
    }

    fn clear_pending(&mut self) {
        self.batch.clear();
        self.batch_levels.clear();
        self.upserts.clear();
    }

    fn pending_records(&self) -> u64 {
        (self.batch.records() + self.upserts.len()) as u64
    }

    /// Writes the pending batch and upserts under the held locks. Every
    /// record ends up counted exactly once: written or dropped with a reason.
    fn write_locked(&mut self, mut locked: Locked<'_>) {
        let batch = std::mem::take(&mut self.batch);
        let levels = std::mem::take(&mut self.batch_levels);
        let upserts = std::mem::take(&mut self.upserts);
        let mut unaccounted = (batch.records() + upserts.len()) as u64;
        let result = self.write_under_lock(
            &mut locked,
            batch.as_slice(),
            &levels,
            &upserts,
            &mut unaccounted,
        );
        if let Err(e) = result {
            add(&self.counters.write_errors, 1);
            add(&self.counters.dropped_write_error, unaccounted);
            self.reporter
                .report(format_args!("{e}; dropped {unaccounted} records"));
        }
        // Keep the allocations for the next batch.
        self.batch = batch;
        self.batch.clear();
        self.batch_levels = levels;
        self.batch_levels.clear();
    }

    fn write_under_lock(
        &mut self,
        locked: &mut Locked<'_>,
        batch: &[u8],
        levels: &[Option<Level>],
        upserts: &[(usize, [u8; RECORD_SIZE])],
        unaccounted: &mut u64,
    ) -> Result<(), Error> {
        if locked.repair_tail()?.is_some() {
            add(&self.counters.torn_tails_repaired, 1);
        }
        let records = batch.len() / RECORD_SIZE;
        let mut budget = self.budget(locked, records + upserts.len())?;
        let mut dropped = CapDrops::default();
        // In arrival order: the appends queued before each upsert, then the
        // upsert. Usually there is no upsert and the batch is one write.
        let mut done = 0;
        for (before, record) in upserts {
            let run = done..*before;
            self.append_run(
                locked,
                &batch[run.start * RECORD_SIZE..run.end * RECORD_SIZE],
                &levels[run.clone()],
                &mut budget,
                &mut dropped,
                unaccounted,
            );
            done = *before;
            // Replacing in place takes no room; a new key may use the reserve.
            let replaces = self.find_record(locked, record)?.is_some();
            *unaccounted -= 1;
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
        self.append_run(
            locked,
            &batch[done * RECORD_SIZE..],
            &levels[done..],
            &mut budget,
            &mut dropped,
            unaccounted,
        );
        if dropped.total() > 0 {
            add(&self.counters.dropped_cap, dropped.total());
            self.cap_dropped.merge(&dropped);
            self.write_marker(locked)?;
        }
        Ok(())
    }

    /// Appends the records of `run` the budget admits, with one write.
    fn append_run(
        &mut self,
        locked: &mut Locked<'_>,
        run: &[u8],
        levels: &[Option<Level>],
        budget: &mut Budget,
        dropped: &mut CapDrops,
        unaccounted: &mut u64,
    ) {
        let records = levels.len();
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
        *unaccounted -= records as u64;
        if kept == 0 {
            return;
        }
        let compacted: Vec<u8>;
        let bytes = if kept == records {
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
            Ok(()) => add(&self.counters.written, kept as u64),
            Err(e) => {
                add(&self.counters.write_errors, 1);
                add(&self.counters.dropped_write_error, kept as u64);
                self.reporter
                    .report(format_args!("{e}; dropped {kept} records"));
            }
        }
    }

    fn find_record(
        &self,
        locked: &Locked<'_>,
        record: &[u8; RECORD_SIZE],
    ) -> Result<Option<u64>, Error> {
        locked.find(kvp_codec::Record::new(record).key_bytes())
    }

    /// The room the cap leaves for `wanted` new records. The marker record
    /// (if present) does not count; the last slot under the cap is kept for
    /// it, and the reserve is kept for ERROR records and upserts.
    fn budget(&self, locked: &Locked<'_>, wanted: usize) -> Result<Budget, Error> {
        let Some(cap) = self.config.cap else {
            return Ok(Budget::unlimited());
        };
        let reserve = cap * u64::from(self.config.reserve_percent) / 100;
        let priority = cap - 1;
        let normal = priority.saturating_sub(reserve);
        let records = locked.records()?;
        let used = if records + wanted as u64 <= normal {
            // Far from the cap: no need to look for the marker.
            records
        } else {
            records - u64::from(locked.find(self.config.marker_key.as_bytes())?.is_some())
        };
        Ok(Budget {
            used,
            normal,
            priority,
        })
    }

    fn write_marker(&mut self, locked: &mut Locked<'_>) -> Result<(), Error> {
        let cap = self.config.cap.unwrap_or_default();
        let value = format!(
            "dropped={} reason=cap cap={cap} reserved={}{}",
            self.cap_dropped.total(),
            cap * u64::from(self.config.reserve_percent) / 100,
            self.cap_dropped.by_kind(),
        );
        let mut record = [0u8; RECORD_SIZE];
        match encode(
            &self.config.marker_key,
            &value,
            &self.config.limits,
            &mut record,
        ) {
            Ok(()) => {
                locked.upsert(&record)?;
            }
            Err(e) => self
                .reporter
                .report(format_args!("cannot write the cap marker: {e}")),
        }
        Ok(())
    }
}

/// Room under the cap during one batch.
struct Budget {
    used: u64,
    /// Limit for ordinary records: the cap less the marker slot and the reserve.
    normal: u64,
    /// Limit for ERROR records and upserts: the cap less the marker slot.
    priority: u64,
}

impl Budget {
    fn unlimited() -> Self {
        Budget {
            used: 0,
            normal: u64::MAX,
            priority: u64::MAX,
        }
    }

    /// Takes one slot if the record's class may have it.
    fn take(&mut self, priority: bool) -> bool {
        let limit = if priority { self.priority } else { self.normal };
        let ok = self.used < limit;
        self.used += u64::from(ok);
        ok
    }
}

/// Records the cap dropped, by level, for the marker record.
#[derive(Debug, Default)]
struct CapDrops {
    /// TRACE, DEBUG, INFO, WARN, ERROR, and records without a level.
    by_level: [u64; 6],
    upserts: u64,
}

impl CapDrops {
    fn add(&mut self, level: Option<Level>) {
        self.by_level[level.map_or(5, |l| usize::from(l.as_u8()))] += 1;
    }

    fn merge(&mut self, other: &CapDrops) {
        for (a, b) in self.by_level.iter_mut().zip(other.by_level) {
            *a += b;
        }
        self.upserts += other.upserts;
    }

    fn total(&self) -> u64 {
        self.by_level.iter().sum::<u64>() + self.upserts
    }

    /// ` INFO=900 WARN=3 upsert=1`: the non-zero counts.
    fn by_kind(&self) -> String {
        const NAMES: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "unlevelled"];
        let mut out = String::new();
        for (name, n) in NAMES.iter().zip(self.by_level).filter(|(_, n)| *n > 0) {
            out.push_str(&format!(" {name}={n}"));
        }
        if self.upserts > 0 {
            out.push_str(&format!(" upsert={}", self.upserts));
        }
        out
    }
}

/// `chunk` shortened so that it and [`TRUNCATED_MARKER`] fit one value.
fn with_marker(chunk: &str, limits: &Limits) -> String {
    let marker_units = utf16_len(TRUNCATED_MARKER);
    let mut end = chunk
        .len()
        .min(limits.value_bytes() - TRUNCATED_MARKER.len());
    while !chunk.is_char_boundary(end)
        || utf16_len(&chunk[..end]) + marker_units > limits.value_units()
    {
        end -= 1;
    }
    format!("{}{TRUNCATED_MARKER}", &chunk[..end])
}
