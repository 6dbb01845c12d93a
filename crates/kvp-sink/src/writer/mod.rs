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
//!
//! The module by job: `builder.rs` configures and starts a writer,
//! `handle.rs` is what the application holds (`Sink`, `WriterGuard`),
//! `thread.rs` is the thread's loop and its batches, `encode.rs` turns
//! entries into records (chunks, truncation), and `cap.rs` keeps the file
//! under its record cap and writes the marker.

mod builder;
mod cap;
mod encode;
mod handle;
mod thread;

pub use builder::WriterBuilder;
pub use cap::DEFAULT_MARKER_KEY;
pub use encode::TRUNCATED_MARKER;
pub use handle::{Sink, WriterGuard};
