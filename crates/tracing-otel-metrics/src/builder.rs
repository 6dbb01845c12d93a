//! Configuring a [`MetricsLayer`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use opentelemetry::InstrumentationScope;
use opentelemetry::metrics::MeterProvider;
use telemetry_redact::DenyList;
use tracing::Subscriber;
use tracing_subscriber::Layer as _;
use tracing_subscriber::Registry;
use tracing_subscriber::registry::LookupSpan;

use crate::callsite::Plans;
use crate::filter::MetricsFilter;
use crate::instrument::Describe;
use crate::layer::MetricsLayer;
use crate::record::{ProvideMeter, Recorder, Shared, cow};
use crate::stats::StatsHandle;

/// The default instrumentation scope name of the bridge's meter: this
/// crate's name. Its version is this crate's version.
pub const METER_NAME: &str = "tracing-otel-metrics";

/// Builds a [`MetricsLayer`]; see [`MetricsLayer::builder`].
pub struct MetricsLayerBuilder {
    provider: Box<dyn ProvideMeter>,
    scope: InstrumentationScope,
    describe: HashMap<&'static str, Describe>,
    message_attribute: bool,
    span_attributes: bool,
    /// Whether the provider is the SDK's, whose `bind()` is real.
    provider_binds: bool,
    bind: bool,
    deny: DenyList,
}

impl std::fmt::Debug for MetricsLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsLayerBuilder")
            .field("scope", &self.scope)
            .field("message_attribute", &self.message_attribute)
            .field("span_attributes", &self.span_attributes)
            .field("bound_instruments", &self.bind)
            .finish_non_exhaustive()
    }
}

/// Whether `provider` is `opentelemetry_sdk`'s, the only one known to
/// implement `bind()`: the API's default implementation returns a handle
/// that drops measurements.
#[cfg(feature = "bound-instruments")]
fn binds<P: 'static>(provider: &P) -> bool {
    (provider as &dyn std::any::Any).is::<opentelemetry_sdk::metrics::SdkMeterProvider>()
}

#[cfg(not(feature = "bound-instruments"))]
fn binds<P: 'static>(_: &P) -> bool {
    false
}

impl<S> MetricsLayer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    /// A layer recording into `provider` with the default options: the
    /// same call as tracing-opentelemetry's `MetricsLayer::new`. The layer
    /// keeps the provider alive.
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use tracing_subscriber::prelude::*;
    ///
    /// let layer = tracing_otel_metrics::MetricsLayer::new(SdkMeterProvider::default());
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// ```
    pub fn new<P>(provider: P) -> Self
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        MetricsLayerBuilder::new(provider).build()
    }
}

impl MetricsLayer<Registry> {
    /// A builder for a layer recording into `provider`, for options the
    /// plain [`MetricsLayer::new`] does not take. The layer keeps the
    /// provider alive.
    ///
    /// The built layer's subscriber type is chosen by
    /// [`build`](MetricsLayerBuilder::build); this function sits on
    /// `MetricsLayer<Registry>` only so that `MetricsLayer::builder(..)`
    /// needs no type annotation.
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
        MetricsLayerBuilder::new(provider)
    }
}

impl MetricsLayerBuilder {
    pub(crate) fn new<P>(provider: P) -> Self
    where
        P: MeterProvider + Send + Sync + 'static,
    {
        let provider_binds = binds(&provider);
        MetricsLayerBuilder {
            provider: Box::new(provider),
            scope: InstrumentationScope::builder(METER_NAME)
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            describe: HashMap::new(),
            message_attribute: false,
            span_attributes: false,
            provider_binds,
            bind: provider_binds,
            deny: DenyList::default(),
        }
    }

    /// Makes the `message` field an attribute (default off: each distinct
    /// message would be a new series).
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .message_attribute(true) // as tracing-opentelemetry does
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn message_attribute(mut self, on: bool) -> Self {
        self.message_attribute = on;
        self
    }

    /// Adds the fields of the event's enclosing spans, outermost first, as
    /// attributes (default off). Spans then reach this layer, at the cost of
    /// visiting their fields once when they open.
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// use tracing_subscriber::prelude::*;
    ///
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .span_attributes(true)
    ///     .build();
    /// tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
    ///     let _step = tracing::info_span!("step", stage = "user").entered();
    ///     tracing::info!(monotonic_counter.steps = 1u64); // attribute stage="user"
    /// });
    /// ```
    pub fn span_attributes(mut self, on: bool) -> Self {
        self.span_attributes = on;
        self
    }

