//! The provisioning report: the `PROVISIONING_REPORT` record azure-init and
//! cloud-init upsert and the host relays, in their encoding.
//!
//! The value is `key=value` fields joined by `|`, written as CSV with `|`
//! as the delimiter: a field that holds `|`, `"` or a line break is wrapped
//! in `"`, its inner `"` doubled; other fields are bare. The order is
//! azure-init's: `result`, `reason` (failures), `agent`, then for a failure
//! its supporting data, `pps_type`, `vm_id`, `timestamp` (RFC 3339 with
//! nanoseconds and `+00:00`), then for a success its supporting data, and
//! `documentation_url` last when there is one (failures have
//! <https://aka.ms/linuxprovisioningerror> unless told otherwise).

use std::fmt::{self, Write as _};
use std::time::SystemTime;

/// The key both agents upsert their report under.
pub const PROVISIONING_REPORT_KEY: &str = kvp_codec::schema::PROVISIONING_REPORT;

/// The name of the event field that carries a report (azure-init's
/// convention). An event with this field upserts [`PROVISIONING_REPORT_KEY`]
/// with the field's value instead of appending a record.
pub const HEALTH_REPORT_FIELD: &str = "health_report";

/// The documentation link azure-init and cloud-init give with a failure.
pub const DEFAULT_DOCUMENTATION_URL: &str = "https://aka.ms/linuxprovisioningerror";

/// The vm_id of a report that was given none; the KVP layer writes its own
/// vm_id in its place.
pub const UNKNOWN_REPORT_VM_ID: &str = "00000000-0000-0000-0000-000000000000";

/// A success or failure report, encoded as azure-init encodes it (see the
/// module docs); values are scrubbed of secrets first
/// ([`telemetry_redact`]).
///
/// ```
/// use tracing_kvp::ProvisioningReport;
///
/// let report = ProvisioningReport::failure("my-agent/1.0", "ssh|config \"bad\"")
///     .vm_id("0f3c")
///     .field("step", "ssh")
///     .at(std::time::UNIX_EPOCH);
/// assert_eq!(
///     report.to_string(),
///     "result=error|\"reason=ssh|config \"\"bad\"\"\"|agent=my-agent/1.0|step=ssh|pps_type=None\
///      |vm_id=0f3c|timestamp=1970-01-01T00:00:00.000000000+00:00\
///      |documentation_url=https://aka.ms/linuxprovisioningerror"
/// );
/// // Emit it through any subscriber with the KVP layer:
/// tracing::info!(health_report = %report);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProvisioningReport {
    failed: bool,
    reason: Option<String>,
    agent: String,
    supporting: Vec<(String, String)>,
    pps_type: String,
    vm_id: Option<String>,
    documentation_url: Option<String>,
    at: Option<SystemTime>,
}

impl ProvisioningReport {
    /// `result=success|agent=<agent>|...`.
    pub fn success(agent: &str) -> Self {
        ProvisioningReport {
            failed: false,
            reason: None,
            agent: scrub(agent),
            supporting: Vec::new(),
            pps_type: "None".to_owned(),
            vm_id: None,
            documentation_url: None,
            at: None,
        }
    }

    /// `result=error|reason=<reason>|agent=<agent>|...`, with
    /// [`DEFAULT_DOCUMENTATION_URL`].
    pub fn failure(agent: &str, reason: &str) -> Self {
        ProvisioningReport {
            failed: true,
            reason: Some(scrub(reason)),
            documentation_url: Some(DEFAULT_DOCUMENTATION_URL.to_owned()),
            ..ProvisioningReport::success(agent)
        }
    }

