//! Small per-thread caches keyed by a `'static` address (a callsite's
//! metadata, a field name) and the id of the layer's state they belong to:
//! direct-mapped, one entry a slot; a miss computes the value and takes the
//! slot.

use std::cell::RefCell;
use std::thread::LocalKey;

/// Entries a cache holds.
pub(crate) const SLOTS: usize = 64;

/// The slot of `addr`, below [`SLOTS`]: Fibonacci hashing, whose top bits
/// mix every bit of the address.
#[inline]
pub(crate) fn slot(addr: usize) -> usize {
    ((addr as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize
}

/// A cache of `Copy` values, to keep in a `thread_local!` (initialised with
/// `const { RefCell::new([None; SLOTS]) }`): address, owner id, value.
pub(crate) type Table<V> = RefCell<[Option<(usize, u64, V)>; SLOTS]>;

/// What the cache says for `addr` under `owner`, or `compute`'s value,
/// which is then kept. Computed without the cache when it is busy (a value
/// computed while another is) or gone (thread teardown).
#[inline]
pub(crate) fn get<V: Copy + 'static>(
    table: &'static LocalKey<Table<V>>,
    addr: usize,
    owner: u64,
    compute: impl Fn() -> V,
) -> V {
    let at = slot(addr);
    table
        .try_with(|t| {
            let mut t = t.try_borrow_mut().ok()?;
            if let Some((a, o, v)) = t[at]
                && a == addr
                && o == owner
            {
                return Some(v);
            }
            let v = compute();
            t[at] = Some((addr, owner, v));
            Some(v)
        })
        .ok()
        .flatten()
        .unwrap_or_else(compute)
}
