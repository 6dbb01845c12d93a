//! String attribute values, interned per thread.
//!
//! The SDK needs owned attribute values, so a `&str` field would cost an
//! allocation (and a free) per event. Metric attributes repeat (a route, a
//! method, a device), so each thread keeps a small direct-mapped cache of
//! recent values as `Arc<str>`: a repeat costs a hash, a comparison and a
//! reference-count increment.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use opentelemetry::{StringValue, Value};
use rustc_hash::FxHasher;

const SLOTS: usize = 64;

pub(crate) struct Cache {
    slots: [Option<(&'static str, Arc<str>)>; SLOTS],
    scratch: String,
}

impl Cache {
    fn new() -> Self {
        Cache {
            slots: [const { None }; SLOTS],
            scratch: String::new(),
        }
    }

    /// `value` of field `field` as an attribute value, scrubbed of the
    /// secrets inside it (see [`telemetry_redact::scrub`]); text with none
    /// is not copied to find out.
    pub(crate) fn value(&mut self, field: &'static str, value: &str) -> Value {
        let value = &*telemetry_redact::scrub(value);
        let mut h = FxHasher::default();
        field.as_ptr().hash(&mut h);
        value.hash(&mut h);
        // The modulus keeps the index below SLOTS.
        let slot = &mut self.slots[(h.finish() as usize) % SLOTS];
        let text = match slot {
            Some((f, text)) if std::ptr::eq(*f, field) && **text == *value => Arc::clone(text),
            _ => {
                let text: Arc<str> = Arc::from(value);
                *slot = Some((field, Arc::clone(&text)));
                text
            }
        };
        Value::String(StringValue::from(text))
    }

    /// A `Debug` or `Display` value, formatted into a reused buffer first.
    pub(crate) fn formatted(&mut self, field: &'static str, value: fmt::Arguments<'_>) -> Value {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        // Writing to a String cannot fail.
        let _ = scratch.write_fmt(value);
        let v = self.value(field, &scratch);
        self.scratch = scratch;
        v
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::new());
}

/// Runs `f` with this thread's cache, or a fresh one if it is busy (a
/// `Debug` impl that emits a metric event) or gone (thread teardown).
pub(crate) fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    let mut f = Some(f);
    let done = CACHE
        .try_with(|cell| {
            let mut cache = cell.try_borrow_mut().ok()?;
            f.take().map(|f| f(&mut cache))
        })
        .ok()
        .flatten();
    match (done, f) {
        (Some(r), _) => r,
        (None, Some(f)) => f(&mut Cache::new()),
        (None, None) => unreachable!("`f` is taken only when it runs"),
    }
}
