//! Caller-thread cost of the KVP layer, side by side with what a user might
//! pick instead: `tracing-appender`'s non-blocking writer under a JSON fmt
//! layer, into a file. Both write on a worker thread and are lossy when
//! their queue is full; both sit inside a span for the event case.
//!
//! `cargo bench -p kvp-benches --bench layer`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use kvp_benches::layers::{
    Make, Setup, appender_json, in_provision_span, kvp, kvp_blocking, kvp_rate_limit_admitting,
    kvp_with_limit, noop_floor,
};
use tracing::Dispatch;
use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

/// Our layer while another holder keeps the pool locked: the queue is full
/// and every record is dropped (and counted) at `try_send`, so this is the
/// caller's cost without the hand-off to the writer thread.
fn kvp_queue_full(dir: &std::path::Path) -> Setup {
    let path = dir.join(".kvp_pool_1");
    let (pool, _) =
        kvp_sink::PoolFile::open(&path, &Default::default()).expect("a fresh pool opens");
    let (sink, guard, _) = kvp_sink::WriterBuilder::new(&path)
        .capacity(1)
        .lock_timeout(std::time::Duration::from_millis(1))
        .shutdown_timeout(std::time::Duration::from_millis(10))
        .spawn_for::<tracing_kvp::Captured>()
        .expect("a fresh pool opens");
    let layer = KvpLayer::builder("bench")
        .vm_id("6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11")
        .filter("info")
        .rate_limit(None)
        .build(sink)
        .expect("a valid prefix");
    // Leaked for the bench's life: the lock must outlive every iteration.
    let locked = Box::leak(Box::new(pool))
        .lock(std::time::Duration::from_secs(1))
        .expect("the lock is free");
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new((guard, locked)),
    }
}

/// The least a layer can do and still write one record per span, under the
/// same per-layer `EnvFilter` and registry, the way most layers keep span
/// state: in the span's extensions (inserted at open, read at close), the
/// clock read at open and at close, a 32-byte record handed to a thread
/// that drains a bounded channel. No fields, no ids, no redaction, no rate
/// limit, no text. (Our layer keeps its spans in its own map instead, which
/// saves the extensions' allocation and hashing; see docs/PERFORMANCE.md.)
fn span_work_floor(_dir: &std::path::Path) -> Setup {
    use std::time::SystemTime;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    struct Start(SystemTime);
    struct Minimal(crossbeam_channel::Sender<[u64; 4]>);
    fn nanos(t: SystemTime) -> u64 {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    }
    impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Minimal {
        fn on_new_span(&self, _: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Start(SystemTime::now()));
            }
        }
        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(&id)
                && let Some(start) = span.extensions().get::<Start>()
            {
                let end = SystemTime::now();
                let _ = self
                    .0
                    .try_send([id.into_u64(), nanos(start.0), nanos(end), 0]);
            }
        }
    }
    let (tx, rx) = crossbeam_channel::bounded(4096);
    // Drains every millisecond instead of waiting in `recv`, so that no
    // send pays for waking it: a floor, not a writer. Ends when the layer,
    // and with it the sender, is dropped.
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(1));
            loop {
                match rx.try_recv() {
                    Ok(_) => {}
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => return,
                }
            }
        }
    });
    let layer = Minimal(tx).with_filter(tracing_subscriber::EnvFilter::new("info"));
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new(()),
    }
}

const CONTENDERS: [(&str, Make); 2] = [
    ("kvp_layer", kvp),
    ("appender_json_baseline", appender_json),
];

fn event_in_span(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_3_fields_in_span");
    let with_drop_path: [(&str, Make); 6] = [
        CONTENDERS[0],
        ("kvp_layer_blocking", kvp_blocking),
        ("kvp_layer_queue_full", kvp_queue_full),
        ("kvp_layer_rate_limit_admitting", kvp_rate_limit_admitting),
        CONTENDERS[1],
        ("noop_layer_floor", noop_floor),
    ];
    for (name, make) in with_drop_path {
        in_provision_span(make, || {
            group.bench_function(name, |b| {
                let mut i = 0u64;
                b.iter(|| {
                    i += 1;
                    tracing::info!(
                        user = "azureuser",
                        attempt = black_box(i),
                        ok = true,
                        "created user"
                    );
                });
            });
        });
    }
    group.finish();
}

