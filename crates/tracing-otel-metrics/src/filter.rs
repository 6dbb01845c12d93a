//! The per-callsite filter [`crate::MetricsLayer`] puts its recorder under.

use std::sync::Arc;

use tracing::Metadata;
use tracing::subscriber::Interest;
use tracing_subscriber::layer::{Context, Filter};

use crate::instrument::Kind;
use crate::record::Shared;

/// Callsites without metric fields get [`Interest::never`], so with no
/// other layer interested they cost what they cost without this layer.
pub(crate) struct MetricsFilter {
    pub(crate) shared: Arc<Shared>,
}

impl MetricsFilter {
    fn wants(&self, meta: &'static Metadata<'static>) -> bool {
        if meta.is_span() {
            return self.shared.span_attributes;
        }
        self.shared.plans.get_or_insert(meta).is_some()
    }
}

impl<S> Filter<S> for MetricsFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        // Only called for callsites `callsite_enabled` did not rule out; a
        // metadata that is not `'static` cannot be a registered callsite.
        if meta.is_span() {
            return self.shared.span_attributes;
        }
        meta.fields()
            .iter()
            .any(|f| Kind::of_field(f.name()).is_some())
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.wants(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}
