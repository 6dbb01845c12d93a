//! Configuring and starting a writer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;
use kvp_codec::Limits;

use super::budget::ByteBudget;
use super::cap::{Cap, DEFAULT_MARKER_KEY};
use super::handle::{Sink, WriterGuard};
use super::thread::{Config, Worker};
use super::wake::Wake;
use crate::capture::{Capture, NoCapture};
use crate::error::Error;
use crate::pool::{OpenOptionsPool, OpenReport, PoolFile};
use crate::stats::{Counters, add};

/// The most records one value may take by default
/// ([`WriterBuilder::max_chunks`]).
pub const DEFAULT_MAX_CHUNKS: usize = 16;

/// The most entries a queue may hold: its slots are allocated when the
/// writer starts, about 270 bytes each.
pub const MAX_QUEUE: usize = 65_536;

/// The heap bytes queued entries may hold by default
/// ([`WriterBuilder::queue_bytes`]).
pub const DEFAULT_QUEUE_BYTES: usize = 16 << 20;

/// How long an ordinary record may wait for the writer by default.
const DEFAULT_MAX_DELAY: Duration = Duration::from_millis(80);

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
    max_delay: Duration,
    queue_bytes: usize,
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
            max_chunks: DEFAULT_MAX_CHUNKS,
            marker_key: DEFAULT_MARKER_KEY.to_owned(),
            shutdown_timeout: Duration::from_secs(1),
            report_interval: Duration::from_secs(10),
            max_delay: DEFAULT_MAX_DELAY,
            queue_bytes: DEFAULT_QUEUE_BYTES,
        }
    }

    /// Entries the queue holds (default 4,096, at most [`MAX_QUEUE`]; the
    /// slots are allocated at start, about 270 bytes each). When it is
    /// full, lossy mode drops and counts, blocking mode waits.
    pub fn capacity(mut self, entries: usize) -> Self {
        self.capacity = entries.clamp(1, MAX_QUEUE);
        self
    }

    /// The heap bytes queued entries may hold together (default
    /// [`DEFAULT_QUEUE_BYTES`], 16 MiB): long text and large captures
    /// spill past an entry's inline buffer, and this bounds them by bytes
    /// as the capacity bounds entries. An entry that would pass it is
    /// dropped and counted as `dropped_queue_full`, in either mode. Values
    /// are cut before they are queued to what the writer could ever write
    /// (`max_chunks` records), so one entry never needs more than that.
    pub fn queue_bytes(mut self, bytes: usize) -> Self {
        self.queue_bytes = bytes;
        self
    }

    /// Wait for room in the queue instead of dropping (default: lossy). A
    /// producer that finds the queue full wakes the writer and sleeps until
    /// the writer has taken its next batch, so it waits as long as the disk
    /// or another program's lock holds the writer up. A send still returns
    /// `false` when the writer has stopped, or when the entry would pass the
    /// byte budget ([`WriterBuilder::queue_bytes`]).
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
    /// cut and its last chunk ends with [`TRUNCATED_MARKER`](crate::TRUNCATED_MARKER).
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

    /// The mode a new pool file is created with, less the umask (default
    /// [`DEFAULT_POOL_MODE`](crate::DEFAULT_POOL_MODE), 0644, as
    /// `hv_kvp_daemon` creates pools; 0600 keeps it to its owner). An
    /// existing file keeps its mode.
    pub fn mode(mut self, mode: u32) -> Self {
        self.open.mode = mode;
        self
    }

    /// Truncate data written before this boot (`mtime <= btime`) when
    /// opening (default off).
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

    /// The longest an ordinary record waits in the queue before the writer
    /// looks (default 80 ms, at least 1 ms), so that any record reaches the
    /// file within 100 ms when no other process holds its lock. ERROR
    /// records, upserts, flushes and a full queue wake the writer at once.
    /// While records come, the writer looks this often; the first look that
    /// finds nothing puts it to sleep with no timer, and the next record
    /// wakes it. A longer delay means fewer wake-ups while records come
    /// faster than the delay, and longer waits for them.
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay.max(Duration::from_millis(1));
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
        self.spawn_for::<NoCapture>()
    }

    /// [`WriterBuilder::spawn`] for a producer that sends captured records
    /// of type `C` ([`Capture`]) as well as text: the sink and the guard
    /// carry `C`. The writer starts with `C::Renderer::default()`.
    ///
    /// ```
    /// # use kvp_sink::{Capture, RenderError, WriterBuilder};
    /// # struct Mine;
    /// # impl Capture for Mine {
    /// #     type Renderer = ();
    /// #     fn level(&self) -> Option<kvp_codec::Level> { None }
    /// #     fn render(&self, _: &mut (), k: &mut String, v: &mut String) -> Result<(), RenderError> {
    /// #         k.push_str("mine"); v.push_str("x=1"); Ok(())
    /// #     }
    /// # }
    /// let dir = tempfile::tempdir()?;
    /// let (sink, guard, _) = WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn_for::<Mine>()?;
    /// sink.capture(Mine);
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn spawn_for<C: Capture>(self) -> Result<(Sink<C>, WriterGuard<C>, OpenReport), Error>
    where
        C::Renderer: Default,
    {
        let (pool, report) = PoolFile::open(&self.path, &self.open)?;
        let counters = Arc::new(Counters::default());
        if report.torn_tail_bytes.is_some() {
            add(&counters.torn_tails_repaired, 1);
        }
        let (tx, rx) = bounded(self.capacity);
        let shutdown = Arc::new(AtomicBool::new(false));
        // The thread gets what it uses, not the whole builder.
        let config = Config {
            lock_timeout: self.lock_timeout,
            retry_interval: self.retry_interval,
            limits: self.limits,
            max_chunks: self.max_chunks,
            report_interval: self.report_interval,
            max_delay: self.max_delay,
            cap: Cap {
                cap: self.cap,
                reserve_percent: self.reserve_percent,
                marker_key: self.marker_key.clone(),
            },
            blocking: self.blocking,
        };
        let wake = Arc::new(Wake::default());
        let budget = Arc::new(ByteBudget::new(self.queue_bytes));
        let worker = Worker::new(
            pool,
            rx,
            Arc::clone(&shutdown),
            Arc::clone(&wake),
            Arc::clone(&budget),
            Arc::clone(&counters),
            config,
        );
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
            wake,
            budget,
            counters,
            blocking: self.blocking,
            limits: self.limits,
            max_chunks: self.max_chunks,
        };
        let guard = WriterGuard {
            sink: sink.clone(),
            shutdown,
            handle: Some(handle),
            timeout: self.shutdown_timeout,
            path: self.path.clone(),
        };
        Ok((sink, guard, report))
    }
}
