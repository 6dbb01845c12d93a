//! Metric kinds, their instruments, and the rules for each value type.
//!
//! | prefix | u64 | i64 | f64 |
//! |---|---|---|---|
//! | `monotonic_counter.` | `Counter<u64>` | `Counter<u64>` if >= 0, else **rejected** | `Counter<f64>` (negative: rejected) |
//! | `counter.` | `UpDownCounter<i64>` if <= `i64::MAX`, else **rejected** | `UpDownCounter<i64>` | `UpDownCounter<f64>` |
//! | `histogram.` | `Histogram<u64>` | `Histogram<u64>` if >= 0, else **rejected** | `Histogram<f64>` |
//! | `gauge.` | `Gauge<u64>` | `Gauge<i64>` | `Gauge<f64>` |
//!
//! Rejected values are counted in [`crate::Stats`], never wrapped around:
//! tracing-opentelemetry casts a negative `monotonic_counter` value to u64
//! and adds 18446744073709551615.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;

use opentelemetry::KeyValue;
#[cfg(feature = "bound-instruments")]
use opentelemetry::metrics::{BoundCounter, BoundGauge, BoundHistogram, BoundUpDownCounter};
use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, UpDownCounter};

/// What a metric field updates, from its name's prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    MonotonicCounter,
    Counter,
    Histogram,
    Gauge,
}

/// The field-name prefixes, as tracing-opentelemetry's `MetricsLayer` reads
/// them.
const PREFIXES: [(&str, Kind); 4] = [
    ("monotonic_counter.", Kind::MonotonicCounter),
    ("counter.", Kind::Counter),
    ("histogram.", Kind::Histogram),
    ("gauge.", Kind::Gauge),
];

impl Kind {
    /// The kind and metric name of a field, if it is a metric field.
    pub(crate) fn of_field(name: &'static str) -> Option<(Kind, &'static str)> {
        PREFIXES.iter().find_map(|(prefix, kind)| {
            name.strip_prefix(prefix)
                .filter(|rest| !rest.is_empty())
                .map(|rest| (*kind, rest))
        })
    }
}

/// A number as `tracing` recorded it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Num {
    U64(u64),
    I64(i64),
    F64(f64),
}

/// Why a value was not recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// A negative value on a monotonic counter or a histogram.
    Negative,
    /// A u64 above `i64::MAX` on an up-down counter.
    TooLarge,
}

/// Unit and description of a metric, from the builder.
#[derive(Clone, Debug, Default)]
pub(crate) struct Describe {
    pub(crate) unit: Option<Cow<'static, str>>,
    pub(crate) description: Option<Cow<'static, str>>,
}

/// The instruments one metric field may need, created on first use and
/// then read without a lock. The SDK returns the same instrument for the
/// same name, so callsites sharing a metric name share its data.
#[derive(Debug)]
pub(crate) struct Slots {
    /// Unique for the life of the process, so a per-thread cache can tell
    /// the slots of a dropped layer from those of a new one at the same
    /// address.
    #[cfg_attr(not(feature = "bound-instruments"), allow(dead_code))]
    id: u64,
    u64: OnceLock<Instrument>,
    i64: OnceLock<Instrument>,
    f64: OnceLock<Instrument>,
}

impl Default for Slots {
    fn default() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        Slots {
            id: NEXT.fetch_add(1, Relaxed),
            u64: OnceLock::new(),
            i64: OnceLock::new(),
            f64: OnceLock::new(),
        }
    }
}

#[derive(Debug)]
enum Instrument {
    CounterU64(Counter<u64>),
    CounterF64(Counter<f64>),
    UpDownI64(UpDownCounter<i64>),
    UpDownF64(UpDownCounter<f64>),
    HistogramU64(Histogram<u64>),
    HistogramF64(Histogram<f64>),
    GaugeU64(Gauge<u64>),
    GaugeI64(Gauge<i64>),
    GaugeF64(Gauge<f64>),
}

