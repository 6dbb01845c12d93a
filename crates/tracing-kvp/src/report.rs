//! The provisioning report: the `PROVISIONING_REPORT` record azure-init and
//! cloud-init upsert, `|`-separated `key=value` pairs.

use std::fmt;
use std::time::SystemTime;

/// The key both agents upsert their report under.
pub const PROVISIONING_REPORT_KEY: &str = "PROVISIONING_REPORT";

/// The name of the event field that carries a report (azure-init's
/// convention). An event with this field upserts [`PROVISIONING_REPORT_KEY`]
/// with the field's value instead of appending a record.
pub const HEALTH_REPORT_FIELD: &str = "health_report";

/// A success or failure report in the `result=...|agent=...|...` format.
///
/// `|` and `=` inside keys and values, which would break the format, are
/// replaced by `_`; a trailing `timestamp=` (RFC 3339) is added.
///
/// ```
/// use tracing_kvp::ProvisioningReport;
///
/// let report = ProvisioningReport::failure("my-agent/1.0", "user creation failed: exit 1")
///     .field("vm_id", "0f3c")
///     .at(std::time::UNIX_EPOCH);
/// assert_eq!(
///     report.to_string(),
///     "result=error|reason=user creation failed: exit 1|agent=my-agent/1.0|vm_id=0f3c|timestamp=1970-01-01T00:00:00Z"
/// );
/// // Emit it through any subscriber with the KVP layer:
/// tracing::info!(health_report = %report);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisioningReport {
    pairs: Vec<(String, String)>,
    at: Option<SystemTime>,
}

impl ProvisioningReport {
    /// `result=success|agent=<agent>`.
    pub fn success(agent: &str) -> Self {
        ProvisioningReport::new(&[("result", "success"), ("agent", agent)])
    }

    /// `result=error|reason=<reason>|agent=<agent>`.
    pub fn failure(agent: &str, reason: &str) -> Self {
        ProvisioningReport::new(&[("result", "error"), ("reason", reason), ("agent", agent)])
    }

    fn new(pairs: &[(&str, &str)]) -> Self {
        let mut report = ProvisioningReport {
            pairs: Vec::new(),
            at: None,
        };
        for (k, v) in pairs {
            report = report.field(k, v);
        }
        report
    }

    /// Adds `key=value`. A reason is often an error message: the value is
    /// scrubbed of secrets first ([`telemetry_redact`]), and is
    /// `<redacted>` when the key names one.
    ///
    /// ```
    /// use tracing_kvp::ProvisioningReport;
    ///
    /// let report = ProvisioningReport::failure("a/1", "mount: password=hunter2")
    ///     .field("api_key", "k")
    ///     .at(std::time::UNIX_EPOCH);
    /// assert_eq!(
    ///     report.to_string(),
    ///     "result=error|reason=mount: password_<redacted>|agent=a/1|api_key=<redacted>|timestamp=1970-01-01T00:00:00Z"
    /// );
    /// ```
    pub fn field(mut self, key: &str, value: impl fmt::Display) -> Self {
        let clean = |s: &str| s.replace(['|', '='], "_");
        let value = if telemetry_redact::is_secret_name(key) {
            telemetry_redact::REDACTED.to_owned()
        } else {
            telemetry_redact::scrub(&value.to_string()).into_owned()
        };
        self.pairs.push((clean(key), clean(&value)));
        self
    }

    /// Sets the timestamp (default: when it is formatted).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.at = Some(time);
        self
    }
}

impl fmt::Display for ProvisioningReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, v) in &self.pairs {
            write!(f, "{k}={v}|")?;
        }
        let at = self.at.unwrap_or_else(SystemTime::now);
        write!(f, "timestamp={}", humantime::format_rfc3339_seconds(at))
    }
}

/// Picks the text of an event's [`HEALTH_REPORT_FIELD`] out of its fields.
#[derive(Default)]
pub(crate) struct ReportField(pub(crate) String);

impl tracing::field::Visit for ReportField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == HEALTH_REPORT_FIELD {
            self.0.push_str(value);
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        if field.name() == HEALTH_REPORT_FIELD {
            // Writing to a String cannot fail.
            let _ = fmt::Write::write_fmt(&mut self.0, format_args!("{value:?}"));
        }
    }
}
