//! Attribute sets bound once per thread, so a repeated event skips both
//! building its attributes and the SDK's attribute lookup.
//!
//! The SDK's `add(value, &attrs)` hashes and compares the attributes on
//! every call to find the series; with four attributes that is most of its
//! cost. Its bound instruments (`Counter::bind(&attrs)`) resolve the series
//! once. Each thread keeps a map from an event's *attribute key* to the
//! bound instrument. The key is a byte string written while visiting the
//! event's fields: for each attribute field in visiting order, its index in
//! the callsite, a type tag and the value's bytes (text with its length),
//! then the metric's slots id and value type. Two events with equal keys
//! therefore have equal attribute sets, and a hit costs one visit, one hash
//! of a few dozen bytes and one atomic update.
//!
//! The map holds at most [`CAPACITY`] entries per thread; when it is full it
//! is emptied and starts over. That bounds memory whatever the attribute
//! cardinality, and releases the SDK series the thread had bound (the SDK
//! keeps a bound series alive until its handles are dropped).

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;
use tracing::field::{Field, Visit};

use crate::callsite::Plan;
use crate::instrument::{Bound, Flavor, Num};

/// Bound attribute sets one thread keeps before starting over.
pub(crate) const CAPACITY: usize = 1024;

pub(crate) struct BoundCache {
    map: HashMap<Box<[u8]>, Bound, FxBuildHasher>,
    key: Vec<u8>,
    /// How much of `key` the last visit wrote; a metric's suffix follows.
    attrs_len: usize,
}

thread_local! {
    static CACHE: RefCell<BoundCache> = RefCell::new(BoundCache {
        map: HashMap::with_hasher(FxBuildHasher),
        key: Vec::with_capacity(128),
        attrs_len: 0,
    });
}

/// Runs `f` with this thread's cache; `None` when it is busy (a `Debug`
/// impl that emits a metric event while being visited) or gone (thread
/// teardown), in which case the caller takes the unbound path.
pub(crate) fn with_cache<R>(f: impl FnOnce(&mut BoundCache) -> R) -> Option<R> {
    CACHE
        .try_with(|cell| cell.try_borrow_mut().ok().map(|mut c| f(&mut c)))
        .ok()
        .flatten()
}

impl BoundCache {
    /// Visits `record`'s fields into the attribute key and returns the
    /// metric values found, by field index.
    pub(crate) fn visit(
        &mut self,
        plan: &Plan,
        message_attribute: bool,
        record: impl FnOnce(&mut dyn Visit),
    ) -> KeyedValues {
        self.key.clear();
        let mut v = KeyVisitor {
            plan,
            key: &mut self.key,
            values: KeyedValues::new(),
            message_attribute,
        };
        record(&mut v);
        let values = v.values;
        self.attrs_len = self.key.len();
        values
    }

    /// Records `value` on the bound instrument for the attribute key
    /// visited last and the metric's slots and value type; `bind` makes it
    /// on a miss.
    pub(crate) fn record(
        &mut self,
        slots_id: u64,
        flavor: Flavor,
        value: Num,
        bind: impl FnOnce() -> Bound,
    ) {
        self.key.truncate(self.attrs_len);
        self.key.extend_from_slice(&slots_id.to_le_bytes());
        self.key.push(flavor as u8);
        if let Some(bound) = self.map.get(self.key.as_slice()) {
            bound.record(value);
            return;
        }
        let bound = bind();
        bound.record(value);
        if self.map.len() >= CAPACITY {
            self.map.clear();
        }
        self.map.insert(Box::from(self.key.as_slice()), bound);
    }
}

/// The metric values of one event, by field index.
pub(crate) type KeyedValues = SmallVec<[(usize, Num); 4]>;

/// Type tags in the attribute key.
const I64: u8 = 0;
const U64: u8 = 1;
const F64: u8 = 2;
const BOOL: u8 = 3;
const TEXT: u8 = 4;
const DENIED: u8 = 5;

/// Writes an event's attribute fields into the key and collects its metric
/// values. Which fields become attributes is decided by the same [`Plan`]
/// methods as in [`crate::layer`]'s collector, which builds the attributes
/// themselves on a miss.
struct KeyVisitor<'a> {
    plan: &'a Plan,
    key: &'a mut Vec<u8>,
    values: KeyedValues,
    message_attribute: bool,
}

impl KeyVisitor<'_> {
    fn is_metric(&self, field: &Field) -> bool {
        self.plan.is_metric(field)
    }

    /// The field's index (a callsite has at most 32 fields) and type tag.
    fn head(&mut self, field: &Field, tag: u8) {
        self.key.push(field.index() as u8);
        self.key.push(tag);
    }

    fn number(&mut self, field: &Field, value: Num, tag: u8, bits: u64) {
        if self.is_metric(field) {
            self.values.push((field.index(), value));
        } else {
            // A number is never redacted: it carries no credential.
            self.head(field, tag);
            self.key.extend_from_slice(&bits.to_le_bytes());
        }
    }

    /// Writes the tag of a denied field, whose attribute value is always
    /// the same: every secret value shares one binding.
    fn denied(&mut self, field: &Field) -> bool {
        let denied = self.plan.is_denied(field);
        if denied {
            self.head(field, DENIED);
        }
        denied
    }

    fn skips_text(&self, field: &Field) -> bool {
        !Plan::is_text_attribute(field, self.message_attribute)
    }
}

impl Visit for KeyVisitor<'_> {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.number(field, Num::U64(value), U64, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.number(field, Num::I64(value), I64, value as u64);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.number(field, Num::F64(value), F64, value.to_bits());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        // Nor is a bool.
        self.head(field, BOOL);
        self.key.push(u8::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if self.skips_text(field) || self.denied(field) {
            return;
        }
        self.head(field, TEXT);
        self.key.extend_from_slice(&value.len().to_le_bytes());
        self.key.extend_from_slice(value.as_bytes());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.skips_text(field) || self.denied(field) {
            return;
        }
        self.head(field, TEXT);
        // The length goes before the text, so reserve it and fill it in.
        let at = self.key.len();
        self.key.extend_from_slice(&0usize.to_le_bytes());
        let start = self.key.len();
        // Writing to a Vec cannot fail; a Debug impl that fails leaves
        // what it wrote, as the attribute collector would.
        let _ = fmt::Write::write_fmt(&mut KeyWriter(self.key), format_args!("{value:?}"));
        let len = self.key.len() - start;
        self.key[at..start].copy_from_slice(&len.to_le_bytes());
    }
}

struct KeyWriter<'a>(&'a mut Vec<u8>);

impl fmt::Write for KeyWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}
