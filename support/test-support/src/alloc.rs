//! A global allocator for tests that prove a path allocates nothing: it
//! defers to the system allocator and counts the allocations (and
//! reallocations) made by each thread, so that another thread, such as a
//! writer, does not disturb the count.
//!
//! ```
//! #[global_allocator]
//! static GLOBAL: test_support::Counting = test_support::Counting;
//!
//! fn main() {
//!     let before = test_support::allocations();
//!     let v: Vec<u8> = Vec::with_capacity(8);
//!     assert_eq!(test_support::allocations() - before, 1);
//!     drop(v);
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator; install it with `#[global_allocator]` in a test binary.
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: defers to the system allocator; the counter is a const-initialised
// thread-local, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations and reallocations made by this thread so far, when
/// [`Counting`] is the global allocator (always 0 otherwise).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}
