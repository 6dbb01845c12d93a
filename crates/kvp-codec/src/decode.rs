//! Reading records back, zero-copy.
//!
//! Each field ends at its first NUL, as in the kernel and `hv_kvp_daemon`
//! (bytes after it may be stale leftovers and are ignored). A field with no
//! NUL at all is read to the end of the field. A trailing partial record is
//! reported, never silently dropped; so is invalid UTF-8, with the index of
//! the record that holds it, because the host stops enumerating the pool at
//! the first record it cannot convert.

use core::fmt;

use crate::layout::{KEY_SIZE, RECORD_SIZE};
use crate::limits::Field;

/// A view of one record's bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    bytes: &'a [u8; RECORD_SIZE],
}

impl fmt::Debug for Record<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("key", &self.key())
            .field("value_len", &self.value_bytes().len())
            .finish()
    }
}

impl<'a> Record<'a> {
    /// A view of `bytes`.
    pub fn new(bytes: &'a [u8; RECORD_SIZE]) -> Self {
        Record { bytes }
    }

    /// A view of `bytes` when it is exactly one record long.
    pub fn from_slice(bytes: &'a [u8]) -> Option<Self> {
        bytes.try_into().ok().map(Record::new)
    }

    /// The whole record, both fields with their padding.
    pub fn raw(&self) -> &'a [u8; RECORD_SIZE] {
        self.bytes
    }

    /// The key's bytes, up to the first NUL.
    pub fn key_bytes(&self) -> &'a [u8] {
        until_nul(&self.bytes[..KEY_SIZE])
    }

    /// The value's bytes, up to the first NUL.
    pub fn value_bytes(&self) -> &'a [u8] {
        until_nul(&self.bytes[KEY_SIZE..])
    }

    /// The key as text.
    pub fn key(&self) -> Result<&'a str, core::str::Utf8Error> {
        core::str::from_utf8(self.key_bytes())
    }

    /// The value as text.
    pub fn value(&self) -> Result<&'a str, core::str::Utf8Error> {
        core::str::from_utf8(self.value_bytes())
    }

    /// Whether `field` ends with a NUL inside its bytes. A field without one
    /// was not written by a careful writer; readers take the whole field.
    pub fn is_terminated(&self, field: Field) -> bool {
        self.field(field).contains(&0)
    }

    /// Whether non-zero bytes follow the first NUL of either field: stale
    /// text from an older record, invisible to every reader.
    pub fn has_stale_bytes(&self) -> bool {
        [Field::Key, Field::Value].into_iter().any(|field| {
            let bytes = self.field(field);
            let text = until_nul(bytes).len();
            bytes[text..].iter().any(|&b| b != 0)
        })
    }

    fn field(&self, field: Field) -> &'a [u8] {
        match field {
            Field::Key => &self.bytes[..KEY_SIZE],
            Field::Value => &self.bytes[KEY_SIZE..],
        }
    }
}

fn until_nul(field: &[u8]) -> &[u8] {
    match field.iter().position(|&b| b == 0) {
        Some(end) => &field[..end],
        None => field,
    }
}

/// One record read from a pool, with its position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The record's index in the file (its offset divided by [`RECORD_SIZE`]).
    pub index: usize,
    /// The key, up to its first NUL.
    pub key: &'a str,
    /// The value, up to its first NUL.
    pub value: &'a str,
    /// The raw record, for stale bytes or missing terminators.
    pub record: Record<'a>,
}

/// A problem found while reading a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError<'a> {
    /// A field is not valid UTF-8. The host fails to read this record and
    /// stops enumerating the pool there.
    InvalidUtf8 {
        /// Index of the record.
        index: usize,
        /// The field with the bad bytes (the key when both are bad).
        field: Field,
        /// Bytes of the field that are valid before the first bad one.
        valid_up_to: usize,
        /// The record, to show its bytes.
        record: Record<'a>,
    },
    /// A field has no terminating NUL (reported only in [`Mode::Strict`]).
    Unterminated {
        /// Index of the record.
        index: usize,
        /// The field without a NUL.
        field: Field,
        /// The record.
        record: Record<'a>,
    },
    /// The file ends inside a record: `len` bytes at `offset` are not a
    /// whole record (a writer died mid-write, or the file is not a pool).
    PartialTail {
        /// Index the record would have had.
        index: usize,
        /// Byte offset where the partial record starts.
        offset: usize,
        /// Bytes present, less than [`RECORD_SIZE`].
        len: usize,
    },
}

