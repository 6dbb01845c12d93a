//! Keeping secrets out of telemetry.
//!
//! Two rules, shared by every crate of this workspace that lets a value
//! leave the process (the KVP layer, the metrics bridge, the facade's
//! metric records and OTLP export), so that they cannot drift apart:
//!
//! - **By name** ([`DenyList`], [`DENY_LIST`]): a field, attribute or
//!   parameter whose name is a secret's (`password`, `apiKey`,
//!   `x-api-key`, `AccountKey`, `sig`, ...) has its value replaced by
//!   [`REDACTED`], whatever the value is. Names are normalised first: case,
//!   `_`, `-`, `.` and camelCase boundaries do not matter.
//! - **Inside text** ([`DenyList::scrub`], [`scrub()`]): free text is searched
//!   for `name=value`, `name: value` and `"name":"value"` pairs with a
//!   denied name, `Bearer` and `Basic` credentials, SAS signatures,
//!   connection-string keys, PEM private keys and JWTs, and only those
//!   values are replaced.
//!
//! Free text that names no secret (`the password was rejected`) is left as
//! it is: the scrubber looks for shapes, not for every word. Text with
//! nothing to scrub is returned borrowed, with no allocation.
//!
//! ```
//! use telemetry_redact::{DenyList, REDACTED};
//!
//! let list = DenyList::default();
//! assert!(list.is_denied("clientSecret"));
//! assert_eq!(
//!     list.scrub("connect with AccountKey=abc==;EndpointSuffix=core.windows.net"),
//!     format!("connect with AccountKey={REDACTED};EndpointSuffix=core.windows.net"),
//! );
//! ```

mod names;
mod scrub;

pub use names::{DENY_LIST, DenyList, is_secret_name};
pub use scrub::{REDACTED, scrub};

/// The README's examples, run as doctests so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
