//! Telling a human about I/O errors without flooding stderr.

use std::fmt::Display;
use std::io::Write;
use std::time::{Duration, Instant};

/// Prints at most one error per interval on stderr, with a count of those
/// held back since the last one. The counters have every error regardless.
#[derive(Debug)]
pub(crate) struct ThrottledStderr {
    interval: Duration,
    last: Option<Instant>,
    held_back: u64,
}

impl ThrottledStderr {
    pub(crate) fn new(interval: Duration) -> Self {
        ThrottledStderr {
            interval,
            last: None,
            held_back: 0,
        }
    }

    pub(crate) fn report(&mut self, error: impl Display) {
        let now = Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < self.interval)
        {
            self.held_back += 1;
            return;
        }
        // Not `eprintln!`: it panics when stderr cannot be written (closed,
        // or a file past the process's size limit), and reporting must
        // never take the writer down.
        let mut stderr = std::io::stderr().lock();
        let _ = if self.held_back > 0 {
            writeln!(
                stderr,
                "kvp-sink: {error} ({} more since the last report)",
                self.held_back
            )
        } else {
            writeln!(stderr, "kvp-sink: {error}")
        };
        self.last = Some(now);
        self.held_back = 0;
    }
}
