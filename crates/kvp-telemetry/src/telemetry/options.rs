//! What the user says: the builder's setters. Each only records the
//! choice; [`resolve`](super::resolve) merges the environment in and
//! [`stack`](super::stack) builds from the result.

use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::filter::EnvFilter;

use super::{RateLimit, TelemetryBuilder};
use crate::env;

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
    /// stderr, and [`Guard::kvp_enabled`](crate::Guard::kvp_enabled) and [`Guard::kvp_unavailable`](crate::Guard::kvp_unavailable)
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

    /// The pool file (default [`DEFAULT_POOL`](crate::DEFAULT_POOL); `KVP_TELEMETRY_POOL`).
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
}
