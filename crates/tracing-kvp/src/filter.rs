//! The layer's filter: what the application's directives say, except that a
//! provisioning report always passes.

use std::io::Write as _;

use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;

use crate::provisioning_report::HEALTH_REPORT_FIELD;

/// A per-layer filter that asks `F` about every span and event, except an
/// event with a [`health_report`](crate::HEALTH_REPORT_FIELD) field: that
/// one always passes, so that no filter setting (`<PREFIX>_KVP_LOG=error`,
/// a typo in the directives) can keep the provisioning report from the
/// pool. [`KvpLayerBuilder::build`](crate::KvpLayerBuilder::build) puts the
/// layer behind one; wrap your own filter in it with [`KvpFilter::new`].
///
/// ```
/// use tracing_subscriber::{Layer as _, filter::LevelFilter, prelude::*};
///
/// let dir = tempfile::tempdir()?;
/// let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent")
///     .vm_id("vm-1")
///     .open_unfiltered(dir.path().join(".kvp_pool_1"))?;
/// // Only ERROR records, but the report still arrives.
/// let layer = layer.with_filter(tracing_kvp::KvpFilter::new(LevelFilter::ERROR));
/// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
///     tracing::warn!("left out");
///     tracing::info!(health_report = "result=success|agent=my-agent/1.0");
/// });
/// let outcome = guard.shutdown(std::time::Duration::from_secs(5))?;
/// assert_eq!(outcome.written, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct KvpFilter<F = EnvFilter> {
    inner: F,
}

impl<F> KvpFilter<F> {
    /// `inner`, with provisioning reports let through.
    pub fn new(inner: F) -> Self {
        KvpFilter { inner }
    }

    /// The filter inside.
    pub fn inner(&self) -> &F {
        &self.inner
    }
}

/// Whether a callsite carries a provisioning report.
fn is_report(meta: &Metadata<'_>) -> bool {
    meta.is_event() && meta.fields().field(HEALTH_REPORT_FIELD).is_some()
}

impl<S, F> Filter<S> for KvpFilter<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    F: Filter<S>,
{
    fn enabled(&self, meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool {
        // The inner filter first: most events are ordinary ones it admits,
        // and only those it refuses pay for the field lookup.
        self.inner.enabled(meta, cx) || is_report(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if is_report(meta) {
            Interest::always()
        } else {
            self.inner.callsite_enabled(meta)
        }
    }

    fn event_enabled(&self, event: &Event<'_>, cx: &Context<'_, S>) -> bool {
        // The inner filter first, as in `enabled`: the field lookup is paid
        // only by the events it refuses.
        self.inner.event_enabled(event, cx) || is_report(event.metadata())
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        // A report may come at any level, so this filter cannot let the
        // subscriber skip a level the inner one leaves out.
        None
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.inner.on_record(id, values, ctx);
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }
}

/// Where a layer's directives come from, in order: the environment
/// variable (when set), the builder's, then `default`. Each source that
/// cannot be used is named in one stderr line, with the one used instead;
/// never a panic.
pub(crate) fn directives_filter(
    env_var: Option<&str>,
    builder: &str,
    default: &str,
    who: &str,
) -> EnvFilter {
    let mut sources: Vec<(String, String)> = Vec::with_capacity(3);
    if let Some(var) = env_var {
        match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => sources.push((var.to_owned(), v)),
            Err(std::env::VarError::NotUnicode(_)) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "{who}: {var} is not UTF-8; using the builder's filter {builder:?}"
                );
            }
            _ => {}
        }
    }
    sources.push(("the builder".to_owned(), builder.to_owned()));
    sources.push(("the default".to_owned(), default.to_owned()));
    let mut failed: Option<(String, String, String)> = None;
    for (source, directives) in sources {
        match EnvFilter::try_new(&directives) {
            Ok(filter) => {
                if let Some((bad_source, bad, error)) = failed {
                    // Not `eprintln!`, which panics when stderr is closed.
                    let _ = writeln!(
                        std::io::stderr(),
                        "{who}: invalid filter {bad:?} from {bad_source} ({error}); \
                         using {directives:?} from {source}"
                    );
                }
                return filter;
            }
            Err(e) => {
                if let Some((bad_source, bad, error)) = failed.take() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{who}: invalid filter {bad:?} from {bad_source} ({error})"
                    );
                }
                failed = Some((source, directives, e.to_string()));
            }
        }
    }
    // Even the default did not parse (a caller's own default): let only
    // warnings and errors through, which always parses.
    EnvFilter::new(crate::DEFAULT_DIRECTIVE)
}
