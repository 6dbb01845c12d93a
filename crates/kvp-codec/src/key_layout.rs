//! Building keys in the layout `<prefix>|<vm_id>|<LEVEL>|<name>|<id>`, the
//! one every producer of this workspace uses (the `tracing` layer, the
//! sink's cap marker, the metric exporter), so that every key parses back
//! through [`KeyParts`](crate::KeyParts).
//!
//! The rules:
//!
//! - Inside a part, `|` (the separator) and NUL (which ends a field for
//!   every reader) become `_`; an empty part is written as `_`, because a
//!   reader would not see an empty part as one. Nothing else is changed:
//!   `=`, newlines and non-ASCII text are kept.
//! - When the key would not fit the [`Limits`] with room for a chunk suffix
//!   `|<i>`, only the **name** is shortened, at a character boundary; the
//!   prefix, vm_id, level and id are never cut, so a key stays unique.
//! - The id must not be all digits (it would read as a chunk index); ids of
//!   this workspace always contain a `-`.

use core::fmt;

use crate::key::Level;
use crate::limits::{Limits, utf16_len};

/// Writes `part` as a key part: `|` and NUL become `_`, and an empty part
/// is `_`.
///
/// ```
/// let mut out = String::new();
/// kvp_codec::write_key_part(&mut out, "vm|x\0y")?;
/// kvp_codec::write_key_part(&mut out, "")?;
/// assert_eq!(out, "vm_x_y_");
/// # Ok::<(), std::fmt::Error>(())
/// ```
pub fn write_key_part<W: fmt::Write + ?Sized>(out: &mut W, part: &str) -> fmt::Result {
    if part.is_empty() {
        return out.write_char('_');
    }
    let mut rest = part;
    while let Some(at) = rest.find(['|', '\0']) {
        out.write_str(&rest[..at])?;
        out.write_char('_')?;
        rest = &rest[at + 1..];
    }
    out.write_str(rest)
}

/// How long the chunk suffix `|<i>` of the last chunk of a value cut into
/// `max_chunks` chunks is, in bytes (and UTF-16 units: it is ASCII).
///
/// ```
/// assert_eq!(kvp_codec::chunk_suffix_len(16), 3); // "|15"
/// assert_eq!(kvp_codec::chunk_suffix_len(1), 2);  // "|0"
/// ```
pub const fn chunk_suffix_len(max_chunks: usize) -> usize {
    let mut last = max_chunks.saturating_sub(1);
    let mut digits = 1;
    while last >= 10 {
        last /= 10;
        digits += 1;
    }
    1 + digits
}

/// Why a layout cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyLayoutError {
    /// The prefix, vm_id, level, id and chunk suffix leave fewer than
    /// [`KeyLayout::MIN_NAME_ROOM`] UTF-16 units for the name.
    NoRoomForName {
        /// The room left, in UTF-16 units.
        room: usize,
    },
    /// The buffer given for the head could not take it.
    Buffer,
}

impl fmt::Display for KeyLayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLayoutError::NoRoomForName { room } => write!(
                f,
                "the key's fixed parts leave {room} UTF-16 units for the name; at least {} are needed",
                KeyLayout::<&str>::MIN_NAME_ROOM
            ),
            KeyLayoutError::Buffer => f.write_str("the key layout's buffer is too small"),
        }
    }
}

impl core::error::Error for KeyLayoutError {}

/// The fixed parts of one producer's keys, sanitised once: the head
/// `<prefix>|<vm_id>|`, kept in a buffer `B` of the caller's choice (a
/// `String`, or a fixed-size string type without a heap).
///
/// ```
/// use kvp_codec::{KeyLayout, KeyParts, Level, Limits};
///
/// let layout = KeyLayout::new(String::new(), "agent", "vm|1", &Limits::SAFE, 16, 29)?;
/// let mut key = String::new();
/// layout.write(&mut key, Level::Warn, "provision", "1a2b-7")?;
/// assert_eq!(key, "agent|vm_1|WARN|provision|1a2b-7");
/// let parts = KeyParts::parse(&key).expect("it parses back");
/// assert_eq!((parts.vm_id, parts.name), ("vm_1", "provision"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyLayout<B> {
    head: B,
    /// UTF-16 units of the head.
    head_units: usize,
    /// Bytes (and units) kept free for the chunk suffix.
    reserve: usize,
    limits: Limits,
}

impl<B: AsRef<str>> KeyLayout<B> {
    /// The least room a layout must leave for the name, in UTF-16 units.
    pub const MIN_NAME_ROOM: usize = 8;

