//! A pool file read record by record through a fixed buffer, so that a
//! command's memory does not grow with the file: a 1 GiB pool is read in
//! the same few hundred KiB as a small one.

use std::fs::File;
use std::io::{BufReader, ErrorKind, Read};
use std::ops::ControlFlow;
use std::path::Path;

use kvp_codec::{RECORD_SIZE, Record};

use crate::exit::Result;
use crate::files::existing_file;

/// How many records the reader's buffer holds.
const BLOCK_RECORDS: usize = 128;

/// What a scan saw besides the records it handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scan {
    /// Whole records read.
    pub(crate) records: usize,
    /// Bytes after the last whole record: a partial record, or 0.
    pub(crate) tail: usize,
}

/// Calls `each` with every whole record of the regular file at `path`, in
/// order, with its index, until it breaks. Anything but a regular file is
/// refused before it is opened.
pub(crate) fn records(
    path: &Path,
    mut each: impl FnMut(usize, Record<'_>) -> ControlFlow<()>,
) -> Result<Scan> {
    existing_file(path)?;
    let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut reader = BufReader::with_capacity(BLOCK_RECORDS * RECORD_SIZE, file);
    let mut record = [0u8; RECORD_SIZE];
    let mut scan = Scan::default();
    loop {
        let got = fill(&mut reader, &mut record)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if got < RECORD_SIZE {
            scan.tail = got;
            return Ok(scan);
        }
        let index = scan.records;
        scan.records += 1;
        if each(index, Record::new(&record)).is_break() {
            return Ok(scan);
        }
    }
}

/// Reads until `buf` is full or the file ends, returning the bytes read.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
