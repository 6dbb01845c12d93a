//! The plan: what a build will make, decided from the options and the
//! environment before anything is opened or installed, so that a call
//! that cannot succeed leaves no pool file, thread or hook behind.

use telemetry_redact::DenyList;

use super::TelemetryBuilder;
use crate::error::Error;

/// The decisions every output of one build shares.
pub(super) struct Plan {
    /// The vm_id in every key: the builder's or the environment's, else the
    /// machine's, else [`tracing_kvp::UNKNOWN_VM_ID`].
    pub(super) vm_id: String,
    /// One redaction policy, built once, for every output.
    pub(super) policy: DenyList,
    /// Whether the panic hook goes in.
    pub(super) panic_hook: bool,
    /// Whether the writers flush at `exit`.
    pub(super) at_exit: bool,
    /// The OTLP export asked for, checked.
    #[cfg(feature = "otlp")]
    pub(super) otlp: super::resolve::OtlpSettings,
}

impl TelemetryBuilder {
    /// Merges the environment (unless turned off), then decides the plan;
    /// `process_wide` (from `init`) turns on the hooks that are on by
    /// default only there.
    pub(super) fn plan(&mut self, process_wide: bool) -> Result<Plan, Error> {
        if self.use_env {
            self.apply_env()?;
        }
        Ok(Plan {
            vm_id: self
                .vm_id
                .clone()
                .or_else(tracing_kvp::detect_vm_id)
                .unwrap_or_else(|| tracing_kvp::UNKNOWN_VM_ID.to_owned()),
            policy: self
                .redaction
                .clone()
                .unwrap_or_default()
                .allowing(&self.allowed),
            panic_hook: self.panic_hook.unwrap_or(process_wide),
            at_exit: self.flush_at_exit.unwrap_or(process_wide),
            #[cfg(feature = "otlp")]
            otlp: self.otlp_settings(),
        })
    }
}
