//! Joining chunks back into logical records.
//!
//! Two conventions are understood:
//!
//! - **Indexed chunks**: keys `<base>|0`, `<base>|1`, ... (ours and
//!   cloud-init's). A chunk joins the latest open record with the same base
//!   that does not hold its index yet, in whatever order the chunks come
//!   within [`REASSEMBLY_WINDOW`] (azure-init's store deletes by moving the
//!   last record into the hole, which reorders a series); the value is
//!   joined in index order, and marked incomplete when the indices are not
//!   exactly `0..n`.
//! - **Shared-key chunks** (azure-init up to 0.1.x): consecutive records with
//!   the same key, where the key carries a unique event id (the layout
//!   `<prefix>|<vm_id>|<LEVEL>|<name>|<id>`) and the earlier value is a full
//!   1022-byte chunk. A plain key repeated is separate records, whatever
//!   their length. azure-init cut at byte 1022 even inside a character, so
//!   values are joined as bytes and checked as UTF-8 only once whole: its
//!   split `é` comes back intact.
//!
//! A key that ends in `|<digits>` with no sibling chunk, and whose stem is
//! not an event key, is not a chunk: it is a record of its own, under its
//! whole key. A lone chunk of an event key is a series that lost its
//! siblings, and stays marked incomplete unless it is chunk 0.
//!
//! cloud-init's chunk values are each a JSON object carrying one slice of
//! the message (`"msg_i"`, `"msg"`); the chunks are joined here by key, and
//! [`LogicalRecord::chunk_value`] gives each one for a JSON-aware reader.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use crate::decode::{DecodeError, Record};
use crate::key::{KeyParts, split_chunk_suffix};
use crate::layout::RECORD_SIZE;
use crate::limits::Field;

/// The chunk size azure-init's layer cut values at.
const AZURE_INIT_CHUNK: usize = 1022;

/// A value reassembled from one or more records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalRecord {
    /// Index of the first record.
    pub index: usize,
    /// Number of records joined.
    pub chunks: usize,
    /// The key without any chunk suffix.
    pub key: String,
    /// The whole value.
    pub value: String,
    /// `false` when indexed chunks are missing (the first index seen was
    /// not 0).
    pub complete: bool,
    ranges: Vec<Range<usize>>,
}

impl LogicalRecord {
    /// The value of chunk `i` alone, when it is whole characters.
    pub fn chunk_value(&self, i: usize) -> Option<&str> {
        self.value.get(self.ranges.get(i)?.clone())
    }
}

/// One item of [`reassemble`]'s output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reassembled {
    /// A logical record.
    Record(LogicalRecord),
    /// A record that cannot be read (its error, owned), or the partial tail.
    /// A value with invalid UTF-8 is reported only if joining its chunks did
    /// not make it valid.
    Error {
        /// Index of the (first) record.
        index: usize,
        /// What is wrong, as [`DecodeError`] describes it.
        message: String,
    },
}

impl Reassembled {
    /// Index of the (first) record.
    pub fn index(&self) -> usize {
        match self {
            Reassembled::Record(r) => r.index,
            Reassembled::Error { index, .. } => *index,
        }
    }
}

struct Group {
    index: usize,
    /// Index of the last record joined, to close the group once a window
    /// of records has passed without a sibling.
    last: usize,
    key: String,
    /// The first record's whole key, for a lone "chunk" that is not one.
    first_key: String,
    chunked: bool,
    /// The chunk index of each range, in arrival order (chunked groups).
    chunk_ids: Vec<u32>,
    complete: bool,
    value: Vec<u8>,
    ranges: Vec<Range<usize>>,
}

/// How many records after its last one a chunk series stays open for its
/// next chunk. Writers put a value's chunks in a row (one batch), so a
/// sibling further away than this is taken for another record; the bound
/// keeps [`Reassembler`]'s memory independent of the file's size.
pub const REASSEMBLY_WINDOW: usize = 1024;

/// An item waiting to be handed out in index order: a group that may
/// still grow, or a finished item.
enum Pending {
    Open(Group),
    Done(Reassembled),
}