/// An instrument bound to one attribute set: recording skips the SDK's
/// attribute lookup.
#[cfg(feature = "bound-instruments")]
#[derive(Debug)]
pub(crate) enum Bound {
    CounterU64(BoundCounter<u64>),
    CounterF64(BoundCounter<f64>),
    UpDownI64(BoundUpDownCounter<i64>),
    UpDownF64(BoundUpDownCounter<f64>),
    HistogramU64(BoundHistogram<u64>),
    HistogramF64(BoundHistogram<f64>),
    GaugeU64(BoundGauge<u64>),
    GaugeI64(BoundGauge<i64>),
    GaugeF64(BoundGauge<f64>),
}

/// The value type an instrument is created for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    U64,
    I64,
    F64,
}

macro_rules! build {
    ($builder:expr, $describe:expr) => {{
        let mut b = $builder;
        if let Some(unit) = &$describe.unit {
            b = b.with_unit(unit.clone());
        }
        if let Some(description) = &$describe.description {
            b = b.with_description(description.clone());
        }
        b.build()
    }};
}

fn create(
    meter: &Meter,
    kind: Kind,
    flavor: Flavor,
    name: &'static str,
    d: &Describe,
) -> Instrument {
    use Flavor::*;
    match (kind, flavor) {
        (Kind::MonotonicCounter, U64 | I64) => {
            Instrument::CounterU64(build!(meter.u64_counter(name), d))
        }
        (Kind::MonotonicCounter, F64) => Instrument::CounterF64(build!(meter.f64_counter(name), d)),
        (Kind::Counter, U64 | I64) => {
            Instrument::UpDownI64(build!(meter.i64_up_down_counter(name), d))
        }
        (Kind::Counter, F64) => Instrument::UpDownF64(build!(meter.f64_up_down_counter(name), d)),
        (Kind::Histogram, U64 | I64) => {
            Instrument::HistogramU64(build!(meter.u64_histogram(name), d))
        }
        (Kind::Histogram, F64) => Instrument::HistogramF64(build!(meter.f64_histogram(name), d)),
        (Kind::Gauge, U64) => Instrument::GaugeU64(build!(meter.u64_gauge(name), d)),
        (Kind::Gauge, I64) => Instrument::GaugeI64(build!(meter.i64_gauge(name), d)),
        (Kind::Gauge, F64) => Instrument::GaugeF64(build!(meter.f64_gauge(name), d)),
    }
}

/// `value` converted to the type its instrument takes, or why it cannot be.
pub(crate) fn convert(kind: Kind, value: Num) -> Result<(Flavor, Num), Rejection> {
    Ok(match (kind, value) {
        (Kind::MonotonicCounter | Kind::Histogram, Num::I64(v)) => {
            let v = u64::try_from(v).map_err(|_| Rejection::Negative)?;
            (Flavor::U64, Num::U64(v))
        }
        (Kind::MonotonicCounter, Num::F64(v)) if v < 0.0 => return Err(Rejection::Negative),
        (Kind::Counter, Num::U64(v)) => {
            let v = i64::try_from(v).map_err(|_| Rejection::TooLarge)?;
            (Flavor::I64, Num::I64(v))
        }
        (_, Num::U64(v)) => (Flavor::U64, Num::U64(v)),
        (_, Num::I64(v)) => (Flavor::I64, Num::I64(v)),
        (_, Num::F64(v)) => (Flavor::F64, Num::F64(v)),
    })
}

/// What an instrument needs from the layer the first time it is used.
pub(crate) struct Create<'a, D> {
    pub(crate) meter: &'a Meter,
    pub(crate) kind: Kind,
    pub(crate) name: &'static str,
    pub(crate) describe: D,
}

impl Slots {
    /// Identifies these slots among all live and dropped ones.
    #[cfg(feature = "bound-instruments")]
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// The instrument for `flavor`, created the first time this field sees
    /// that value type. The unit and description are looked up only then,
    /// not per event.
    fn get(
        &self,
        flavor: Flavor,
        create_with: Create<'_, impl FnOnce() -> Describe>,
    ) -> &Instrument {
        let slot = match flavor {
            Flavor::U64 => &self.u64,
            Flavor::I64 => &self.i64,
            Flavor::F64 => &self.f64,
        };
        slot.get_or_init(|| {
            let Create {
                meter,
                kind,
                name,
                describe,
            } = create_with;
            create(meter, kind, flavor, name, &describe())
        })
    }

