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

use std::time::Duration;

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use kvp_benches::layers::{
    Make, appender_json, capture_floor, in_provision_span, kvp, kvp_rate_limit_admitting,
    noop_floor, visit_floor,
};
use kvp_benches::pause::{one_event, one_span, quantile};

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

/// A group: what it times after each pause, and for whom.
struct Group {
    name: &'static str,
    pause: Duration,
    samples: usize,
    /// Real calls timed a sample.
    per_sample: u64,
    one: fn(Duration, u64) -> Duration,
    contenders: &'static [(&'static str, Make)],
}

const MS: Duration = Duration::from_millis(1);

const GROUPS: &[Group] = &[
    Group {
        name: "event_sparse",
        pause: MS,
        samples: 100,
        per_sample: 50,
        one: one_event,
        contenders: CONTENDERS,
    },
    Group {
        name: "event_sparse_rate_limited",
        pause: MS,
        samples: 100,
        per_sample: 50,
        one: one_event,
        contenders: RATE_LIMITED,
    },
    Group {
        name: "event_after_pause",
        pause: Duration::from_secs(1),
        samples: 50,
        per_sample: 2,
        one: one_event,
        contenders: CONTENDERS,
    },
    Group {
        name: "span_sparse",
        pause: MS,
        samples: 100,
        per_sample: 50,
        one: one_span,
        contenders: CONTENDERS,
    },
];

/// Prints the per-event percentiles of `times` for `name`.
fn print_percentiles(group: &str, name: &str, times: &mut [Duration]) {
    if times.is_empty() {
        // Filtered out.
        return;
    }
    times.sort_unstable();
    eprintln!(
        "{group}/{name}: {} events, p50 {:?}, p90 {:?}, p99 {:?}",
        times.len(),
        quantile(times, 0.5),
        quantile(times, 0.9),
        quantile(times, 0.99)
    );
}

/// Runs one group: each contender's calls, `per_sample` real ones a sample.
fn run(c: &mut Criterion, g: &Group) {
    let mut group = c.benchmark_group(g.name);
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(g.samples);
    group.warm_up_time(Duration::from_nanos(1));
    // Criterion sizes samples by the wall time its warm-up took, pauses
    // included: this asks for about `per_sample` calls a sample.
    group.measurement_time(
        (g.pause + Duration::from_micros(100)) * (g.samples * g.per_sample as usize) as u32,
    );
    for &(contender, make) in g.contenders {
        let mut times = Vec::new();
        in_provision_span(make, || {
            group.bench_function(contender, |b| {
                b.iter_custom(|iters| {
                    let real = iters.min(g.per_sample);
                    let mut total = Duration::ZERO;
                    for i in 0..real {
                        let t = (g.one)(g.pause, i);
                        times.push(t);
                        total += t;
                    }
                    // The mean of the calls timed, for each iteration asked.
                    total.mul_f64(iters as f64 / real as f64)
                });
            });
        });
        print_percentiles(g.name, contender, &mut times);
    }
    group.finish();
}

fn sparse(c: &mut Criterion) {
    for g in GROUPS {
        run(c, g);
    }
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = sparse
}
criterion_main!(benches);
