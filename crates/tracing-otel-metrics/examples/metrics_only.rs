//! `tracing` events to OpenTelemetry metrics, with no KVP at all.
//!
//! `cargo run -p tracing-otel-metrics --example metrics_only`

use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use tracing_otel_metrics::MetricsLayer;
use tracing_subscriber::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Any exporter works; this one keeps what it exports, to print it.
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let subscriber = tracing_subscriber::registry().with(MetricsLayer::new(provider.clone()));
    tracing::subscriber::with_default(subscriber, || {
        for route in ["/health", "/health", "/provision"] {
            tracing::info!(monotonic_counter.requests = 1u64, route);
        }
        tracing::info!(histogram.provision_ms = 1520u64, stage = "user");
    });
    provider.force_flush()?;
    let mut names: Vec<String> = exporter
        .get_finished_metrics()?
        .iter()
        .flat_map(|rm| rm.scope_metrics())
        .flat_map(|s| s.metrics())
        .map(|m| m.name().to_owned())
        .collect();
    names.sort();
    names.dedup();
    println!("metrics: {names:?}");
    assert_eq!(names, ["provision_ms", "requests"]);
    Ok(())
}
