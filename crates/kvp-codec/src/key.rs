//! The key layout `<prefix>|<vm_id>|<LEVEL>|<name>|<id>` (azure-init's, and
//! ours), optionally followed by a chunk suffix `|<i>`.

use core::fmt;
use core::str::FromStr;

/// The level part of a key, as `tracing` names levels.
///
/// Each level has a fixed number ([`Level::as_u8`], from 0 for `TRACE` to
/// 4 for `ERROR`), for producers that store a level in a byte or index a
/// table by it: the numbers are part of this type's contract, not an
/// accident of declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// `TRACE`
    Trace = 0,
    /// `DEBUG`
    Debug = 1,
    /// `INFO`
    Info = 2,
    /// `WARN`
    Warn = 3,
    /// `ERROR`
    Error = 4,
}

impl Level {
    /// Every level, in order of its number.
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// The level's number: `TRACE` 0, `DEBUG` 1, `INFO` 2, `WARN` 3,
    /// `ERROR` 4.
    ///
    /// ```
    /// use kvp_codec::Level;
    /// assert_eq!(Level::Error.as_u8(), 4);
    /// assert_eq!(Level::from_u8(Level::Warn.as_u8()), Some(Level::Warn));
    /// assert_eq!(Level::from_u8(5), None);
    /// ```
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The level numbered `n`, if there is one.
    pub const fn from_u8(n: u8) -> Option<Level> {
        match n {
            0 => Some(Level::Trace),
            1 => Some(Level::Debug),
            2 => Some(Level::Info),
            3 => Some(Level::Warn),
            4 => Some(Level::Error),
            _ => None,
        }
    }

    /// The text used in keys: `TRACE` ... `ERROR`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Level {
    type Err = ();

    /// Parses the exact upper-case names used in keys.
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "TRACE" => Level::Trace,
            "DEBUG" => Level::Debug,
            "INFO" => Level::Info,
            "WARN" => Level::Warn,
            "ERROR" => Level::Error,
            _ => return Err(()),
        })
    }
}

/// The parts of a key in the layout `<prefix>|<vm_id>|<LEVEL>|<name>|<id>`,
/// borrowed from the key.
///
/// ```
/// use kvp_codec::{KeyParts, Level};
///
/// let key = "azure-init|0f3c…|INFO|provision|1a2b-0007|2";
/// let parts = KeyParts::parse(key).expect("follows the layout");
/// assert_eq!((parts.level, parts.name, parts.id, parts.chunk), (Level::Info, "provision", "1a2b-0007", Some(2)));
/// assert!(KeyParts::parse("PROVISIONING_REPORT").is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyParts<'a> {
    /// The writer's prefix, such as `azure-init`.
    pub prefix: &'a str,
    /// The VM's id (DMI `product_uuid`).
    pub vm_id: &'a str,
    /// The record's level.
    pub level: Level,
    /// The span name or event target.
    pub name: &'a str,
    /// The record's unique id.
    pub id: &'a str,
    /// The chunk index when the key ends in `|<i>`.
    pub chunk: Option<u32>,
}

impl<'a> KeyParts<'a> {
    /// Parses `key`, or returns `None` when it does not follow the layout:
    /// exactly five non-empty `|`-separated parts (six with a chunk index)
    /// and a level part that is one of `TRACE`, `DEBUG`, `INFO`, `WARN`,
    /// `ERROR`.
    pub fn parse(key: &'a str) -> Option<Self> {
        let (base, chunk) = split_chunk_suffix(key);
        let mut parts = base.split('|');
        let mut next = || parts.next().filter(|p| !p.is_empty());
        let parsed = KeyParts {
            prefix: next()?,
            vm_id: next()?,
            level: next()?.parse().ok()?,
            name: next()?,
            id: next()?,
            chunk,
        };
        parts.next().is_none().then_some(parsed)
    }
}

/// Splits a chunk suffix `|<i>` off `key`: `("k", Some(3))` for `"k|3"`,
/// `(key, None)` when there is none. The index is 1 to 10 ASCII digits that
/// fit a `u32`; because of this rule, the last part of an unsplit key must
/// not be all digits (our ids never are).
///
/// ```
/// use kvp_codec::split_chunk_suffix;
/// assert_eq!(split_chunk_suffix("a|b|12"), ("a|b", Some(12)));
/// assert_eq!(split_chunk_suffix("a|b"), ("a|b", None));
/// assert_eq!(split_chunk_suffix("a|"), ("a|", None));
/// ```
pub fn split_chunk_suffix(key: &str) -> (&str, Option<u32>) {
    if let Some((base, digits)) = key.rsplit_once('|') {
        let numeric =
            (1..=10).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        if let Some(i) = numeric.then(|| digits.parse().ok()).flatten() {
            return (base, Some(i));
        }
    }
    (key, None)
}
