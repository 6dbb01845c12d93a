//! How much of a key and a value a record may carry.
//!
//! The key and value fields are 512 and 2048 bytes, and a reader treats each
//! as a C string, so at most 511 and 2047 bytes of text fit with their NUL.
//! The host sees less: the kernel converts each field to UTF-16 and keeps at
//! most 254 code units of key and 1022 of value, cutting the rest silently.
//! Counting UTF-16 units rather than bytes lets non-ASCII text use the room
//! the host really gives (1022 `é` are 2044 bytes but 1022 units).

use core::fmt;

use crate::layout::{KEY_SIZE, VALUE_SIZE};

/// Which field of a record a limit or an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The 512-byte key field.
    Key,
    /// The 2048-byte value field.
    Value,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Key => "key",
            Field::Value => "value",
        })
    }
}

/// The unit a length is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// UTF-8 bytes, as stored in the file.
    Bytes,
    /// UTF-16 code units, as the host receives them.
    Utf16,
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Bytes => "bytes",
            Unit::Utf16 => "UTF-16 code units",
        })
    }
}

/// The longest key and value a record may carry, in bytes and in UTF-16
/// code units; both bounds hold at once.
///
/// ```
/// use kvp_codec::Limits;
///
/// assert!(Limits::SAFE.value_fits(&"é".repeat(1022)));   // 2044 bytes, 1022 units
/// assert!(!Limits::SAFE.value_fits(&"x".repeat(1023)));
/// assert!(Limits::RAW.value_fits(&"x".repeat(2047)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    key_bytes: usize,
    value_bytes: usize,
    key_units: usize,
    value_units: usize,
}

impl Default for Limits {
    /// [`Limits::SAFE`].
    fn default() -> Self {
        Limits::SAFE
    }
}

/// The reason [`Limits::new`] refused a set of limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidLimits {
    what: &'static str,
}

impl fmt::Display for InvalidLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid KVP limits: {}", self.what)
    }
}

impl core::error::Error for InvalidLimits {}

impl Limits {
    /// What the host receives intact: key <= 254 UTF-16 units and <= 511
    /// bytes, value <= 1022 units and <= 2047 bytes. The default.
    pub const SAFE: Limits = Limits {
        key_bytes: KEY_SIZE - 1,
        value_bytes: VALUE_SIZE - 1,
        key_units: 254,
        value_units: 1022,
    };

    /// Only the field sizes: key <= 511 bytes, value <= 2047 bytes, always
    /// followed by a NUL. Records this long are cut by the kernel on their
    /// way to the host; use for guest-only pools or tests.
    pub const RAW: Limits = Limits {
        key_bytes: KEY_SIZE - 1,
        value_bytes: VALUE_SIZE - 1,
        key_units: KEY_SIZE - 1,
        value_units: VALUE_SIZE - 1,
    };

    /// Custom limits, tighter than [`Limits::RAW`].
    ///
    /// A value must have room for any one character (4 bytes, 2 units), so
    /// that splitting always makes progress.
    ///
    /// ```
    /// use kvp_codec::Limits;
    /// let small = Limits::new(64, 100, 64, 100)?;
    /// assert!(Limits::new(64, 3, 64, 3).is_err());
    /// # Ok::<(), kvp_codec::InvalidLimits>(())
    /// ```
    pub const fn new(
        key_bytes: usize,
        value_bytes: usize,
        key_units: usize,
        value_units: usize,
    ) -> Result<Limits, InvalidLimits> {
        let what = if key_bytes == 0 || key_bytes > KEY_SIZE - 1 {
            "key bytes must be in 1..=511"
        } else if value_bytes < 4 || value_bytes > VALUE_SIZE - 1 {
            "value bytes must be in 4..=2047"
        } else if key_units == 0 {
            "key UTF-16 units must be at least 1"
        } else if value_units < 2 {
            "value UTF-16 units must be at least 2"
        } else {
            return Ok(Limits {
                key_bytes,
                value_bytes,
                key_units,
                value_units,
            });
        };
        Err(InvalidLimits { what })
    }

    /// The most bytes a key may have.
    pub const fn key_bytes(&self) -> usize {
        self.key_bytes
    }

    /// The most bytes a value may have.
    pub const fn value_bytes(&self) -> usize {
        self.value_bytes
    }

    /// The most UTF-16 code units a key may have.
    pub const fn key_units(&self) -> usize {
        self.key_units
    }

    /// The most UTF-16 code units a value may have.
    pub const fn value_units(&self) -> usize {
        self.value_units
    }

    pub(crate) const fn bounds(&self, field: Field) -> (usize, usize) {
        match field {
            Field::Key => (self.key_bytes, self.key_units),
            Field::Value => (self.value_bytes, self.value_units),
        }
    }
}

/// The number of UTF-16 code units `s` becomes: one per character, two for
/// characters outside the Basic Multilingual Plane.
///
/// ```
/// assert_eq!(kvp_codec::utf16_len("aé日😀"), 5);
/// ```
pub fn utf16_len(s: &str) -> usize {
    // A character starts at every byte that is not a continuation byte
    // (0b10xx_xxxx); 4-byte characters (lead byte >= 0xF0) need a surrogate
    // pair. Branch-free so it vectorises.
    s.as_bytes()
        .iter()
        .map(|&b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum()
}
