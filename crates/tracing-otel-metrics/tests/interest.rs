//! Callsites without metric fields get `Interest::never` from the bridge, so
//! tracing skips them at the callsite when no other layer wants them.

#![allow(clippy::unwrap_used)]

use opentelemetry_sdk::metrics::SdkMeterProvider;
use tracing::callsite::Callsite;
use tracing_otel_metrics::{MetricsLayer, MetricsLayerBuilder};
use tracing_subscriber::prelude::*;

/// For the callsites `plain`, `metric` (a counter field) and `span`: the
/// name, and whether a dispatcher with only the layer built by `builder`
/// says `never`.
fn interests(builder: MetricsLayerBuilder) -> Vec<(&'static str, bool)> {
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(builder.build()));
    let plain = tracing::callsite!(name: "plain", kind: tracing::metadata::Kind::EVENT, fields: message, user);
    let metric = tracing::callsite!(name: "metric", kind: tracing::metadata::Kind::EVENT, fields: message, monotonic_counter.hits);
    let span = tracing::callsite!(name: "span", kind: tracing::metadata::Kind::SPAN, fields: user);
    [
        ("plain", plain.metadata()),
        ("metric", metric.metadata()),
        ("span", span.metadata()),
    ]
    .into_iter()
    .map(|(name, meta)| (name, dispatch.register_callsite(meta).is_never()))
    .collect()
}

#[test]
fn non_metric_callsites_are_never_interesting() {
    assert_eq!(
        interests(MetricsLayer::builder(SdkMeterProvider::default())),
        [("plain", true), ("metric", false), ("span", true)]
    );
}

#[test]
fn spans_are_wanted_when_their_fields_are_attributes() {
    assert_eq!(
        interests(MetricsLayer::builder(SdkMeterProvider::default()).span_attributes(true)),
        [("plain", true), ("metric", false), ("span", false)]
    );
}

/// With another layer that wants everything, non-metric events still reach
/// it: our `never` is per layer, not global.
#[test]
fn other_layers_still_see_non_metric_events() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    struct Count;
    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Count {
        fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
            SEEN.fetch_add(1, Ordering::Relaxed);
        }
    }
    let subscriber = tracing_subscriber::registry()
        .with(MetricsLayer::builder(SdkMeterProvider::default()).build())
        .with(Count);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(user = "x", "plain");
        tracing::info!(monotonic_counter.hits = 1u64);
    });
    assert_eq!(SEEN.load(Ordering::Relaxed), 2);
}
