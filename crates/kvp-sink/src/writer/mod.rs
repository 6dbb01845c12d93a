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
//! Unlike `non_blocking`, an ordinary record does not wake the thread:
//! waking a thread is a system call on the application's side, several
//! times the rest of an event's cost, and an agent that logs a few records a
//! second would pay it on every one. The thread looks at the queue on its
//! own timer instead, at most [`WriterBuilder::max_delay`] apart (900 ms by
//! default) while records come and soon again during a burst, and sleeps
//! with no timer after 2 s without a record. ERROR records, upserts, a full
//! queue, flushes and the guard's stop wake it at once, as does the first
//! record after it fell asleep. The `wake` module has the rules.
//!
//! The module by job: `builder.rs` configures and starts a writer,
//! `handle.rs` is what the application holds (`Sink`, `WriterGuard`),
//! `thread.rs` is the thread's loop and its batches, `wake.rs` when it
//! wakes, `room.rs` where a blocking producer waits for room, `budget.rs`
//! the queue's byte budget, `encode.rs` turns entries into records (chunks,
//! truncation), and `cap.rs` keeps the file under its record cap and writes
//! the marker.

mod budget;
mod builder;
mod cap;
mod encode;
mod handle;
mod room;
mod thread;
mod wake;

pub use builder::{DEFAULT_MAX_CHUNKS, DEFAULT_QUEUE_BYTES, MAX_QUEUE, WriterBuilder};
pub use cap::DEFAULT_MARKER_KEY;
pub use encode::TRUNCATED_MARKER;
pub use handle::{Sink, WriterGuard};
