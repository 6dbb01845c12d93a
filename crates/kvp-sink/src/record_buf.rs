//! Encoded records waiting for the writer's next `pwrite`.

use kvp_codec::RECORD_SIZE;

/// Whole records, one after another. The memory is kept from batch to
/// batch, and a slot handed out is not zeroed first: every encoder fills
/// all 2,560 bytes of its slot (key and value, each padded with zeros), so
/// zeroing it too would write each record twice.
#[derive(Debug, Default)]
pub(crate) struct RecordBuf {
    buf: Vec<u8>,
    /// The bytes in use; `buf` may be longer, holding earlier batches'
    /// records that the next slots overwrite.
    len: usize,
}

impl RecordBuf {
    /// A slot for one more record, holding whatever it held before: the
    /// caller must write all of it, or [`RecordBuf::truncate`] it away.
    pub(crate) fn new_slot(&mut self) -> &mut [u8; RECORD_SIZE] {
        let start = self.len;
        self.len += RECORD_SIZE;
        if self.buf.len() < self.len {
            self.buf.resize(self.len, 0);
        }
        (&mut self.buf[start..self.len])
            .try_into()
            .expect("the range is exactly one record long")
    }

    /// Drops the records from byte `len` on.
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// Bytes in use: a multiple of [`RECORD_SIZE`].
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn records(&self) -> usize {
        self.len / RECORD_SIZE
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvp_codec::{Limits, decode_strict, encode};

    /// A short record written where a long one was: nothing of the long one
    /// shows through.
    #[test]
    fn a_reused_slot_holds_only_the_new_record() {
        let mut b = RecordBuf::default();
        let long = "v".repeat(1000);
        encode(
            "a-long-key-of-some-length",
            &long,
            &Limits::SAFE,
            b.new_slot(),
        )
        .unwrap();
        b.clear();
        assert!(b.is_empty());
        encode("k", "v", &Limits::SAFE, b.new_slot()).unwrap();
        let mut fresh = [0u8; RECORD_SIZE];
        encode("k", "v", &Limits::SAFE, &mut fresh).unwrap();
        assert_eq!(b.as_slice(), &fresh[..]);
        assert_eq!(b.records(), 1);
        assert_eq!(decode_strict(b.as_slice()).count(), 1);
        b.new_slot();
        b.truncate(RECORD_SIZE);
        assert_eq!(b.len(), RECORD_SIZE);
    }
}
