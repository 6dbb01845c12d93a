//! Which paths the CLI opens as pool files: only regular files (a FIFO, a
//! socket or a device such as `/dev/zero` could block or never end), with
//! errors that name the path.

use std::path::Path;

use crate::exit::Result;

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