/// [`reassemble`] one record at a time, for files too large to hold: each
/// logical record is handed out, in index order, once no later record can
/// join it. Memory is bounded by [`REASSEMBLY_WINDOW`] records.
///
/// ```
/// use kvp_codec::{encode_chunk, Limits, Reassembled, Reassembler, RECORD_SIZE};
///
/// let mut out = Vec::new();
/// let mut r = Reassembler::new();
/// for (i, part) in ["hello ", "world"].iter().enumerate() {
///     let mut rec = [0u8; RECORD_SIZE];
///     encode_chunk("greeting", i as u32, part, &Limits::SAFE, &mut rec)?;
///     r.push(&rec, &mut out);
/// }
/// assert!(out.is_empty(), "the series may still grow");
/// r.finish(0, &mut out);
/// let [Reassembled::Record(rec)] = out.as_slice() else { panic!() };
/// assert_eq!(rec.value, "hello world");
/// # Ok::<(), kvp_codec::EncodeError>(())
/// ```
#[derive(Default)]
pub struct Reassembler {
    /// Items in the order of their first record, from id `first_id` on.
    pending: alloc::collections::VecDeque<Pending>,
    first_id: usize,
    /// The group the previous record went to, for shared-key chunks.
    previous: Option<usize>,
    /// Records pushed so far.
    records: usize,
}

impl core::fmt::Debug for Reassembler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Reassembler")
            .field("records", &self.records)
            .field("pending", &self.pending.len())
            .finish()
    }
}

impl Reassembler {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next record of the file, and appends to `out` what can no
    /// longer change.
    pub fn push(&mut self, bytes: &[u8; RECORD_SIZE], out: &mut Vec<Reassembled>) {
        let index = self.records;
        self.records += 1;
        let record = Record::new(bytes);
        match record.key() {
            Ok(key) => self.join(index, key, record.value_bytes()),
            Err(e) => {
                self.pending
                    .push_back(Pending::Done(error(DecodeError::InvalidUtf8 {
                        index,
                        field: Field::Key,
                        valid_up_to: e.valid_up_to(),
                        record,
                    })));
                self.previous = None;
            }
        }
        self.close_before(index.saturating_sub(REASSEMBLY_WINDOW));
        self.hand_out(out);
    }

    /// Ends the file: everything still open is handed out, then the
    /// partial record of `tail` bytes at the end, if any.
    pub fn finish(mut self, tail: usize, out: &mut Vec<Reassembled>) {
        self.close_before(usize::MAX);
        self.hand_out(out);
        if tail > 0 {
            out.push(error(DecodeError::PartialTail {
                index: self.records,
                offset: self.records * RECORD_SIZE,
                len: tail,
            }));
        }
    }

    fn group(&self, id: usize) -> Option<&Group> {
        match self.pending.get(id.checked_sub(self.first_id)?)? {
            Pending::Open(g) => Some(g),
            Pending::Done(_) => None,
        }
    }

    fn join(&mut self, index: usize, key: &str, value: &[u8]) {
        let (base, chunk) = split_chunk_suffix(key);
        let joins = match chunk {
            Some(i) => self
                .pending
                .iter()
                .rposition(|p| {
                    matches!(p, Pending::Open(g)
                        if g.chunked && g.key == base && !g.chunk_ids.contains(&i))
                })
                .map(|at| at + self.first_id),
            None => self.previous.filter(|&p| {
                self.group(p).is_some_and(|g| {
                    !g.chunked
                        && g.key == key
                        && g.ranges.last().is_some_and(|r| r.len() >= AZURE_INIT_CHUNK)
                        && KeyParts::parse(key).is_some()
                })
            }),
        };
        let id = match joins {
            Some(id) => id,
            None => {
                self.pending.push_back(Pending::Open(Group {
                    index,
                    last: index,
                    key: String::from(if chunk.is_some() { base } else { key }),
                    first_key: String::from(key),
                    chunked: chunk.is_some(),
                    chunk_ids: Vec::new(),
                    complete: true,
                    value: Vec::new(),
                    ranges: Vec::new(),
                }));
                self.first_id + self.pending.len() - 1
            }
        };
        if let Some(Pending::Open(group)) = self.pending.get_mut(id - self.first_id) {
            group.last = index;
            if let Some(i) = chunk {
                group.chunk_ids.push(i);
            }
            let start = group.value.len();
            group.value.extend_from_slice(value);
            group.ranges.push(start..group.value.len());
        }
        self.previous = Some(id);
    }

