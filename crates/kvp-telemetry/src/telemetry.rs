//! `Telemetry::builder(prefix)...init()`: the one call.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use kvp_sink::{Sink, Stats, WriterBuilder, WriterGuard};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Dispatch, Subscriber};
use tracing_kvp::Captured;
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::env;
use crate::error::Error;
use crate::exporter::KvpMetricExporter;
pub use tracing_kvp::RateLimit;

/// The pool guests write: pool 1.
pub const DEFAULT_POOL: &str = "/var/lib/hyperv/.kvp_pool_1";

/// The stderr layer's default filter.
pub const DEFAULT_STDERR_FILTER: &str = "info";

/// The OpenTelemetry trace layer's default filter.
pub const DEFAULT_TRACE_FILTER: &str = "info";

/// The whole stack as one layer for a subscriber `S`: what
/// [`TelemetryBuilder::layer`] returns.
pub type TelemetryLayer<S> = Box<dyn Layer<S> + Send + Sync>;

/// Entry point; see [`Telemetry::builder`].
#[derive(Debug)]
pub struct Telemetry;

/// Configures the subscriber; see [`Telemetry::builder`].
#[derive(Debug)]
pub struct TelemetryBuilder {
    prefix: String,
    env: env::Env,
    kvp: bool,
    require_kvp: bool,
    pool: PathBuf,
    create_dir: bool,
    vm_id: Option<String>,
    queue: usize,
    cap: Option<u64>,
    reserve_percent: u8,
    rate_limit: Option<RateLimit>,
    /// Set by `kvp_filter`; `None` for the default (`app_targets` at INFO,
    /// the rest at WARN).
    kvp_filter: Option<String>,
    app_targets: Vec<String>,
    stderr: bool,
    stderr_filter: String,
    trace_filter: String,
    metrics: bool,
    metrics_interval: Duration,
    meter_provider: Option<SdkMeterProvider>,
    tracer_provider: Option<SdkTracerProvider>,
    panic_hook: bool,
    log_bridge: bool,
    flush_timeout: Duration,
    #[cfg(feature = "otlp")]
    otlp: Option<String>,
    /// The suffixes of the variables that set a value (`VM_ID`, `LOG`,
    /// ...), so that an error about the value names where it came from.
    from_env: Vec<&'static str>,
}

impl Telemetry {
    /// A builder whose KVP keys start with `prefix` (your agent's name).
    ///
    /// Defaults: stderr at `info`; KVP on (best-effort), pool
    /// [`DEFAULT_POOL`], its own filter (the agent's crates at `info`, the
    /// rest at `warn`), queue 4,096, cap 1,024 records; metrics from
    /// `monotonic_counter.`/`counter.`/`histogram.`/`gauge.` fields exported
    /// into the pool every 60 s (one upserted record per series); the panic
    /// hook on. The options that name a `KVP_TELEMETRY_*` variable below
    /// can be overridden from the environment (see [`crate::env`]).
    ///
    /// Opening the pool truncates it when it was last written before this
    /// boot (the rule cloud-init and azure-init follow), under its locks.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .vm_id("vm-1")
    ///     .stderr(false)
    ///     .build()?;
    /// tracing::dispatcher::with_default(&dispatch, || tracing::warn!("disk is slow"));
    /// assert!(guard.flush(std::time::Duration::from_secs(5)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(prefix: impl Into<String>) -> TelemetryBuilder {
        let prefix = prefix.into();
        TelemetryBuilder {
            app_targets: vec![crate_name_of(&prefix)],
            prefix,
            env: env::Env::new(env::DEFAULT_PREFIX),
            kvp: true,
            require_kvp: false,
            pool: PathBuf::from(DEFAULT_POOL),
            create_dir: false,
            vm_id: None,
            queue: 4096,
            cap: Some(1024),
            reserve_percent: 10,
            rate_limit: Some(RateLimit::DEFAULT),
            kvp_filter: None,
            stderr: true,
            stderr_filter: DEFAULT_STDERR_FILTER.to_owned(),
            trace_filter: DEFAULT_TRACE_FILTER.to_owned(),
            metrics: true,
            metrics_interval: Duration::from_secs(60),
            meter_provider: None,
            tracer_provider: None,
            panic_hook: true,
            log_bridge: true,
            flush_timeout: Duration::from_secs(1),
            #[cfg(feature = "otlp")]
            otlp: None,
            from_env: Vec::new(),
        }
    }
}

