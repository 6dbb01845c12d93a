//! A pool file read back the way a reader of the host's side would.

use std::path::Path;

use kvp_codec::{Reassembled, reassemble};

/// The logical records (chunks joined) of the pool file at `path`, as
/// `(key, value)`. A record that does not decode fails the test, naming
/// why.
///
/// # Panics
///
/// When the file cannot be read or a record cannot be decoded: this is a
/// test helper, and either is a failed test.
pub fn pool_records(path: &Path) -> Vec<(String, String)> {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    reassemble(&data)
        .into_iter()
        .map(|r| match r {
            Reassembled::Record(r) => (r.key, r.value),
            Reassembled::Error { message, .. } => panic!("{}: {message}", path.display()),
        })
        .collect()
}
