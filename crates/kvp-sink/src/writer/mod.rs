//! The writer thread and the handles the application holds.
//!
//! Like `tracing-appender`'s `non_blocking`: a dedicated thread fed by a
//! bounded channel, lossy by default (a full queue drops the record, counts
//! it and returns at once), a guard that flushes on drop. Everything queued
//! when the thread wakes is written as one batch under one lock acquisition.
//! Memory is bounded by bytes whatever the values, the disk or the other
//! lock holders do: the queue's capacity in entries, and a budget for the
//! heap bytes the entries carry (`budget.rs`).
//!
//! Unlike `non_blocking`, an ordinary record does not always wake the
//! thread: waking a thread is a system call on the application's side,
//! several times the rest of an event's cost. While records come, the
//! thread looks at the queue on its own timer, at most
//! [`WriterBuilder::max_delay`] apart (80 ms by default) and soon again
//! during a burst; the first look that finds nothing puts it to sleep with
//! no timer, and the next record wakes it. ERROR records, upserts, a full
//! queue, flushes and the guard's stop wake it at once. The `wake` module
//! has the rules.
//!
//! The module by job: `builder.rs` configures and starts a writer,
//! `handle.rs` is what the application holds (`Sink`, `WriterGuard`),
//! `thread.rs` is the thread's loop and its batches, `wake.rs` when it
//! wakes, `waiters.rs` where a blocking producer waits for room, `budget.rs`
//! the queue's byte budget, `encode.rs` turns entries into records (chunks,
//! truncation), and `cap.rs` keeps the file under its record cap and writes
//! the marker.

mod budget;
mod builder;
mod cap;
mod encode;
mod handle;
mod thread;
mod waiters;
mod wake;

pub use builder::{DEFAULT_MAX_CHUNKS, DEFAULT_QUEUE_BYTES, MAX_QUEUE, WriterBuilder};
pub use cap::DEFAULT_MARKER_KEY;
pub use handle::ShutdownError;
pub use handle::{Sink, WriterGuard};
/// The value policy's marker, from [`kvp_codec::schema`].
pub use kvp_codec::schema::TRUNCATED_MARKER;
