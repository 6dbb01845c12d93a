//! [`Guard`]: what keeps the stack running, flushes it, and ends it.

use std::fmt;
use std::time::{Duration, Instant};

use kvp_sink::{ExitHook, Stats};
#[cfg(feature = "otel")]
use opentelemetry_sdk::error::OTelSdkResult;
#[cfg(feature = "otel")]
use opentelemetry_sdk::metrics::SdkMeterProvider;
#[cfg(feature = "otel")]
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_kvp::KvpGuard;

/// Keeps telemetry running. Dropping it exports metrics a last time, ends
/// the trace pipeline and flushes the KVP queue, each within the flush
/// timeout; [`Guard::shutdown`] does the same and says how it went. Hold it
/// in `main` (`let _guard = ...`: `let _ = ...` drops it at once).
#[derive(Default)]
#[must_use = "dropping the guard stops telemetry at once: keep it in a named variable"]
pub struct Guard {
    pub(crate) kvp: Option<KvpGuard>,
    #[cfg(feature = "otel")]
    pub(crate) meter_provider: Option<SdkMeterProvider>,
    #[cfg(feature = "otel")]
    pub(crate) tracer_provider: Option<SdkTracerProvider>,
    pub(crate) flush_timeout: Duration,
    /// Why KVP is off although it was asked for (best-effort).
    pub(crate) kvp_unavailable: Option<kvp_sink::Error>,
    /// Flushes the OpenTelemetry providers when the process ends without
    /// this guard's drop; removed with the guard.
    pub(crate) exit_hook: Option<ExitHook>,
    #[cfg(feature = "otlp")]
    pub(crate) otlp: Option<crate::otlp::OtlpState>,
    #[cfg(feature = "otlp")]
    pub(crate) logger_provider: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("kvp", &self.kvp)
            .field("flush_timeout", &self.flush_timeout)
            .finish_non_exhaustive()
    }
}

/// What an OpenTelemetry pipeline could not deliver at a flush or a
/// shutdown, by signal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OtelFailures {
    /// The signals (`metrics`, `traces`, `logs`) whose flush failed or did
    /// not finish in time.
    pub signals: Vec<&'static str>,
}

/// What [`Guard::shutdown`] could not deliver.
#[derive(Debug)]
#[non_exhaustive]
pub struct ShutdownError {
    /// The KVP writer's final counters (`None` without KVP): what it
    /// wrote, and what it lost by reason.
    pub kvp: Option<Stats>,
    /// The KVP writer was still waiting for another process's lock at the
    /// deadline, and what it held was given up.
    pub kvp_timed_out: bool,
    /// The OpenTelemetry pipelines that failed.
    pub otel: OtelFailures,
}

