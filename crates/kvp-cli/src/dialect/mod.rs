//! Records into typed items, once, by the writer that wrote them: ours
//! (`tracing-kvp` and the facade), azure-init's and cloud-init's. `kvp
//! tree` and `kvp export` consume the items; each writer's format is
//! parsed in its own file here and nowhere else.
//!
//! | writer | span | event | nesting |
//! |---|---|---|---|
//! | [`ours`] | `start=.. end=.. duration_ms=.. status=.. [parent=<id>]`; an `<id>-open` record while open | `time=.. [span=<id>] ..` | by ids |
//! | azure-init ([`azure_init`]) | `Start: <t> \| End: <t>` | `Time: <t> \| Event: ..` | by time containment |
//! | cloud-init ([`cloud_init`]) | a `start` event and the `finish` event of the same name | any other event type | by time containment |

pub(crate) mod azure_init;
pub(crate) mod cloud_init;
pub(crate) mod ours;

use kvp_codec::KeyParts;

use crate::model::{Event, Span};

/// What one record is.
pub(crate) enum Parsed {
    Span(Span, Nesting),
    Event(Event, Nesting),
    /// Our span's open record, for the span's id.
    Open(Span),
    /// A cloud-init `start` or `finish` event, paired into spans by
    /// [`cloud_init::pair`].
    CloudInit(cloud_init::Mark),
}

/// How a record finds its parent.
pub(crate) enum Nesting {
    /// Ours: the parent span's id, if any.
    ById(Option<String>),
    /// The peers': by time.
    ByTime,
}

/// One of our metric series: its name (without `metric.`) and its fields
/// (`kind=`, `value=` or `count= sum= min= max=`, `unit=`, `run=`, and the
/// attributes as `a.<name>=`).
pub(crate) struct Metric {
    pub(crate) name: String,
    pub(crate) fields: Vec<(String, String)>,
}

/// A record, by kind.
pub(crate) enum Classified {
    /// The `PROVISIONING_REPORT`.
    Report,
    /// One of our metric series.
    Metric(Box<Metric>),
    /// Neither a span, an event, a metric nor the report.
    Other,
    /// Boxed: a span is large, and most records are one.
    Parsed(Box<Parsed>),
}

pub(crate) fn parsed(p: Parsed) -> Classified {
    Classified::Parsed(Box::new(p))
}

/// The record at `index` with `key` and (joined) `value`, read by the
/// dialect its key and value say.
pub(crate) fn classify(index: usize, key: &str, value: &str) -> Classified {
    if key == kvp_codec::schema::PROVISIONING_REPORT {
        return Classified::Report;
    }
    if let Some(rest) = key.strip_prefix("CLOUD_INIT|") {
        return cloud_init::read(index, rest, value);
    }
    let Some(parts) = KeyParts::parse(key) else {
        return Classified::Other;
    };
    if let Some(classified) = azure_init::read(index, &parts, value) {
        return classified;
    }
    ours::read(index, &parts, value)
}
