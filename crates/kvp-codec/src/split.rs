//! Splitting a long value into chunks that each fit one record.
//!
//! Chunks end at character boundaries, so every chunk is valid UTF-8 on its
//! own (azure-init's layer cut at byte 1022 and wrote invalid UTF-8, which
//! makes the host stop reading the pool at that record). Each chunk is as
//! long as both the byte and the UTF-16 bound allow.

use crate::cut::prefix_within;
use crate::limits::{Field, Limits};

/// Splits `value` into chunks that each fit `limits`, in order.
///
/// The iterator borrows `value` and allocates nothing; an empty value
/// yields no chunk. To cap the number of records a value may take, use
/// [`Iterator::take`] and [`Chunks::rest`] to learn what was left out.
///
/// ```
/// use kvp_codec::{split_value, Limits};
///
/// let value = "é".repeat(2500);               // 2500 units: 3 chunks
/// let chunks: Vec<&str> = split_value(&value, &Limits::SAFE).collect();
/// assert_eq!(chunks.iter().map(|c| c.chars().count()).collect::<Vec<_>>(), [1022, 1022, 456]);
/// assert_eq!(chunks.concat(), value);
/// ```
pub fn split_value<'a>(value: &'a str, limits: &Limits) -> Chunks<'a> {
    let (max_bytes, max_units) = limits.bounds(Field::Value);
    Chunks {
        rest: value,
        max_bytes,
        max_units,
    }
}

/// The chunks of a value; see [`split_value`].
#[derive(Clone, Debug)]
pub struct Chunks<'a> {
    rest: &'a str,
    max_bytes: usize,
    max_units: usize,
}

impl<'a> Chunks<'a> {
    /// The part of the value not yet yielded.
    pub fn rest(&self) -> &'a str {
        self.rest
    }

    /// Where the next chunk of `s` ends: the longest prefix within both
    /// bounds ([`prefix_within`]). Never 0 for a non-empty `s`, because
    /// [`Limits`] guarantees room for any one character.
    fn next_end(&self, s: &str) -> usize {
        prefix_within(s, self.max_bytes, self.max_units).len()
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.rest.is_empty() {
            return None;
        }
        let (chunk, rest) = self.rest.split_at(self.next_end(self.rest));
        self.rest = rest;
        Some(chunk)
    }
}

impl core::iter::FusedIterator for Chunks<'_> {}
