//! Environment overrides, all under one prefix, each validated. The
//! prefix is `KVP_TELEMETRY` unless the builder sets another
//! (`TelemetryBuilder::env_prefix`): with `AZURE_INIT`, the variables are
//! `AZURE_INIT_KVP`, `AZURE_INIT_KVP_LOG`, `AZURE_INIT_LOG` and so on. The
//! constants below are the default names. A value that is not UTF-8 is an
//! error that names the variable (a pool path may hold any bytes).
//!
//! | variable | meaning | values |
//! |---|---|---|
//! | `KVP_TELEMETRY_KVP` | write to the KVP pool at all | `on`/`off` (`1`/`0`, `true`/`false`) |
//! | `KVP_TELEMETRY_POOL` | pool file | a path |
//! | `KVP_TELEMETRY_VM_ID` | vm_id in keys | text without `\|` |
//! | `KVP_TELEMETRY_QUEUE` | queue size, entries | 1 to 65,536 |
//! | `KVP_TELEMETRY_CAP` | record cap | 1 to 1,000,000, or `none` |
//! | `KVP_TELEMETRY_RATE` | per-callsite rate limit | `<burst>/<per second>` such as `10/1`, or `off` |
//! | `KVP_TELEMETRY_KVP_LOG` | the KVP layer's filter | `EnvFilter` directives |
//! | `KVP_TELEMETRY_LOG` | the stderr layer's filter | `EnvFilter` directives |
//! | `KVP_TELEMETRY_TRACE_LOG` | the OpenTelemetry trace layer's filter | `EnvFilter` directives |

use crate::error::Error;

/// The prefix of every override, by default.
pub const ENV_PREFIX: &str = "KVP_TELEMETRY_";

/// Turns KVP off (`off`, `0`, `false`) or on.
pub const ENV_KVP: &str = "KVP_TELEMETRY_KVP";
/// The pool file path.
pub const ENV_POOL: &str = "KVP_TELEMETRY_POOL";
/// The vm_id used in keys.
pub const ENV_VM_ID: &str = "KVP_TELEMETRY_VM_ID";
/// The writer's queue size.
pub const ENV_QUEUE: &str = "KVP_TELEMETRY_QUEUE";
/// The record cap.
pub const ENV_CAP: &str = "KVP_TELEMETRY_CAP";
/// The per-callsite rate limit.
pub const ENV_RATE: &str = "KVP_TELEMETRY_RATE";
/// The KVP layer's filter directives.
pub const ENV_KVP_LOG: &str = "KVP_TELEMETRY_KVP_LOG";
/// The OpenTelemetry trace layer's filter directives.
pub const ENV_TRACE_LOG: &str = "KVP_TELEMETRY_TRACE_LOG";
/// The stderr layer's filter directives.
pub const ENV_LOG: &str = "KVP_TELEMETRY_LOG";

const MAX: u64 = 1_000_000;

/// The default prefix, without its `_`.
pub(crate) const DEFAULT_PREFIX: &str = "KVP_TELEMETRY";

/// The overrides under one prefix (`KVP_TELEMETRY` unless the builder
/// says otherwise, see `TelemetryBuilder::env_prefix`).
#[derive(Clone, Debug)]
pub(crate) struct Env {
    prefix: String,
}

impl Env {
    pub(crate) fn new(prefix: &str) -> Env {
        Env {
            prefix: prefix.trim_end_matches('_').to_owned(),
        }
    }

    /// The variable `<prefix>_<suffix>`.
    pub(crate) fn name(&self, suffix: &str) -> String {
        format!("{}_{suffix}", self.prefix)
    }

    /// The variable's value when set and not blank. A value that is not
    /// UTF-8 is an error that names the variable, never taken for unset.
    fn var(&self, suffix: &str) -> Result<Option<String>, Error> {
        let name = self.name(suffix);
        match std::env::var_os(&name) {
            None => Ok(None),
            Some(v) => match v.into_string() {
                Ok(v) if v.trim().is_empty() => Ok(None),
                Ok(v) => Ok(Some(v)),
                Err(raw) => Err(invalid(
                    &name,
                    &raw.to_string_lossy(),
                    "UTF-8 text (the value has bytes that are not)",
                )),
            },
        }
    }

