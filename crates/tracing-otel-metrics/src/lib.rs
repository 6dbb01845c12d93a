//! `tracing` events to OpenTelemetry metrics.
//!
//! An event field whose name starts with `monotonic_counter.`, `counter.`,
//! `histogram.` or `gauge.` and holds a number updates the instrument named
//! by the rest of the field name; the event's other fields become the
//! measurement's attributes. These are the conventions of
//! tracing-opentelemetry's `MetricsLayer`, so call sites need no change to
//! switch:
//!
//! ```
//! use tracing_otel_metrics::MetricsLayer;
//! use tracing_subscriber::prelude::*;
//!
//! let provider = opentelemetry_sdk::metrics::SdkMeterProvider::default();
//! let subscriber = tracing_subscriber::registry().with(MetricsLayer::new(provider));
//! tracing::subscriber::with_default(subscriber, || {
//!     tracing::info!(monotonic_counter.disk_writes = 1u64, device = "sda", ok = true);
//!     tracing::info!(histogram.provision_ms = 1520u64, stage = "user"); // recorded (the peer drops integers)
//!     tracing::info!(counter.queue_depth = -3i64);
//!     tracing::info!(gauge.free_mb = 512.5);
//! });
//! ```
//!
//! See the `instrument` rules for each value type: negative values on a
//! monotonic counter or histogram and u64 values above `i64::MAX` on an
//! up-down counter are **rejected and counted** ([`MetricsLayer::stats`]),
//! never wrapped around.
//!
//! # Migrating from tracing-opentelemetry's `MetricsLayer`
//!
//! Change the `use` line; the constructor, field names, prefixes, instrument
//! kinds and value types stay:
//!
//! ```text
//! - use tracing_opentelemetry::MetricsLayer;
//! + use tracing_otel_metrics::MetricsLayer;
//!   let layer = MetricsLayer::new(provider);
//! ```
//!
//! | | tracing-opentelemetry 0.34 | this crate | why |
//! |---|---|---|---|
//! | constructor | `MetricsLayer::new(provider)` | the same, plus [`MetricsLayer::builder`] for options | |
//! | layer type | `MetricsLayer<S, M>` | `MetricsLayer<S>`: the provider is kept inside | one parameter fewer to name |
//! | composes with `with_filter`, `Option`, `Box<dyn Layer>`, `Vec`, `reload` | yes | yes | |
//! | instrumentation scope | `tracing/tracing-opentelemetry` and its version | `tracing-otel-metrics` ([`METER_NAME`]) and this crate's version; [`MetricsLayerBuilder::scope`] sets upstream's | the scope names who made the instrument |
//! | kinds and value types of `monotonic_counter.`, `counter.`, `gauge.`, f64 and u64 `histogram.` | | the same | |
//! | i64 on `histogram.` | not a measurement: an attribute named `histogram.x` | a `Histogram<u64>` measurement, and so not an attribute; a negative value is rejected and counted | an integer histogram is what `histogram.ms = 12` means |
//! | negative value on `monotonic_counter.` | cast to u64: adds 18446744073709551615 | rejected and counted in [`Stats`] | a counter must not jump by 2^64 - 1 |
//! | u64 above `i64::MAX` on `counter.` | dropped, with a line on stderr | rejected and counted in [`Stats`] | a count a program can read |
//! | `message` | an attribute | not an attribute; [`MetricsLayerBuilder::message_attribute`] turns it on | each distinct message would be a new series |
//! | u64 attribute above `i64::MAX` | dropped | a string attribute | an attribute should not vanish |
//! | bool, string or `Debug` field with a metric prefix | an attribute under its whole name | the same | |
//! | span fields as attributes, units and descriptions | no | [`MetricsLayerBuilder::span_attributes`], [`MetricsLayerBuilder::describe`] | |
//! | provider bound | `M: MeterProvider` | `P: MeterProvider + Send + Sync + 'static` | the provider is kept behind a pointer and shared with every thread that logs |
//!
//! # What is better than the peer, and why
//!
//! - **Non-metric events cost nothing extra.** The layer comes under a
//!   per-layer filter that gives callsites without metric fields
//!   [`Interest::never`](tracing::subscriber::Interest::never); tracing
//!   caches that, so such an event is skipped at the callsite when no other
//!   layer wants it.
//! - **Instruments are resolved per callsite**, once, and then read without
//!   a lock; the peer looks each metric up by name under a lock per event.
//! - **Repeated attribute sets are bound once per thread** through the
//!   SDK's bound instruments (the default `bound-instruments` feature), so
//!   a repeated event skips building its attributes and the SDK's search
//!   for its series (see [`MetricsLayerBuilder::bound_instruments`] for the
//!   limits). Providers other than the SDK's are never bound.
//! - Attributes are collected in a `SmallVec` of 8: numbers and booleans
//!   need no heap allocation, and string values are interned per thread, so
//!   a repeated value (a route, a device) costs no allocation either.
//!
//! # Cargo features
//!
//! - `bound-instruments` (default): the SDK fast path above. It turns on
//!   the experimental `experimental_metrics_bound_instruments` feature of
//!   `opentelemetry` and `opentelemetry_sdk`. Without it the crate depends
//!   on the `opentelemetry` API crate only, and every measurement goes
//!   through `add` or `record`.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "bound-instruments")]
mod bound;
mod builder;
mod callsite;
mod filter;
mod instrument;
mod layer;
mod record;
mod stats;
mod strings;

pub use builder::{METER_NAME, MetricsLayerBuilder};
pub use layer::MetricsLayer;
pub use stats::{Stats, StatsHandle};

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
