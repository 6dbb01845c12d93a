//! FNV-1a, 64 bits: the one stable hash of this workspace, for what must
//! hash the same in every process, on every machine and with every
//! toolchain (std's `DefaultHasher` promises none of that): metric series
//! ids, the ids `kvp export` derives, the checksum of a compaction's
//! journal. None of them is a secret, so a cryptographic hash would buy
//! nothing.

/// A running FNV-1a hash.
///
/// ```
/// use kvp_codec::Fnv1a;
/// let mut h = Fnv1a::new();
/// h.write(b"ab");
/// h.write(b"c");
/// assert_eq!(h.finish(), Fnv1a::hash(b"abc"));
/// assert_eq!(Fnv1a::hash(b""), 0xcbf2_9ce4_8422_2325);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv1a(u64);

impl Fnv1a {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    /// A hash of nothing yet.
    pub const fn new() -> Fnv1a {
        Fnv1a(Self::OFFSET_BASIS)
    }

    /// A hash of nothing yet, made distinct by `seed`: the same bytes give
    /// unrelated values under two seeds (one hash, several ids).
    pub const fn with_seed(seed: u64) -> Fnv1a {
        Fnv1a(Self::OFFSET_BASIS ^ seed)
    }

    /// Hashes `bytes` after what came before.
    pub fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(Self::PRIME);
        }
    }

    /// The hash of everything written.
    pub const fn finish(&self) -> u64 {
        self.0
    }

    /// The hash of `bytes` alone.
    pub fn hash(bytes: &[u8]) -> u64 {
        let mut h = Fnv1a::new();
        h.write(bytes);
        h.finish()
    }
}

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a::new()
    }
}