    /// `<prefix>_KVP`, if set.
    pub(crate) fn kvp_enabled(&self) -> Result<Option<bool>, Error> {
        let Some(v) = self.var("KVP")? else {
            return Ok(None);
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "on" | "1" | "true" | "yes" => Ok(Some(true)),
            "off" | "0" | "false" | "no" => Ok(Some(false)),
            _ => Err(invalid(&self.name("KVP"), &v, "on or off")),
        }
    }

    /// `<prefix>_POOL`: a path, which may hold bytes that are not UTF-8.
    pub(crate) fn pool(&self) -> Option<std::path::PathBuf> {
        std::env::var_os(self.name("POOL"))
            .filter(|v| !v.is_empty())
            .map(Into::into)
    }

    pub(crate) fn vm_id(&self) -> Result<Option<String>, Error> {
        match self.var("VM_ID")? {
            Some(v) if v.contains('|') || v.chars().any(char::is_control) => Err(invalid(
                &self.name("VM_ID"),
                &v,
                "text without `|` or control characters",
            )),
            other => Ok(other),
        }
    }

    fn count(&self, suffix: &str, v: &str) -> Result<u64, Error> {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX).contains(n))
            .ok_or_else(|| invalid(&self.name(suffix), v, "a whole number from 1 to 1000000"))
    }

    /// `<prefix>_QUEUE`: at most [`kvp_sink::MAX_QUEUE`] entries, whose
    /// slots are allocated at start.
    pub(crate) fn queue(&self) -> Result<Option<usize>, Error> {
        let Some(v) = self.var("QUEUE")? else {
            return Ok(None);
        };
        v.trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=kvp_sink::MAX_QUEUE).contains(n))
            .map(Some)
            .ok_or_else(|| invalid(&self.name("QUEUE"), &v, "a whole number from 1 to 65536"))
    }

    /// `Some(None)` is `none`: no cap.
    pub(crate) fn cap(&self) -> Result<Option<Option<u64>>, Error> {
        let Some(v) = self.var("CAP")? else {
            return Ok(None);
        };
        if v.trim().eq_ignore_ascii_case("none") {
            return Ok(Some(None));
        }
        self.count("CAP", &v).map(|n| Some(Some(n))).map_err(|_| {
            invalid(
                &self.name("CAP"),
                &v,
                "a whole number from 1 to 1000000, or none",
            )
        })
    }

    /// `Some(None)` is `off`.
    pub(crate) fn rate(&self) -> Result<Option<Option<tracing_kvp::RateLimit>>, Error> {
        let Some(v) = self.var("RATE")? else {
            return Ok(None);
        };
        if v.trim().eq_ignore_ascii_case("off") {
            return Ok(Some(None));
        }
        v.parse().map(|r| Some(Some(r))).map_err(|_| {
            invalid(
                &self.name("RATE"),
                &v,
                "<burst>/<records per second> such as 10/1, or off",
            )
        })
    }

    /// `<prefix>_KVP_LOG`'s name, for the KVP layer to read itself.
    pub(crate) fn kvp_log_var(&self) -> String {
        self.name("KVP_LOG")
    }

    #[cfg(feature = "otel")]
    pub(crate) fn trace_filter(&self) -> Result<Option<String>, Error> {
        self.var("TRACE_LOG")
    }

    pub(crate) fn stderr_filter(&self) -> Result<Option<String>, Error> {
        self.var("LOG")
    }
}

fn invalid(var: &str, value: &str, expected: &'static str) -> Error {
    Error::InvalidEnv {
        var: var.to_owned(),
        value: value.to_owned(),
        expected,
    }
}
