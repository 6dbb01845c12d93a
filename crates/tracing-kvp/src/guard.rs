//! [`KvpGuard`]: what [`KvpLayerBuilder::open`](crate::KvpLayerBuilder::open)
//! returns beside the layer, to keep the writer running and to end it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use kvp_sink::{ExitHook, ShutdownError, Stats, WriterGuard};

use crate::capture::Captured;
use crate::layer::KvpHandle;

/// Keeps the layer's writer thread running. Dropping it writes the rate
/// limit's pending counts, flushes the queue (at most the flush timeout)
/// and stops the writer; [`KvpGuard::shutdown`] does the same and says how
/// it went. Hold it in `main` for as long as the program logs.
///
/// While it lives, a call to `std::process::exit` still flushes what was
/// logged, and ends the spans still open with `ended_by=exit`
/// ([`KvpLayerBuilder::flush_at_exit`](crate::KvpLayerBuilder::flush_at_exit)).
#[must_use = "dropping the guard stops the KVP writer at once: keep it in a named variable"]
pub struct KvpGuard {
    writer: Option<WriterGuard<Captured>>,
    handle: KvpHandle,
    timeout: Duration,
    /// Removes the exit hook when the guard goes the ordinary way.
    _exit: Option<ExitHook>,
}

impl fmt::Debug for KvpGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvpGuard")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl KvpGuard {
    pub(crate) fn new(
        writer: WriterGuard<Captured>,
        handle: KvpHandle,
        timeout: Duration,
        at_exit: bool,
    ) -> KvpGuard {
        let exit = at_exit.then(|| {
            let handle = handle.clone();
            kvp_sink::on_exit(move |ending| handle.end_of_process(ending, timeout))
        });
        KvpGuard {
            writer: Some(writer),
            handle,
            timeout,
            _exit: exit,
        }
    }

    /// Writes the rate limit's pending counts and waits until everything
    /// queued has reached the file, at most `timeout`. Returns whether it
    /// all arrived.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.handle.flush_suppressed();
        self.writer.as_ref().is_some_and(|w| w.flush(timeout))
    }

    /// The writer's counters now.
    pub fn stats(&self) -> Stats {
        self.writer
            .as_ref()
            .map_or_else(Stats::default, WriterGuard::stats)
    }

    /// Another handle to the layer's writer, to send records of your own
    /// (such as metric series) through the same queue and file.
    pub fn sink(&self) -> Option<kvp_sink::Sink<Captured>> {
        self.writer.as_ref().map(WriterGuard::sink)
    }

    /// The layout of the layer's keys ([`KvpHandle::key_layout`]).
    pub fn key_layout(&self) -> &kvp_codec::KeyLayout<String> {
        self.handle.key_layout()
    }

    /// A handle to the layer (for [`KvpHandle::flush_suppressed`]).
    pub fn handle(&self) -> KvpHandle {
        self.handle.clone()
    }

    /// Writes the rate limit's pending counts, flushes and stops the
    /// writer, waiting at most `timeout`. `Ok` with the final counters when
    /// every record reached the file; else the counters and what was lost.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    ///     .vm_id("vm-1")
    ///     .open_unfiltered(dir.path().join(".kvp_pool_1"))?;
    /// use tracing_subscriber::prelude::*;
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     tracing::warn!("disk is slow");
    /// });
    /// let stats = guard.shutdown(std::time::Duration::from_secs(5))?;
    /// assert_eq!((stats.written, stats.dropped()), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self, timeout: Duration) -> Result<Stats, ShutdownError> {
        self.handle.flush_suppressed();
        match self.writer.take() {
            Some(writer) => writer.shutdown(timeout),
            None => Ok(Stats::default()),
        }
    }

    /// [`KvpGuard::shutdown`] for an async `main`: the flush runs on a
    /// thread of its own, and the future completes when it is done, so no
    /// runtime worker blocks (any executor, no runtime needed).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let (_layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
    /// #     .vm_id("vm-1")
    /// #     .open_unfiltered(dir.path().join(".kvp_pool_1"))?;
    /// # fn block_on<F: std::future::Future>(f: F) -> F::Output {
    /// #     let waker = std::task::Waker::noop();
    /// #     let mut cx = std::task::Context::from_waker(&waker);
    /// #     let mut f = std::pin::pin!(f);
    /// #     loop {
    /// #         if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::sleep(std::time::Duration::from_millis(1));
    /// #     }
    /// # }
    /// // In an async fn: `guard.shutdown_async(timeout).await?`
    /// let stats = block_on(guard.shutdown_async(std::time::Duration::from_secs(5)))?;
    /// assert_eq!(stats.dropped(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown_async(self, timeout: Duration) -> Shutdown {
        let shared = Arc::new(Mutex::new(Slot::default()));
        let done = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("kvp-shutdown".into())
            .spawn(move || {
                let result = self.shutdown(timeout);
                let mut slot = done.lock().unwrap_or_else(|e| e.into_inner());
                slot.result = Some(result);
                if let Some(waker) = slot.waker.take() {
                    waker.wake();
                }
            });
        if spawned.is_err() {
            // No thread to spare: the guard went down with the closure and
            // flushed as it dropped, but its outcome is unknown.
            let mut slot = shared.lock().unwrap_or_else(|e| e.into_inner());
            slot.result = Some(Err(ShutdownError {
                stats: Stats::default(),
                timed_out: true,
            }));
        }
        Shutdown { shared }
    }
}

impl Drop for KvpGuard {
    fn drop(&mut self) {
        if let Some(writer) = self.writer.take() {
            self.handle.flush_suppressed();
            // The flush timeout bounds the drop; the outcome was on stderr.
            let _ = writer.shutdown(self.timeout);
        }
    }
}

#[derive(Default)]
struct Slot {
    result: Option<Result<Stats, ShutdownError>>,
    waker: Option<Waker>,
}

/// The future [`KvpGuard::shutdown_async`] returns: the writer's final
/// counters, or what was lost.
#[must_use = "a future does nothing unless awaited"]
pub struct Shutdown {
    shared: Arc<Mutex<Slot>>,
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").finish_non_exhaustive()
    }
}

impl Future for Shutdown {
    type Output = Result<Stats, ShutdownError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}
