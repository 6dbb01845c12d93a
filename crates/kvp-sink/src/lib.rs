//! The Hyper-V KVP pool file, written safely from a dedicated thread.
//!
//! This crate is the only code that touches a pool file. It
//!
//! - opens it without following symlinks or blocking on FIFOs, creating it
//!   with mode 0644 as `hv_kvp_daemon` does ([`PoolFile::open`]);
//! - takes **both** locks for every batch: `flock(LOCK_EX)` (cloud-init and
//!   azure-init) and an OFD `fcntl` write lock (`hv_kvp_daemon`), with a
//!   bounded wait;
//! - cuts a torn tail (a partial record left by a writer that died) and, if
//!   asked, truncates data from an earlier boot, under the locks;
//! - appends a batch with one `pwrite` and cuts it back if the write fails
//!   part-way, so no torn record stays;
//! - upserts a record in place by key (`PROVISIONING_REPORT`, metric series),
//!   and deletes by key, without holding the locks for a move of the file:
//!   removed records become holes in place, closed afterwards in bounded
//!   steps ([`PoolFile::compact`]), crash-safe through a journal;
//! - keeps the file under a record cap (default 1,024), keeping the last slot
//!   for a marker record that counts what was dropped.
//!
//! The [`WriterBuilder`] starts a thread fed by a bounded channel: the
//! application never blocks (lossy by default, every drop counted in
//! [`Stats`]), I/O errors never panic or stop the thread and are reported on
//! stderr at most once per interval, and a [`WriterGuard`] flushes on drop.
//! [`on_exit`] and the opt-in [`flush_on_signals`] flush when the process
//! ends without dropping it (`std::process::exit`, SIGTERM).
//! No async runtime is needed.
//!
//! A producer that would rather not format its records on its own thread
//! sends them as a value of its own type ([`Capture`], with
//! [`WriterBuilder::spawn_for`]); the writer thread renders them. This is
//! how `tracing-kvp` sends events and spans.
//!
//! ```
//! use kvp_sink::WriterBuilder;
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join(".kvp_pool_1");
//! let (sink, guard, _) = WriterBuilder::new(&path).record_cap(Some(100)).spawn()?;
//! sink.append(None, "my-agent|vm|INFO|start|0001-01", "message=starting");
//! sink.upsert(None, "PROVISIONING_REPORT", "result=success|agent=my-agent/1.0");
//! drop(guard); // flushes
//! assert_eq!(std::fs::metadata(&path)?.len(), 2 * 2560);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod boot;
mod capture;
mod compact;
mod entry;
mod error;
mod exit;
mod lock;
mod pool;
mod record_buf;
mod scan;
mod stats;
mod throttled_stderr;
mod writer;

pub use boot::is_stale;
pub use capture::{Capture, NoCapture, RenderError};
pub use error::{Error, WithCauses};
pub use exit::{Ending, ExitHook, SignalsHandled, flush_on_signals, on_exit};
pub use pool::{DEFAULT_POOL_MODE, Locked, OpenOptionsPool, OpenReport, PoolFile, Upserted};
pub use stats::Stats;
pub use writer::{
    DEFAULT_MARKER_KEY, DEFAULT_MAX_CHUNKS, DEFAULT_QUEUE_BYTES, MAX_QUEUE, ShutdownError, Sink,
    TRUNCATED_MARKER, WriterBuilder, WriterGuard,
};

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