impl fmt::Display for ShutdownError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("telemetry did not deliver everything at shutdown")?;
        if let Some(stats) = self.kvp.filter(|s| s.dropped() > 0 || self.kvp_timed_out) {
            let kvp = kvp_sink::ShutdownError {
                stats,
                timed_out: self.kvp_timed_out,
            };
            write!(f, ": {kvp}")?;
        }
        if !self.otel.signals.is_empty() {
            write!(
                f,
                "; OpenTelemetry {} not exported",
                self.otel.signals.join(", ")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ShutdownError {}

/// Runs `f` on a thread of its own and waits for it until `deadline`:
/// an exporter that never answers must not hold the caller past its
/// timeout. `None` when it did not finish in time (it finishes, or not,
/// on its own).
#[cfg(feature = "otel")]
fn bounded(deadline: Instant, f: impl FnOnce() -> OTelSdkResult + Send + 'static) -> bool {
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("kvp-telemetry-flush".into())
        .spawn(move || {
            let _ = tx.send(f().is_ok());
        });
    spawned.is_ok()
        && rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or(false)
}

/// The OpenTelemetry providers a guard flushes, by signal.
#[derive(Clone, Default)]
pub(crate) struct Providers {
    #[cfg(feature = "otel")]
    pub(crate) meter: Option<SdkMeterProvider>,
    #[cfg(feature = "otel")]
    pub(crate) tracer: Option<SdkTracerProvider>,
    #[cfg(feature = "otlp")]
    pub(crate) logger: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
}

impl Providers {
    /// Flushes each provider (metrics first: their last export goes
    /// through the KVP writer), all within `timeout`, or shuts them down.
    pub(crate) fn finish(&self, timeout: Duration, shutdown: bool) -> OtelFailures {
        #[allow(unused_mut)]
        let mut failed = OtelFailures::default();
        #[cfg(not(feature = "otel"))]
        let _ = (timeout, shutdown);
        #[cfg(feature = "otel")]
        {
            let deadline = Instant::now() + timeout;
            // Each provider's flush or shutdown, on a thread of its own,
            // waited for until the deadline; the signal named if it failed.
            macro_rules! finish {
                ($provider:expr, $signal:literal) => {
                    if let Some(p) = $provider.clone() {
                        let ok = bounded(deadline, move || {
                            if shutdown {
                                p.shutdown_with_timeout(timeout)
                            } else {
                                p.force_flush()
                            }
                        });
                        if !ok {
                            failed.signals.push($signal);
                        }
                    }
                };
            }
            finish!(self.meter, "metrics");
            finish!(self.tracer, "traces");
            #[cfg(feature = "otlp")]
            finish!(self.logger, "logs");
        }
        failed
    }
}

impl Guard {
    pub(crate) fn providers(&self) -> Providers {
        Providers {
            #[cfg(feature = "otel")]
            meter: self.meter_provider.clone(),
            #[cfg(feature = "otel")]
            tracer: self.tracer_provider.clone(),
            #[cfg(feature = "otlp")]
            logger: self.logger_provider.clone(),
        }
    }

    /// The part of a timeout the OpenTelemetry pipelines may take: with
    /// KVP on, a quarter stays for the pool however slow a collector is.
    fn otel_share(&self, timeout: Duration) -> Duration {
        if self.kvp.is_some() {
            timeout * 3 / 4
        } else {
            timeout
        }
    }

    /// Flushes the OpenTelemetry pipelines, or shuts them down, within this
    /// guard's share of `timeout`, and names each signal that lost
    /// something: one that did not finish in time, or one whose exports
    /// failed meanwhile (the SDK's batch processors keep a failed export
    /// to themselves and answer a flush with `Ok`). A signal that did not
    /// finish is counted as a failed export, said on stderr as every OTLP
    /// failure is.
    fn finish_otel(&self, timeout: Duration, shutdown: bool) -> OtelFailures {
        #[cfg(feature = "otlp")]
        let before = self.otlp.as_ref().map(|o| o.failures.by_signal());
        #[allow(unused_mut)]
        let mut failed = self.providers().finish(self.otel_share(timeout), shutdown);
        #[cfg(feature = "otlp")]
        if let (Some(otlp), Some(before)) = (&self.otlp, before) {
            let after = otlp.failures.by_signal();
            for signal in &failed.signals {
                otlp.failures.failed(
                    signal,
                    &otlp.endpoint,
                    &"the collector did not answer within the flush timeout",
                );
            }
            for ((signal, was), now) in crate::otlp::SIGNALS.iter().zip(before).zip(after) {
                if now > was && !failed.signals.contains(signal) {
                    failed.signals.push(signal);
                }
            }
        }
        failed
    }

    /// Exports metrics and spans now and waits for the KVP queue, all
    /// within `timeout`. Returns whether everything arrived.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::warn!("slow"));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let failed = self.finish_otel(timeout, false);
        let kvp = self
            .kvp
            .as_ref()
            .is_none_or(|k| k.flush(deadline.saturating_duration_since(Instant::now())));
        failed.signals.is_empty() && kvp
    }

    /// Ends telemetry as dropping the guard does (metrics exported, traces
    /// and logs sent, the KVP queue flushed and its writer stopped, all
    /// within `timeout`) and says how it went: `Ok` with the KVP writer's
    /// final counters (`None` without KVP), or what was lost.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let guard = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .init()?;
    /// tracing::error!("provisioning failed");
    /// let stats = guard.shutdown(std::time::Duration::from_secs(5))?;
    /// assert_eq!(stats.map(|s| s.written), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shutdown(mut self, timeout: Duration) -> Result<Option<Stats>, ShutdownError> {
        self.exit_hook = None;
        let deadline = Instant::now() + timeout;
        let otel = self.finish_otel(timeout, true);
        #[cfg(feature = "otel")]
        {
            self.meter_provider = None;
            self.tracer_provider = None;
        }
        #[cfg(feature = "otlp")]
        {
            self.logger_provider = None;
        }
        let (kvp, kvp_lost, kvp_timed_out) = match self.kvp.take() {
            None => (None, false, false),
            Some(k) => match k.shutdown(deadline.saturating_duration_since(Instant::now())) {
                Ok(stats) => (Some(stats), false, false),
                Err(e) => (Some(e.stats), true, e.timed_out),
            },
        };
        if !kvp_lost && otel.signals.is_empty() {
            Ok(kvp)
        } else {
            Err(ShutdownError {
                kvp,
                kvp_timed_out,
                otel,
            })
        }
    }

    /// The KVP writer's counters, when KVP is on.
    ///
    /// ```
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .build()?;
    /// assert!(guard.kvp_stats().is_none(), "no writer, no counters");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp_stats(&self) -> Option<Stats> {
        self.kvp.as_ref().map(KvpGuard::stats)
    }

    /// Whether KVP is on (a pool file is open and a writer runs).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .build()?;
    /// assert!(guard.kvp_enabled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp_enabled(&self) -> bool {
        self.kvp.is_some()
    }

    /// Why KVP is off although it was on: the pool could not be opened and
    /// KVP was not [required](crate::TelemetryBuilder::require_kvp). `None`
    /// when KVP runs, or was turned off.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join("no-such-dir/.kvp_pool_1"))
    ///     .stderr(false)
    ///     .build()?; // best-effort: no error
    /// assert!(!guard.kvp_enabled());
    /// assert!(guard.kvp_unavailable().is_some_and(|e| e.to_string().contains("no-such-dir")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp_unavailable(&self) -> Option<&kvp_sink::Error> {
        self.kvp_unavailable.as_ref()
    }

    /// OTLP exports (traces, metrics and logs) that failed so far,
    /// including flushes the collector did not answer in time; each is
    /// also reported on stderr, at most once a minute. `None` without OTLP.
    ///
    /// ```
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .build()?;
    /// assert_eq!(guard.otlp_export_failures(), None, "no OTLP asked for");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp_export_failures(&self) -> Option<u64> {
        self.otlp.as_ref().map(|o| o.failures.count())
    }

    /// Why OTLP export is off although it was asked for (an endpoint that
    /// cannot work: a malformed URL, a scheme this build cannot serve).
    /// Telemetry runs without it; the reason was said once on stderr.
    ///
    /// ```
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .otlp("collector:4318") // no scheme: refused, and init goes on
    ///     .build()?;
    /// assert!(guard.otlp_unavailable().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp_unavailable(&self) -> Option<&crate::OtlpError> {
        self.otlp.as_ref().and_then(|o| o.unavailable.as_ref())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.exit_hook = None;
        let deadline = Instant::now() + self.flush_timeout;
        // What was lost is said on stderr by the failures' count.
        let _ = self.finish_otel(self.flush_timeout, true);
        if let Some(kvp) = self.kvp.take() {
            let _ = kvp.shutdown(deadline.saturating_duration_since(Instant::now()));
        }
    }
}
