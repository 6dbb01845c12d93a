//! Searching a pool file for keys a block of records at a time, so that
//! memory never grows with the file; and a search made before taking the
//! locks, so that the work under them reads only what changed since.
//!
//! The host's daemon re-reads the whole file for every request, and its
//! transactions time out: a writer must not hold the locks while it reads
//! a large pool. So the writer searches for the keys it will upsert first,
//! without the locks, then under them checks each record it found (one
//! read each) and searches only the records appended since. When the file
//! shrank, or a record found no longer has its key (another writer
//! compacted or rewrote it), it searches the whole file under the locks.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use kvp_codec::{RECORD_SIZE, Record};

/// How many records a search reads at once (640 KiB).
pub(crate) const SCAN_RECORDS: usize = 256;

/// Calls `hit(index, which)` for every whole record in `records` whose key
/// (up to its NUL) is `keys[which]`.
pub(crate) fn search(
    file: &File,
    records: Range<u64>,
    keys: &[&[u8]],
    mut hit: impl FnMut(u64, usize),
) -> io::Result<()> {
    let mut block = vec![0u8; SCAN_RECORDS * RECORD_SIZE];
    let mut at = records.start;
    while at < records.end {
        let n = (records.end - at).min(SCAN_RECORDS as u64) as usize;
        let block = &mut block[..n * RECORD_SIZE];
        file.read_exact_at(block, at * RECORD_SIZE as u64)?;
        for (record, index) in block.chunks_exact(RECORD_SIZE).zip(at..) {
            let Some(record) = Record::from_slice(record) else {
                continue;
            };
            let key = record.key_bytes();
            if let Some(which) = keys.iter().position(|k| *k == key) {
                hit(index, which);
            }
        }
        at += n as u64;
    }
    Ok(())
}

/// Whether the record at `index` has the key `key`.
pub(crate) fn has_key(file: &File, index: u64, key: &[u8]) -> io::Result<bool> {
    let mut record = [0u8; RECORD_SIZE];
    file.read_exact_at(&mut record, index * RECORD_SIZE as u64)?;
    Ok(Record::new(&record).key_bytes() == key)
}

/// Where some keys were when the file was searched without its locks.
#[derive(Clone, Debug, Default)]
pub(crate) struct KeyScan {
    /// Whole records in the file when it was searched.
    records: u64,
    keys: Vec<(Vec<u8>, Vec<u64>)>,
}

impl KeyScan {
    /// Searches the first `records` records of `file` for `keys`.
    pub(crate) fn of(file: &File, records: u64, keys: &[&[u8]]) -> io::Result<KeyScan> {
        let mut found: Vec<(Vec<u8>, Vec<u64>)> =
            keys.iter().map(|k| (k.to_vec(), Vec::new())).collect();
        search(file, 0..records, keys, |index, which| {
            found[which].1.push(index)
        })?;
        Ok(KeyScan {
            records,
            keys: found,
        })
    }

    /// Records searched.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Where `key` was, if it was searched for.
    pub(crate) fn positions(&self, key: &[u8]) -> Option<&[u64]> {
        self.keys
            .iter()
            .find(|(k, _)| k.as_slice() == key)
            .map(|(_, p)| p.as_slice())
    }
}