    /// Records `value` (already [`convert`]ed to `flavor`) with `attrs`.
    pub(crate) fn record(
        &self,
        flavor: Flavor,
        value: Num,
        attrs: &[KeyValue],
        create_with: Create<'_, impl FnOnce() -> Describe>,
    ) {
        match (self.get(flavor, create_with), value) {
            (Instrument::CounterU64(i), Num::U64(v)) => i.add(v, attrs),
            (Instrument::CounterF64(i), Num::F64(v)) => i.add(v, attrs),
            (Instrument::UpDownI64(i), Num::I64(v)) => i.add(v, attrs),
            (Instrument::UpDownF64(i), Num::F64(v)) => i.add(v, attrs),
            (Instrument::HistogramU64(i), Num::U64(v)) => i.record(v, attrs),
            (Instrument::HistogramF64(i), Num::F64(v)) => i.record(v, attrs),
            (Instrument::GaugeU64(i), Num::U64(v)) => i.record(v, attrs),
            (Instrument::GaugeI64(i), Num::I64(v)) => i.record(v, attrs),
            (Instrument::GaugeF64(i), Num::F64(v)) => i.record(v, attrs),
            // `convert` gives each flavor only its own value type.
            _ => debug_assert!(
                false,
                "a slot's instrument always takes its flavor's values"
            ),
        }
    }

    /// The instrument for `flavor` bound to `attrs`.
    #[cfg(feature = "bound-instruments")]
    pub(crate) fn bind(
        &self,
        flavor: Flavor,
        attrs: &[KeyValue],
        create_with: Create<'_, impl FnOnce() -> Describe>,
    ) -> Bound {
        match self.get(flavor, create_with) {
            Instrument::CounterU64(i) => Bound::CounterU64(i.bind(attrs)),
            Instrument::CounterF64(i) => Bound::CounterF64(i.bind(attrs)),
            Instrument::UpDownI64(i) => Bound::UpDownI64(i.bind(attrs)),
            Instrument::UpDownF64(i) => Bound::UpDownF64(i.bind(attrs)),
            Instrument::HistogramU64(i) => Bound::HistogramU64(i.bind(attrs)),
            Instrument::HistogramF64(i) => Bound::HistogramF64(i.bind(attrs)),
            Instrument::GaugeU64(i) => Bound::GaugeU64(i.bind(attrs)),
            Instrument::GaugeI64(i) => Bound::GaugeI64(i.bind(attrs)),
            Instrument::GaugeF64(i) => Bound::GaugeF64(i.bind(attrs)),
        }
    }
}

#[cfg(feature = "bound-instruments")]
impl Bound {
    /// Records `value`, [`convert`]ed to the flavor this was bound for.
    pub(crate) fn record(&self, value: Num) {
        match (self, value) {
            (Bound::CounterU64(i), Num::U64(v)) => i.add(v),
            (Bound::CounterF64(i), Num::F64(v)) => i.add(v),
            (Bound::UpDownI64(i), Num::I64(v)) => i.add(v),
            (Bound::UpDownF64(i), Num::F64(v)) => i.add(v),
            (Bound::HistogramU64(i), Num::U64(v)) => i.record(v),
            (Bound::HistogramF64(i), Num::F64(v)) => i.record(v),
            (Bound::GaugeU64(i), Num::U64(v)) => i.record(v),
            (Bound::GaugeI64(i), Num::I64(v)) => i.record(v),
            (Bound::GaugeF64(i), Num::F64(v)) => i.record(v),
            // The cache key holds the flavor, so a bound handle only ever
            // gets its own value type.
            _ => debug_assert!(false, "a bound instrument always takes its flavor's values"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            Kind::of_field("monotonic_counter.hits"),
            Some((Kind::MonotonicCounter, "hits"))
        );
        assert_eq!(
            Kind::of_field("counter.queue"),
            Some((Kind::Counter, "queue"))
        );
        assert_eq!(
            Kind::of_field("histogram.latency_ms"),
            Some((Kind::Histogram, "latency_ms"))
        );
        assert_eq!(Kind::of_field("gauge.temp"), Some((Kind::Gauge, "temp")));
        assert_eq!(Kind::of_field("counter."), None);
        assert_eq!(Kind::of_field("message"), None);
        assert_eq!(Kind::of_field("my_counter.x"), None);
    }
}
