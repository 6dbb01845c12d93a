//! Pool files as the CLI opens them to read: only regular files (a FIFO,
//! a socket or a device such as `/dev/zero` could block or never end), and
//! errors that name the path.

use std::path::Path;

use crate::exit::Result;

/// The whole of the pool file at `path`. Anything but a regular file (a
/// FIFO, a socket, a device such as `/dev/zero`) is refused before it is
/// opened: reading one could block or never end.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>> {
    refuse_non_file(path)?;
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

/// An error unless `path` is a regular file (or absent, for commands that
/// create it): a FIFO, a socket or a device is never a pool file.
pub(crate) fn refuse_non_file(path: &Path) -> Result {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => {
            Err(format!("{} is not a regular file", path.display()).into())
        }
        _ => Ok(()),
    }
}

/// An error unless `path` is an existing regular file.
pub(crate) fn existing_file(path: &Path) -> Result {
    std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    refuse_non_file(path)
}
