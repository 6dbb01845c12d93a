//! The value policy: a value too long for one record is split into `|<i>`
//! chunks at character boundaries ([`split_value`]),
//! at most a given number of them; a value cut short ends in
//! [`TRUNCATED_MARKER`] within its last record.

use crate::limits::Limits;
use crate::split::{Chunks, split_value};
use crate::{prefix_within, utf16_len};

/// Appended to a value cut because it needed more records than allowed.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

/// The longest prefix of `chunk` that, followed by [`TRUNCATED_MARKER`],
/// fits one value under `limits`; cut at a character boundary.
///
/// ```
/// use kvp_codec::{Limits, schema::{TRUNCATED_MARKER, fit_with_marker}};
///
/// let long = "x".repeat(5000);
/// let kept = fit_with_marker(&long, &Limits::SAFE);
/// assert!(Limits::SAFE.value_fits(&format!("{kept}{TRUNCATED_MARKER}")));
/// ```
pub fn fit_with_marker<'a>(chunk: &'a str, limits: &Limits) -> &'a str {
    prefix_within(
        chunk,
        limits.value_bytes().saturating_sub(TRUNCATED_MARKER.len()),
        limits
            .value_units()
            .saturating_sub(utf16_len(TRUNCATED_MARKER)),
    )
}

/// One record's part of a value: chunk `index`, its text, and whether
/// [`TRUNCATED_MARKER`] follows it (the value was cut here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece<'a> {
    /// The chunk's index (`<key>|<index>` when the value takes more than
    /// one record).
    pub index: u32,
    /// The text of the chunk.
    pub text: &'a str,
    /// The value was cut after this text: write [`TRUNCATED_MARKER`] after
    /// it.
    pub truncated: bool,
}

/// The records a value takes under `limits`, at most `max_records`
/// (0 means 1): each chunk whole but the last, which is cut to leave room
/// for the marker when the value does not fit. An empty value is one
/// empty piece. Allocates nothing.
///
/// ```
/// use kvp_codec::{Limits, schema::value_pieces};
///
/// let value = "y".repeat(3000);
/// let pieces: Vec<_> = value_pieces(&value, &Limits::SAFE, 2).collect();
/// assert_eq!(pieces.len(), 2);
/// assert!(!pieces[0].truncated && pieces[1].truncated);
/// let whole: Vec<_> = value_pieces(&value, &Limits::SAFE, 8).collect();
/// assert_eq!(whole.len(), 3);
/// assert!(whole.iter().all(|p| !p.truncated));
/// ```
pub fn value_pieces<'a>(value: &'a str, limits: &Limits, max_records: usize) -> Pieces<'a> {
    Pieces {
        chunks: split_value(value, limits),
        limits: *limits,
        next: 0,
        max: max_records.max(1),
        empty: value.is_empty(),
    }
}

/// The pieces of a value; see [`value_pieces`].
#[derive(Clone, Debug)]
pub struct Pieces<'a> {
    chunks: Chunks<'a>,
    limits: Limits,
    next: usize,
    max: usize,
    empty: bool,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.next >= self.max {
            return None;
        }
        let index = u32::try_from(self.next).ok()?;
        self.next += 1;
        if self.empty {
            self.empty = false;
            return Some(Piece {
                index,
                text: "",
                truncated: false,
            });
        }
        let chunk = self.chunks.next()?;
        if self.next == self.max && !self.chunks.rest().is_empty() {
            return Some(Piece {
                index,
                text: fit_with_marker(chunk, &self.limits),
                truncated: true,
            });
        }
        Some(Piece {
            index,
            text: chunk,
            truncated: false,
        })
    }
}

impl core::iter::FusedIterator for Pieces<'_> {}