impl TelemetryBuilder {
    /// Write to the KVP pool at all (default on). Off: no pool file is
    /// opened or created and no writer thread starts. Override:
    /// `KVP_TELEMETRY_KVP=off`.
    ///
    /// ```
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false) // no pool file is opened, no writer thread starts
    ///     .stderr(false)
    ///     .build()?;
    /// assert!(!guard.kvp_enabled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp(mut self, on: bool) -> Self {
        self.kvp = on;
        self
    }

    /// The prefix of the environment overrides (default `KVP_TELEMETRY`),
    /// so that two agents on one VM can be configured apart, and an agent's
    /// users keep the names they know: with `AZURE_INIT`, the variables are
    /// `AZURE_INIT_KVP`, `AZURE_INIT_POOL`, `AZURE_INIT_VM_ID`,
    /// `AZURE_INIT_QUEUE`, `AZURE_INIT_CAP`, `AZURE_INIT_RATE`,
    /// `AZURE_INIT_KVP_LOG`, `AZURE_INIT_LOG` and `AZURE_INIT_TRACE_LOG`
    /// (docs/TELEMETRY.md has the table).
    ///
    /// ```
    /// let (_dispatch, guard) = kvp_telemetry::Telemetry::builder("azure-init")
    ///     .env_prefix("AZURE_INIT") // AZURE_INIT_KVP=off turns KVP off
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_prefix(mut self, prefix: &str) -> Self {
        self.env = env::Env::new(prefix);
        self
    }

    /// Fail [`build`](Self::build) and [`init`](Self::init) when the pool
    /// cannot be opened (default off). Off, KVP is best-effort: on a
    /// machine without the KVP daemon (no `/var/lib/hyperv`: a laptop, CI,
    /// another cloud) telemetry starts without it, says so in one line on
    /// stderr, and [`Guard::kvp_enabled`] and [`Guard::kvp_unavailable`]
    /// tell why. Turn it on in an agent that must not run without KVP.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let missing = dir.path().join("no-such-dir/.kvp_pool_1");
    /// let result = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(&missing)
    ///     .require_kvp(true)
    ///     .stderr(false)
    ///     .build();
    /// assert!(matches!(result, Err(kvp_telemetry::Error::Pool(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn require_kvp(mut self, required: bool) -> Self {
        self.require_kvp = required;
        self
    }

    /// The pool file (default [`DEFAULT_POOL`]; `KVP_TELEMETRY_POOL`).
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
    pub fn pool_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.pool = path.into();
        self
    }

    /// Create the pool's directory when missing (default: an error).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join("not-yet/.kvp_pool_1"))
    ///     .create_dir(true)
    ///     .stderr(false)
    ///     .build()?;
    /// assert!(dir.path().join("not-yet/.kvp_pool_1").exists());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_dir(mut self, create: bool) -> Self {
        self.create_dir = create;
        self
    }

    /// The vm_id in keys (default: detected; `KVP_TELEMETRY_VM_ID`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .vm_id("0f3c4d5e-0000-0000-0000-000000000001")
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn vm_id(mut self, vm_id: impl Into<String>) -> Self {
        self.vm_id = Some(vm_id.into());
        self
    }

    /// The writer's queue, in entries (default 4,096; `KVP_TELEMETRY_QUEUE`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .queue_size(16_384)
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_size(mut self, entries: usize) -> Self {
        self.queue = entries;
        self
    }

    /// The pool's record cap (default 1,024; `KVP_TELEMETRY_CAP`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .record_cap(Some(200)) // None: no cap
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_cap(mut self, cap: Option<u64>) -> Self {
        self.cap = cap;
        self
    }

    /// The part of the cap, in percent, kept for ERROR records and upserts
    /// (default 10).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .reserve_percent(20)
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reserve_percent(mut self, percent: u8) -> Self {
        self.reserve_percent = percent;
        self
    }

    /// The per-callsite rate limit on KVP records (default a burst of 10,
    /// then 1 per second; `None` for none; `KVP_TELEMETRY_RATE`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// use kvp_telemetry::tracing_kvp::RateLimit;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .rate_limit(Some(RateLimit { burst: 50, per_second: 5.0 }))
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn rate_limit(mut self, limit: Option<RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// The KVP layer's filter (`KVP_TELEMETRY_KVP_LOG`). The default is
    /// the application's own crates at INFO and every other crate at WARN:
    /// `warn,<app target>=info` for each of [`app_targets`](Self::app_targets),
    /// so that an ERROR record comes with the agent's spans around it
    /// without every dependency's INFO events. Events whose spans the filter
    /// leaves out name them anyway (`in=provision/configure_ssh`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .kvp_filter("warn,my_agent=info")
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp_filter(mut self, directives: impl Into<String>) -> Self {
        self.kvp_filter = Some(directives.into());
        self
    }

    /// The targets (crate or module paths) the default KVP filter records
    /// at INFO. The default is the prefix as a crate name (`my-agent`
    /// gives `my_agent`); list your crates when they are several.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("azure-init")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .app_targets(["azure_init", "libazureinit"]) // warn,azure_init=info,libazureinit=info
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn app_targets<T: Into<String>>(mut self, targets: impl IntoIterator<Item = T>) -> Self {
        self.app_targets = targets.into_iter().map(Into::into).collect();
        self
    }

    /// The filter of the layers that send to OpenTelemetry (traces, and
    /// logs with OTLP).
    fn trace_layer_filter(&self) -> EnvFilter {
        layer_filter(
            &format!(
                "trace filter from {}",
                self.source("TRACE_LOG", "trace_filter")
            ),
            &self.trace_filter,
            DEFAULT_TRACE_FILTER,
        )
    }

    /// Where a setting came from: the variable `<prefix>_<suffix>` when it
    /// set it, else the builder's `method`.
    fn source(&self, suffix: &str, method: &str) -> String {
        if self.from_env.contains(&suffix) {
            self.env.name(suffix)
        } else {
            format!("the builder's {method}()")
        }
    }

    /// The KVP filter's directives: as given, or the default.
    fn kvp_directives(&self) -> String {
        self.kvp_filter.clone().unwrap_or_else(|| {
            let mut directives = tracing_kvp::DEFAULT_DIRECTIVE.to_owned();
            for target in &self.app_targets {
                directives.push_str(&format!(",{target}=info"));
            }
            directives
        })
    }

    /// Log to stderr at all (default on). Colour is used only when stderr
    /// is a terminal and `NO_COLOR` is not set, so a journal or a log file
    /// gets plain text.
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false) // only the pool and metrics
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stderr(mut self, on: bool) -> Self {
        self.stderr = on;
        self
    }

    /// The stderr layer's filter (default `info`; `KVP_TELEMETRY_LOG`).
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr_filter("debug,hyper=warn")
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stderr_filter(mut self, directives: impl Into<String>) -> Self {
        self.stderr_filter = directives.into();
        self
    }

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
        self.trace_filter = directives.into();
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
        self.metrics = on;
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
        self.metrics_interval = interval;
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
        self.meter_provider = Some(provider);
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
        self.tracer_provider = Some(provider);
        self
    }

    /// Record panics and flush the queue before the process dies (default on).
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .panic_hook(false) // the application installs its own
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_hook(mut self, on: bool) -> Self {
        self.panic_hook = on;
        self
    }

    /// Send records of the `log` crate, which many dependencies use, into
    /// `tracing` when [`init`](Self::init) installs the subscriber (default
    /// on), so that they reach stderr and the pool under the same filters;
    /// their target is the `log` record's. Off, or when another `log`
    /// logger is already installed (said once on stderr), they go where
    /// that logger sends them. [`build`](Self::build) and
    /// [`layer`](Self::layer) install nothing global: call
    /// `tracing_log::LogTracer::init()` yourself there.
    ///
    /// ```no_run
    /// let _guard = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .log_bridge(false) // the application keeps its own `log` logger
    ///     .init()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_bridge(mut self, on: bool) -> Self {
        self.log_bridge = on;
        self
    }

    /// How long the guard's drop and the panic hook wait for the queue
    /// (default 1 s).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .flush_timeout(std::time::Duration::from_secs(3))
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// Also export traces, metrics and logs (events as log records) to an
    /// OTLP/HTTP collector at `endpoint` (such as `http://127.0.0.1:4318`);
    /// see docs/TELEMETRY.md for the `OTEL_*` variables it honours.
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .otlp("http://127.0.0.1:4318") // exports are attempted in the background
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp = Some(endpoint.into());
        self
    }

    fn apply_env(&mut self) -> Result<(), Error> {
        let env = &self.env;
        if let Some(on) = env.kvp_enabled()? {
            self.kvp = on;
        }
        if let Some(pool) = env.pool() {
            self.pool = pool;
        }
        if let Some(vm_id) = env.vm_id()? {
            self.vm_id = Some(vm_id);
            self.from_env.push("VM_ID");
        }
        if let Some(queue) = env.queue()? {
            self.queue = queue;
        }
        if let Some(cap) = env.cap()? {
            self.cap = cap;
        }
        if let Some(rate) = env.rate()? {
            self.rate_limit = rate;
        }
        if let Some(filter) = env.stderr_filter()? {
            self.stderr_filter = filter;
            self.from_env.push("LOG");
        }
        if let Some(filter) = env.trace_filter()? {
            self.trace_filter = filter;
            self.from_env.push("TRACE_LOG");
        }
        Ok(())
    }

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
        let (layer, guard) = self.layer::<Registry>()?;
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
    pub fn layer<S>(mut self) -> Result<(TelemetryLayer<S>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        self.apply_env()?;
        // Everything that can be refused is checked before anything is
        // opened or installed: a failing call leaves no pool file, thread
        // or panic hook behind.
        // The builder's endpoint, else OTEL_EXPORTER_OTLP_ENDPOINT; none
        // at all with OTEL_SDK_DISABLED=true.
        #[cfg(feature = "otlp")]
        let otlp = if crate::otlp::sdk_disabled() {
            None
        } else {
            self.otlp
                .clone()
                .or_else(crate::otlp::env_endpoint)
                .as_deref()
                .map(crate::otlp::Otlp::new)
                .transpose()?
        };
        let resource = resource(&self.prefix);
        let mut layers: Vec<TelemetryLayer<S>> = Vec::new();
        let mut guard = Guard::default();

        if self.stderr {
            let filter = layer_filter(
                &format!("stderr filter from {}", self.source("LOG", "stderr_filter")),
                &self.stderr_filter,
                DEFAULT_STDERR_FILTER,
            );
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(stderr_colour())
                    .with_filter(filter)
                    .boxed(),
            );
        }

        let vm_id = self
            .vm_id
            .clone()
            .or_else(tracing_kvp::detect_vm_id)
            .unwrap_or_else(|| tracing_kvp::UNKNOWN_VM_ID.to_owned());

        if self.kvp {
            // The key layout is checked before the pool is opened, so a bad
            // vm_id leaves no file behind.
            tracing_kvp::KvpLayer::builder(self.prefix.clone())
                .vm_id(vm_id.clone())
                .check(&kvp_codec::Limits::SAFE, kvp_sink::DEFAULT_MAX_CHUNKS)
                .map_err(|e| match e {
                    tracing_kvp::BuildError::VmIdTooLong { vm_id }
                        if self.from_env.contains(&"VM_ID") =>
                    {
                        Error::InvalidEnv {
                            var: self.env.name("VM_ID"),
                            value: vm_id,
                            expected: "a vm_id short enough to leave room in each key for the \
                                       level, a name and an id",
                        }
                    }
                    e => Error::Layer(e),
                })?;
        }
        let writer = if self.kvp {
            let spawned = WriterBuilder::new(&self.pool)
                .capacity(self.queue)
                .record_cap(self.cap)
                .reserve_percent(self.reserve_percent)
                .create_dir(self.create_dir)
                .truncate_stale(true)
                .marker_key(marker_key(&self.prefix, &vm_id)?)
                .shutdown_timeout(self.flush_timeout)
                .spawn_for::<Captured>();
            match spawned {
                Ok(spawned) => Some(spawned),
                Err(e) if self.require_kvp => return Err(Error::Pool(e)),
                Err(e) => {
                    // Best-effort: one line, then on without KVP.
                    let _ = writeln!(
                        std::io::stderr(),
                        "kvp-telemetry: KVP is unavailable, continuing without it: {e}"
                    );
                    guard.kvp_unavailable = Some(e);
                    None
                }
            }
        } else {
            None
        };
        if let Some((sink, writer, _report)) = writer {
            let layer = tracing_kvp::KvpLayer::builder(self.prefix.clone())
                .vm_id(vm_id.clone())
                .env_var(self.env.kvp_log_var())
                .filter(self.kvp_directives())
                .rate_limit(self.rate_limit)
                .build(sink.clone())
                .map_err(Error::Layer)?;
            guard.kvp_handle = Some(layer.inner().handle());
            layers.push(layer.boxed());
            guard.sink = Some(sink);
            guard.writer = Some(writer);
        }

        if self.metrics {
            let provider = match self.meter_provider.take() {
                Some(p) => Some(p),
                None => {
                    let mut b = SdkMeterProvider::builder().with_resource(resource.clone());
                    let mut any = false;
                    if let Some(sink) = &guard.sink {
                        let exporter =
                            KvpMetricExporter::try_new(sink.clone(), &self.prefix, &vm_id)
                                .map_err(|source| Error::KeyLayout {
                                    prefix: self.prefix.clone(),
                                    vm_id: vm_id.clone(),
                                    source,
                                })?;
                        b = b.with_reader(
                            PeriodicReader::builder(exporter)
                                .with_interval(self.metrics_interval)
                                .build(),
                        );
                        any = true;
                    }
                    #[cfg(feature = "otlp")]
                    if let Some(otlp) = &otlp {
                        b = b.with_reader(otlp.metric_reader(self.metrics_interval)?);
                        any = true;
                    }
                    any.then(|| b.build())
                }
            };
            if let Some(provider) = provider {
                layers.push(
                    tracing_otel_metrics::MetricsLayer::builder(provider.clone())
                        .build()
                        .boxed(),
                );
                guard.meter_provider = Some(provider);
            }
        }

        #[cfg(feature = "otlp")]
        if self.tracer_provider.is_none()
            && let Some(otlp) = &otlp
        {
            self.tracer_provider = Some(otlp.tracer_provider(resource.clone())?);
        }
        if let Some(provider) = self.tracer_provider.take() {
            let tracer = provider.tracer(self.prefix.clone());
            let filter = self.trace_layer_filter();
            layers.push(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(filter)
                    .boxed(),
            );
            guard.tracer_provider = Some(provider);
        }

        #[cfg(feature = "otlp")]
        if let Some(otlp) = &otlp {
            guard.otlp_failures = Some(otlp.failures());
            // Events as log records, under the trace filter: the same
            // events a collector sees as span events.
            let provider = otlp.logger_provider(resource.clone())?;
            let filter = self.trace_layer_filter();
            layers.push(
                crate::otlp_logs::LogsLayer::new(&provider, &self.prefix)
                    .with_filter(filter)
                    .boxed(),
            );
            guard.logger_provider = Some(provider);
        }
        // Last, once nothing else can fail.
        if self.panic_hook
            && let Some(sink) = &guard.sink
        {
            crate::panic::install(sink.clone(), self.flush_timeout);
        }
        guard.flush_timeout = self.flush_timeout;
        Ok((layers.boxed(), guard))
    }

    /// Builds the subscriber and installs it as the global default, with
    /// the `log` bridge ([`log_bridge`](Self::log_bridge)). Keep the guard
    /// for the life of the program: its drop flushes.
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
        let (dispatch, guard) = self.build()?;
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

