//! OpenTelemetry (feature `otel`, on by default): metric fields into
//! metrics (exported into the pool, and to OTLP with `otlp`), spans to a
//! tracer provider, events as log records with `otlp`. Without the feature
//! the facade is stderr and KVP, with no OpenTelemetry crate in its tree.

use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use telemetry_redact::DenyList;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::registry::LookupSpan;

use super::{DEFAULT_TRACE_FILTER, TelemetryBuilder, TelemetryLayer};
use crate::exporter::KvpMetricExporter;
use crate::guard::Guard;

/// The OpenTelemetry options of a builder.
#[derive(Debug)]
pub(super) struct OtelOptions {
    pub(super) trace_filter: String,
    pub(super) metrics: bool,
    pub(super) metrics_interval: Duration,
    pub(super) meter_provider: Option<SdkMeterProvider>,
    pub(super) tracer_provider: Option<SdkTracerProvider>,
}

impl Default for OtelOptions {
    fn default() -> Self {
        OtelOptions {
            trace_filter: DEFAULT_TRACE_FILTER.to_owned(),
            metrics: true,
            metrics_interval: Duration::from_secs(60),
            meter_provider: None,
            tracer_provider: None,
        }
    }
}

impl TelemetryBuilder {
    /// The OpenTelemetry trace layer's filter (default `info`;
    /// `KVP_TELEMETRY_TRACE_LOG`), used when a tracer provider or OTLP is
    /// configured.
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .trace_filter("my_agent=debug")
    ///     .tracer_provider(opentelemetry_sdk::trace::SdkTracerProvider::default())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn trace_filter(mut self, directives: impl Into<String>) -> Self {
        self.otel.trace_filter = directives.into();
        self
    }

    /// Turn metric fields into metrics at all (default on).
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .metrics(false) // `monotonic_counter.x` fields stay plain fields
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(mut self, on: bool) -> Self {
        self.otel.metrics = on;
        self
    }

    /// How often metrics are exported into the pool (default 60 s).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .metrics_interval(std::time::Duration::from_secs(300))
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics_interval(mut self, interval: Duration) -> Self {
        self.otel.metrics_interval = interval;
        self
    }

    /// Record metrics into your own meter provider instead of the facade's
    /// (which exports into the pool).
    ///
    /// ```
    /// let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .meter_provider(provider.clone())
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn meter_provider(mut self, provider: SdkMeterProvider) -> Self {
        self.otel.meter_provider = Some(provider);
        self
    }

    /// Send spans to OpenTelemetry through `provider` (default none).
    ///
    /// ```
    /// use kvp_telemetry::RedactSpans;
    /// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    /// // Your exporter, behind the same redaction as the facade's OTLP export.
    /// let provider = SdkTracerProvider::builder()
    ///     .with_simple_exporter(RedactSpans::new(InMemorySpanExporter::default()))
    ///     .build();
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .tracer_provider(provider)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tracer_provider(mut self, provider: SdkTracerProvider) -> Self {
        self.otel.tracer_provider = Some(provider);
        self
    }

    /// The filter of the layers that send to OpenTelemetry (traces, and
    /// logs with OTLP).
    pub(super) fn trace_layer_filter(&self) -> EnvFilter {
        super::resolve::layer_filter(
            &format!(
                "trace filter from {}",
                self.sources.trace_filter.describe("trace_filter")
            ),
            &self.otel.trace_filter,
            DEFAULT_TRACE_FILTER,
        )
    }

    /// The OpenTelemetry outputs, one function each: the metrics bridge
    /// (into the pool through `guard`'s KVP writer, and to OTLP), the
    /// trace layer, and with OTLP the events as log records. Their
    /// providers go into `guard`; an OTLP signal that cannot be set up is
    /// said once and left out.
    pub(super) fn otel_layers<S>(
        &mut self,
        layers: &mut Vec<TelemetryLayer<S>>,
        guard: &mut Guard,
        policy: &DenyList,
        #[cfg(feature = "otlp")] otlp: Option<&crate::otlp::Otlp>,
    ) where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let resource = resource(&self.prefix);
        layers.extend(self.metrics_layer(
            guard,
            policy,
            &resource,
            #[cfg(feature = "otlp")]
            otlp,
        ));
        layers.extend(self.trace_layer(
            guard,
            policy,
            &resource,
            #[cfg(feature = "otlp")]
            otlp,
        ));
        #[cfg(feature = "otlp")]
        layers.extend(self.logs_layer(guard, policy, resource, otlp));
    }

    /// The metrics bridge, recording into a meter provider of the user's or
    /// one made here, with the KVP series and OTLP as its readers; `None`
    /// when metrics are off or there is nowhere to send them.
    fn metrics_layer<S>(
        &mut self,
        guard: &mut Guard,
        policy: &DenyList,
        resource: &opentelemetry_sdk::Resource,
        #[cfg(feature = "otlp")] otlp: Option<&crate::otlp::Otlp>,
    ) -> Option<TelemetryLayer<S>>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if !self.otel.metrics {
            return None;
        }
        let provider = match self.otel.meter_provider.take() {
            Some(provider) => provider,
            None => {
                let mut b = SdkMeterProvider::builder().with_resource(resource.clone());
                let mut any = false;
                // The series share the KVP layer's key layout: one layout
                // per build, validated when the layer was made.
                if let Some(kvp) = guard.kvp.as_ref()
                    && let Some(sink) = kvp.sink()
                {
                    let exporter =
                        KvpMetricExporter::with_key_layout(sink, kvp.key_layout().clone())
                            .with_redaction(policy.clone());
                    b = b.with_reader(
                        PeriodicReader::builder(exporter)
                            .with_interval(self.otel.metrics_interval)
                            .build(),
                    );
                    any = true;
                }
                #[cfg(feature = "otlp")]
                if let Some(otlp) = otlp {
                    match otlp.metric_reader(self.otel.metrics_interval) {
                        Ok(reader) => {
                            b = b.with_reader(reader);
                            any = true;
                        }
                        Err(e) => super::resolve::otlp_refused(&e),
                    }
                }
                if !any {
                    return None;
                }
                b.build()
            }
        };
        let layer = tracing_otel_metrics::MetricsLayer::builder(provider.clone())
            .redaction(policy.clone())
            .build()
            .boxed();
        guard.meter_provider = Some(provider);
        Some(layer)
    }

    /// The trace layer, on the user's tracer provider or (with OTLP) one
    /// made here, under the trace filter.
    fn trace_layer<S>(
        &mut self,
        guard: &mut Guard,
        #[cfg_attr(not(feature = "otlp"), allow(unused_variables))] policy: &DenyList,
        #[cfg_attr(not(feature = "otlp"), allow(unused_variables))]
        resource: &opentelemetry_sdk::Resource,
        #[cfg(feature = "otlp")] otlp: Option<&crate::otlp::Otlp>,
    ) -> Option<TelemetryLayer<S>>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        #[cfg(feature = "otlp")]
        if self.otel.tracer_provider.is_none()
            && let Some(otlp) = otlp
        {
            match otlp.tracer_provider(resource.clone(), policy.clone()) {
                Ok(provider) => self.otel.tracer_provider = Some(provider),
                Err(e) => super::resolve::otlp_refused(&e),
            }
        }
        let provider = self.otel.tracer_provider.take()?;
        let tracer = provider.tracer(self.prefix.clone());
        let filter = self.trace_layer_filter();
        guard.tracer_provider = Some(provider);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(filter)
                .boxed(),
        )
    }

    /// Events as OTLP log records, under the trace filter: the same events
    /// a collector sees as span events.
    #[cfg(feature = "otlp")]
    fn logs_layer<S>(
        &mut self,
        guard: &mut Guard,
        policy: &DenyList,
        resource: opentelemetry_sdk::Resource,
        otlp: Option<&crate::otlp::Otlp>,
    ) -> Option<TelemetryLayer<S>>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let provider = match otlp?.logger_provider(resource) {
            Ok(provider) => provider,
            Err(e) => {
                super::resolve::otlp_refused(&e);
                return None;
            }
        };
        let layer = crate::otlp_logs::LogsLayer::new(&provider, &self.prefix, policy.clone())
            .with_filter(self.trace_layer_filter())
            .boxed();
        guard.logger_provider = Some(provider);
        Some(layer)
    }
}

/// The OpenTelemetry resource: the SDK's detectors (`OTEL_SERVICE_NAME`,
/// `OTEL_RESOURCE_ATTRIBUTES`), with `service.name` the agent's prefix
/// unless the environment names the service.
fn resource(prefix: &str) -> opentelemetry_sdk::Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|v| !v.trim().is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|v| {
            v.split(',')
                .any(|kv| kv.trim_start().starts_with("service.name="))
        });
    let builder = opentelemetry_sdk::Resource::builder();
    if named {
        builder.build()
    } else {
        builder.with_service_name(prefix.to_owned()).build()
    }
}
