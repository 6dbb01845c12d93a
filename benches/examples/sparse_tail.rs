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

use std::hint::black_box;
use std::time::{Duration, Instant};

use tracing_subscriber::prelude::*;

const EVENTS: u64 = 5_000;
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
    let (sink, guard, _) = kvp_sink::WriterBuilder::new(dir.path().join(".kvp_pool_1"))
        .record_cap(None)
        .capacity(setting("QUEUE", 65_536) as usize)
        .max_delay(Duration::from_millis(setting("DELAY_MS", 900)))
        .spawn_for::<tracing_kvp::Captured>()
        .expect("a fresh pool opens");
    let layer = tracing_kvp::KvpLayer::builder("bench")
        .vm_id("6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11")
        .filter("info")
        .rate_limit(None)
        .build(sink)
        .expect("a valid prefix");
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));

    let start = Instant::now();
    let mut times = Vec::with_capacity(EVENTS as usize);
    let mut slow = Vec::new();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("provision", user = "azureuser");
        let _entered = span.enter();
        for i in 0..EVENTS {
            std::thread::sleep(Duration::from_millis(1));
            let t = Instant::now();
            tracing::info!(
                user = "azureuser",
                attempt = black_box(i),
                ok = true,
                "created user"
            );
            let took = t.elapsed();
            times.push(took);
            if took > SLOW {
                slow.push((i, t.duration_since(start), took));
            }
        }
    });
    drop(guard);
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    println!(
        "p50 {:?}, p99 {:?}, {} events over {SLOW:?}",
        at(0.5),
        at(0.99),
        slow.len()
    );
    for (i, when, took) in slow {
        println!("event {i} at {when:?} took {took:?}");
    }
}
