//! Small per-thread caches keyed by a `'static` item (a callsite's
//! metadata, a field name) and the id of the layer's state they belong to:
//! direct-mapped, one entry a slot; a miss computes the value and takes the
//! slot.
//!
//! An item is its address **and its length**: two field names can share an
//! address (`"pass"` may be the first four bytes of `"password"`), and
//! keying by the address alone would answer for one what was worked out
//! for the other.

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

/// A `'static` item as a cache key: its address and its length in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) addr: usize,
    pub(crate) len: usize,
}

impl Item {
    /// A field name, or any `'static` text.
    pub(crate) fn text(s: &'static str) -> Item {
        Item {
            addr: s.as_ptr() as usize,
            len: s.len(),
        }
    }

    /// A `'static` value of a sized type (one callsite's metadata).
    pub(crate) fn of<T>(value: &'static T) -> Item {
        Item {
            addr: std::ptr::from_ref(value) as usize,
            len: std::mem::size_of::<T>(),
        }
    }
}

/// A cache of `Copy` values, to keep in a `thread_local!` (initialised with
/// [`empty`]): item, owner id, value. Cells, not a `RefCell`: a read is a
/// copy, with no borrow flag to set and clear.
pub(crate) type Table<V> = [Cell<Option<(Item, u64, V)>>; SLOTS];

/// A table with nothing in it.
pub(crate) const fn empty<V: Copy>() -> Table<V> {
    [const { Cell::new(None) }; SLOTS]
}

/// What the cache says for `item` under `owner`, or `compute`'s value,
/// which is then kept (computed outside the table, so `compute` may use
/// the cache too). Computed without the cache once it is gone (thread
/// teardown).
#[inline]
pub(crate) fn get<V: Copy + 'static>(
    table: &'static LocalKey<Table<V>>,
    item: Item,
    owner: u64,
    compute: impl Fn() -> V,
) -> V {
    let at = slot(item.addr ^ item.len.rotate_left(29));
    let cached = table.try_with(|t| match t[at].get() {
        Some((i, o, v)) if i == item && o == owner => Some(v),
        _ => None,
    });
    match cached {
        Ok(Some(v)) => v,
        Ok(None) => {
            let v = compute();
            let _ = table.try_with(|t| t[at].set(Some((item, owner, v))));
            v
        }
        Err(_) => compute(),
    }
}