    /// Adds supporting data `key=value`. The value is scrubbed of secrets,
    /// and is `<redacted>` when the key names one. The keys `vm_id`,
    /// `pps_type` and `documentation_url` set those fields instead.
    ///
    /// ```
    /// use tracing_kvp::ProvisioningReport;
    ///
    /// let report = ProvisioningReport::failure("a/1", "mount: password=hunter2")
    ///     .field("api_key", "k")
    ///     .vm_id("vm-1")
    ///     .at(std::time::UNIX_EPOCH);
    /// assert_eq!(
    ///     report.to_string(),
    ///     "result=error|reason=mount: password=<redacted>|agent=a/1|api_key=<redacted>\
    ///      |pps_type=None|vm_id=vm-1|timestamp=1970-01-01T00:00:00.000000000+00:00\
    ///      |documentation_url=https://aka.ms/linuxprovisioningerror"
    /// );
    /// ```
    pub fn field(mut self, key: &str, value: impl fmt::Display) -> Self {
        let value = value.to_string();
        match key {
            "vm_id" => return self.vm_id(&value),
            "pps_type" => return self.pps_type(&value),
            "documentation_url" => return self.documentation_url(Some(&value)),
            _ => {}
        }
        let value = if telemetry_redact::is_secret_name(key) {
            telemetry_redact::REDACTED.to_owned()
        } else {
            scrub(&value)
        };
        self.supporting.push((key.to_owned(), value));
        self
    }

    /// The VM's id (default: the KVP layer writes its own).
    pub fn vm_id(mut self, vm_id: &str) -> Self {
        self.vm_id = Some(vm_id.to_owned());
        self
    }

    /// The provisioning type (default `None`, as azure-init writes it).
    pub fn pps_type(mut self, pps_type: &str) -> Self {
        self.pps_type = pps_type.to_owned();
        self
    }

    /// The documentation link, or none (a failure's default is
    /// [`DEFAULT_DOCUMENTATION_URL`]).
    pub fn documentation_url(mut self, url: Option<&str>) -> Self {
        self.documentation_url = url.map(str::to_owned);
        self
    }

    /// Sets the timestamp (default: when it is formatted).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.at = Some(time);
        self
    }
}

fn scrub(text: &str) -> String {
    telemetry_redact::scrub(text).into_owned()
}

impl fmt::Display for ProvisioningReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut fields: Vec<(&str, &str)> = Vec::new();
        fields.push(("result", if self.failed { "error" } else { "success" }));
        if let Some(reason) = &self.reason {
            fields.push(("reason", reason));
        }
        fields.push(("agent", &self.agent));
        let supporting = self
            .supporting
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        if self.failed {
            fields.extend(supporting.clone());
        }
        fields.push(("pps_type", &self.pps_type));
        fields.push((
            "vm_id",
            self.vm_id.as_deref().unwrap_or(UNKNOWN_REPORT_VM_ID),
        ));
        let time =
            humantime::format_rfc3339_nanos(self.at.unwrap_or_else(SystemTime::now)).to_string();
        let time = time
            .strip_suffix('Z')
            .map_or(time.clone(), |t| format!("{t}+00:00"));
        fields.push(("timestamp", &time));
        if !self.failed {
            fields.extend(supporting);
        }
        if let Some(url) = &self.documentation_url {
            fields.push(("documentation_url", url));
        }
        for (i, (k, v)) in fields.into_iter().enumerate() {
            if i > 0 {
                f.write_char('|')?;
            }
            write_csv_field(f, k, v)?;
        }
        Ok(())
    }
}

/// `key=value` as one CSV field with `|` as the delimiter: quoted when it
/// holds `|`, `"` or a line break, with inner `"` doubled.
fn write_csv_field(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    let needs_quotes = |s: &str| s.contains(['|', '"', '\n', '\r']);
    if !needs_quotes(key) && !needs_quotes(value) {
        return write!(f, "{key}={value}");
    }
    f.write_char('"')?;
    for part in [key, "=", value] {
        for c in part.chars() {
            if c == '"' {
                f.write_char('"')?;
            }
            f.write_char(c)?;
        }
    }
    f.write_char('"')
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
