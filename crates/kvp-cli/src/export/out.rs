//! What `kvp export` hands to an output: spans, events, the report and
//! metric series, each already placed (ids derived, parents linked), so
//! that an output only writes.

use kvp_codec::schema::metric::MetricKind;

use super::ids::{SpanId, TraceId};
use crate::model::Status;

/// The pool an output is about to receive, as a resource: the service is
/// the key prefix (`azure-init`, `cloud-init`, an agent's own), the host
/// the vm_id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Resource {
    pub(crate) file: String,
    pub(crate) service: String,
    pub(crate) vm_id: Option<String>,
}

/// A span with its real start and end (microseconds since the epoch).
#[derive(Debug)]
pub(crate) struct SpanOut {
    pub(crate) trace: TraceId,
    pub(crate) id: SpanId,
    pub(crate) parent: Option<SpanId>,
    pub(crate) name: String,
    pub(crate) start_us: i64,
    pub(crate) end_us: i64,
    pub(crate) status: Status,
    pub(crate) level: Option<String>,
    pub(crate) fields: Vec<(String, String)>,
}

/// An event, in its span when it has one; or anything else that could not
/// be placed, as a log record. Its time is `None` when the record gave
/// none that reads.
#[derive(Debug)]
pub(crate) struct EventOut {
    pub(crate) context: Option<(TraceId, SpanId)>,
    pub(crate) time_us: Option<i64>,
    pub(crate) level: String,
    pub(crate) name: String,
    pub(crate) message: Option<String>,
    pub(crate) fields: Vec<(String, String)>,
}

/// One of our metric series: its last value as the pool holds it.
#[derive(Debug)]
// Only the OTLP output makes metrics of them.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub(crate) struct MetricOut {
    pub(crate) name: String,
    /// `None` for a kind this version does not know.
    pub(crate) kind: Option<MetricKind>,
    pub(crate) value: Option<f64>,
    pub(crate) unit: Option<String>,
    /// The series' attributes (`a.<name>` in the record).
    pub(crate) attributes: Vec<(String, String)>,
    /// Every field of the record, for an output that cannot make it a
    /// metric.
    pub(crate) fields: Vec<(String, String)>,
}

/// What one pool gave an output, for the summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) spans: usize,
    pub(crate) events: usize,
    pub(crate) reports: usize,
    pub(crate) metrics: usize,
    /// Records that are not spans, events, metrics or a report (or a
    /// metric an output cannot make a metric), sent as log records.
    pub(crate) as_logs: usize,
    /// Records left out because they could not be decoded.
    pub(crate) unreadable: usize,
    /// Records left out by an output that needs a time they lack.
    pub(crate) untimed: usize,
    /// All-zero records (a sparse or pre-sized file), skipped.
    pub(crate) empty: usize,
}

/// Where a pool's items go: an OTLP collector, a Chrome trace file.
pub(crate) trait Output {
    /// A new pool begins.
    fn begin(&mut self, resource: &Resource) -> crate::exit::Result;
    fn span(&mut self, span: SpanOut) -> crate::exit::Result;
    /// Returns whether the event was written (an output may need a time).
    fn event(&mut self, event: EventOut) -> crate::exit::Result<bool>;
    /// The `PROVISIONING_REPORT`, as its `name=value` fields; returns
    /// whether it was written (an output may need its time).
    fn report(&mut self, fields: Vec<(String, String)>) -> crate::exit::Result<bool>;
    /// Returns whether the series was written as a metric.
    fn metric(&mut self, metric: MetricOut) -> crate::exit::Result<bool>;
    /// The pool is done: everything it gave is delivered, or the error
    /// says what was not.
    fn end(&mut self) -> crate::exit::Result;
}
