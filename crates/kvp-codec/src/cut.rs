//! The one string cutter: the longest prefix of a text within a number of
//! bytes and of UTF-16 units, ending at a character boundary. Chunks, the
//! cut before the truncation marker, the host's own cut (as `kvp check`
//! predicts it) and a producer's bounded capture are all this prefix.

/// The longest prefix of `s`, ending at a character boundary, that has at
/// most `max_bytes` bytes and at most `max_units` UTF-16 code units
/// (`usize::MAX` for no bound).
///
/// ```
/// use kvp_codec::prefix_within;
///
/// assert_eq!(prefix_within("héllo", 2, usize::MAX), "h");   // not half an é
/// assert_eq!(prefix_within("héllo", usize::MAX, 2), "hé");
/// assert_eq!(prefix_within("😀x", 8, 1), "");                // two units
/// ```
// Inline: a producer cuts every text field it captures through this, and
// most fit, so the call would cost more than the check.
#[inline]
pub fn prefix_within(s: &str, max_bytes: usize, max_units: usize) -> &str {
    let mut end = s.len().min(max_bytes);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    if end <= max_units {
        // A text has no more UTF-16 units than bytes.
        return &s[..end];
    }
    let mut units = 0;
    for (at, c) in s[..end].char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return &s[..at];
        }
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_prefix_is_the_longest_within_both_bounds(
            s in any::<alloc::string::String>(),
            max_bytes in 0usize..64,
            max_units in 0usize..64,
        ) {
            let p = prefix_within(&s, max_bytes, max_units);
            prop_assert!(s.starts_with(p));
            prop_assert!(p.len() <= max_bytes);
            prop_assert!(crate::utf16_len(p) <= max_units);
            // One more character would break a bound.
            if let Some(c) = s[p.len()..].chars().next() {
                prop_assert!(
                    p.len() + c.len_utf8() > max_bytes
                        || crate::utf16_len(p) + c.len_utf16() > max_units
                );
            }
        }
    }
}
