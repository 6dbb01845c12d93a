//! The metric series record: one record per metric name and attribute set,
//! upserted at each export, so that a periodic export replaces the series'
//! record in place and never grows the file.
//!
//! - **Key:** `<prefix>|<vm_id>|INFO|metric.<name>|<series id>` (the
//!   [`KeyLayout`](crate::KeyLayout) of every producer, with the name
//!   written by [`series_name`] and the id by [`SeriesId`]).
//! - **Value:** `kind=<kind>`, then `value=` (sums and gauges) or `count=
//!   sum= [min= max=]` (histograms), `unit=` when there is one, `run=`
//!   naming the process run that wrote it, then each attribute with its
//!   name after [`field::ATTRIBUTE_PREFIX`],
//!   so that an attribute called `kind` is not the series' kind.
//!
//! ```
//! use kvp_codec::schema::metric::{self, MetricKind, Point, SeriesId};
//!
//! let id = SeriesId::new("disk.retries", [("device", "sda")]);
//! let mut value = String::new();
//! metric::push_series_value(&mut value, MetricKind::Sum, Point::Value("3"), "1", "41@1700000000000");
//! metric::push_attribute(&mut value, "device", Some("sda"));
//! metric::push_attribute(&mut value, "token", None);
//! assert_eq!(value, "kind=sum value=3 unit=1 run=41@1700000000000 a.device=sda a.token=<redacted>");
//! assert_eq!(metric::series_name("disk.retries"), "metric.disk.retries");
//! assert_eq!(id.as_str().len(), metric::SERIES_ID_LEN);
//! ```

use alloc::string::String;

use super::field;
use super::fields::{push_field, push_redacted};
use crate::Fnv1a;

/// How long a [`SeriesId`] is: 16 hex digits and `-m`.
pub const SERIES_ID_LEN: usize = 18;

/// A series' kind, as its `kind=` field says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// A monotonic sum (a counter).
    Sum,
    /// A sum that may go down.
    UpDown,
    /// The last value recorded.
    Gauge,
    /// A histogram: count, sum, min and max (not its buckets).
    Histogram,
    /// An exponential histogram: count and sum.
    ExponentialHistogram,
}

impl MetricKind {
    const ALL: [MetricKind; 5] = [
        MetricKind::Sum,
        MetricKind::UpDown,
        MetricKind::Gauge,
        MetricKind::Histogram,
        MetricKind::ExponentialHistogram,
    ];

