//! A [`tracing`] layer that writes spans and events to the Hyper-V KVP pool
//! file, through [`kvp_sink`]'s writer thread.
//!
//! # Wire mapping
//!
//! Every record's key is `<prefix>|<vm_id>|<LEVEL>|<name>|<id>`
//! (azure-init's layout): `prefix` is yours, `vm_id` is detected from DMI
//! (see [`detect_vm_id`]), `LEVEL` is the span's or event's level, `name` is
//! the **event's target** or the **span's name**, `id` is unique across
//! threads, processes and reboots. `|` and NUL inside a part become `_`; a key
//! over the limit is shortened in the name, never in the id.
//!
//! | what | value |
//! |---|---|
//! | event | `time=<RFC 3339 ms> [span=<enclosing span id>] <fields>` |
//! | span close | `start=<t> end=<t> duration_ms=<ms> status=ok\|error [parent=<id>] <fields>` |
//! | span open (opt-in) | key id `<id>-open`; `start=<t> status=open [parent=<id>] <fields>` |
//! | span still open when the process ends by `exit()` or a handled signal | as a span close, with `ended_by=exit` (`SIGTERM`, `SIGINT`) after the status |
//! | event with a `health_report` field | upserts `PROVISIONING_REPORT` with that field's value, whatever the filter |
//! | a callsite over its rate limit | `time=<t> suppressed=<n> reason=rate-limit callsite=<file:line>`, WARN |
//! | metric series (the `kvp-telemetry` facade) | key name `metric.<name>`, upserted: `kind= value= unit= run= a.<attribute>=` |
//!
//! Fields are `name=value`, escaped so that [`parse_fields`] reads them back
//! exactly (bare when the value is plain ASCII like `42` or `/dev/sda`,
//! quoted with `\"`, `\\`, `\n`... otherwise). A span's fields include those
//! recorded later with `Span::record`. A span's status is `error` when it
//! recorded a field named `error` (or an `Error` value) or an ERROR event
//! happened inside it. Values longer than a record are split into `|<i>`
//! chunks by the sink, up to its chunk cap.
//!
//! # Secrets
//!
//! A field whose name contains `password`, `passwd`, `secret`, `token`,
//! `credential`, `private_key`, `api_key` or `authorization`
//! (case-insensitive; see [`DEFAULT_DENY_LIST`] and
//! [`KvpLayerBuilder::deny_list`]) is written `name=<redacted>`, in events,
//! span fields and late-recorded fields alike; its value is never formatted.
//! A number or a bool is written whatever its name (it carries no
//! credential), and [`KvpLayerBuilder::allow_fields`] names a team's known
//! non-secrets.
//!
//! # Floods
//!
//! Each callsite may write a burst of 10 records, then 1 per second
//! ([`RateLimit`], configurable, can be turned off). Records over the rate
//! are counted, not written; the callsite's next record carries
//! `suppressed=<n>`, and [`KvpHandle::flush_suppressed`] writes the counts
//! still pending. A value too long for one record takes at most the sink's
//! chunk cap.
//!
//! # Cost on the caller's thread
//!
//! The caller's thread only captures a record: the clock, an id, and each
//! field's value as it is (numbers as bytes, text copied; `Debug` and
//! `Display` values formatted, since they are borrowed), straight into the
//! entry it hands to the sink's bounded queue. The text
//! (escaping, timestamps, ids, the key), the encoding and the write happen
//! on the writer thread, through [`kvp_sink::Capture`]. No heap allocation
//! per event or per span in steady state (tests prove it with a counting
//! allocator; a span whose fields outgrow its record's inline buffer, about
//! 140 bytes, is the exception),
//! no I/O, no lock held across a system call. The span an event belongs to
//! comes from a per-thread stack of the spans this layer saw entered, so an
//! event does not look up the registry's current span.
//!
//! # Filtering
//!
//! The layer comes with its own [`EnvFilter`](tracing_subscriber::EnvFilter)
//! (default `warn`, read from `<PREFIX>_KVP_LOG` ([`DEFAULT_ENV_VAR`]) or the
//! variable you name),
//! so the pool stays small while your console layer shows more.
//!
//! ```
//! use tracing_subscriber::prelude::*;
//!
//! let dir = tempfile::tempdir()?;
//! let (layer, guard) = tracing_kvp::KvpLayer::builder("my-agent") // MY_AGENT_KVP_LOG sets its filter
//!     .open(dir.path().join(".kvp_pool_1"))?;
//! tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
//!     let span = tracing::warn_span!("provision", user = "azureuser");
//!     let _entered = span.enter();
//!     tracing::error!(error = "exit status 1", "useradd failed");
//! });
//! drop(guard);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod capture;
mod filter;
mod flags;
mod guard;
mod ids;
mod inline;
mod layer;
mod limit;
mod open;
mod provisioning_report;
mod redact;
mod slots;
mod spans;
mod stamp;
mod vm_id;

pub use builder::{BuildError, DEFAULT_DIRECTIVE, DEFAULT_ENV_VAR, KeyName, KvpLayerBuilder};
pub use capture::{Captured, Renderers};
pub use filter::KvpFilter;
pub use guard::{KvpGuard, Shutdown};
pub use ids::Ids;
/// The value grammar, from [`kvp_codec::schema`] where the record schema
/// lives; re-exported here, where most writers of fields meet it.
pub use kvp_codec::schema::{ParseFieldsError, parse_fields, push_field, push_redacted};
pub use kvp_sink::{ShutdownError, Stats};
pub use layer::{KvpHandle, KvpLayer};
pub use limit::RateLimit;
pub use open::OpenError;
pub use provisioning_report::{
    DEFAULT_DOCUMENTATION_URL, HEALTH_REPORT_FIELD, PROVISIONING_REPORT_KEY, ProvisioningReport,
    UNKNOWN_REPORT_VM_ID,
};
pub use redact::{DEFAULT_DENY_LIST, REDACTED, denied_by_default};
pub use stamp::Clock;
pub use vm_id::{UNKNOWN_VM_ID, detect_vm_id, detect_vm_id_in};

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
