//! What the application hands the writer: a key and a value as text, or a
//! record captured in a compact form that a [`Render`](crate::render::Render) turns into text on
//! the writer thread. Either is kept inline when small, so that sending one
//! costs no heap allocation.

use std::any::Any;

use kvp_codec::Level;

use crate::inline::InlineBytes;
use crate::render::RendererId;

/// Bytes kept inline in an [`Entry`]; longer entries spill to the heap. A
/// captured event (about 100 bytes) fits, and a short text record (key
/// about 90 bytes, value about 100). Every entry moves through the queue at
/// this size, and the writer thread reads what the application's thread
/// wrote: a larger inline buffer costs every record more cache lines
/// crossing between cores, to spare the rare long text record an
/// allocation.
pub const INLINE_BYTES: usize = 192;

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

/// What the bytes of an entry are.
#[derive(Clone, Copy)]
pub(crate) enum Body {
    /// The key, then the value.
    Text { key_len: usize },
    /// A capture for the renderer, with what it refers to.
    Captured {
        renderer: RendererId,
        context: &'static (dyn Any + Send + Sync),
    },
}

/// One record to write; the writer thread renders and encodes it.
#[derive(Clone)]
pub struct Entry {
    kind: EntryKind,
    level: Option<Level>,
    pub(crate) body: Body,
    bytes: InlineBytes<INLINE_BYTES>,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("kind", &self.kind).field("level", &self.level);
        match self.text() {
            Some((key, value)) => d.field("key", &key).field("value", &value),
            None => d.field("captured_bytes", &self.bytes().len()),
        };
        d.finish()
    }
}

impl Entry {
    /// A record to append.
    ///
    /// ```
    /// use kvp_sink::{Entry, EntryKind};
    /// let e = Entry::append(None, "key", "value");
    /// assert_eq!((e.text(), e.kind()), (Some(("key", "value")), EntryKind::Append));
    /// ```
    pub fn append(level: Option<Level>, key: &str, value: &str) -> Entry {
        Entry::new(EntryKind::Append, level, key, value)
    }

    /// A record to upsert by key.
    pub fn upsert(level: Option<Level>, key: &str, value: &str) -> Entry {
        Entry::new(EntryKind::Upsert, level, key, value)
    }

    fn new(kind: EntryKind, level: Option<Level>, key: &str, value: &str) -> Entry {
        let mut bytes = InlineBytes::new();
        bytes.extend_from_slice(key.as_bytes());
        bytes.extend_from_slice(value.as_bytes());
        Entry {
            kind,
            level,
            body: Body::Text { key_len: key.len() },
            bytes,
        }
    }

    /// A record to append, captured: `renderer` (see
    /// [`Sink::register_renderer`](crate::Sink::register_renderer)) turns
    /// `context` and `bytes` into a key and a value on the writer thread.
    #[doc(hidden)] // plumbing for tracing-kvp; see `lib.rs`
    pub fn captured(
        level: Option<Level>,
        renderer: RendererId,
        context: &'static (dyn Any + Send + Sync),
        bytes: &[u8],
    ) -> Entry {
        Entry::captured_with(level, renderer, context, |b| b.extend_from_slice(bytes))
    }

    /// A record to append, captured in place: `fill` writes the capture
    /// straight into the entry, saving the copy [`Entry::captured`] makes.
    ///
    /// ```
    /// use kvp_sink::{Entry, RendererId};
    /// # fn build(renderer: RendererId) -> Entry {
    /// static CONTEXT: &str = "what the renderer needs";
    /// Entry::captured_with(None, renderer, &CONTEXT, |c| {
    ///     c.extend_from_slice(&42u64.to_le_bytes());
    ///     c.extend_from_slice(b"text");
    /// })
    /// # }
    /// ```
    #[doc(hidden)] // plumbing for tracing-kvp; see `lib.rs`
    #[inline]
    pub fn captured_with(
        level: Option<Level>,
        renderer: RendererId,
        context: &'static (dyn Any + Send + Sync),
        fill: impl FnOnce(&mut InlineBytes<INLINE_BYTES>),
    ) -> Entry {
        let mut entry = Entry {
            kind: EntryKind::Append,
            level,
            body: Body::Captured { renderer, context },
            bytes: InlineBytes::new(),
        };
        fill(&mut entry.bytes);
        entry
    }

    /// How the entry is stored.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }

    /// The level of the record, when it has one.
    pub fn level(&self) -> Option<Level> {
        self.level
    }

    /// The key and value of a text entry; `None` for a captured one.
    pub fn text(&self) -> Option<(&str, &str)> {
        match self.body {
            Body::Text { key_len } => {
                let (key, value) = self.bytes.as_slice().split_at(key_len);
                // SAFETY: a text entry's bytes are written once, by
                // `Entry::new`, from a `&str` key and a `&str` value split at
                // `key_len`, a char boundary; nothing can change them after
                // (the field is private, and only captured entries are ever
                // handed out for writing). Checking again would validate
                // every record's text a second time on the writer thread.
                Some(unsafe {
                    (
                        std::str::from_utf8_unchecked(key),
                        std::str::from_utf8_unchecked(value),
                    )
                })
            }
            Body::Captured { .. } => None,
        }
    }

    /// A captured entry's bytes; `None` for a text entry.
    #[doc(hidden)] // plumbing for tracing-kvp; see `lib.rs`
    pub fn captured_bytes(&self) -> Option<&[u8]> {
        match self.body {
            Body::Captured { .. } => Some(self.bytes.as_slice()),
            Body::Text { .. } => None,
        }
    }

    /// A captured entry's bytes, to add to or patch before the entry is
    /// sent (a record prepared ahead of time, such as a span's close record
    /// kept while the span is open); `None` for a text entry, whose bytes
    /// are fixed.
    ///
    /// ```
    /// use kvp_sink::{Entry, RendererId};
    /// # fn build(renderer: RendererId) {
    /// static CONTEXT: &str = "what the renderer needs";
    /// let mut e = Entry::captured(None, renderer, &CONTEXT, b"ab");
    /// if let Some(bytes) = e.captured_mut() {
    ///     bytes.as_mut_slice()[0] = b'x';
    ///     bytes.extend_from_slice(b"c");
    /// }
    /// # }
    /// ```
    #[doc(hidden)] // plumbing for tracing-kvp; see `lib.rs`
    pub fn captured_mut(&mut self) -> Option<&mut InlineBytes<INLINE_BYTES>> {
        match self.body {
            Body::Captured { .. } => Some(&mut self.bytes),
            Body::Text { .. } => None,
        }
    }

    /// The bytes: key then value, or the capture.
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }
}
