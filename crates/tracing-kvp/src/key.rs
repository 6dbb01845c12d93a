//! Building keys `<prefix>|<vm_id>|<LEVEL>|<name>|<id>` that stay within the
//! limits.
//!
//! Inside a part, `|` and NUL are replaced by `_` (they would split the key
//! or end it). When the key would be too long, the **name** is shortened at a
//! character boundary; the prefix, vm_id, level and id are never cut, so a
//! key stays unique. Room is kept for a chunk suffix `|<i>`.

use kvp_codec::{Level, Limits, utf16_len};

/// The parts that do not change between records.
#[derive(Clone, Debug)]
pub(crate) struct KeyLayout {
    /// `<prefix>|<vm_id>|`, sanitized.
    head: String,
    /// UTF-16 units of `head`, computed once.
    head_units: usize,
    /// Room kept for `|<i>` and for the id, in bytes and in units.
    reserve: usize,
    limits: Limits,
}

/// The longest id `Ids` writes: 12 + 1 + 16.
const MAX_ID: usize = 29;

impl KeyLayout {
    pub(crate) fn new(prefix: &str, vm_id: &str, limits: Limits, max_chunks: usize) -> Self {
        let mut head = String::new();
        push_sanitized(&mut head, prefix);
        head.push('|');
        push_sanitized(&mut head, vm_id);
        head.push('|');
        let suffix = 1 + (max_chunks.saturating_sub(1)).to_string().len();
        KeyLayout {
            head_units: utf16_len(&head),
            head,
            reserve: suffix,
            limits,
        }
    }

    /// Room left for the name in the worst case, in UTF-16 units (bytes are
    /// checked as the name is written).
    pub(crate) fn name_room(&self) -> usize {
        let fixed = self.head_units + "ERROR|".len() + 1 + MAX_ID + self.reserve;
        self.limits.key_units().saturating_sub(fixed)
    }

    /// Writes the key into `out` (cleared first).
    pub(crate) fn write(&self, out: &mut String, level: Level, name: &str, id: &str) {
        out.clear();
        out.push_str(&self.head);
        out.push_str(level.as_str());
        out.push('|');
        // Level, separators and id are ASCII: one unit per byte.
        let tail = level.as_str().len() + 2 + id.len() + self.reserve;
        let byte_room = self
            .limits
            .key_bytes()
            .saturating_sub(self.head.len() + tail);
        let unit_room = self
            .limits
            .key_units()
            .saturating_sub(self.head_units + tail);
        let plain = |b: u8| b.is_ascii() && b != b'|' && b != 0;
        if name.len() <= byte_room.min(unit_room) && name.bytes().all(plain) {
            // The common case: an ASCII target or span name that fits.
            out.push_str(name);
            out.push('|');
            out.push_str(id);
            return;
        }
        let (mut bytes, mut units) = (0, 0);
        for c in name.chars() {
            let c = if c == '|' || c == '\0' { '_' } else { c };
            bytes += c.len_utf8();
            units += c.len_utf16();
            if bytes > byte_room || units > unit_room {
                break;
            }
            out.push(c);
        }
        out.push('|');
        out.push_str(id);
    }
}

fn push_sanitized(out: &mut String, part: &str) {
    out.extend(
        part.chars()
            .map(|c| if c == '|' || c == '\0' { '_' } else { c }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_names_are_shortened_never_the_id() {
        let layout = KeyLayout::new("agent", "vm", Limits::SAFE, 16);
        let mut key = String::new();
        for name in [
            "x".repeat(1000),
            "日".repeat(600),
            "😀".repeat(300),
            "a|b\0c".into(),
        ] {
            layout.write(
                &mut key,
                Level::Warn,
                &name,
                "00112233aabb-ffffffffffffffff",
            );
            assert!(key.ends_with("|00112233aabb-ffffffffffffffff"), "{key}");
            let chunk_key = format!("{key}|15");
            assert!(
                Limits::SAFE.key_fits(&chunk_key),
                "{} bytes {} units",
                chunk_key.len(),
                utf16_len(&chunk_key)
            );
            assert_eq!(key.matches('|').count(), 4, "{key}");
        }
    }
}
