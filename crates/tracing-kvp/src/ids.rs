//! Record ids unique across threads, processes and reboots, without a
//! system call per record.
//!
//! An id is `<tag>-<n>`: `tag` is 12 hex digits drawn once per process from
//! the kernel's boot id, the process id and the start time; `n` is a counter
//! shared by all threads, in hex. The `-` also keeps an id from ever being
//! all digits, which would read as a chunk index (see docs/FORMAT.md).

use std::collections::hash_map::DefaultHasher;
use std::fmt::{self, Write};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A source of record ids.
#[derive(Debug)]
pub struct Ids {
    format: IdFormat,
    next: AtomicU64,
}

/// Turns the counter part of an id into the id. The writer thread keeps a
/// copy: were it to read the prefix next to the counter, every id the
/// application's threads take would first win the cache line back.
/// The longest id a key may carry: 12 hex digits, `-`, 16 hex digits, and
/// the `-open` of a span's open record.
pub(crate) const MAX_ID_LEN: usize = 12 + 1 + 16 + "-open".len();

/// This crate's keys: the layout of `kvp_codec`, its head kept in a
/// `String`.
pub(crate) type Keys = kvp_codec::KeyLayout<String>;

#[derive(Clone, Copy, Debug)]
pub(crate) struct IdFormat {
    /// `<12 hex digits>-`, formatted once.
    prefix: Id,
}

impl IdFormat {
    /// The id whose counter part is `n`.
    pub(crate) fn format(&self, n: u64) -> Id {
        // 13 bytes of prefix and at most 16 hex digits fit the 40-byte buffer.
        let mut id = self.prefix;
        id.push_hex(n, 1);
        id
    }
}

impl Ids {
    /// Ids for this process: the tag differs between processes and boots.
    pub fn for_process() -> Ids {
        let mut h = DefaultHasher::new();
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .unwrap_or_default()
            .hash(&mut h);
        std::process::id().hash(&mut h);
        SystemTime::now().hash(&mut h);
        std::thread::current().id().hash(&mut h);
        Ids::with_tag(h.finish())
    }

    /// Ids with a fixed tag, counting from 0: reproducible, for tests and
    /// snapshots.
    pub fn with_tag(tag: u64) -> Ids {
        let mut prefix = Id::default();
        prefix.push_hex(tag & 0xffff_ffff_ffff, 12);
        prefix.buf[usize::from(prefix.len)] = b'-';
        prefix.len += 1;
        Ids {
            format: IdFormat { prefix },
            next: AtomicU64::new(0),
        }
    }

    /// The counter part of the next id, for [`Ids::format`] to turn into
    /// the id later (on the writer thread).
    pub(crate) fn next_n(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed)
    }

    /// What turns counter parts into ids, to keep on another thread.
    pub(crate) fn formatter(&self) -> IdFormat {
        self.format
    }

    /// The next id. Hex by hand: this runs once per record, and `fmt`
    /// costs several times more.
    pub(crate) fn next(&self) -> Id {
        self.format.format(self.next_n())
    }
}

/// An id, stored inline: room for [`MAX_ID_LEN`] bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Id {
    buf: [u8; 40],
    len: u8,
}

impl Default for Id {
    fn default() -> Self {
        Id {
            buf: [0; 40],
            len: 0,
        }
    }
}

impl Id {
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..usize::from(self.len)])
            .expect("ids are written from ASCII hex and '-'")
    }

    /// Appends `n` in lower-case hex, at least `min_digits` long.
    fn push_hex(&mut self, n: u64, min_digits: usize) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let digits = ((64 - n.leading_zeros() as usize).div_ceil(4)).max(min_digits);
        let start = usize::from(self.len);
        for i in 0..digits {
            let nibble = (n >> (4 * (digits - 1 - i))) & 0xf;
            self.buf[start + i] = HEX[nibble as usize];
        }
        // At most 12 + 1 + 16 = 29 bytes: within the 40-byte buffer.
        self.len += digits as u8;
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Write for Id {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[at..end].copy_from_slice(s.as_bytes());
        self.len = end as u8; // end <= 40
        Ok(())
    }
}