    /// Records through the SDK's bound instruments, one per attribute set
    /// and thread (see below); `true` by default when the provider is
    /// `opentelemetry_sdk`'s `SdkMeterProvider` and the
    /// `bound-instruments` feature (on by default) is enabled. Other
    /// providers, and builds without the feature, always take the unbound
    /// path whatever this says, because another provider's `bind()` may
    /// drop measurements.
    ///
    /// Bound, a repeated event skips building its attributes and the SDK's
    /// lookup of its series: each thread maps the event's attribute values
    /// to a bound instrument, up to 1,024 attribute sets, then starts over.
    /// The SDK keeps a bound series alive while a thread holds it, and one
    /// bound while the SDK's cardinality limit was reached stays on the
    /// overflow series until that thread starts over. Layers with
    /// [`span_attributes`](Self::span_attributes) on are never bound.
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .bound_instruments(false) // every measurement through `add`/`record`
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn bound_instruments(mut self, on: bool) -> Self {
        self.bind = on && self.provider_binds;
        self
    }

    /// Sets the unit and description of metric `name` (the field name after
    /// its prefix), used when its instrument is created.
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .describe("provision_ms", "ms", "Time to provision the VM")
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn describe(
        mut self,
        name: &'static str,
        unit: impl Into<Cow<'static, str>>,
        description: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.describe.insert(
            name,
            Describe {
                unit: Some(cow(unit)),
                description: Some(cow(description)),
            },
        );
        self
    }

    /// Replaces the deny list of attribute names (default
    /// [`telemetry_redact::DENY_LIST`], the same as the KVP layer's): an
    /// attribute whose name matches is recorded with the value
    /// `<redacted>`, whatever its value, so secrets neither leave the
    /// process nor make new series. Text attribute values are scrubbed of
    /// the secrets inside them either way.
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .deny_list(["password", "tenant_id"])
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn deny_list<S: AsRef<str>>(mut self, entries: impl IntoIterator<Item = S>) -> Self {
        self.deny = DenyList::new(entries);
        self
    }

    /// The whole redaction policy, as one [`DenyList`] with its allowed
    /// names, in place of [`deny_list`](Self::deny_list): what a program
    /// builds once and hands to every exit.
    ///
    /// ```
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let policy = telemetry_redact::DenyList::default().allowing(["token_kind"]);
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .redaction(policy)
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn redaction(mut self, policy: DenyList) -> Self {
        self.deny = policy;
        self
    }

    /// Sets the instrumentation scope of the layer's meter. The default is
    /// this crate's name ([`METER_NAME`]) and version. A migration from
    /// tracing-opentelemetry that must not change its dashboards passes
    /// that crate's scope:
    ///
    /// ```
    /// use opentelemetry::InstrumentationScope;
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    ///
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider)
    ///     .scope(
    ///         InstrumentationScope::builder("tracing/tracing-opentelemetry")
    ///             .with_version("0.34.0")
    ///             .build(),
    ///     )
    ///     .build();
    /// # let _: &dyn tracing_subscriber::Layer<tracing_subscriber::Registry> = &layer;
    /// ```
    pub fn scope(mut self, scope: InstrumentationScope) -> Self {
        self.scope = scope;
        self
    }

    /// The layer, for subscriber `S` (inferred where it is added).
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    /// # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    ///
    /// let layer = tracing_otel_metrics::MetricsLayer::builder(provider).build();
    /// let subscriber = tracing_subscriber::registry().with(layer);
    /// # drop(subscriber);
    /// ```
    pub fn build<S>(self) -> MetricsLayer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let meter = self.provider.meter(self.scope);
        let shared = Arc::new(Shared {
            plans: Plans::new(self.deny),
            meter,
            describe: self.describe,
            message_attribute: self.message_attribute,
            span_attributes: self.span_attributes,
            bind: self.bind,
            stats: StatsHandle::default(),
            _provider: self.provider,
        });
        let recorder = Recorder {
            shared: Arc::clone(&shared),
        };
        MetricsLayer::from_filtered(recorder.with_filter(MetricsFilter { shared }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::Meter;
    use opentelemetry_sdk::metrics::SdkMeterProvider;

    #[test]
    fn only_the_sdk_provider_is_bound() {
        let sdk = MetricsLayer::builder(SdkMeterProvider::default());
        assert_eq!(sdk.bind, cfg!(feature = "bound-instruments"));
        assert!(!sdk.bound_instruments(false).bind);
        struct Other;
        impl MeterProvider for Other {
            fn meter_with_scope(&self, scope: InstrumentationScope) -> Meter {
                SdkMeterProvider::default().meter_with_scope(scope)
            }
        }
        let other = MetricsLayer::builder(Other).bound_instruments(true);
        assert!(!other.bind, "a provider whose bind() may drop values");
    }
}