    /// A layout for keys `<prefix>|<vm_id>|<LEVEL>|<name>|<id>` under
    /// `limits`, with room for the suffix of chunk `max_chunks - 1` and for
    /// ids up to `max_id_len` bytes (ASCII). `head` must be empty; the
    /// sanitised head is written into it.
    pub fn new(
        mut head: B,
        prefix: &str,
        vm_id: &str,
        limits: &Limits,
        max_chunks: usize,
        max_id_len: usize,
    ) -> Result<Self, KeyLayoutError>
    where
        B: fmt::Write,
    {
        let write = |head: &mut B| -> fmt::Result {
            write_key_part(head, prefix)?;
            head.write_char('|')?;
            write_key_part(head, vm_id)?;
            head.write_char('|')
        };
        write(&mut head).map_err(|_| KeyLayoutError::Buffer)?;
        let layout = KeyLayout {
            head_units: utf16_len(head.as_ref()),
            head,
            reserve: chunk_suffix_len(max_chunks),
            limits: *limits,
        };
        let room = layout.name_room(max_id_len);
        if room < Self::MIN_NAME_ROOM {
            return Err(KeyLayoutError::NoRoomForName { room });
        }
        Ok(layout)
    }

    /// `<prefix>|<vm_id>|`, sanitised.
    pub fn head(&self) -> &str {
        self.head.as_ref()
    }

    /// The room left for the name, in UTF-16 units, with the longest level
    /// and an id of `id_len` bytes.
    pub fn name_room(&self, id_len: usize) -> usize {
        let fixed = self.head_units + Level::Error.as_str().len() + 2 + id_len + self.reserve;
        self.limits.key_units().saturating_sub(fixed)
    }

    /// Writes the key of a record into `out`: the name sanitised and, when
    /// the key would not fit with a chunk suffix, shortened.
    pub fn write<W: fmt::Write + ?Sized>(
        &self,
        out: &mut W,
        level: Level,
        name: &str,
        id: &str,
    ) -> fmt::Result {
        let head = self.head.as_ref();
        out.write_str(head)?;
        out.write_str(level.as_str())?;
        out.write_char('|')?;
        // Level, separators and id are ASCII: one unit a byte.
        let tail = level.as_str().len() + 2 + id.len() + self.reserve;
        let byte_room = self.limits.key_bytes().saturating_sub(head.len() + tail);
        let unit_room = self
            .limits
            .key_units()
            .saturating_sub(self.head_units + tail);
        let plain = |b: u8| b.is_ascii() && b != b'|' && b != 0;
        if name.is_empty() {
            out.write_char('_')?;
        } else if name.len() <= byte_room.min(unit_room) && name.bytes().all(plain) {
            // The common case: an ASCII target or span name that fits.
            out.write_str(name)?;
        } else {
            let (mut bytes, mut units) = (0, 0);
            for c in name.chars() {
                let c = if c == '|' || c == '\0' { '_' } else { c };
                bytes += c.len_utf8();
                units += c.len_utf16();
                if bytes > byte_room || units > unit_room {
                    break;
                }
                out.write_char(c)?;
            }
            if bytes == 0 {
                out.write_char('_')?;
            }
        }
        out.write_char('|')?;
        out.write_str(id)
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use alloc::string::String;

    use super::*;
    use crate::key::KeyParts;

    #[test]
    fn absurd_names_are_shortened_never_the_id() {
        let layout = KeyLayout::new(String::new(), "agent", "vm", &Limits::SAFE, 16, 29)
            .expect("room for a name");
        for name in [
            "x".repeat(1000),
            "日".repeat(600),
            "😀".repeat(300),
            "a|b\0c".into(),
        ] {
            let mut key = String::new();
            layout
                .write(
                    &mut key,
                    Level::Warn,
                    &name,
                    "00112233aabb-ffffffffffffffff",
                )
                .expect("a String takes any text");
            assert!(key.ends_with("|00112233aabb-ffffffffffffffff"), "{key}");
            let chunk_key = alloc::format!("{key}|15");
            assert!(Limits::SAFE.key_fits(&chunk_key), "{chunk_key}");
            assert!(KeyParts::parse(&key).is_some(), "{key}");
        }
    }

    #[test]
    fn a_head_that_leaves_no_room_is_refused() {
        let long = "p".repeat(300);
        let err =
            KeyLayout::new(String::new(), &long, "vm", &Limits::SAFE, 16, 29).expect_err("no room");
        assert!(
            matches!(err, KeyLayoutError::NoRoomForName { room: 0 }),
            "{err:?}"
        );
    }
}
