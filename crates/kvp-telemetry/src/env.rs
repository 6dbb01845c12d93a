//! Environment overrides, all under one prefix, each validated.
//!
//! | variable | meaning | values |
//! |---|---|---|
//! | `KVP_TELEMETRY_KVP` | write to the KVP pool at all | `on`/`off` (`1`/`0`, `true`/`false`) |
//! | `KVP_TELEMETRY_POOL` | pool file | a path |
//! | `KVP_TELEMETRY_VM_ID` | vm_id in keys | text without `\|` |
//! | `KVP_TELEMETRY_QUEUE` | queue size, entries | 1 to 1,000,000 |
//! | `KVP_TELEMETRY_CAP` | record cap | 1 to 1,000,000, or `none` |
//! | `KVP_TELEMETRY_RATE` | per-callsite rate limit | `<burst>/<per second>` such as `10/1`, or `off` |
//! | `KVP_TELEMETRY_KVP_LOG` | the KVP layer's filter | `EnvFilter` directives |
//! | `KVP_TELEMETRY_LOG` | the stderr layer's filter | `EnvFilter` directives |
//! | `KVP_TELEMETRY_TRACE_LOG` | the OpenTelemetry trace layer's filter | `EnvFilter` directives |

use crate::error::Error;

/// The prefix of every override.
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

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn invalid(var: &str, value: &str, expected: &'static str) -> Error {
    Error::InvalidEnv {
        var: var.to_owned(),
        value: value.to_owned(),
        expected,
    }
}

/// `KVP_TELEMETRY_KVP`, if set.
pub(crate) fn kvp_enabled() -> Result<Option<bool>, Error> {
    let Some(v) = var(ENV_KVP) else {
        return Ok(None);
    };
    match v.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Ok(Some(true)),
        "off" | "0" | "false" | "no" => Ok(Some(false)),
        _ => Err(invalid(ENV_KVP, &v, "on or off")),
    }
}

pub(crate) fn pool() -> Option<String> {
    var(ENV_POOL)
}

pub(crate) fn vm_id() -> Result<Option<String>, Error> {
    match var(ENV_VM_ID) {
        Some(v) if v.contains('|') || v.chars().any(char::is_control) => Err(invalid(
            ENV_VM_ID,
            &v,
            "text without `|` or control characters",
        )),
        other => Ok(other),
    }
}

fn count(name: &str, v: &str) -> Result<u64, Error> {
    v.trim()
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=MAX).contains(n))
        .ok_or_else(|| invalid(name, v, "a whole number from 1 to 1000000"))
}

pub(crate) fn queue() -> Result<Option<usize>, Error> {
    var(ENV_QUEUE)
        .map(|v| count(ENV_QUEUE, &v).map(|n| n as usize))
        .transpose()
}

/// `Some(None)` is `none`: no cap.
pub(crate) fn cap() -> Result<Option<Option<u64>>, Error> {
    let Some(v) = var(ENV_CAP) else {
        return Ok(None);
    };
    if v.trim().eq_ignore_ascii_case("none") {
        return Ok(Some(None));
    }
    count(ENV_CAP, &v)
        .map(|n| Some(Some(n)))
        .map_err(|_| invalid(ENV_CAP, &v, "a whole number from 1 to 1000000, or none"))
}

/// `Some(None)` is `off`.
pub(crate) fn rate() -> Result<Option<Option<tracing_kvp::RateLimit>>, Error> {
    let Some(v) = var(ENV_RATE) else {
        return Ok(None);
    };
    if v.trim().eq_ignore_ascii_case("off") {
        return Ok(Some(None));
    }
    v.parse().map(|r| Some(Some(r))).map_err(|_| {
        invalid(
            ENV_RATE,
            &v,
            "<burst>/<records per second> such as 10/1, or off",
        )
    })
}

pub(crate) fn trace_filter() -> Option<String> {
    var(ENV_TRACE_LOG)
}

pub(crate) fn stderr_filter() -> Option<String> {
    var(ENV_LOG)
}
