//! The record schema of this workspace's writers: what our values say and
//! how, in one place for every crate that writes or reads them (the
//! `tracing` layer, the facade's metric series, the `kvp` CLI).
//!
//! - **The value grammar** ([`push_field`], [`parse_fields`], feature
//!   `alloc`): `name=value` fields separated by one space, a value bare or
//!   quoted with escapes.
//! - **Field names** ([`field`]): `time=`, `span=`, `parent=`, ... as
//!   constants, so that no crate spells them twice.
//! - **The id rule** ([`run_of`]): our ids are `<run>-<counter>`, the run
//!   chosen by the writing process.
//! - **The value policy** ([`value_pieces`], [`TRUNCATED_MARKER`]): how a
//!   value too long for one record is chunked, and where and how it is cut.
//! - **The metric series record** ([`metric`], feature `alloc`): its key
//!   name, its id and its value.
//!
//! `docs/FORMAT.md` gives the records these make.

#[cfg(feature = "alloc")]
mod fields;
#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub mod metric;
mod policy;

#[cfg(feature = "alloc")]
#[cfg_attr(docsrs, doc(cfg(feature = "alloc")))]
pub use fields::{ParseFieldsError, parse_fields, push_field, push_redacted, push_value};
pub use policy::{Piece, Pieces, TRUNCATED_MARKER, fit_with_marker, value_pieces};

/// What a redacted value is written as: bare (it has no space), so it
/// parses back as the value `<redacted>`.
pub const REDACTED: &str = "<redacted>";

/// The key of the provisioning report, which the host's agents read.
pub const PROVISIONING_REPORT: &str = "PROVISIONING_REPORT";

/// Our field names, as the value grammar writes them.
pub mod field {
    /// An event's time (RFC 3339, milliseconds, UTC).
    pub const TIME: &str = "time";
    /// The id of an event's innermost recorded span.
    pub const SPAN: &str = "span";
    /// The id of a span's nearest recorded parent.
    pub const PARENT: &str = "parent";
    /// A span's start time.
    pub const START: &str = "start";
    /// A span's end time.
    pub const END: &str = "end";
    /// A span's length in milliseconds, to the microsecond.
    pub const DURATION_MS: &str = "duration_ms";
    /// How a span ended: [`super::status::OK`], [`super::status::ERROR`],
    /// or [`super::status::OPEN`] in its open record.
    pub const STATUS: &str = "status";
    /// What ended a span the process did not close (`exit`, a signal).
    pub const ENDED_BY: &str = "ended_by";
    /// Records the rate limit held back before this one.
    pub const SUPPRESSED: &str = "suppressed";
    /// An event's message.
    pub const MESSAGE: &str = "message";
    /// The names of an event's spans the layer does not record.
    pub const IN: &str = "in";
    /// A metric series' kind: `sum`, `up_down`, `gauge`, `histogram`,
    /// `exponential_histogram`.
    pub const KIND: &str = "kind";
    /// A metric series' value (sums and gauges).
    pub const VALUE: &str = "value";
    /// How many values a histogram series recorded.
    pub const COUNT: &str = "count";
    /// The sum of a histogram series' values.
    pub const SUM: &str = "sum";
    /// The least value a histogram series recorded.
    pub const MIN: &str = "min";
    /// The greatest value a histogram series recorded.
    pub const MAX: &str = "max";
    /// A metric series' unit.
    pub const UNIT: &str = "unit";
    /// The process run that wrote a metric series (`<pid>@<unix ms>`).
    pub const RUN: &str = "run";
    /// Put before a metric attribute's name, so that an attribute called
    /// `kind` is not the series' kind.
    pub const ATTRIBUTE_PREFIX: &str = "a.";
    /// The name part of a metric series' key starts with this.
    pub const METRIC_NAME_PREFIX: &str = "metric.";
}

/// A span's `status=` values.
pub mod status {
    /// Ended without an error.
    pub const OK: &str = "ok";
    /// Recorded an error (an ERROR event or an `error` field).
    pub const ERROR: &str = "error";
    /// Still open: its open record.
    pub const OPEN: &str = "open";
}

/// Put after a span's id in the key of its open record.
pub const OPEN_SUFFIX: &str = "-open";

/// The run part of one of our ids (`<run>-<counter>`): every record a
/// process writes shares it, so it tells one run from another in a pool
/// that holds several. An id without a `-` is its own run.
///
/// ```
/// assert_eq!(kvp_codec::schema::run_of("5f3a9c0e12ab-1f"), "5f3a9c0e12ab");
/// assert_eq!(kvp_codec::schema::run_of("5f3a9c0e12ab-1f-open"), "5f3a9c0e12ab");
/// ```
pub fn run_of(id: &str) -> &str {
    id.split_once('-').map_or(id, |(run, _)| run)
}
