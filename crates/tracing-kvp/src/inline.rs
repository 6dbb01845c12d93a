//! A byte buffer kept inline up to a fixed size, then on the heap.

use arrayvec::ArrayVec;

/// Bytes kept inline up to `N`, then on the heap: what the layer captures
/// of a span or an event on the caller's thread, ahead of its entry.
///
/// Appending is a bounds check and a copy. (`SmallVec`'s
/// `extend_from_slice` measured about 40 instructions a call, and a
/// captured record makes a dozen calls.)
#[derive(Clone)]
pub(crate) struct InlineBytes<const N: usize>(Repr<N>);

#[derive(Clone)]
enum Repr<const N: usize> {
    Inline(ArrayVec<u8, N>),
    Heap(Vec<u8>),
}

impl<const N: usize> InlineBytes<N> {
    /// An empty buffer.
    #[inline]
    pub(crate) fn new() -> Self {
        InlineBytes(Repr::Inline(ArrayVec::new()))
    }

    /// Appends `more`.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, more: &[u8]) {
        match &mut self.0 {
            Repr::Inline(a) => {
                if a.try_extend_from_slice(more).is_err() {
                    self.spill(more);
                }
            }
            Repr::Heap(v) => v.extend_from_slice(more),
        }
    }

    /// Moves the bytes to the heap, with `more` after them.
    #[cold]
    fn spill(&mut self, more: &[u8]) {
        let now = self.as_slice();
        let mut v = Vec::with_capacity((now.len() + more.len()).max(2 * N));
        v.extend_from_slice(now);
        v.extend_from_slice(more);
        self.0 = Repr::Heap(v);
    }

    /// The bytes.
    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(a) => a.as_slice(),
            Repr::Heap(v) => v.as_slice(),
        }
    }

    /// The bytes, to patch in place (a length written before its payload).
    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        match &mut self.0 {
            Repr::Inline(a) => a.as_mut_slice(),
            Repr::Heap(v) => v.as_mut_slice(),
        }
    }

    /// How many bytes there are.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Bytes held on the heap (its capacity), or 0 while inline: what the
    /// queue's byte budget counts.
    #[inline]
    pub(crate) fn heap_bytes(&self) -> usize {
        match &self.0 {
            Repr::Inline(_) => 0,
            Repr::Heap(v) => v.capacity(),
        }
    }
}

impl<const N: usize> Default for InlineBytes<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> std::fmt::Debug for InlineBytes<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InlineBytes")
            .field("len", &self.len())
            .field("inline", &matches!(self.0, Repr::Inline(_)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_the_heap_and_keeps_every_byte() {
        let mut b = InlineBytes::<8>::new();
        let mut want = Vec::new();
        for i in 0u8..50 {
            b.extend_from_slice(&[i, i]);
            want.extend_from_slice(&[i, i]);
            assert_eq!(b.as_slice(), want.as_slice());
        }
        b.as_mut_slice()[0] = 9;
        assert_eq!(b.as_slice()[0], 9);
        assert_eq!(b.len(), 100);
    }
}
