//! Why a key or value cannot be encoded.

use core::fmt;

use crate::limits::{Field, Unit};

/// Why a key or value cannot be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The key is empty: readers could not tell the record from padding.
    EmptyKey,
    /// A NUL byte inside the text: every reader would cut the field there.
    Nul {
        /// The field holding the NUL.
        field: Field,
        /// Byte offset of the first NUL.
        offset: usize,
    },
    /// The text is longer than the limit.
    TooLong {
        /// The field that is too long.
        field: Field,
        /// The unit of `limit` and `actual`.
        unit: Unit,
        /// The largest length allowed.
        limit: usize,
        /// The length given.
        actual: usize,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EncodeError::EmptyKey => f.write_str("KVP key is empty"),
            EncodeError::Nul { field, offset } => {
                write!(f, "KVP {field} contains a NUL byte at offset {offset}")
            }
            EncodeError::TooLong {
                field,
                unit,
                limit,
                actual,
            } => write!(
                f,
                "KVP {field} is {actual} {unit} long; the limit is {limit} {unit}"
            ),
        }
    }
}

impl core::error::Error for EncodeError {}
