//! The subscribers the layer benches compare, each built the same way: a
//! registry with one layer under an INFO filter.

use tracing::Dispatch;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::prelude::*;

/// A subscriber to install, and what must live as long as it (a guard).
pub struct Setup {
    /// The subscriber.
    pub dispatch: Dispatch,
    /// Dropped after the bench: writer guards, held locks.
    pub keep: Box<dyn std::any::Any>,
}

/// Builds a [`Setup`] whose files live in the given directory.
pub type Make = fn(&std::path::Path) -> Setup;

/// Our layer with the writer's defaults and no rate limit.
pub fn kvp(dir: &std::path::Path) -> Setup {
    // Measure the write path; the default rate limit would turn almost
    // every iteration into a cheap early return.
    kvp_with_limit(dir, None)
}

/// Our layer in blocking (lossless) mode: a full queue makes the caller
/// wait instead of dropping the record.
pub fn kvp_blocking(dir: &std::path::Path) -> Setup {
    kvp_built(dir, None, true)
}

/// Our layer with the given rate limit.
pub fn kvp_with_limit(dir: &std::path::Path, limit: Option<tracing_kvp::RateLimit>) -> Setup {
    kvp_built(dir, limit, false)
}

fn kvp_built(
    dir: &std::path::Path,
    limit: Option<tracing_kvp::RateLimit>,
    blocking: bool,
) -> Setup {
    let (sink, guard, _) = kvp_sink::WriterBuilder::new(dir.join(".kvp_pool_1"))
        .record_cap(None)
        .blocking(blocking)
        .spawn_for::<tracing_kvp::Captured>()
        .expect("a fresh pool opens");
    let layer = tracing_kvp::KvpLayer::builder("bench")
        .vm_id("6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11")
        .filter("info")
        .rate_limit(limit)
        .build(sink)
        .expect("a valid prefix");
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new(guard),
    }
}

/// What any layer pays before doing anything: a layer with empty callbacks
/// under the same per-layer `EnvFilter`, on the same registry. The floor
/// under every layer's cost.
pub fn noop_floor(_dir: &std::path::Path) -> Setup {
    struct Noop;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Noop {}
    let layer = Noop.with_filter(tracing_subscriber::EnvFilter::new("info"));
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new(()),
    }
}

/// `tracing-appender`'s non-blocking writer under a JSON fmt layer, into a
/// file: the peer a user might pick instead.
pub fn appender_json(dir: &std::path::Path) -> Setup {
    let file = std::fs::File::create(dir.join("log.json")).expect("a file");
    let (writer, guard) = tracing_appender::non_blocking(file);
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_span_events(FmtSpan::CLOSE)
        .with_writer(writer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new(guard),
    }
}

/// Runs `f` with `make`'s subscriber as the default, inside an entered
/// span, as an agent's events are. For our layer it then flushes and
/// prints the share of the records sent that reached the file: a burst
/// figure means little without it.
pub fn in_provision_span(make: Make, f: impl FnOnce()) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let setup = make(dir.path());
    tracing::dispatcher::with_default(&setup.dispatch, || {
        let span = tracing::info_span!("provision", user = "azureuser");
        let _entered = span.enter();
        f();
    });
    if let Some(guard) = setup
        .keep
        .downcast_ref::<kvp_sink::WriterGuard<tracing_kvp::Captured>>()
    {
        guard.flush(std::time::Duration::from_secs(60));
        let stats = guard.stats();
        let sent = stats.written + stats.dropped();
        eprintln!(
            "kvp writer: {} of {sent} records reached the file ({:.1} %)",
            stats.written,
            100.0 * stats.written as f64 / sent.max(1) as f64
        );
    }
}
