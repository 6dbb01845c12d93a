//! Configuring a [`MetricsLayer`].

use std::any::Any;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::Filtered;
use tracing_subscriber::registry::LookupSpan;

use crate::callsite::Plans;
use crate::instrument::Describe;
use crate::layer::{MetricsFilter, MetricsLayer, Shared, cow};
use crate::stats::StatsHandle;

/// The instrumentation scope name the bridge's meter uses.
pub const METER_NAME: &str = "tracing-otel-metrics";

/// Builds a [`MetricsLayer`]; see [`MetricsLayer::builder`].
pub struct MetricsLayerBuilder {
    shared: Shared,
}

impl std::fmt::Debug for MetricsLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayerBuilder")
            .finish_non_exhaustive()
    }
}

impl MetricsLayer {
    /// A builder for a layer recording into `provider`'s meter
    /// [`METER_NAME`]. The layer keeps the provider alive.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
    /// use tracing_subscriber::prelude::*;
    ///
    /// let exporter = InMemoryMetricExporter::default();
    /// let provider = SdkMeterProvider::builder()
    ///     .with_reader(PeriodicReader::builder(exporter.clone()).build())
    ///     .build();
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider.clone())
    ///     .describe("requests", "{request}", "Requests served")
    ///     .build();
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     tracing::info!(monotonic_counter.requests = 1u64, route = "/health");
    /// });
    /// provider.force_flush()?;
    /// let metrics = exporter.get_finished_metrics()?;
    /// let names: Vec<&str> = metrics[0].scope_metrics().flat_map(|s| s.metrics()).map(|m| m.name()).collect();
    /// assert_eq!(names, ["requests"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder<P>(provider: P) -> MetricsLayerBuilder
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        let meter = provider.meter(METER_NAME);
        // Only the SDK's provider is known to implement `bind()`: the API's
        // default implementation returns a handle that drops measurements.
        let bind = (&provider as &dyn Any).is::<SdkMeterProvider>();
        MetricsLayerBuilder {
            shared: Shared {
                plans: Plans::default(),
                meter,
                describe: HashMap::new(),
                message_attribute: false,
                span_attributes: false,
                bind,
                stats: StatsHandle::default(),
                _provider: Box::new(provider),
            },
        }
    }
}

impl MetricsLayerBuilder {
    /// Makes the `message` field an attribute (default off: each distinct
    /// message would be a new series).
    pub fn message_attribute(mut self, on: bool) -> Self {
        self.shared.message_attribute = on;
        self
    }

    /// Adds the fields of the event's enclosing spans, outermost first, as
    /// attributes (default off). Spans then reach this layer, at the cost of
    /// visiting their fields once when they open.
    pub fn span_attributes(mut self, on: bool) -> Self {
        self.shared.span_attributes = on;
        self
    }

    /// Records through the SDK's bound instruments, one per attribute set
    /// and thread (see below); `true` by default when the provider is
    /// `opentelemetry_sdk`'s [`SdkMeterProvider`]. Other providers always
    /// take the unbound path, whatever this says, because their `bind()`
    /// may drop measurements.
    ///
    /// Bound, a repeated event skips building its attributes and the SDK's
    /// lookup of its series: each thread maps the event's attribute values
    /// to a bound instrument, up to 1,024 attribute sets, then starts over.
    /// The SDK keeps a bound series alive while a thread holds it, and one
    /// bound while the SDK's cardinality limit was reached stays on the
    /// overflow series until that thread starts over. Layers with
    /// [`span_attributes`](Self::span_attributes) on are never bound.
    pub fn bound_instruments(mut self, on: bool) -> Self {
        self.shared.bind = on && self.shared._provider.is::<SdkMeterProvider>();
        self
    }

    /// Sets the unit and description of metric `name` (the field name after
    /// its prefix), used when its instrument is created.
    pub fn describe(
        mut self,
        name: &'static str,
        unit: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.shared.describe.insert(
            name,
            Describe {
                unit: Some(cow(unit)),
                description: Some(cow(description)),
            },
        );
        self
    }

    /// The layer under its per-callsite filter.
    pub fn build<S>(self) -> Filtered<MetricsLayer, MetricsFilter, S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let (layer, filter) = self.build_parts();
        layer.with_filter(filter)
    }

    /// The layer and its filter apart, for callers that combine filters.
    pub fn build_parts(self) -> (MetricsLayer, MetricsFilter) {
        let shared = Arc::new(self.shared);
        (
            MetricsLayer {
                shared: Arc::clone(&shared),
            },
            MetricsFilter { shared },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_sdk_provider_is_bound() {
        let sdk = MetricsLayer::builder(SdkMeterProvider::default());
        assert!(sdk.shared.bind);
        assert!(!sdk.bound_instruments(false).shared.bind);
        struct Other;
        impl MeterProvider for Other {
            fn meter_with_scope(
                &self,
                scope: opentelemetry::InstrumentationScope,
            ) -> opentelemetry::metrics::Meter {
                SdkMeterProvider::default().meter_with_scope(scope)
            }
        }
        let other = MetricsLayer::builder(Other).bound_instruments(true);
        assert!(
            !other.shared.bind,
            "a provider whose bind() may drop values"
        );
    }
}
