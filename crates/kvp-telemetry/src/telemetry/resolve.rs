//! The user's options merged with the environment, with where each value
//! came from, and the filters and names derived from them.

use std::io::Write as _;

use tracing_subscriber::filter::EnvFilter;

use super::TelemetryBuilder;
use crate::error::Error;

/// Where a setting's value came from, so that a message about the value
/// names the place to fix it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Source {
    /// The builder's method of this name (or its default).
    #[default]
    Builder,
    /// The environment variable of this name.
    Env(String),
}

impl Source {
    /// The variable's name, or "the builder's `method`()".
    pub(super) fn describe(&self, method: &str) -> String {
        match self {
            Source::Env(var) => var.clone(),
            Source::Builder => format!("the builder's {method}()"),
        }
    }
}

/// The sources of the settings whose errors name them.
#[derive(Clone, Debug, Default)]
pub(super) struct Sources {
    pub(super) vm_id: Source,
    pub(super) stderr_filter: Source,
    #[cfg(feature = "otel")]
    pub(super) trace_filter: Source,
}

impl TelemetryBuilder {
    /// The KVP filter's directives: as given, or the default.
    pub(super) fn kvp_directives(&self) -> String {
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

    pub(super) fn apply_env(&mut self) -> Result<(), Error> {
        let env = &self.env;
        if let Some(on) = env.kvp_enabled()? {
            self.kvp = on;
        }
        if let Some(pool) = env.pool() {
            self.pool = pool;
        }
        if let Some(vm_id) = env.vm_id()? {
            self.vm_id = Some(vm_id);
            self.sources.vm_id = Source::Env(env.name("VM_ID"));
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
            self.sources.stderr_filter = Source::Env(env.name("LOG"));
        } else if let Some(filter) = std::env::var("RUST_LOG")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            // The convention of most Rust programs, below our own variable.
            self.stderr_filter = filter;
            self.sources.stderr_filter = Source::Env("RUST_LOG".to_owned());
        }
        #[cfg(feature = "otel")]
        if let Some(filter) = env.trace_filter()? {
            self.otel.trace_filter = filter;
            self.sources.trace_filter = Source::Env(env.name("TRACE_LOG"));
        }
        Ok(())
    }

    /// Where the stderr filter came from, for the line that reports it
    /// invalid.
    pub(super) fn stderr_source(&self) -> String {
        self.sources.stderr_filter.describe("stderr_filter")
    }

    /// The OTLP endpoint asked for (the builder's, else
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`; none with `OTEL_SDK_DISABLED=true`),
    /// checked: one that cannot work is said once on stderr and kept for
    /// the guard to tell, and telemetry goes on without it.
    #[cfg(feature = "otlp")]
    pub(super) fn otlp_settings(&self) -> OtlpSettings {
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
pub(super) struct OtlpSettings {
    pub(super) ready: Option<crate::otlp::Otlp>,
    pub(super) state: Option<crate::otlp::OtlpState>,
}

/// Says once on stderr that OTLP export is off, and why.
#[cfg(feature = "otlp")]
pub(super) fn otlp_refused(e: &crate::otlp::OtlpError) {
    let _ = writeln!(
        std::io::stderr(),
        "kvp-telemetry: OTLP export is off, telemetry goes on without it: {}",
        kvp_sink::WithCauses(e)
    );
}

/// Colour on stderr only when it is a terminal and `NO_COLOR` is unset or
/// empty (<https://no-color.org>): a journal or a file gets plain text.
pub(super) fn stderr_colour() -> bool {
    use std::io::IsTerminal as _;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// A layer's filter from `directives`; invalid ones are reported on stderr
/// and replaced by `default`, never a panic.
pub(super) fn layer_filter(layer: &str, directives: &str, default: &str) -> EnvFilter {
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
