//! The layer's open spans, kept by the layer itself rather than in the
//! registry's span extensions.
//!
//! Extensions box each value, hash its type into a per-span map and drop
//! the box when the span closes: an allocation and a free per span, and
//! about 500 instructions of the ~2,600 a span open and close cost. A
//! concurrent map keyed by the span's id holds the value inline instead: no
//! allocation once the map has grown to the number of spans open at once,
//! and the value is moved out when the span closes.
//!
//! A registry's span ids are unique among the spans open at one time, and
//! the layer removes a span's entry in `on_close`, before the registry can
//! give its id to another span. An entry is written in `on_new_span` only.

use dashmap::DashMap;
use rustc_hash::FxBuildHasher;
use tracing::{Id as SpanId, Metadata};

use crate::inline::InlineBytes;

use crate::capture::Captured;

/// Fields captured apart from a record (late ones, before they are added).
pub(crate) type Fields = InlineBytes<128>;

/// What the layer keeps about an open span.
pub(crate) struct SpanData {
    pub(crate) meta: &'static Metadata<'static>,
    /// The counter part of the span's KVP id ([`crate::ids::Ids::next_n`]).
    pub(crate) id: u64,
    /// The record written when the span closes, captured when it opened:
    /// its header (the end, status and suppressed count set at close) and
    /// its fields, to which fields recorded later are added.
    pub(crate) record: Captured,
    pub(crate) error: bool,
}

/// The open spans this layer writes, by the registry's span id.
#[derive(Default)]
pub(crate) struct Spans(DashMap<u64, SpanData, FxBuildHasher>);

impl Spans {
    /// Keeps `data` for span `id` until [`Spans::close`]. An entry left for
    /// the same id is a span whose close this layer never saw: replaced.
    #[inline]
    pub(crate) fn open(&self, id: &SpanId, data: SpanData) {
        self.0.insert(id.into_u64(), data);
    }

    /// The span's data, no longer kept.
    #[inline]
    pub(crate) fn close(&self, id: &SpanId) -> Option<SpanData> {
        self.0.remove(&id.into_u64()).map(|(_, data)| data)
    }

    /// `f` of the span's data, when this layer keeps the span. `f` runs
    /// under the lock of the span's shard of the map: it must not log, or
    /// call anything that might.
    pub(crate) fn with<R>(&self, id: &SpanId, f: impl FnOnce(&SpanData) -> R) -> Option<R> {
        self.0.get(&id.into_u64()).map(|d| f(&d))
    }

    /// Every open span's data, no longer kept: for the process's end.
    pub(crate) fn take_all(&self) -> Vec<SpanData> {
        let ids: Vec<u64> = self.0.iter().map(|entry| *entry.key()).collect();
        ids.into_iter()
            .filter_map(|id| self.0.remove(&id).map(|(_, data)| data))
            .collect()
    }

    /// Runs `f` on the span's data, when this layer keeps the span; under
    /// the lock, as [`Spans::with`].
    pub(crate) fn update(&self, id: &SpanId, f: impl FnOnce(&mut SpanData)) {
        if let Some(mut data) = self.0.get_mut(&id.into_u64()) {
            f(&mut data);
        }
    }
}