impl DecodeError<'_> {
    /// Index of the record the problem is in.
    pub fn index(&self) -> usize {
        match *self {
            DecodeError::InvalidUtf8 { index, .. }
            | DecodeError::Unterminated { index, .. }
            | DecodeError::PartialTail { index, .. } => index,
        }
    }
}

impl fmt::Display for DecodeError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::InvalidUtf8 {
                index,
                field,
                valid_up_to,
                ..
            } => write!(
                f,
                "record {index}: {field} is not valid UTF-8 (bad byte at offset {valid_up_to})"
            ),
            DecodeError::Unterminated { index, field, .. } => {
                write!(f, "record {index}: {field} field has no terminating NUL")
            }
            DecodeError::PartialTail { index, offset, len } => write!(
                f,
                "record {index}: partial record of {len} bytes at offset {offset} \
                 (a record is {RECORD_SIZE} bytes)"
            ),
        }
    }
}

impl core::error::Error for DecodeError<'_> {}

/// How a [`Records`] iterator treats problems.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Report each problem and go on with the next record, as a tool that
    /// shows a damaged file should. Fields without a NUL are read whole.
    #[default]
    Lenient,
    /// Stop after the first problem, counting a field without a NUL as one.
    Strict,
}

/// Iterator over a whole pool file; see [`decode`] and [`decode_strict`].
#[derive(Clone, Debug)]
pub struct Records<'a> {
    data: &'a [u8],
    index: usize,
    mode: Mode,
    done: bool,
}

/// Reads every record of a pool file, reporting problems and going on.
///
/// ```
/// use kvp_codec::{decode, DecodeError, RECORD_SIZE};
///
/// let mut file = vec![0u8; RECORD_SIZE + 70];
/// file[..3].copy_from_slice(b"key");
/// let items: Vec<_> = decode(&file).collect();
/// assert_eq!(items[0].as_ref().unwrap().key, "key");
/// assert!(matches!(items[1], Err(DecodeError::PartialTail { index: 1, len: 70, .. })));
/// ```
pub fn decode(data: &[u8]) -> Records<'_> {
    Records::new(data, Mode::Lenient)
}

/// Reads records until the first problem, which is the last item.
pub fn decode_strict(data: &[u8]) -> Records<'_> {
    Records::new(data, Mode::Strict)
}

impl<'a> Records<'a> {
    /// An iterator over `data` in the given mode.
    pub fn new(data: &'a [u8], mode: Mode) -> Self {
        Records {
            data,
            index: 0,
            mode,
            done: false,
        }
    }

    /// The number of whole records in the file.
    pub fn whole_records(&self) -> usize {
        self.data.len() / RECORD_SIZE
    }

    /// The offset and length of a trailing partial record, if any.
    pub fn partial_tail(&self) -> Option<(usize, usize)> {
        let len = self.data.len() % RECORD_SIZE;
        (len != 0).then(|| (self.data.len() - len, len))
    }

    fn check(&self, index: usize, record: Record<'a>) -> Result<Decoded<'a>, DecodeError<'a>> {
        let bad = |field, e: core::str::Utf8Error| DecodeError::InvalidUtf8 {
            index,
            field,
            valid_up_to: e.valid_up_to(),
            record,
        };
        let key = record.key().map_err(|e| bad(Field::Key, e))?;
        let value = record.value().map_err(|e| bad(Field::Value, e))?;
        if self.mode == Mode::Strict {
            for field in [Field::Key, Field::Value] {
                if !record.is_terminated(field) {
                    return Err(DecodeError::Unterminated {
                        index,
                        field,
                        record,
                    });
                }
            }
        }
        Ok(Decoded {
            index,
            key,
            value,
            record,
        })
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Decoded<'a>, DecodeError<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let index = self.index;
        let offset = index * RECORD_SIZE;
        let rest = &self.data[offset.min(self.data.len())..];
        let item = match rest.split_first_chunk::<RECORD_SIZE>() {
            Some((bytes, _)) => self.check(index, Record::new(bytes)),
            None if rest.is_empty() => {
                self.done = true;
                return None;
            }
            None => {
                self.done = true;
                Err(DecodeError::PartialTail {
                    index,
                    offset,
                    len: rest.len(),
                })
            }
        };
        self.index += 1;
        if item.is_err() && self.mode == Mode::Strict {
            self.done = true;
        }
        Some(item)
    }
}

impl core::iter::FusedIterator for Records<'_> {}
