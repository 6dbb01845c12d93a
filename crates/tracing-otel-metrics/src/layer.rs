//! [`MetricsLayer`]: the recorder under its per-callsite filter, as one
//! named type.
//!
//! tracing-subscriber's `Filtered<L, F, S>` would do the job, but naming it
//! in the public API would freeze the recorder and the filter as they are.
//! Wrapping it keeps both private, so options can be added without breaking
//! code that names the layer's type, and gives tracing-opentelemetry's
//! `MetricsLayer::new(provider)` its exact shape.

use std::any::TypeId;
use std::fmt;

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Dispatch, Event, Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{Filtered, LevelFilter};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::filter::MetricsFilter;
use crate::record::Recorder;
use crate::stats::StatsHandle;

/// Turns `tracing` events with metric fields into OpenTelemetry
/// measurements, for a subscriber `S`.
///
/// Make one with [`MetricsLayer::new`] (tracing-opentelemetry's
/// constructor) or, for options, [`MetricsLayer::builder`]. It is a
/// [`Layer`] like any other: put it on a registry with `.with(...)`, under
/// a filter of your own with [`Layer::with_filter`], in an `Option`, a
/// `Box<dyn Layer<S>>`, a `Vec` or a `reload::Layer`.
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use tracing_otel_metrics::MetricsLayer;
/// use tracing_subscriber::filter::LevelFilter;
/// use tracing_subscriber::prelude::*;
///
/// let provider = SdkMeterProvider::default();
/// let subscriber = tracing_subscriber::registry()
///     .with(MetricsLayer::new(provider).with_filter(LevelFilter::INFO));
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info!(monotonic_counter.requests = 1u64, route = "/health");
/// });
/// ```
pub struct MetricsLayer<S> {
    inner: Filtered<Recorder, MetricsFilter, S>,
}

impl<S> fmt::Debug for MetricsLayer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetricsLayer").finish_non_exhaustive()
    }
}

impl<S> MetricsLayer<S> {
    pub(crate) fn from_filtered(inner: Filtered<Recorder, MetricsFilter, S>) -> Self {
        MetricsLayer { inner }
    }
}

impl<S> MetricsLayer<S> {
    /// A handle to the counts of rejected values, usable after the layer is
    /// installed.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use tracing_otel_metrics::MetricsLayer;
    /// use tracing_subscriber::prelude::*;
    ///
    /// let layer = MetricsLayer::new(SdkMeterProvider::default());
    /// let stats = layer.stats();
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     tracing::info!(monotonic_counter.errors = -1i64); // a monotonic counter cannot go down
    /// });
    /// assert_eq!(stats.get().rejected_negative, 1);
    /// ```
    pub fn stats(&self) -> StatsHandle {
        self.inner.inner().shared.stats.clone()
    }
}

/// Every method goes to the filtered recorder, `on_layer` and
/// `downcast_raw` included: the per-layer filter registers itself in
/// `on_layer` and is found again through `downcast_raw`.
impl<S> Layer<S> for MetricsLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        self.inner.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.inner.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.inner.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.enabled(metadata, ctx)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_new_span(attrs, id, ctx);
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.inner.max_level_hint()
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        self.inner.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        self.inner.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        self.inner.event_enabled(event, ctx)
    }

    #[inline]
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.inner.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.inner.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        self.inner.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        self.inner.on_id_change(old, new, ctx);
    }

    #[doc(hidden)]
    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: the caller upholds `downcast_raw`'s contract (the pointer
        // is only cast back to the type `id` names); the inner layer's
        // implementation answers for its own types.
        unsafe { self.inner.downcast_raw(id) }
    }
}