/// Colour on stderr only when it is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>): a journal or a file gets plain text.
fn stderr_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A layer's filter from `directives`; invalid ones are reported on stderr
/// and replaced by `default`, never a panic.
fn layer_filter(layer: &str, directives: &str, default: &str) -> EnvFilter {
    EnvFilter::try_new(directives).unwrap_or_else(|e| {
        let _ = writeln!(
            std::io::stderr(),
            "kvp-telemetry: invalid {layer}: {directives:?} ({e}); using {default:?}"
        );
        EnvFilter::new(default)
    })
}

/// Keeps telemetry running. Dropping it exports metrics a last time, ends
/// the trace pipeline and flushes the KVP queue (each within the flush
/// timeout). Hold it in `main`.
#[derive(Debug, Default)]
#[must_use = "dropping the guard stops telemetry"]
pub struct Guard {
    kvp_handle: Option<tracing_kvp::KvpHandle>,
    sink: Option<Sink<Captured>>,
    writer: Option<WriterGuard<Captured>>,
    meter_provider: Option<SdkMeterProvider>,
    tracer_provider: Option<SdkTracerProvider>,
    flush_timeout: Duration,
    /// Why KVP is off although it was asked for (best-effort).
    kvp_unavailable: Option<kvp_sink::Error>,
    #[cfg(feature = "otlp")]
    otlp_failures: Option<crate::otlp::Failures>,
    #[cfg(feature = "otlp")]
    logger_provider: Option<opentelemetry_sdk::logs::SdkLoggerProvider>,
}

