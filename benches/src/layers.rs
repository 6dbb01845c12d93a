//! The subscribers the layer benches compare, each built the same way: a
//! registry with one layer under an INFO filter.

use std::fmt::{self, Write as _};

use tracing::Dispatch;
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::Context;
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
    kvp_on(pool_writer(dir).blocking(blocking), limit)
}

/// A writer for a fresh pool in `dir`, with no record cap (a bench writes
/// far more records than the default cap lets in).
pub fn pool_writer(dir: &std::path::Path) -> kvp_sink::WriterBuilder {
    kvp_sink::WriterBuilder::new(dir.join(".kvp_pool_1")).record_cap(None)
}

/// Our layer under an INFO filter with the given rate limit, writing
/// through `writer`.
pub fn kvp_on(writer: kvp_sink::WriterBuilder, limit: Option<tracing_kvp::RateLimit>) -> Setup {
    let (sink, guard, _) = writer
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

/// Our layer with a rate limit that never runs out: what the limiter's
/// bookkeeping adds to a record it lets through (the default limit, 10 at
/// once then 1 a second per callsite, lets an agent's records through).
pub fn kvp_rate_limit_admitting(dir: &std::path::Path) -> Setup {
    let generous = tracing_kvp::RateLimit {
        burst: u32::MAX,
        per_second: 1e12,
    };
    kvp_with_limit(dir, Some(generous))
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

/// What tracing itself costs a layer that reads an event's fields: each
/// field handed to a visitor that keeps nothing. Same filter and registry
/// as [`noop_floor`].
pub fn visit_floor(_dir: &std::path::Path) -> Setup {
    struct Ignore;
    impl Visit for Ignore {
        fn record_debug(&mut self, _: &Field, _: &dyn fmt::Debug) {}
    }
    struct VisitOnly;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for VisitOnly {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            event.record(&mut Ignore);
        }
    }
    filtered(VisitOnly)
}

/// The least a layer that keeps an event must do on the caller's thread:
/// copy each field, as the values are borrowed (text as its bytes, numbers
/// as 8 bytes, the message and other `Debug` values formatted), into a
/// buffer on the stack, then drop it. No clock, no id, no queue.
pub fn capture_floor(_dir: &std::path::Path) -> Setup {
    struct CopyOnly;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for CopyOnly {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            let mut copy = StackCopy::default();
            event.record(&mut copy);
            std::hint::black_box(&copy);
        }
    }
    filtered(CopyOnly)
}

/// A layer under the same per-layer `EnvFilter` as every contender.
fn filtered<L>(layer: L) -> Setup
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
{
    let layer = layer.with_filter(tracing_subscriber::EnvFilter::new("info"));
    Setup {
        dispatch: Dispatch::new(tracing_subscriber::registry().with(layer)),
        keep: Box::new(()),
    }
}

/// Field bytes kept on the stack by [`capture_floor`]: index, then payload;
/// what does not fit is cut. Not zeroed first, as the layer's own buffer
/// is not.
#[derive(Default)]
struct StackCopy(arrayvec::ArrayVec<u8, 256>);

impl StackCopy {
    fn push(&mut self, more: &[u8]) {
        let n = more.len().min(self.0.remaining_capacity());
        // `n` fits by construction, so this cannot fail.
        let _ = self.0.try_extend_from_slice(&more[..n]);
    }
}

impl fmt::Write for StackCopy {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

impl Visit for StackCopy {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(&[field.index() as u8]);
        let _ = write!(self, "{value:?}");
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(&[field.index() as u8]);
        self.push(value.as_bytes());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(&[field.index() as u8]);
        self.push(&value.to_le_bytes());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(&[field.index() as u8]);
        self.push(&value.to_le_bytes());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(&[field.index() as u8]);
        self.push(&value.to_le_bytes());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(&[field.index() as u8, u8::from(value)]);
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