    /// The name the record gives the kind.
    pub const fn as_str(self) -> &'static str {
        match self {
            MetricKind::Sum => "sum",
            MetricKind::UpDown => "up_down",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
            MetricKind::ExponentialHistogram => "exponential_histogram",
        }
    }

    /// The kind a record's `kind=` names, if it is one of ours.
    ///
    /// ```
    /// use kvp_codec::schema::metric::MetricKind;
    /// assert_eq!(MetricKind::parse("up_down"), Some(MetricKind::UpDown));
    /// assert_eq!(MetricKind::parse("summary"), None);
    /// ```
    pub fn parse(name: &str) -> Option<MetricKind> {
        MetricKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// What a series' record says of its point, as text (the caller formats
/// its numbers, whatever their type).
#[derive(Clone, Copy, Debug)]
pub enum Point<'a> {
    /// A sum's or a gauge's value.
    Value(&'a str),
    /// A histogram's count and sum, and its min and max when known.
    Distribution {
        /// How many values were recorded.
        count: &'a str,
        /// Their sum.
        sum: &'a str,
        /// The least and the greatest, when the histogram kept them.
        min_max: Option<(&'a str, &'a str)>,
    },
}

/// The name part of a series' key: `metric.<name>`.
pub fn series_name(name: &str) -> String {
    let mut out = String::with_capacity(field::METRIC_NAME_PREFIX.len() + name.len());
    out.push_str(field::METRIC_NAME_PREFIX);
    out.push_str(name);
    out
}

/// Writes a series' value up to its attributes: kind, point, `unit=` (when
/// `unit` is not empty) and `run=`.
pub fn push_series_value(
    out: &mut String,
    kind: MetricKind,
    point: Point<'_>,
    unit: &str,
    run: &str,
) {
    push_field(out, field::KIND, kind.as_str());
    match point {
        Point::Value(value) => push_field(out, field::VALUE, value),
        Point::Distribution {
            count,
            sum,
            min_max,
        } => {
            push_field(out, field::COUNT, count);
            push_field(out, field::SUM, sum);
            if let Some((min, max)) = min_max {
                push_field(out, field::MIN, min);
                push_field(out, field::MAX, max);
            }
        }
    }
    if !unit.is_empty() {
        push_field(out, field::UNIT, unit);
    }
    push_field(out, field::RUN, run);
}

/// Writes one attribute, its name after
/// [`field::ATTRIBUTE_PREFIX`]; `None`
/// writes it redacted.
pub fn push_attribute(out: &mut String, name: &str, value: Option<&str>) {
    let mut prefixed = String::with_capacity(field::ATTRIBUTE_PREFIX.len() + name.len());
    prefixed.push_str(field::ATTRIBUTE_PREFIX);
    prefixed.push_str(name);
    match value {
        Some(value) => push_field(out, &prefixed, value),
        None => push_redacted(out, &prefixed),
    }
}

/// A series' id: FNV-1a over its name and attributes, so that a series
/// keeps its id across exports, processes and toolchains, written as 16
/// hex digits and `-m` (never all digits, so it cannot read as a chunk
/// index).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SeriesId([u8; SERIES_ID_LEN]);

impl SeriesId {
    /// The id of the series `name` with `attributes`, given as name and
    /// value text in a fixed order (sorted by name, then value: the same
    /// set must come in the same order to get the same id).
    pub fn new<'a>(
        name: &str,
        attributes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> SeriesId {
        let mut h = Fnv1a::new();
        h.write(name.as_bytes());
        for (k, v) in attributes {
            h.write(&[0]);
            h.write(k.as_bytes());
            h.write(&[1]);
            h.write(v.as_bytes());
        }
        let mut id = [0u8; SERIES_ID_LEN];
        let (digits, tail) = id.split_at_mut(16);
        for (i, digit) in digits.iter_mut().enumerate() {
            *digit = b"0123456789abcdef"[((h.finish() >> (60 - 4 * i)) & 0xf) as usize];
        }
        tail.copy_from_slice(b"-m");
        SeriesId(id)
    }

    /// The id as key text.
    pub fn as_str(&self) -> &str {
        // Written from ASCII hex digits and `-m` only.
        core::str::from_utf8(&self.0).unwrap_or("")
    }
}

impl core::fmt::Debug for SeriesId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("SeriesId").field(&self.as_str()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::parse_fields;

    #[test]
    fn a_series_id_is_stable_and_tells_attribute_sets_apart() {
        let a = SeriesId::new("m", [("k", "v")]);
        assert_eq!(a, SeriesId::new("m", [("k", "v")]));
        assert_ne!(a, SeriesId::new("m", [("k", "w")]));
        // The separators keep `k=v1` from hashing as `kv=1`.
        assert_ne!(
            SeriesId::new("m", [("k", "v1")]),
            SeriesId::new("m", [("kv", "1")])
        );
        // FNV-1a's offset basis: the hash series ids have always used, so
        // the records already in a pool keep being replaced in place.
        assert_eq!(SeriesId::new("", []).as_str(), "cbf29ce484222325-m");
        // A series `kvp demo` wrote before the id moved here.
        assert_eq!(
            SeriesId::new("users_created", [("groups", "sudo,adm")]).as_str(),
            "894f655e6ed583a2-m"
        );
        assert!(a.as_str().ends_with("-m"));
    }

    #[test]
    fn a_histogram_record_parses_back_with_every_field() {
        let mut out = String::new();
        push_series_value(
            &mut out,
            MetricKind::Histogram,
            Point::Distribution {
                count: "2",
                sum: "3.5",
                min_max: Some(("1", "2.5")),
            },
            "",
            "7@1",
        );
        push_attribute(&mut out, "kind", Some("a b"));
        let fields = parse_fields(&out).expect("our own grammar");
        let names: alloc::vec::Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["kind", "count", "sum", "min", "max", "run", "a.kind"]
        );
        assert_eq!(fields[6].1, "a b");
        assert_eq!(MetricKind::parse(&fields[0].1), Some(MetricKind::Histogram));
    }
}
