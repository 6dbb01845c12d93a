//! `MetricsLayer<S>` composes as any layer does: under a filter of the
//! application's, in an `Option`, boxed, in a `Vec`, and behind `reload`.

#![allow(clippy::unwrap_used)]

use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing_otel_metrics::MetricsLayer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{Layer, Registry, reload};

/// A provider and a way to read the sum of counter `hits` back from it.
struct Meter {
    provider: SdkMeterProvider,
    exporter: InMemoryMetricExporter,
}

impl Meter {
    fn new() -> Self {
        let exporter = InMemoryMetricExporter::default();
        let provider = SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(exporter.clone()).build())
            .build();
        Meter { provider, exporter }
    }

    fn layer(&self) -> MetricsLayer<Registry> {
        MetricsLayer::new(self.provider.clone())
    }

    /// The sum of `hits`, or `None` when it was never recorded.
    fn hits(&self) -> Option<u64> {
        self.provider.force_flush().unwrap();
        let exports = self.exporter.get_finished_metrics().unwrap();
        let metric = exports
            .last()?
            .scope_metrics()
            .flat_map(|s| s.metrics())
            .find(|m| m.name() == "hits")?;
        match metric.data() {
            AggregatedMetrics::U64(MetricData::Sum(s)) => {
                Some(s.data_points().map(|p| p.value()).sum())
            }
            other => panic!("hits is a u64 counter, not {other:?}"),
        }
    }
}

/// One INFO event adding 1 and one WARN event adding 10.
fn emit() {
    tracing::info!(monotonic_counter.hits = 1u64);
    tracing::warn!(monotonic_counter.hits = 10u64);
}

#[test]
fn under_an_applications_filter() {
    let m = Meter::new();
    let subscriber = tracing_subscriber::registry().with(m.layer().with_filter(LevelFilter::WARN));
    tracing::subscriber::with_default(subscriber, emit);
    assert_eq!(m.hits(), Some(10), "only the WARN event passes");
}

#[test]
fn in_an_option() {
    let on = Meter::new();
    let off = Meter::new();
    let some: Option<MetricsLayer<Registry>> = Some(on.layer());
    let none: Option<MetricsLayer<Registry>> = None;
    tracing::subscriber::with_default(tracing_subscriber::registry().with(some), emit);
    tracing::subscriber::with_default(tracing_subscriber::registry().with(none), emit);
    drop(off.layer());
    assert_eq!(on.hits(), Some(11));
    assert_eq!(off.hits(), None);
}

#[test]
fn boxed() {
    let m = Meter::new();
    let layer: Box<dyn Layer<Registry> + Send + Sync> = m.layer().boxed();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), emit);
    assert_eq!(m.hits(), Some(11));
}

#[test]
fn in_a_vec_beside_other_layers() {
    let (a, b) = (Meter::new(), Meter::new());
    let layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![
        a.layer().boxed(),
        b.layer().with_filter(LevelFilter::WARN).boxed(),
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .boxed(),
    ];
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layers), emit);
    assert_eq!((a.hits(), b.hits()), (Some(11), Some(10)));
}

#[test]
fn behind_reload() {
    let m = Meter::new();
    let (layer, handle) = reload::Layer::new(m.layer());
    let stats = handle.with_current(|l| l.stats()).unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        emit();
        tracing::info!(monotonic_counter.hits = -1i64);
    });
    assert_eq!(m.hits(), Some(11));
    assert_eq!(stats.get().rejected_negative, 1);
}
