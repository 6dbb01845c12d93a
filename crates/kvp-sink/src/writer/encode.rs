//! Entries turned into records, waiting for the next write: appends (a
//! long value split into `|<i>` chunks, cut to the most chunks allowed)
//! and upserts (cut to one record), in arrival order.

use kvp_codec::schema::{TRUNCATED_MARKER, fit_with_marker, value_pieces};
use kvp_codec::{EncodeError, Field, Level, Limits, RECORD_SIZE, encode, encode_chunk};

use crate::record_buf::RecordBuf;

/// How an entry was encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Encoded {
    /// Whole.
    Whole,
    /// Cut, ending in [`TRUNCATED_MARKER`].
    Truncated,
}

/// Encoded records waiting for the thread's next write.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Records to append.
    pub(super) batch: RecordBuf,
    /// The level of each record in `batch`.
    pub(super) levels: Vec<Option<Level>>,
    /// Records to upsert, each with the number of batch records queued
    /// before it, so that arrival order is kept.
    pub(super) upserts: Vec<(usize, [u8; RECORD_SIZE])>,
}

impl Pending {
    /// Records waiting, appends and upserts.
    pub(super) fn records(&self) -> u64 {
        (self.batch.records() + self.upserts.len()) as u64
    }

    pub(super) fn is_empty(&self) -> bool {
        self.batch.is_empty() && self.upserts.is_empty()
    }

    pub(super) fn clear(&mut self) {
        self.batch.clear();
        self.levels.clear();
        self.upserts.clear();
    }

    /// Encodes a record to append; a value too long for one record is
    /// split, and cut after `max_chunks` chunks. On an error nothing is
    /// added.
    pub(super) fn append(
        &mut self,
        level: Option<Level>,
        key: &str,
        value: &str,
        limits: &Limits,
        max_chunks: usize,
    ) -> Result<Encoded, EncodeError> {
        let start = self.batch.len();
        // Most values fit one record: try that first rather than checking
        // the value twice, and split only a value too long for it.
        let result = match encode(key, value, limits, self.batch.new_slot()) {
            Ok(()) => Ok(Encoded::Whole),
            Err(EncodeError::TooLong {
                field: Field::Value,
                ..
            }) => {
                self.batch.truncate(start);
                self.append_chunks(key, value, limits, max_chunks)
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.batch.truncate(start);
        }
        self.levels.resize(self.batch.records(), level);
        result
    }

    /// The value's records by the schema's policy ([`value_pieces`]).
    fn append_chunks(
        &mut self,
        key: &str,
        value: &str,
        limits: &Limits,
        max_chunks: usize,
    ) -> Result<Encoded, EncodeError> {
        for piece in value_pieces(value, limits, max_chunks) {
            if piece.truncated {
                let cut = format!("{}{TRUNCATED_MARKER}", piece.text);
                encode_chunk(key, piece.index, &cut, limits, self.batch.new_slot())?;
                return Ok(Encoded::Truncated);
            }
            encode_chunk(key, piece.index, piece.text, limits, self.batch.new_slot())?;
        }
        Ok(Encoded::Whole)
    }

    /// Encodes a record to upsert, its value cut to one record.
    pub(super) fn upsert(
        &mut self,
        key: &str,
        value: &str,
        limits: &Limits,
    ) -> Result<Encoded, EncodeError> {
        let mut record = [0u8; RECORD_SIZE];
        let encoded = if limits.value_fits(value) {
            encode(key, value, limits, &mut record)?;
            Encoded::Whole
        } else {
            let cut = format!("{}{TRUNCATED_MARKER}", fit_with_marker(value, limits));
            encode(key, &cut, limits, &mut record)?;
            Encoded::Truncated
        };
        self.upserts.push((self.batch.records(), record));
        Ok(encoded)
    }
}
