//! What the workspace's tests share, so that each helper exists once:
//!
//! - [`Counting`] and [`allocations`]: a global allocator that counts this
//!   thread's allocations, for the no-allocation tests;
//! - [`pool_records`] (feature `pool`): a pool file read back as logical
//!   records;
//! - [`child`]: re-running the current test binary as a child process that
//!   runs one test in a given role;
//! - [`reports`]: the `PROVISIONING_REPORT` values azure-init's tool wrote;
//! - [`sparse_file`]: a large file that takes no disk;
//! - `collector` and `tls_front` (feature `collector`): a real
//!   OpenTelemetry collector on loopback, and a TLS front for it.

mod alloc;
pub mod child;
#[cfg(feature = "collector")]
pub mod collector;
#[cfg(feature = "pool")]
mod pool;
pub mod reports;
#[cfg(feature = "collector")]
pub mod tls_front;

pub use alloc::{Counting, allocations};
#[cfg(feature = "pool")]
pub use pool::pool_records;

/// Creates (or truncates) `path` as a sparse file of `len` zero bytes: a
/// pool as large as a test needs that takes no disk. All-zero records read
/// as records with an empty key.
///
/// # Panics
///
/// When the file cannot be created or sized.
pub fn sparse_file(path: &std::path::Path, len: u64) {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(len))
        .unwrap_or_else(|e| panic!("cannot make {} sparse: {e}", path.display()));
}
