//! The errors of opening and writing a pool file.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a pool file could not be opened, locked or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The pool's directory does not exist (and creating it was not asked
    /// for): on a VM without the Hyper-V KVP daemon there is no
    /// `/var/lib/hyperv`.
    MissingDirectory {
        /// The directory.
        path: PathBuf,
    },
    /// The path is not a regular file. Symlinks are never followed; FIFOs
    /// and devices are never opened for writing.
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is instead: `symlink`, `directory`, `FIFO`, `device`, `socket`.
        kind: &'static str,
    },
    /// Another process held the pool's locks for longer than allowed.
    LockTimeout {
        /// The pool file.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
    /// A key that is empty (or starts with NUL): it is what a padding
    /// record reads as, so looking it up would match every empty slot.
    EmptyKey {
        /// The pool file.
        path: PathBuf,
    },
    /// An I/O call failed.
    Io {
        /// The pool file or directory.
        path: PathBuf,
        /// What we were doing: `open`, `lock`, `write`, ...
        op: &'static str,
        /// The system's error.
        source: io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingDirectory { path } => write!(
                f,
                "KVP pool directory {} does not exist (is hv_kvp_daemon installed?)",
                path.display()
            ),
            Error::NotAFile { path, kind } => write!(
                f,
                "KVP pool path {} is a {kind}, not a regular file; refusing to use it",
                path.display()
            ),
            Error::LockTimeout { path, waited } => write!(
                f,
                "KVP pool {} stayed locked by another process for {waited:?}",
                path.display()
            ),
            Error::EmptyKey { path } => write!(
                f,
                "KVP pool {}: a key must not be empty (an empty key is what padding reads as)",
                path.display()
            ),
            // The system's error is the source, not part of this text, so
            // that a reader of the whole chain sees it once.
            Error::Io { path, op, .. } => write!(f, "KVP pool {}: {op} failed", path.display()),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// An error and its causes on one line (`a: b: c`), each message once: how
/// this workspace's crates say an error on stderr, and how to print one of
/// ours in a single journal line.
///
/// ```
/// use kvp_sink::WithCauses;
///
/// let options = kvp_sink::OpenOptionsPool::default();
/// let err = kvp_sink::PoolFile::open("/nonexistent/dir/.kvp_pool_1", &options).unwrap_err();
/// let line = WithCauses(&err).to_string();
/// assert!(line.contains("/nonexistent/dir"), "{line}");
/// ```
pub struct WithCauses<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}
