//! `Telemetry::builder(prefix)...init()`: the one call, as a pipeline:
//!
//! - `options.rs`: what the user says (the builder's setters);
//! - `resolve.rs`: the environment merged in, with where each value came
//!   from, and the filters derived from them;
//! - `stack.rs`: one function per output (stderr, KVP), put together with
//!   the guard and the hooks;
//! - `otel.rs` (feature `otel`): the OpenTelemetry outputs;
//! - the guard itself is `crate::guard`.

use std::path::PathBuf;
use std::time::Duration;

use tracing_subscriber::Layer;
use tracing_subscriber::filter::EnvFilter;

use crate::env;
pub use tracing_kvp::RateLimit;

mod options;
#[cfg(feature = "otel")]
mod otel;
mod plan;
mod resolve;
mod stack;

/// The pool guests write: pool 1.
pub const DEFAULT_POOL: &str = "/var/lib/hyperv/.kvp_pool_1";

/// The stderr layer's default filter.
pub const DEFAULT_STDERR_FILTER: &str = "info";

/// The OpenTelemetry trace layer's default filter.
#[cfg(feature = "otel")]
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
    #[cfg(feature = "otel")]
    otel: otel::OtelOptions,
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
    /// Where the values an error may name came from.
    sources: resolve::Sources,
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
            #[cfg(feature = "otel")]
            otel: otel::OtelOptions::default(),
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
            sources: resolve::Sources::default(),
        }
    }
}
