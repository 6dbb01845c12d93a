//! Small per-thread caches keyed by a `'static` address (a callsite's
//! metadata, a field name) and the id of the layer's state they belong to:
//! direct-mapped, one entry a slot; a miss computes the value and takes the
//! slot.

use std::cell::Cell;
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
/// [`EMPTY`]): address, owner id, value. Cells, not a `RefCell`: a read is
/// a copy, with no borrow flag to set and clear.
pub(crate) type Table<V> = [Cell<Option<(usize, u64, V)>>; SLOTS];

/// A table with nothing in it.
pub(crate) const fn empty<V: Copy>() -> Table<V> {
    [const { Cell::new(None) }; SLOTS]
}

/// What the cache says for `addr` under `owner`, or `compute`'s value,
/// which is then kept (computed outside the table, so `compute` may use
/// the cache too). Computed without the cache once it is gone (thread
/// teardown).
#[inline]
pub(crate) fn get<V: Copy + 'static>(
    table: &'static LocalKey<Table<V>>,
    addr: usize,
    owner: u64,
    compute: impl Fn() -> V,
) -> V {
    let at = slot(addr);
    let cached = table.try_with(|t| match t[at].get() {
        Some((a, o, v)) if a == addr && o == owner => Some(v),
        _ => None,
    });
    match cached {
        Ok(Some(v)) => v,
        Ok(None) => {
            let v = compute();
            let _ = table.try_with(|t| t[at].set(Some((addr, owner, v))));
            v
        }
        Err(_) => compute(),
    }
}
