//! The stack: each output built from the resolved options, one function
//! each, then put together with its guard and hooks.

use std::io::Write as _;

use kvp_sink::WriterBuilder;
use telemetry_redact::DenyList;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use super::resolve::{layer_filter, stderr_colour};
use super::{DEFAULT_STDERR_FILTER, TelemetryBuilder, TelemetryLayer};
use crate::error::Error;
use crate::guard::Guard;

impl TelemetryBuilder {
    /// Builds the subscriber without installing it, for tests and for
    /// programs that install it themselves.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::error!("disk full"));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(guard.kvp_stats().map(|s| s.written), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<(Dispatch, Guard), Error> {
        let (layer, guard) = self.assemble::<Registry>(false)?;
        Ok((
            Dispatch::new(tracing_subscriber::registry().with(layer)),
            guard,
        ))
    }

    /// The whole stack (stderr, KVP, metrics, traces, each under its own
    /// filter) as one [`Layer`], for a subscriber the application builds
    /// itself, next to its own layers (a log file, journald, ...). The
    /// guard works as [`build`](Self::build)'s. The `log` bridge and the
    /// global default are the application's to install.
    ///
    /// ```
    /// use tracing_subscriber::prelude::*;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let (telemetry, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .layer()?;
    /// let my_own_layer = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    /// let subscriber = tracing_subscriber::registry().with(my_own_layer).with(telemetry);
    /// tracing::subscriber::with_default(subscriber, || tracing::warn!("to both"));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(guard.kvp_stats().map(|s| s.written), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn layer<S>(self) -> Result<(TelemetryLayer<S>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        self.assemble(false)
    }

    /// The stack and its guard, made by [the plan](super::plan::Plan), one
    /// function per output; `process_wide` (from `init`) turns on the
    /// hooks that are on by default only there.
    fn assemble<S>(mut self, process_wide: bool) -> Result<(TelemetryLayer<S>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let plan = self.plan(process_wide)?;
        let policy = &plan.policy;
        let mut layers: Vec<TelemetryLayer<S>> = Vec::new();
        let mut guard = Guard::default();
        guard.flush_timeout = self.flush_timeout;

        if self.stderr {
            layers.push(self.stderr_layer(policy));
        }
        if self.kvp
            && let Some(layer) = self.kvp_layer(&mut guard, &plan.vm_id, policy, plan.at_exit)?
        {
            layers.push(layer);
        }
        #[cfg(feature = "otel")]
        self.otel_layers(
            &mut layers,
            &mut guard,
            policy,
            #[cfg(feature = "otlp")]
            plan.otlp.ready.as_ref(),
        );
        #[cfg(feature = "otlp")]
        {
            guard.otlp = plan.otlp.state;
        }
        // Last, once nothing else can fail.
        if plan.at_exit || self.flush_on_signals {
            // Registered after the KVP layer's own hook, so it runs first:
            // the metrics' last export goes through the KVP writer.
            let providers = guard.providers();
            let timeout = self.flush_timeout;
            guard.exit_hook = Some(kvp_sink::on_exit(move |_| {
                providers.finish(timeout / 2, false);
            }));
        }
        if plan.panic_hook
            && let Some(sink) = guard.kvp.as_ref().and_then(tracing_kvp::KvpGuard::sink)
        {
            crate::panic::install(sink, self.flush_timeout);
        }
        Ok((layers.boxed(), guard))
    }

    /// The fmt layer on stderr, under its filter and the redaction policy.
    fn stderr_layer<S>(&mut self, policy: &DenyList) -> TelemetryLayer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let filter = match self.stderr_filter_object.take() {
            Some(filter) => filter,
            None => layer_filter(
                &format!("stderr filter from {}", self.stderr_source()),
                &self.stderr_filter,
                DEFAULT_STDERR_FILTER,
            ),
        };
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(stderr_colour())
            .fmt_fields(crate::stderr::RedactedFields {
                deny: policy.clone(),
            })
            .with_filter(filter)
            .boxed()
    }

    /// The KVP layer on its own writer, its guard put into `guard`; `None`
    /// when the pool cannot be opened and KVP is best-effort (said once on
    /// stderr, and kept in the guard).
    fn kvp_layer<S>(
        &mut self,
        guard: &mut Guard,
        vm_id: &str,
        policy: &DenyList,
        at_exit: bool,
    ) -> Result<Option<TelemetryLayer<S>>, Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        let directives = if self.kvp_filter_object.is_some() {
            tracing_kvp::DEFAULT_DIRECTIVE.to_owned()
        } else {
            self.kvp_directives()
        };
        let mut builder = tracing_kvp::KvpLayer::builder(self.prefix.clone())
            .vm_id(vm_id)
            .filter(directives)
            .rate_limit(self.rate_limit)
            .redaction(policy.clone())
            .flush_timeout(self.flush_timeout)
            .flush_at_exit(at_exit)
            .flush_on_signals(self.flush_on_signals);
        builder = if self.use_env && self.kvp_filter_object.is_none() {
            builder.env_var(self.env.kvp_log_var())
        } else {
            builder.ignore_env()
        };
        let filter = tracing_kvp::KvpFilter::new(match self.kvp_filter_object.take() {
            Some(filter) => filter,
            None => builder.make_filter(),
        });
        let writer = WriterBuilder::new(&self.pool)
            .capacity(self.queue)
            .record_cap(self.cap)
            .reserve_percent(self.reserve_percent)
            .create_dir(self.create_dir)
            .mode(self.pool_mode)
            .truncate_stale(true);
        match builder.open_with(writer) {
            Ok((layer, kvp)) => {
                guard.kvp = Some(kvp);
                Ok(Some(layer.with_filter(filter).boxed()))
            }
            Err(tracing_kvp::OpenError::Pool(e)) if !self.require_kvp => {
                // Best-effort: one line, then on without KVP.
                let _ = writeln!(
                    std::io::stderr(),
                    "kvp-telemetry: KVP is unavailable, continuing without it: {}",
                    kvp_sink::WithCauses(&e)
                );
                guard.kvp_unavailable = Some(e);
                Ok(None)
            }
            Err(tracing_kvp::OpenError::Pool(e)) => Err(Error::Pool(e)),
            Err(tracing_kvp::OpenError::Layer(tracing_kvp::BuildError::VmIdTooLong { vm_id }))
                if matches!(self.sources.vm_id, super::resolve::Source::Env(_)) =>
            {
                Err(Error::InvalidEnv {
                    var: self.sources.vm_id.describe("vm_id"),
                    value: vm_id,
                    expected: "a vm_id short enough to leave room in each key for the \
                               level, a name and an id",
                })
            }
            Err(tracing_kvp::OpenError::Layer(e)) => Err(Error::Layer(e)),
            Err(e) => Err(Error::Kvp(e)),
        }
    }

    /// Builds the subscriber and installs it as the global default, with
    /// the `log` bridge ([`log_bridge`](Self::log_bridge)), the panic hook
    /// and the flush at `exit` (each unless turned off). Keep the guard for
    /// the life of the program: its drop flushes.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let guard = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .stderr(false)
    ///     .init()?;
    /// tracing::warn!("retrying the metadata service");
    /// log::warn!("a dependency's log record arrives too");
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(guard.kvp_stats().map(|s| s.written), Some(2));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn init(self) -> Result<Guard, Error> {
        // Refused before anything is built: no pool file, writer or panic
        // hook for a call that cannot install its subscriber.
        if tracing::dispatcher::has_been_set() {
            return Err(Error::AlreadyInstalled);
        }
        let log_bridge = self.log_bridge;
        let (layer, guard) = self.assemble::<Registry>(true)?;
        let dispatch = Dispatch::new(tracing_subscriber::registry().with(layer));
        tracing::dispatcher::set_global_default(dispatch).map_err(|_| Error::AlreadyInstalled)?;
        if log_bridge && let Err(e) = tracing_log::LogTracer::init() {
            let _ = writeln!(
                std::io::stderr(),
                "kvp-telemetry: `log` records are not bridged into tracing: {e}"
            );
        }
        Ok(guard)
    }
}
