//! `tracing` events to OpenTelemetry metrics.
//!
//! An event field whose name starts with `monotonic_counter.`, `counter.`,
//! `histogram.` or `gauge.` updates the instrument named by the rest of the
//! field name; the event's other fields become the measurement's
//! attributes. These are the conventions of tracing-opentelemetry's
//! `MetricsLayer`, so call sites need no change to switch:
//!
//! ```
//! # let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
//! # use tracing_subscriber::prelude::*;
//! # let subscriber = tracing_subscriber::registry().with(tracing_otel_metrics::MetricsLayer::builder(provider).build());
//! # tracing::subscriber::with_default(subscriber, || {
//! tracing::info!(monotonic_counter.disk_writes = 1u64, device = "sda", ok = true);
//! tracing::info!(histogram.provision_ms = 1520u64, stage = "user");   // recorded (the peer drops integers)
//! tracing::info!(counter.queue_depth = -3i64);
//! tracing::info!(gauge.free_mb = 512.5);
//! # });
//! ```
//!
//! See the `instrument` rules for each value type: negative values on a
//! monotonic counter or histogram and u64 values above `i64::MAX` on an
//! up-down counter are **rejected and counted** ([`MetricsLayer::stats`]),
//! never wrapped around.
//!
//! # What is better than the peer, and why
//!
//! - **Non-metric events cost nothing extra.** The layer comes under a
//!   per-layer [`MetricsFilter`] that gives callsites without metric fields
//!   [`Interest::never`](tracing::subscriber::Interest::never); tracing
//!   caches that, so such an event is skipped at the callsite when no other
//!   layer wants it. (tracing-opentelemetry's filter is internal, so every
//!   event reaches it: about 16 ns each, its issue #111.)
//! - **Instruments are resolved per callsite**, once, and then read without
//!   a lock; the peer looks each metric up by name under a lock per event.
//! - **Integer histograms are recorded**; negative counter increments are
//!   rejected; `message` is not an attribute by default (cardinality).
//! - **Repeated attribute sets are bound once per thread** through the
//!   SDK's bound instruments, so a repeated event skips building its
//!   attributes and the SDK's search for its series: with four attributes
//!   an event costs about what a direct `counter.add` with the same
//!   attributes does (see [`MetricsLayerBuilder::bound_instruments`] for the
//!   limits). This needs `opentelemetry_sdk`'s
//!   `experimental_metrics_bound_instruments` feature, which this crate
//!   turns on; providers other than the SDK's are never bound.
//! - Attributes are collected in a `SmallVec` of 8: numbers and booleans
//!   need no heap allocation, and string values are interned per thread, so
//!   a repeated value (a route, a device) costs no allocation either.
//! - Optional span fields as attributes, and units and descriptions per
//!   metric ([`MetricsLayerBuilder::describe`]).
//! - The layer keeps its meter provider alive.
//!
//! # Migrating from tracing-opentelemetry's `MetricsLayer`
//!
//! ```text
//! // before
//! let layer = tracing_opentelemetry::MetricsLayer::new(provider);
//! // after
//! let layer = tracing_otel_metrics::MetricsLayer::builder(provider).build();
//! ```
//!
//! Field names, prefixes and instrument kinds are the same. Differences you
//! may notice: `message` is no longer an attribute (turn it back on with
//! [`MetricsLayerBuilder::message_attribute`]); integer values on
//! `histogram.` now produce a `u64` histogram instead of nothing; negative
//! `monotonic_counter.` values are dropped and counted instead of adding
//! 2^64 - 1; a u64 attribute above `i64::MAX` becomes a string.

mod bound;
mod builder;
mod callsite;
mod instrument;
mod layer;
mod stats;
mod strings;

pub use builder::{METER_NAME, MetricsLayerBuilder};
pub use layer::{MetricsFilter, MetricsLayer};
pub use stats::{Stats, StatsHandle};
