//! One call timed alone after a pause, as an agent's events and spans come
//! after a quiet spell: the thread sleeps first, so caches and branch
//! predictors cool. The sparse bench and the `sparse_tail` example time
//! the same calls.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Sleeps `pause`, then times one event (3 fields, `i` one of them).
pub fn one_event(pause: Duration, i: u64) -> Duration {
    std::thread::sleep(pause);
    let start = Instant::now();
    tracing::info!(
        user = "azureuser",
        attempt = black_box(i),
        ok = true,
        "created user"
    );
    start.elapsed()
}

/// Sleeps `pause`, then times one span opened and closed, as an agent's
/// step.
pub fn one_span(pause: Duration, i: u64) -> Duration {
    std::thread::sleep(pause);
    let start = Instant::now();
    drop(tracing::info_span!("configure_ssh", attempt = black_box(i)));
    start.elapsed()
}

/// The `q` quantile (0 to 1) of `sorted`, which must not be empty.
pub fn quantile(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}
