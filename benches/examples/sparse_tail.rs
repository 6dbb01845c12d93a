//! When the slow ones among sparse events happen: 5,000 events one
//! millisecond apart through our layer, each timed alone, then the median,
//! the p99 and every event over 20 µs with its time since the start, to
//! tell a tail that follows the writer's batches from one that does not.
//!
//! `QUEUE` (entries, default 65,536) and `DELAY_MS` (the writer's
//! `max_delay`, default 900) set the sink; a `DELAY_MS` longer than the run
//! keeps the writer asleep throughout.
//!
//! `QUEUE=1024 DELAY_MS=900 cargo run --release -p kvp-benches --example sparse_tail`

use std::time::{Duration, Instant};

use kvp_benches::layers::{kvp_on, pool_writer};
use kvp_benches::pause::{one_event, quantile};

const EVENTS: u64 = 5_000;
const PAUSE: Duration = Duration::from_millis(1);
const SLOW: Duration = Duration::from_micros(20);

fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a whole number")),
        Err(_) => default,
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let writer = pool_writer(dir.path())
        .capacity(setting("QUEUE", 65_536) as usize)
        .max_delay(Duration::from_millis(setting("DELAY_MS", 900)));
    let setup = kvp_on(writer, None);

    let start = Instant::now();
    let mut times = Vec::with_capacity(EVENTS as usize);
    let mut slow = Vec::new();
    tracing::dispatcher::with_default(&setup.dispatch, || {
        let span = tracing::info_span!("provision", user = "azureuser");
        let _entered = span.enter();
        for i in 0..EVENTS {
            let took = one_event(PAUSE, i);
            times.push(took);
            if took > SLOW {
                slow.push((i, start.elapsed() - took, took));
            }
        }
    });
    drop(setup);
    times.sort_unstable();
    println!(
        "p50 {:?}, p99 {:?}, {} events over {SLOW:?}",
        quantile(&times, 0.5),
        quantile(&times, 0.99),
        slow.len()
    );
    for (i, when, took) in slow {
        println!("event {i} at {when:?} took {took:?}");
    }
}