    /// Finishes the groups whose last record came before `index`.
    fn close_before(&mut self, index: usize) {
        for p in &mut self.pending {
            if let Pending::Open(g) = p
                && g.last < index
            {
                let g = core::mem::replace(
                    g,
                    Group {
                        index: 0,
                        last: 0,
                        key: String::new(),
                        first_key: String::new(),
                        chunked: false,
                        chunk_ids: Vec::new(),
                        complete: true,
                        value: Vec::new(),
                        ranges: Vec::new(),
                    },
                );
                *p = Pending::Done(finish(g));
            }
        }
    }

    /// Hands out the finished items at the front, in index order.
    fn hand_out(&mut self, out: &mut Vec<Reassembled>) {
        while let Some(Pending::Done(_)) = self.pending.front() {
            if let Some(Pending::Done(item)) = self.pending.pop_front() {
                out.push(item);
            }
            self.first_id += 1;
        }
    }
}

/// Reads a whole pool file and joins chunks into logical records, ordered
/// by their first record's index ([`Reassembler`] over every record).
///
/// ```
/// use kvp_codec::{encode_chunk, reassemble, Limits, Reassembled, RECORD_SIZE};
///
/// let mut file = vec![0u8; 2 * RECORD_SIZE];
/// for (i, (part, rec)) in ["hello ", "world"].iter().zip(file.chunks_exact_mut(RECORD_SIZE)).enumerate() {
///     encode_chunk("greeting", i as u32, part, &Limits::SAFE, rec.try_into().unwrap())?;
/// }
/// let Reassembled::Record(r) = &reassemble(&file)[0] else { panic!() };
/// assert_eq!((r.key.as_str(), r.value.as_str(), r.chunks), ("greeting", "hello world", 2));
/// # Ok::<(), kvp_codec::EncodeError>(())
/// ```
pub fn reassemble(data: &[u8]) -> Vec<Reassembled> {
    let (records, tail) = data.as_chunks::<RECORD_SIZE>();
    let mut out = Vec::new();
    let mut r = Reassembler::new();
    for record in records {
        r.push(record, &mut out);
    }
    r.finish(tail.len(), &mut out);
    out
}

/// A chunked group's value in chunk order, and whether its indices are
/// exactly `0..n`.
fn in_chunk_order(group: &mut Group) {
    let mut order: Vec<usize> = (0..group.ranges.len()).collect();
    order.sort_by_key(|&k| group.chunk_ids[k]);
    group.complete = order
        .iter()
        .enumerate()
        .all(|(want, &k)| group.chunk_ids[k] as usize == want);
    if order.iter().enumerate().all(|(at, &k)| at == k) {
        return;
    }
    let mut value = Vec::with_capacity(group.value.len());
    let mut ranges = Vec::with_capacity(group.ranges.len());
    for &k in &order {
        let start = value.len();
        value.extend_from_slice(&group.value[group.ranges[k].clone()]);
        ranges.push(start..value.len());
    }
    group.value = value;
    group.ranges = ranges;
    group.chunk_ids = order.iter().map(|&k| group.chunk_ids[k]).collect();
}

fn finish(mut group: Group) -> Reassembled {
    if group.chunked {
        in_chunk_order(&mut group);
    }
    // A lone `|<digits>` key outside the event layout is a plain key that
    // happens to end in digits, not a series that lost its siblings.
    if group.chunked && group.ranges.len() == 1 && KeyParts::parse(&group.key).is_none() {
        group.key = core::mem::take(&mut group.first_key);
        group.complete = true;
    }
    match String::from_utf8(group.value) {
        Ok(value) => Reassembled::Record(LogicalRecord {
            index: group.index,
            chunks: group.ranges.len(),
            key: group.key,
            value,
            complete: group.complete,
            ranges: group.ranges,
        }),
        Err(e) => {
            let bad_at = e.utf8_error().valid_up_to();
            // Name the record that holds the first bad byte.
            let chunk = group.ranges.iter().position(|r| r.contains(&bad_at));
            Reassembled::Error {
                index: group.index + chunk.unwrap_or(0),
                message: alloc::format!(
                    "record {}: value is not valid UTF-8 (bad byte at offset {} of the joined value)",
                    group.index + chunk.unwrap_or(0),
                    bad_at
                ),
            }
        }
    }
}

fn error(e: DecodeError<'_>) -> Reassembled {
    Reassembled::Error {
        index: e.index(),
        message: alloc::format!("{e}"),
    }
}
