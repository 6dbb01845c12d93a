//! Everything a guest agent needs from one dependency and one call: a
//! `tracing` subscriber that logs to stderr, writes to the Hyper-V KVP pool
//! (its own filter, default `warn`), turns metric fields into OpenTelemetry
//! metrics (exported into the pool, one record per series), and optionally
//! sends spans to OpenTelemetry.
//!
//! ```no_run
//! fn main() -> Result<(), kvp_telemetry::Error> {
//!     let _guard = kvp_telemetry::Telemetry::builder("my-agent").init()?;
//!     let span = tracing::info_span!("provision", user = "azureuser");
//!     let _entered = span.enter();
//!     tracing::info!(monotonic_counter.users_created = 1u64, "created user");
//!     tracing::error!(error = "exit status 1", "useradd failed"); // reaches the pool
//!     Ok(())
//! } // the guard flushes metrics and the pool here
//! ```
//!
//! # Turning KVP off
//!
//! `Telemetry::builder(..).kvp(false)`, or `KVP_TELEMETRY_KVP=off` in the
//! environment: no pool file is opened or created and no writer thread
//! starts. See `docs/TELEMETRY.md` for exactly what is collected.
//!
//! # Crates underneath
//!
//! Re-exported so one dependency suffices: [`kvp_codec`], [`kvp_sink`],
//! [`tracing_kvp`], [`tracing_otel_metrics`], [`telemetry_redact`].
//!
//! # Features
//!
//! - `otel` (default): OpenTelemetry metrics and traces. With
//!   `default-features = false` the facade is stderr and KVP only, with no
//!   OpenTelemetry crate in its tree: for an agent that brings its own
//!   OpenTelemetry (of any version) beside [`TelemetryBuilder::layer`].
//! - `otlp`: export to an OpenTelemetry collector over OTLP/HTTP(S).
//!
//! # OpenTelemetry versions
//!
//! The builder takes OpenTelemetry types (`SdkMeterProvider`,
//! `SdkTracerProvider`) of the versions this crate is built with:
//! [`opentelemetry`] and [`opentelemetry_sdk`] 0.33 (and, with the `otlp`
//! feature, `opentelemetry_otlp` 0.33), all re-exported here. Build your
//! providers from these re-exports (`kvp_telemetry::opentelemetry_sdk::...`)
//! and a version mismatch cannot happen; a new OpenTelemetry release line
//! is a breaking release of this crate (see the README's "Versioning").

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod env;
mod error;
#[cfg(feature = "otel")]
mod exporter;
mod guard;
#[cfg(feature = "otlp")]
mod otlp;
#[cfg(feature = "otlp")]
mod otlp_logs;
mod panic;
#[cfg(feature = "otel")]
mod redact_spans;
mod stderr;
mod telemetry;

pub use error::Error;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use exporter::KvpMetricExporter;
pub use guard::{Guard, OtelFailures, ShutdownError};
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use otlp::{OtlpError, OtlpExporters};
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use redact_spans::RedactSpans;
#[cfg(feature = "otel")]
pub use telemetry::DEFAULT_TRACE_FILTER;
pub use telemetry::{
    DEFAULT_POOL, DEFAULT_STDERR_FILTER, RateLimit, Telemetry, TelemetryBuilder, TelemetryLayer,
};
pub use tracing_kvp::ProvisioningReport;
/// The filter type the builder's `*_env_filter` methods take.
pub use tracing_subscriber::EnvFilter;
pub use {kvp_codec, kvp_sink, telemetry_redact, tracing_kvp};

// The OpenTelemetry crates whose types this crate's API takes
// (`meter_provider`, `tracer_provider`): use these re-exports, and a
// provider of another OpenTelemetry version cannot be handed in by mistake.
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub use {opentelemetry, opentelemetry_sdk, tracing_otel_metrics};

#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use opentelemetry_otlp;

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
