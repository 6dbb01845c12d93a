//! From a path to a layer: [`KvpLayerBuilder::open`] starts the layer's own
//! writer with an agent's defaults, and gives the guard that ends it.

use std::fmt;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use kvp_codec::Limits;
use kvp_sink::WriterBuilder;
use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::registry::LookupSpan;

use crate::builder::{BuildError, KvpLayerBuilder};
use crate::capture::Captured;
use crate::filter::KvpFilter;
use crate::guard::KvpGuard;
use crate::layer::KvpLayer;

/// Why [`KvpLayerBuilder::open`] could not start a layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The layer's settings are unusable (nothing was opened).
    Layer(BuildError),
    /// The pool file could not be opened (a missing directory, a symlink,
    /// no permission, ...).
    Pool(kvp_sink::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Layer(_) => f.write_str("the KVP layer's settings are unusable"),
            OpenError::Pool(_) => f.write_str("the KVP pool could not be opened"),
        }
    }
}

impl std::error::Error for OpenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            OpenError::Layer(e) => Some(e),
            OpenError::Pool(e) => Some(e),
        }
    }
}

impl From<BuildError> for OpenError {
    fn from(e: BuildError) -> Self {
        OpenError::Layer(e)
    }
}

impl KvpLayerBuilder {
    /// How long the guard's drop, its exit hook and a signal wait for the
    /// queue to reach the file (default 1 s).
    ///
    /// ```
    /// let builder = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .flush_timeout(std::time::Duration::from_secs(3));
    /// # drop(builder);
    /// ```
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Whether [`open`](Self::open)'s guard flushes when the program calls
    /// `std::process::exit` while the guard lives, which runs no destructor
    /// (default on): spans still open are written with `ended_by=exit`,
    /// the rate limit's counts, then the queue, within the flush timeout.
    /// It registers one `atexit` function for the process.
    ///
    /// ```
    /// let builder = tracing_kvp::KvpLayer::builder("my-agent").flush_at_exit(false);
    /// # drop(builder);
    /// ```
    pub fn flush_at_exit(mut self, on: bool) -> Self {
        self.flush_at_exit = on;
        self
    }

    /// Whether SIGTERM and SIGINT flush before they end the process
    /// (default off; see [`kvp_sink::flush_on_signals`]): spans still open
    /// are written with `ended_by=SIGTERM`, the rate limit's counts, then
    /// the queue, within the flush timeout; then the signal takes its
    /// default course. Process-wide: a signal the application handles
    /// itself is left alone.
    ///
    /// ```
    /// let builder = tracing_kvp::KvpLayer::builder("my-agent").flush_on_signals(true);
    /// # drop(builder);
    /// ```
    pub fn flush_on_signals(mut self, on: bool) -> Self {
        self.flush_on_signals = on;
        self
    }

    /// The layer with its own writer on the pool at `path`, under its own
    /// filter ([`KvpFilter`] around [`make_filter`](Self::make_filter)),
    /// with the defaults an agent needs: data from an earlier boot
    /// truncated (under the locks), the record cap's marker in this
    /// layer's key layout, a tenth of the cap kept for ERROR records and
    /// reports, the rate limit, and a flush at `exit`. Keep the guard for
    /// as long as the program logs.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("vm-1")
    ///     .open(dir.path().join(".kvp_pool_1"))?;
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     tracing::error!(error = "exit status 1", "useradd failed");
    /// });
    /// assert_eq!(guard.shutdown(std::time::Duration::from_secs(5))?.written, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open<S>(
        self,
        path: impl Into<PathBuf>,
    ) -> Result<(Filtered<KvpLayer, KvpFilter, S>, KvpGuard), OpenError>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let filter = KvpFilter::new(self.make_filter());
        let (layer, guard) = self.open_unfiltered(path)?;
        Ok((layer.with_filter(filter), guard))
    }

    /// [`open`](Self::open) without a filter, for callers that put their
    /// own on it (wrap it in [`KvpFilter`] so that reports still pass).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("vm-1")
    ///     .open_unfiltered(dir.path().join(".kvp_pool_1"))?;
    /// # drop((layer, guard));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_unfiltered(
        self,
        path: impl Into<PathBuf>,
    ) -> Result<(KvpLayer, KvpGuard), OpenError> {
        self.open_with(WriterBuilder::new(path).truncate_stale(true))
    }

    /// [`open_unfiltered`](Self::open_unfiltered) on a writer configured
    /// by the caller (queue, cap, blocking, ...); the builder's marker key
    /// and shutdown timeout are set from this layer's.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let writer = kvp_sink::WriterBuilder::new(dir.path().join(".kvp_pool_1"))
    ///     .truncate_stale(true)
    ///     .record_cap(Some(200));
    /// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("vm-1")
    ///     .open_with(writer)?;
    /// # drop((layer, guard));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open_with(self, writer: WriterBuilder) -> Result<(KvpLayer, KvpGuard), OpenError> {
        // Checked under the default limits before the pool is opened, so
        // that a bad prefix or vm_id leaves no file behind; `build_unfiltered`
        // checks again under the writer's own.
        let (key, _) = self.keys(&Limits::SAFE, kvp_sink::DEFAULT_MAX_CHUNKS)?;
        let mut marker = String::new();
        // Writing into a String cannot fail; the layout leaves room for
        // any id of up to `MAX_ID_LEN` bytes.
        let _ = key.write(&mut marker, kvp_codec::Level::Warn, "kvp-sink", "dropped-m");
        let (sink, writer_guard, _) = writer
            .marker_key(marker)
            .shutdown_timeout(self.flush_timeout)
            .spawn_for::<Captured>()
            .map_err(OpenError::Pool)?;
        let (timeout, at_exit, signals) = (
            self.flush_timeout,
            self.flush_at_exit,
            self.flush_on_signals,
        );
        let layer = self.build_unfiltered(sink)?;
        if signals && let Err(e) = kvp_sink::flush_on_signals() {
            let _ = writeln!(
                std::io::stderr(),
                "tracing-kvp: SIGTERM and SIGINT will not flush the pool: {e}"
            );
        }
        let guard = KvpGuard::new(writer_guard, layer.handle(), timeout, at_exit || signals);
        Ok((layer, guard))
    }
}
