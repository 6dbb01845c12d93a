//! Writing one record into a caller's buffer, without allocating.

use crate::error::EncodeError;
use crate::layout::{KEY_SIZE, RECORD_SIZE};
use crate::limits::{Field, Limits, utf16_len};

/// Encodes `key` and `value` into `out`, NUL padding both fields.
///
/// Every byte of `out` is written, so a reused buffer never leaks an older
/// record. Nothing is written when an error is returned.
///
/// ```
/// use kvp_codec::{encode, EncodeError, Field, Limits, Unit, RECORD_SIZE};
///
/// let mut buf = [0xAA; RECORD_SIZE];
/// encode("k", "v", &Limits::SAFE, &mut buf)?;
/// assert_eq!(&buf[..2], b"k\0");
///
/// let err = encode("k", &"x".repeat(1023), &Limits::SAFE, &mut buf).unwrap_err();
/// assert_eq!(err, EncodeError::TooLong { field: Field::Value, unit: Unit::Utf16, limit: 1022, actual: 1023 });
/// # Ok::<(), EncodeError>(())
/// ```
pub fn encode(
    key: &str,
    value: &str,
    limits: &Limits,
    out: &mut [u8; RECORD_SIZE],
) -> Result<(), EncodeError> {
    limits.check(Field::Key, key)?;
    limits.check(Field::Value, value)?;
    let (key_field, value_field) = out.split_at_mut(KEY_SIZE);
    put(key_field, &[key.as_bytes()]);
    put(value_field, &[value.as_bytes()]);
    Ok(())
}

/// Encodes chunk `index` of a split value: the key written is `<key>|<index>`
/// (the rule cloud-init uses), and the whole of it must fit the key limit.
///
/// ```
/// use kvp_codec::{encode_chunk, decode, Limits, RECORD_SIZE};
///
/// let mut buf = [0; RECORD_SIZE];
/// encode_chunk("event", 12, "part", &Limits::SAFE, &mut buf)?;
/// assert_eq!(decode(&buf).next().unwrap().unwrap().key, "event|12");
/// # Ok::<(), kvp_codec::EncodeError>(())
/// ```
pub fn encode_chunk(
    key: &str,
    index: u32,
    chunk: &str,
    limits: &Limits,
    out: &mut [u8; RECORD_SIZE],
) -> Result<(), EncodeError> {
    limits.check(Field::Key, key)?;
    let mut digits = [0u8; 10];
    let digits = decimal(index, &mut digits);
    let suffix_len = 1 + digits.len();
    // The suffix is ASCII: one unit per byte.
    limits.check_len(Field::Key, key.len() + suffix_len, || {
        utf16_len(key) + suffix_len
    })?;
    limits.check(Field::Value, chunk)?;
    let (key_field, value_field) = out.split_at_mut(KEY_SIZE);
    put(key_field, &[key.as_bytes(), b"|", digits]);
    put(value_field, &[chunk.as_bytes()]);
    Ok(())
}

/// Copies `parts` to the start of `field` and zeroes the rest. The caller
/// has checked that they fit with room for a NUL.
fn put(field: &mut [u8], parts: &[&[u8]]) {
    let mut at = 0;
    for part in parts {
        field[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    field[at..].fill(0);
}

/// Writes `n` in decimal into `buf` and returns the digits.
fn decimal(mut n: u32, buf: &mut [u8; 10]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        // `n % 10` is below 10, so the cast cannot truncate.
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}
