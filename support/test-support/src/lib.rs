//! What the workspace's tests share, so that each helper exists once:
//!
//! - [`Counting`] and [`allocations`]: a global allocator that counts this
//!   thread's allocations, for the no-allocation tests;
//! - [`pool_records`] (feature `pool`): a pool file read back as logical
//!   records;
//! - [`child`]: re-running the current test binary as a child process that
//!   runs one test in a given role;
//! - [`reports`]: the `PROVISIONING_REPORT` values azure-init's tool wrote.

mod alloc;
pub mod child;
#[cfg(feature = "pool")]
mod pool;
pub mod reports;

pub use alloc::{Counting, allocations};
#[cfg(feature = "pool")]
pub use pool::pool_records;
