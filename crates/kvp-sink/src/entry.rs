//! What the application hands the writer: a key and a value, kept inline
//! when small so that sending one costs no heap allocation.

use kvp_codec::Level;
use smallvec::SmallVec;

/// Bytes of key plus value kept inline in an [`Entry`]; longer text spills
/// to the heap. A typical event record (key about 110 bytes, value about
/// 200) fits.
pub const INLINE_BYTES: usize = 480;

/// How the writer stores an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// Append after the last record; a long value is split into `|<i>`
    /// chunks.
    Append,
    /// Replace the record with the same key, or append it. The value is cut
    /// to one record.
    Upsert,
}

/// One record to write, as text; the writer thread encodes it.
#[derive(Clone, Debug)]
pub struct Entry {
    kind: EntryKind,
    level: Option<Level>,
    key_len: usize,
    text: SmallVec<[u8; INLINE_BYTES]>,
}

impl Entry {
    /// A record to append.
    ///
    /// ```
    /// use kvp_sink::{Entry, EntryKind};
    /// let e = Entry::append(None, "key", "value");
    /// assert_eq!((e.key(), e.value(), e.kind()), ("key", "value", EntryKind::Append));
    /// ```
    pub fn append(level: Option<Level>, key: &str, value: &str) -> Entry {
        Entry::new(EntryKind::Append, level, key, value)
    }

    /// A record to upsert by key.
    pub fn upsert(level: Option<Level>, key: &str, value: &str) -> Entry {
        Entry::new(EntryKind::Upsert, level, key, value)
    }

    fn new(kind: EntryKind, level: Option<Level>, key: &str, value: &str) -> Entry {
        let mut text = SmallVec::with_capacity(key.len() + value.len());
        text.extend_from_slice(key.as_bytes());
        text.extend_from_slice(value.as_bytes());
        Entry {
            kind,
            level,
            key_len: key.len(),
            text,
        }
    }

    /// How the entry is stored.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The level of the record, when it has one.
    pub fn level(&self) -> Option<Level> {
        self.level
    }

    /// The key.
    pub fn key(&self) -> &str {
        std::str::from_utf8(&self.text[..self.key_len])
            .expect("an entry's key is copied from a &str")
    }

    /// The value.
    pub fn value(&self) -> &str {
        std::str::from_utf8(&self.text[self.key_len..])
            .expect("an entry's value is copied from a &str")
    }
}
