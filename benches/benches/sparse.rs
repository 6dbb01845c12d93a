//! The caller's cost of an event in an agent's rhythm: one event, then a
//! pause, with the writer thread idle. Each event is timed alone, beside
//! `tracing-appender`'s non-blocking JSON writer and three floors under the
//! same filter:
//!
//! - `noop_layer_floor`: an empty layer, what any layer pays;
//! - `visit_floor`: a layer that has tracing visit the event's fields and
//!   keeps nothing;
//! - `capture_floor`: a layer that copies the fields (the message formatted)
//!   into a buffer on its stack and drops it, the least a layer that keeps
//!   the event can do on the caller's thread, with no clock, id or queue.
//!
//! The groups:
//!
//! - `event_sparse`: a pause of 1 ms before each event.
//! - `event_after_pause`: a pause of 1 s before each event; 100 events a
//!   contender, so this group takes about 9 minutes.
//! - `event_sparse_rate_limited`: as `event_sparse`, our layer with a rate
//!   limit that always admits, beside the empty layer.
//! - `span_sparse`: a span opened and closed after a pause of 1 ms (the
//!   floors keep nothing of spans: theirs is the registry's cost).
//!
//! Criterion asks for far more iterations than pauses allow, so each
//! sample times a few real events and reports their mean for every
//! iteration it asked for. The per-event p50, p90 and p99 over every event
//! timed are printed on stderr after each contender.
//!
//! `cargo bench -p kvp-benches --bench sparse`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kvp_benches::layers::{
    Make, appender_json, capture_floor, in_provision_span, kvp, kvp_rate_limit_admitting,
    noop_floor, visit_floor,
};

const CONTENDERS: &[(&str, Make)] = &[
    ("kvp_layer", kvp),
    ("noop_layer_floor", noop_floor),
    ("visit_floor", visit_floor),
    ("capture_floor", capture_floor),
    ("appender_json_baseline", appender_json),
];

/// Our layer with a rate limit that always admits (what the facade's
/// default limit costs a record it lets through), beside the empty layer.
const RATE_LIMITED: &[(&str, Make)] = &[
    ("kvp_layer_rate_limit_admitting", kvp_rate_limit_admitting),
    ("noop_layer_floor", noop_floor),
];

/// Times one event after `pause`, as an agent's event comes after a
/// quiet spell: the thread sleeps, so caches and branch predictors cool.
fn one_event(pause: Duration, i: u64) -> Duration {
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

/// Times one span opened and closed after `pause`, as an agent's step.
fn one_span(pause: Duration, i: u64) -> Duration {
    std::thread::sleep(pause);
    let start = Instant::now();
    drop(tracing::info_span!("configure_ssh", attempt = black_box(i)));
    start.elapsed()
}

/// Prints the per-event percentiles of `times` for `name`.
fn print_percentiles(group: &str, name: &str, times: &mut [Duration]) {
    if times.is_empty() {
        // Filtered out.
        return;
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    eprintln!(
        "{group}/{name}: {} events, p50 {:?}, p90 {:?}, p99 {:?}",
        times.len(),
        at(0.5),
        at(0.9),
        at(0.99)
    );
}

/// One group: each contender's events (or spans, as `one` times them),
/// `per_sample` real ones a sample.
fn group(
    c: &mut Criterion,
    name: &str,
    pause: Duration,
    samples: usize,
    per_sample: u64,
    one: fn(Duration, u64) -> Duration,
    contenders: &[(&str, Make)],
) {
    let mut group = c.benchmark_group(name);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(samples);
    group.warm_up_time(Duration::from_nanos(1));
    // Criterion sizes samples by the wall time its warm-up took, pauses
    // included: this asks for about `per_sample` events a sample.
    group.measurement_time(
        (pause + Duration::from_micros(100)) * (samples * per_sample as usize) as u32,
    );
    for &(contender, make) in contenders {
        let mut times = Vec::new();
        in_provision_span(make, || {
            group.bench_function(contender, |b| {
                b.iter_custom(|iters| {
                    let real = iters.min(per_sample);
                    let mut total = Duration::ZERO;
                    for i in 0..real {
                        let t = one(pause, i);
                        times.push(t);
                        total += t;
                    }
                    // The mean of the events timed, for each iteration asked.
                    total.mul_f64(iters as f64 / real as f64)
                });
            });
        });
        print_percentiles(name, contender, &mut times);
    }
    group.finish();
}

fn event_sparse(c: &mut Criterion) {
    group(
        c,
        "event_sparse",
        Duration::from_millis(1),
        100,
        50,
        one_event,
        CONTENDERS,
    );
}

fn event_sparse_rate_limited(c: &mut Criterion) {
    group(
        c,
        "event_sparse_rate_limited",
        Duration::from_millis(1),
        100,
        50,
        one_event,
        RATE_LIMITED,
    );
}

fn event_after_pause(c: &mut Criterion) {
    group(
        c,
        "event_after_pause",
        Duration::from_secs(1),
        50,
        2,
        one_event,
        CONTENDERS,
    );
}

fn span_sparse(c: &mut Criterion) {
    group(
        c,
        "span_sparse",
        Duration::from_millis(1),
        100,
        50,
        one_span,
        CONTENDERS,
    );
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = event_sparse, event_sparse_rate_limited, event_after_pause, span_sparse
}
criterion_main!(benches);
