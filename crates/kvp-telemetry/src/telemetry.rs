//! `Telemetry::builder(prefix)...init()`: the one call.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use kvp_sink::WriterBuilder;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use crate::env;
use crate::error::Error;
use crate::exporter::KvpMetricExporter;
use crate::guard::Guard;
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
    pool_mode: u32,
    vm_id: Option<String>,
    queue: usize,
    cap: Option<u64>,
    reserve_percent: u8,
    rate_limit: Option<RateLimit>,
    /// Set by `kvp_filter`; `None` for the default (`app_targets` at INFO,
    /// the rest at WARN).
    kvp_filter: Option<String>,
    /// Set by `kvp_env_filter`: a ready filter, used as it is.
    kvp_filter_object: Option<EnvFilter>,
    /// Set by `stderr_env_filter`: a ready filter, used as it is.
    stderr_filter_object: Option<EnvFilter>,
    /// `None`: derived from the prefix, when it reads as a crate name.
    app_targets: Option<Vec<String>>,
    stderr: bool,
    stderr_filter: String,
    trace_filter: String,
    metrics: bool,
    metrics_interval: Duration,
    meter_provider: Option<SdkMeterProvider>,
    tracer_provider: Option<SdkTracerProvider>,
    /// `None`: on for `init`, off for `build` and `layer`.
    panic_hook: Option<bool>,
    /// `None`: on for `init`, off for `build` and `layer`.
    flush_at_exit: Option<bool>,
    flush_on_signals: bool,
    /// Whether environment overrides are read at all.
    use_env: bool,
    /// The redaction policy, when given; else the built-in deny list.
    redaction: Option<telemetry_redact::DenyList>,
    /// Names never redacted, on top of the policy.
    allowed: Vec<String>,
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
            app_targets: None,
            kvp_filter_object: None,
            stderr_filter_object: None,
            prefix,
            env: env::Env::new(env::DEFAULT_PREFIX),
            kvp: true,
            require_kvp: false,
            pool: PathBuf::from(DEFAULT_POOL),
            create_dir: false,
            pool_mode: kvp_sink::DEFAULT_POOL_MODE,
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
            panic_hook: None,
            flush_at_exit: None,
            flush_on_signals: false,
            use_env: true,
            redaction: None,
            allowed: Vec::new(),
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

    /// The mode a new pool file is created with, less the umask (default
    /// 0644: owner read-write, others read, as `hv_kvp_daemon` creates its
    /// pools). An existing pool keeps its mode.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .pool_mode(0o600) // the owner only
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool_mode(mut self, mode: u32) -> Self {
        self.pool_mode = mode;
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
    /// gives `my_agent`) when it reads as one; a prefix that does not
    /// (`azure-init-0.1.1`, `Contoso Agent`) gives none, said once on
    /// stderr, and the default filter records WARN and above. List your
    /// crates when they are several, or when the prefix is not one.
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
        self.app_targets = Some(targets.into_iter().map(Into::into).collect());
        self
    }

    /// The KVP layer's filter as a ready [`EnvFilter`], used as it is: no
    /// environment variable overrides it (a provisioning report still
    /// passes it). For an agent that builds its own filters.
    ///
    /// ```
    /// use kvp_telemetry::EnvFilter;
    /// # let dir = tempfile::tempdir()?;
    /// let filter = EnvFilter::builder().parse("warn,azure_init=info")?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("azure-init")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .kvp_env_filter(filter)
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kvp_env_filter(mut self, filter: EnvFilter) -> Self {
        self.kvp_filter_object = Some(filter);
        self
    }

    /// The stderr layer's filter as a ready [`EnvFilter`], used as it is:
    /// no environment variable (`<PREFIX>_LOG`, `RUST_LOG`) overrides it.
    ///
    /// ```
    /// use kvp_telemetry::EnvFilter;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr_env_filter(EnvFilter::new("debug"))
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stderr_env_filter(mut self, filter: EnvFilter) -> Self {
        self.stderr_filter_object = Some(filter);
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
            let derived;
            let targets = match &self.app_targets {
                Some(targets) => targets.as_slice(),
                None => match crate_name_of(&self.prefix) {
                    Some(name) => {
                        derived = [name];
                        &derived[..]
                    }
                    None => {
                        let _ = writeln!(
                            std::io::stderr(),
                            "kvp-telemetry: the prefix {:?} is not a crate name, so the KVP \
                             filter records WARN and above only; name your crates with \
                             .app_targets([..]) to record their INFO spans and events",
                            self.prefix
                        );
                        &[]
                    }
                },
            };
            let mut directives = tracing_kvp::DEFAULT_DIRECTIVE.to_owned();
            for target in targets {
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

    /// Record panics and flush the queue before the process dies. The
    /// default is on for [`init`](Self::init), which installs the
    /// subscriber for the whole process, and off for
    /// [`build`](Self::build) and [`layer`](Self::layer), which install
    /// nothing process-wide unless asked.
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
        self.panic_hook = Some(on);
        self
    }

    /// Flush when the program calls `std::process::exit` while the guard
    /// lives (no destructor runs then): metrics exported, spans still open
    /// written with `ended_by=exit`, the queue flushed, within the flush
    /// timeout. It registers one `atexit` function for the process. The
    /// default is on for [`init`](Self::init), off for
    /// [`build`](Self::build) and [`layer`](Self::layer).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .pool_path(dir.path().join(".kvp_pool_1"))
    ///     .flush_at_exit(true) // build() asks for it explicitly
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_at_exit(mut self, on: bool) -> Self {
        self.flush_at_exit = Some(on);
        self
    }

    /// Make SIGTERM (systemd's stop) and SIGINT flush before they end the
    /// process (default off): metrics exported, spans still open written
    /// with `ended_by=SIGTERM`, the rate limit's counts and the queue
    /// flushed, within the flush timeout; then the signal takes its
    /// default course, so the process still ends by it. Process-wide; a
    /// signal the application already handles or ignores is left alone.
    ///
    /// ```no_run
    /// let _guard = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .flush_on_signals(true)
    ///     .init()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_on_signals(mut self, on: bool) -> Self {
        self.flush_on_signals = on;
        self
    }

    /// Names that are never redacted, though a deny-list entry matches
    /// them: a team's known non-secrets (`password_provisioners`,
    /// `token_count`), compared whole after normalising case and
    /// separators. Applies to every exit: KVP, stderr, OTLP traces, logs
    /// and metrics.
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .allow_fields(["password_provisioners"])
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_fields<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.allowed.extend(names.into_iter().map(Into::into));
        self
    }

    /// The redaction policy for every exit (default: the built-in
    /// [`telemetry_redact::DENY_LIST`]), built once and handed to the KVP
    /// layer, the stderr layer, the metric records, and the OTLP traces,
    /// logs and metrics. [`allow_fields`](Self::allow_fields) adds to it.
    ///
    /// ```
    /// use kvp_telemetry::telemetry_redact::{DENY_LIST, DenyList};
    /// let policy = DenyList::new(DENY_LIST.iter().copied().chain(["tenant_id"]));
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .redaction(policy)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn redaction(mut self, policy: telemetry_redact::DenyList) -> Self {
        self.redaction = Some(policy);
        self
    }

    /// Read the environment overrides at all (default on). Off, only what
    /// the builder says counts: no `<PREFIX>_*` variable, no `RUST_LOG`
    /// (the variables of OpenTelemetry's own SDK, `OTEL_*`, are still its
    /// own to read), for an agent that owns its configuration.
    ///
    /// ```
    /// let (_dispatch, _guard) = kvp_telemetry::Telemetry::builder("my-agent")
    ///     .env_overrides(false) // KVP_TELEMETRY_KVP=off no longer turns KVP off
    ///     .kvp(false)
    ///     .stderr(false)
    ///     .build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn env_overrides(mut self, on: bool) -> Self {
        self.use_env = on;
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
        } else if let Some(filter) = std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            // The convention of most Rust programs, below our own variable.
            self.stderr_filter = filter;
            self.from_env.push("RUST_LOG");
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

    /// The stack and its guard; `process_wide` (from `init`) turns on the
    /// hooks that are on by default only there.
    fn assemble<S>(mut self, process_wide: bool) -> Result<(TelemetryLayer<S>, Guard), Error>
    where
        S: Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
    {
        if self.use_env {
            self.apply_env()?;
        }
        let panic_hook = self.panic_hook.unwrap_or(process_wide);
        let at_exit = self.flush_at_exit.unwrap_or(process_wide);
        // Everything that can be refused is checked before anything is
        // opened or installed: a failing call leaves no pool file, thread
        // or panic hook behind.
        #[cfg(feature = "otlp")]
        let otlp = self.otlp_settings();
        let resource = resource(&self.prefix);
        // One policy, built once, for every exit.
        let policy = self
            .redaction
            .clone()
            .unwrap_or_default()
            .allowing(&self.allowed);
        let mut layers: Vec<TelemetryLayer<S>> = Vec::new();
        let mut guard = Guard::default();
        guard.flush_timeout = self.flush_timeout;

        if self.stderr {
            let filter = match self.stderr_filter_object.take() {
                Some(filter) => filter,
                None => layer_filter(
                    &format!("stderr filter from {}", self.stderr_source()),
                    &self.stderr_filter,
                    DEFAULT_STDERR_FILTER,
                ),
            };
            layers.push(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(stderr_colour())
                    .fmt_fields(crate::stderr::RedactedFields {
                        deny: policy.clone(),
                    })
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
            let directives = if self.kvp_filter_object.is_some() {
                tracing_kvp::DEFAULT_DIRECTIVE.to_owned()
            } else {
                self.kvp_directives()
            };
            let mut builder = tracing_kvp::KvpLayer::builder(self.prefix.clone())
                .vm_id(vm_id.clone())
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
                    layers.push(layer.with_filter(filter).boxed());
                    guard.kvp = Some(kvp);
                }
                Err(tracing_kvp::OpenError::Pool(e)) if !self.require_kvp => {
                    // Best-effort: one line, then on without KVP.
                    let _ = writeln!(
                        std::io::stderr(),
                        "kvp-telemetry: KVP is unavailable, continuing without it: {}",
                        crate::error::WithCauses(&e)
                    );
                    guard.kvp_unavailable = Some(e);
                }
                Err(tracing_kvp::OpenError::Pool(e)) => return Err(Error::Pool(e)),
                Err(tracing_kvp::OpenError::Layer(tracing_kvp::BuildError::VmIdTooLong {
                    vm_id,
                })) if self.from_env.contains(&"VM_ID") => {
                    return Err(Error::InvalidEnv {
                        var: self.env.name("VM_ID"),
                        value: vm_id,
                        expected: "a vm_id short enough to leave room in each key for the \
                                   level, a name and an id",
                    });
                }
                Err(tracing_kvp::OpenError::Layer(e)) => return Err(Error::Layer(e)),
                Err(e) => return Err(Error::Kvp(e)),
            }
        }

        if self.metrics {
            let provider = match self.meter_provider.take() {
                Some(p) => Some(p),
                None => {
                    let mut b = SdkMeterProvider::builder().with_resource(resource.clone());
                    let mut any = false;
                    if let Some(sink) = guard.kvp.as_ref().and_then(tracing_kvp::KvpGuard::sink) {
                        let exporter = KvpMetricExporter::try_new(sink, &self.prefix, &vm_id)
                            .map_err(|source| Error::KeyLayout {
                                prefix: self.prefix.clone(),
                                vm_id: vm_id.clone(),
                                source,
                            })?
                            .with_redaction(policy.clone());
                        b = b.with_reader(
                            PeriodicReader::builder(exporter)
                                .with_interval(self.metrics_interval)
                                .build(),
                        );
                        any = true;
                    }
                    #[cfg(feature = "otlp")]
                    if let Some(otlp) = &otlp.ready {
                        match otlp.metric_reader(self.metrics_interval) {
                            Ok(reader) => {
                                b = b.with_reader(reader);
                                any = true;
                            }
                            Err(e) => otlp_refused(&e),
                        }
                    }
                    any.then(|| b.build())
                }
            };
            if let Some(provider) = provider {
                layers.push(
                    tracing_otel_metrics::MetricsLayer::builder(provider.clone())
                        .redaction(policy.clone())
                        .build()
                        .boxed(),
                );
                guard.meter_provider = Some(provider);
            }
        }

        #[cfg(feature = "otlp")]
        if self.tracer_provider.is_none()
            && let Some(otlp) = &otlp.ready
        {
            match otlp.tracer_provider(resource.clone(), policy.clone()) {
                Ok(provider) => self.tracer_provider = Some(provider),
                Err(e) => otlp_refused(&e),
            }
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
        if let Some(otlp) = &otlp.ready {
            // Events as log records, under the trace filter: the same
            // events a collector sees as span events.
            match otlp.logger_provider(resource.clone()) {
                Ok(provider) => {
                    let filter = self.trace_layer_filter();
                    layers.push(
                        crate::otlp_logs::LogsLayer::new(&provider, &self.prefix, policy.clone())
                            .with_filter(filter)
                            .boxed(),
                    );
                    guard.logger_provider = Some(provider);
                }
                Err(e) => otlp_refused(&e),
            }
        }
        #[cfg(feature = "otlp")]
        {
            guard.otlp = otlp.state;
        }
        // Last, once nothing else can fail.
        if at_exit || self.flush_on_signals {
            // Registered after the KVP layer's own hook, so it runs first:
            // the metrics' last export goes through the KVP writer.
            let providers = guard.providers();
            let timeout = self.flush_timeout;
            guard.exit_hook = Some(kvp_sink::on_exit(move |_| {
                providers.finish(timeout / 2, false);
            }));
        }
        if panic_hook && let Some(sink) = guard.kvp.as_ref().and_then(tracing_kvp::KvpGuard::sink) {
            crate::panic::install(sink, self.flush_timeout);
        }
        Ok((layers.boxed(), guard))
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

    /// Where the stderr filter came from, for the line that reports it
    /// invalid.
    fn stderr_source(&self) -> String {
        if self.from_env.contains(&"LOG") {
            self.env.name("LOG")
        } else if self.from_env.contains(&"RUST_LOG") {
            "RUST_LOG".to_owned()
        } else {
            "the builder's stderr_filter()".to_owned()
        }
    }

    /// The OTLP endpoint asked for (the builder's, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; none with `OTEL_SDK_DISABLED=true`),
    /// checked: one that cannot work is said once on stderr and kept for
    /// the guard to tell, and telemetry goes on without it.
    #[cfg(feature = "otlp")]
    fn otlp_settings(&self) -> OtlpSettings {
        use crate::otlp::{Otlp, OtlpState};
        if crate::otlp::sdk_disabled() {
            return OtlpSettings::default();
        }
        let asked = match &self.otlp {
            Some(endpoint) => Some((endpoint.clone(), "the builder's otlp()".to_owned())),
            None => {
                crate::otlp::env_endpoint().map(|e| (e, "OTEL_EXPORTER_OTLP_ENDPOINT".to_owned()))
            }
        };
        let Some((endpoint, source)) = asked else {
            return OtlpSettings::default();
        };
        match Otlp::new(&endpoint, &source, self.flush_timeout) {
            Ok(otlp) => OtlpSettings {
                state: Some(OtlpState {
                    failures: otlp.failures.clone(),
                    endpoint: otlp.endpoint().to_owned(),
                    unavailable: None,
                }),
                ready: Some(otlp),
            },
            Err(e) => {
                otlp_refused(&e);
                OtlpSettings {
                    state: Some(OtlpState {
                        failures: crate::otlp::Failures::default(),
                        endpoint,
                        unavailable: Some(e),
                    }),
                    ready: None,
                }
            }
        }
    }
}

/// The OTLP export a build will set up, and what its guard keeps of it.
#[cfg(feature = "otlp")]
#[derive(Default)]
struct OtlpSettings {
    ready: Option<crate::otlp::Otlp>,
    state: Option<crate::otlp::OtlpState>,
}

/// Says once on stderr that OTLP export is off, and why.
#[cfg(feature = "otlp")]
fn otlp_refused(e: &crate::otlp::OtlpError) {
    let _ = writeln!(
        std::io::stderr(),
        "kvp-telemetry: OTLP export is off, telemetry goes on without it: {}",
        crate::error::WithCauses(e)
    );
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

/// `prefix` as a crate name (`my-agent` gives `my_agent`), when it reads as
/// one: a letter, then letters, digits, `-` and `_`. Anything else
/// (`azure-init-0.1.1`) names no crate, and no target is guessed from it.
fn crate_name_of(prefix: &str) -> Option<String> {
    let mut chars = prefix.chars();
    let crate_like = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    crate_like.then(|| prefix.replace('-', "_"))
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
