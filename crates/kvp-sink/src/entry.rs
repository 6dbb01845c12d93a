//! What the application hands the writer: a key and a value as text, or a
//! producer's [`Capture`]. Text is kept inline when small, so that sending
//! it costs no heap allocation.

use kvp_codec::Level;
use smallvec::SmallVec;

use crate::capture::{Capture, NoCapture};

/// Bytes of key and value a text entry keeps inline; longer text spills to
/// the heap. Every entry moves through the queue at the size of the
/// largest, so a larger buffer costs every record more cache lines
/// crossing between cores. (Text entries are the cold path, reports and
/// metric series, so a `SmallVec` serves; the layer's captures, which
/// append a dozen times per record, keep their own cheaper buffer.)
const TEXT_INLINE: usize = 192;

/// How the writer stores an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// Append after the last record; a long value is split into `|<i>`
    /// chunks.
    Append,
    /// Replace the record with the same key, or append it. The value is cut
    /// to one record.
    Upsert,
}

/// What an entry carries.
// Entries are the traffic: boxing either variant would put an allocation
// back on the caller's path, which the inline text is there to avoid.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Body<C> {
    /// The key, then the value, split at `key_len`.
    Text {
        key_len: usize,
        bytes: SmallVec<[u8; TEXT_INLINE]>,
    },
    /// A producer's record, rendered on the writer thread.
    Captured(C),
}

/// One record to write. `C` is what the sink's producer captures
/// ([`NoCapture`] for a sink of text records only).
pub(crate) struct Entry<C = NoCapture> {
    kind: EntryKind,
    level: Option<Level>,
    pub(crate) body: Body<C>,
}

impl<C> std::fmt::Debug for Entry<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("kind", &self.kind).field("level", &self.level);
        match self.text() {
            Some((key, value)) => d.field("key", &key).field("value", &value),
            None => d.field("captured", &true),
        };
        d.finish()
    }
}

impl<C> Entry<C> {
    /// A record to append.
    pub(crate) fn append(level: Option<Level>, key: &str, value: &str) -> Entry<C> {
        Entry::text_entry(EntryKind::Append, level, key, value)
    }

    /// A record to upsert by key.
    pub(crate) fn upsert(level: Option<Level>, key: &str, value: &str) -> Entry<C> {
        Entry::text_entry(EntryKind::Upsert, level, key, value)
    }

    fn text_entry(kind: EntryKind, level: Option<Level>, key: &str, value: &str) -> Entry<C> {
        let mut bytes = SmallVec::new();
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(value.as_bytes());
        Entry {
            kind,
            level,
            body: Body::Text {
                key_len: key.len(),
                bytes,
            },
        }
    }

    /// How the entry is stored.
    pub(crate) fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The level of the record, when it has one.
    pub(crate) fn level(&self) -> Option<Level> {
        self.level
    }

    /// The key and value of a text entry; `None` for a captured one.
    pub(crate) fn text(&self) -> Option<(&str, &str)> {
        match &self.body {
            Body::Text { key_len, bytes } => {
                // Written from a `&str` key and a `&str` value split at a
                // char boundary, so both halves are UTF-8; checked anyway
                // (the text path is the cold one: see docs/PERFORMANCE.md).
                let (key, value) = bytes.as_slice().split_at_checked(*key_len)?;
                Some((
                    std::str::from_utf8(key).ok()?,
                    std::str::from_utf8(value).ok()?,
                ))
            }
            Body::Captured(_) => None,
        }
    }
}

impl<C: Capture> Entry<C> {
    /// Bytes the entry holds on the heap: text past its inline buffer, or
    /// what its capture says ([`Capture::heap_bytes`]).
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.body {
            Body::Text { bytes, .. } if bytes.spilled() => bytes.capacity(),
            Body::Text { .. } => 0,
            Body::Captured(c) => c.heap_bytes(),
        }
    }

    /// A producer's record to append, rendered on the writer thread.
    pub(crate) fn captured(capture: C) -> Entry<C> {
        Entry {
            kind: EntryKind::Append,
            level: capture.level(),
            body: Body::Captured(capture),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_entry_keeps_its_key_value_and_kind() {
        let e: Entry = Entry::append(None, "key", "value");
        assert_eq!(
            (e.text(), e.kind()),
            (Some(("key", "value")), EntryKind::Append)
        );
    }
}