impl Guard {
    /// Exports metrics and spans now and waits for the KVP queue, at most
    /// `timeout` for the queue. Returns whether everything arrived.
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
        let mut ok = true;
        if let Some(h) = &self.kvp_handle {
            h.flush_suppressed();
        }
        if let Some(p) = &self.meter_provider {
            ok &= p.force_flush().is_ok();
        }
        if let Some(p) = &self.tracer_provider {
            ok &= p.force_flush().is_ok();
        }
        #[cfg(feature = "otlp")]
        if let Some(p) = &self.logger_provider {
            ok &= p.force_flush().is_ok();
        }
        if let Some(sink) = &self.sink {
            ok &= sink.flush(timeout);
        }
        ok
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
        self.sink.as_ref().map(Sink::stats)
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
        self.writer.is_some()
    }

    /// Why KVP is off although it was on: the pool could not be opened and
    /// KVP was not [required](TelemetryBuilder::require_kvp). `None` when
    /// KVP runs, or was turned off.
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

    /// OTLP exports (traces and metrics) that failed so far; each failure
    /// is also reported on stderr, at most once a minute. `None` without
    /// OTLP.
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
        self.otlp_failures
            .as_ref()
            .map(crate::otlp::Failures::count)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // Metrics first: their last export goes through the KVP writer,
        // which is stopped last.
        if let Some(p) = self.meter_provider.take() {
            let _ = p.shutdown_with_timeout(self.flush_timeout);
        }
        if let Some(p) = self.tracer_provider.take() {
            let _ = p.shutdown_with_timeout(self.flush_timeout);
        }
        #[cfg(feature = "otlp")]
        if let Some(p) = self.logger_provider.take() {
            let _ = p.shutdown_with_timeout(self.flush_timeout);
        }
        if let Some(h) = self.kvp_handle.take() {
            h.flush_suppressed();
        }
        drop(self.writer.take());
    }
}

/// The key of the cap's marker record, in the same layout as every other
/// record: `<prefix>|<vm_id>|WARN|kvp-sink|dropped-m`, parts sanitised.
fn marker_key(prefix: &str, vm_id: &str) -> Result<String, Error> {
    let keys = kvp_codec::KeyLayout::new(
        String::new(),
        prefix,
        vm_id,
        &kvp_codec::Limits::SAFE,
        1,
        "dropped-m".len(),
    )
    .map_err(|source| Error::KeyLayout {
        prefix: prefix.to_owned(),
        vm_id: vm_id.to_owned(),
        source,
    })?;
    let mut key = String::new();
    // Writing into a String cannot fail.
    let _ = keys.write(&mut key, kvp_codec::Level::Warn, "kvp-sink", "dropped-m");
    Ok(key)
}

/// `prefix` as a crate name: `-` becomes `_`, and what a target cannot
/// hold is left out (`my-agent` gives `my_agent`).
fn crate_name_of(prefix: &str) -> String {
    prefix
        .chars()
        .filter_map(|c| match c {
            '-' => Some('_'),
            c if c.is_ascii_alphanumeric() || c == '_' => Some(c),
            _ => None,
        })
        .collect()
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
