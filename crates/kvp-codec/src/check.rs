//! Whether a key or value fits a record under some [`Limits`]: the one
//! check every encoder makes, and the answer it gives when it does not.

use crate::error::EncodeError;
use crate::limits::{Field, Limits, Unit, utf16_len};

impl Limits {
    /// Whether `key` is non-empty, has no NUL and fits.
    pub fn key_fits(&self, key: &str) -> bool {
        self.check(Field::Key, key).is_ok()
    }

    /// Whether `value` has no NUL and fits in one record.
    pub fn value_fits(&self, value: &str) -> bool {
        self.check(Field::Value, value).is_ok()
    }

    /// Checks one field's text: not an empty key, no NUL, within both bounds.
    pub(crate) fn check(&self, field: Field, text: &str) -> Result<(), EncodeError> {
        if field == Field::Key && text.is_empty() {
            return Err(EncodeError::EmptyKey);
        }
        // `contains` on bytes is core's word-at-a-time memchr; the exact
        // offset is only looked for on the error path.
        if text.as_bytes().contains(&0) {
            let offset = text.bytes().position(|b| b == 0).unwrap_or_default();
            return Err(EncodeError::Nul { field, offset });
        }
        self.check_len(field, text.len(), || utf16_len(text))
    }

    /// Checks a length in bytes and, only when it could matter, in units
    /// (`units` is called lazily: a text has no more units than bytes).
    pub(crate) fn check_len(
        &self,
        field: Field,
        bytes: usize,
        units: impl FnOnce() -> usize,
    ) -> Result<(), EncodeError> {
        let (max_bytes, max_units) = self.bounds(field);
        if bytes > max_bytes {
            return Err(EncodeError::TooLong {
                field,
                unit: Unit::Bytes,
                limit: max_bytes,
                actual: bytes,
            });
        }
        if bytes > max_units {
            let actual = units();
            if actual > max_units {
                return Err(EncodeError::TooLong {
                    field,
                    unit: Unit::Utf16,
                    limit: max_units,
                    actual,
                });
            }
        }
        Ok(())
    }
}