fn span_open_close(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_open_close");
    let with_floor: [(&str, Make); 4] = [
        CONTENDERS[0],
        CONTENDERS[1],
        ("span_work_floor", span_work_floor),
        ("noop_layer_floor", noop_floor),
    ];
    for (name, make) in with_floor {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let setup = make(dir.path());
        tracing::dispatcher::with_default(&setup.dispatch, || {
            group.bench_function(name, |b| {
                b.iter(|| {
                    let span = tracing::info_span!("step", n = black_box(3u64));
                    drop(span);
                });
            });
        });
    }
    group.finish();
}

/// An INFO event with the message `m` and, for each four names given, the
/// values `$v`, `"x"`, `true` and `1.5`: a u64, a text, a bool and an f64.
macro_rules! event_of_fours {
    ($v:expr; $($a:ident $b:ident $c:ident $d:ident),+) => {
        tracing::info!($($a = $v, $b = "x", $c = true, $d = 1.5,)+ "m")
    };
}

/// How the caller's cost grows with the number of fields.
fn event_fields(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_fields");
    for (name, make) in CONTENDERS {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let setup = make(dir.path());
        tracing::dispatcher::with_default(&setup.dispatch, || {
            let v = black_box(7u64);
            group.bench_function(format!("{name}/0"), |b| b.iter(|| tracing::info!("m")));
            group.bench_function(format!("{name}/4"), |b| {
                b.iter(|| event_of_fours!(v; a b c d))
            });
            group.bench_function(format!("{name}/16"), |b| {
                b.iter(|| event_of_fours!(v; a0 a1 a2 a3, b0 b1 b2 b3, c0 c1 c2 c3, d0 d1 d2 d3))
            });
            group.bench_function(format!("{name}/32"), |b| {
                b.iter(|| {
                    event_of_fours!(v;
                        a0 a1 a2 a3, b0 b1 b2 b3, c0 c1 c2 c3, d0 d1 d2 d3,
                        e0 e1 e2 e3, f0 f1 f2 f3, g0 g1 g2 g3, h0 h1 h2 h3)
                })
            });
        });
    }
    group.finish();
}

/// A callsite made at run time, so that a bench can have tens of
/// thousands: leaked, as static callsites are never freed either.
struct DynCallsite(std::sync::OnceLock<&'static tracing::Metadata<'static>>);

impl tracing::callsite::Callsite for DynCallsite {
    fn set_interest(&self, _: tracing::subscriber::Interest) {}
    fn metadata(&self) -> &tracing::Metadata<'_> {
        self.0.get().expect("set as the callsite is made")
    }
}

fn new_callsite(n: usize) -> &'static tracing::Metadata<'static> {
    use tracing::callsite::Identifier;
    use tracing::field::FieldSet;
    let cs: &'static DynCallsite = Box::leak(Box::new(DynCallsite(std::sync::OnceLock::new())));
    let name: &'static str = Box::leak(format!("event-{n}").into_boxed_str());
    let meta: &'static tracing::Metadata<'static> = Box::leak(Box::new(tracing::Metadata::new(
        name,
        "bench",
        tracing::Level::INFO,
        Some(file!()),
        Some(n as u32),
        None,
        FieldSet::new(&[], Identifier(cs)),
        tracing::metadata::Kind::EVENT,
    )));
    let _ = cs.0.set(meta);
    meta
}

/// One event at each of N callsites never seen before, through our layer
/// with its default rate limit, which keeps state per callsite: the cost
/// per callsite must not grow with the number of callsites (30,000 at most
/// 3.5 times 10,000).
fn new_callsites(c: &mut Criterion) {
    let mut group = c.benchmark_group("new_callsites");
    group.sample_size(10);
    for n in [10_000usize, 30_000] {
        group.bench_function(n.to_string(), |b| {
            b.iter_custom(|iters| {
                let mut total = std::time::Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("a temporary directory");
                    let setup = kvp_with_limit(dir.path(), Some(tracing_kvp::RateLimit::default()));
                    let metas: Vec<_> = (0..n).map(new_callsite).collect();
                    tracing::dispatcher::with_default(&setup.dispatch, || {
                        let start = std::time::Instant::now();
                        for meta in &metas {
                            if setup.dispatch.enabled(meta) {
                                tracing::Event::dispatch(meta, &meta.fields().value_set(&[]));
                            }
                        }
                        total += start.elapsed();
                    });
                }
                total
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = kvp_benches::criterion();
    targets = event_in_span, span_open_close, event_fields, new_callsites
}
criterion_main!(benches);
