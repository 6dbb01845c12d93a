//! Edits that never hold the locks for long: an upsert or a delete turns the
//! records it removes into holes (records of NUL bytes, which every reader
//! takes for padding) in place, and compaction then closes the holes in
//! bounded steps, taking and releasing the locks for each.
//!
//! Crash safety. A step reads the next records (at most [`STEP_RECORDS`],
//! skipping the holes), writes them into the journal beside the pool
//! (`<pool>.compacting`: two slots, each with a checksum, written in place
//! in turn, so that a torn write leaves the other slot as the journal),
//! then writes them at their new places, NULs the places they left, and
//! writes where compaction now stands. A process that dies mid-step leaves
//! a journal that holds the step's records, and whoever finds it (the next
//! [`PoolFile::open`] or [`PoolFile::compact`]) writes them again from the
//! journal, so a torn or half-done step comes out whole; a process that
//! dies before the journal holds the step leaves the file as the step
//! found it. Between steps a reader sees the records before the gap, a run
//! of holes, and the rest: never a torn or a missing record. Only after a
//! crash, and until the next open, can it see a record twice (the one being
//! moved).

use std::fs;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Duration;

use kvp_codec::{Fnv1a, RECORD_SIZE};

use crate::error::Error;
use crate::pool::{Locked, PoolFile};

/// Records moved per step, with the locks held: a step is bounded by this,
/// whatever the pool's size.
pub(crate) const STEP_RECORDS: u64 = 64;

const HOLE: [u8; RECORD_SIZE] = [0; RECORD_SIZE];

/// The shortest pause between two steps.
const MIN_PAUSE: Duration = Duration::from_millis(1);

/// Where compaction stands: records before `write` are in place, records
/// `write..read` are holes, and `holes` (sorted, all at or after `read`)
/// are the holes still ahead to close. `cut` says that every record was
/// read and the file is being cut to `write` records. A step under way
/// (`step`) holds the records it moves to `write..`, and where reading ends
/// after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Journal {
    pub(crate) write: u64,
    pub(crate) read: u64,
    pub(crate) holes: Vec<u64>,
    pub(crate) cut: bool,
    pub(crate) step: Option<Step>,
}

/// A step: `count` records to go to `write..`, of which those not NUL are
/// kept here with their place among them (padding, which a sparse pool is
/// full of, costs nothing), and the place reading stops at after them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Step {
    pub(crate) read_to: u64,
    pub(crate) count: u64,
    pub(crate) records: Vec<(u64, Box<[u8; RECORD_SIZE]>)>,
}

impl Journal {
    fn path(pool: &PoolFile) -> PathBuf {
        let mut name = pool.path().as_os_str().to_owned();
        name.push(".compacting");
        PathBuf::from(name)
    }

    /// The journal beside `pool`, if compaction is under way.
    pub(crate) fn load(pool: &PoolFile) -> Result<Option<Journal>, Error> {
        let path = Journal::path(pool);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, "read journal", e)),
        };
        match latest_slot(&file).map_err(|e| io_error(&path, "read journal", e))? {
            None => Ok(None),
            Some((_, content)) if content == DONE => Ok(None),
            Some((_, content)) => Journal::decode(&content).map(Some).ok_or_else(|| {
                io_error(
                    &path,
                    "read journal",
                    io::Error::new(io::ErrorKind::InvalidData, "not a compaction journal"),
                )
            }),
        }
    }

    fn decode(bytes: &[u8]) -> Option<Journal> {
        // A line of numbers, then the step's records, if any.
        let line_end = bytes.iter().position(|&b| b == b'\n')?;
        let text = std::str::from_utf8(&bytes[..line_end]).ok()?;
        let block = &bytes[line_end + 1..];
        let cut = text.starts_with("cut ");
        let text = text.strip_prefix("cut ").unwrap_or(text);
        let (text, step) = match text.split_once(" step ") {
            Some((head, step)) => {
                let numbers: Result<Vec<u64>, _> =
                    step.split_whitespace().map(str::parse::<u64>).collect();
                (head, Some(numbers.ok()?))
            }
            None => (text, None),
        };
        let numbers: Result<Vec<u64>, _> = text.split_whitespace().map(str::parse::<u64>).collect();
        let numbers = numbers.ok()?;
        let [write, read, holes @ ..] = numbers.as_slice() else {
            return None;
        };
        let step = match step {
            Some(numbers) => {
                let [read_to, count, places @ ..] = numbers.as_slice() else {
                    return None;
                };
                if block.len() != places.len() * RECORD_SIZE {
                    return None;
                }
                let records = places
                    .iter()
                    .zip(block.chunks_exact(RECORD_SIZE))
                    .map(|(&at, bytes)| {
                        let mut record = Box::new(HOLE);
                        record.copy_from_slice(bytes);
                        (at, record)
                    })
                    .collect();
                Some(Step {
                    read_to: *read_to,
                    count: *count,
                    records,
                })
            }
            None => None,
        };
        Some(Journal {
            write: *write,
            read: *read,
            holes: holes.to_vec(),
            cut,
            step,
        })
    }

    fn encode(&self) -> Vec<u8> {
        let mut text = format!(
            "{}{} {}",
            if self.cut { "cut " } else { "" },
            self.write,
            self.read
        );
        for h in &self.holes {
            text.push(' ');
            text.push_str(&h.to_string());
        }
        if let Some(step) = &self.step {
            text.push_str(&format!(" step {} {}", step.read_to, step.count));
            for (at, _) in &step.records {
                text.push_str(&format!(" {at}"));
            }
        }
        text.push('\n');
        let mut bytes = text.into_bytes();
        if let Some(step) = &self.step {
            for (_, record) in &step.records {
                bytes.extend_from_slice(&record[..]);
            }
        }
        bytes
    }

    /// Writes `journal` (or, for `None`, that compaction is done) into the
    /// slot of the journal file that is not the latest, with one `pwrite`:
    /// no file is created or renamed under the locks (a rename can wait on
    /// the file system's own journal), and a torn write leaves the other
    /// slot, with its checksum, as the latest.
    pub(crate) fn store(pool: &PoolFile, journal: Option<&Journal>) -> Result<(), Error> {
        let path = Journal::path(pool);
        let content = journal.map_or_else(|| DONE.to_vec(), Journal::encode);
        let err = |e| io_error(&path, "write journal", e);
        if content.len() > SLOT - SLOT_HEADER {
            return Err(err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "too many holes for the compaction journal",
            )));
        }
        let file = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(err)?;
        let seq = latest_slot(&file)
            .map_err(err)?
            .map_or(0, |(seq, _)| seq + 1);
        let mut bytes = Vec::with_capacity(SLOT_HEADER + content.len());
        bytes.extend_from_slice(SLOT_MAGIC);
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&(content.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&Fnv1a::hash(&content).to_le_bytes());
        bytes.extend_from_slice(&content);
        file.write_all_at(&bytes, (seq % 2) * SLOT as u64)
            .map_err(err)
    }

    /// Removes the journal of a finished compaction (outside the locks:
    /// removing a file touches the file system's own journal).
    fn remove_if_done(pool: &PoolFile) -> Result<(), Error> {
        let path = Journal::path(pool);
        let file = match fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error(&path, "read journal", e)),
        };
        let done = latest_slot(&file)
            .map_err(|e| io_error(&path, "read journal", e))?
            .is_none_or(|(_, content)| content == DONE);
        if done {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, "remove journal", e)),
            }
        }
        Ok(())
    }
}

/// The journal file: two slots, each a header (magic, sequence number,
/// length, checksum) and the content; the valid slot with the higher
/// sequence number is the journal.
const SLOT: usize = 4 << 20;
const SLOT_HEADER: usize = 32;
const SLOT_MAGIC: &[u8; 8] = b"KVPCMPT1";
/// The content that says compaction is done.
const DONE: &[u8] = b"done\n";

/// The latest valid slot: its sequence number and content.
fn latest_slot(file: &fs::File) -> io::Result<Option<(u64, Vec<u8>)>> {
    let mut best: Option<(u64, Vec<u8>)> = None;
    for slot in 0..2u64 {
        let mut header = [0u8; SLOT_HEADER];
        match file.read_exact_at(&mut header, slot * SLOT as u64) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => continue,
            Err(e) => return Err(e),
        }
        if &header[..8] != SLOT_MAGIC {
            continue;
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&header[i..i + 8]);
            u64::from_le_bytes(b)
        };
        let (seq, len, sum) = (word(8), word(16) as usize, word(24));
        if len > SLOT - SLOT_HEADER || best.as_ref().is_some_and(|(s, _)| *s > seq) {
            continue;
        }
        let mut content = vec![0u8; len];
        if file
            .read_exact_at(&mut content, slot * SLOT as u64 + SLOT_HEADER as u64)
            .is_err()
            || Fnv1a::hash(&content) != sum
        {
            continue;
        }
        best = Some((seq, content));
    }
    Ok(best)
}

fn io_error(path: &std::path::Path, op: &'static str, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        op,
        source,
    }
}

impl Locked<'_> {
    /// Turns the records at `at` (sorted) into holes and notes them in the
    /// journal, for [`PoolFile::compact`] to close.
    pub(crate) fn punch_holes(&mut self, at: &[u64]) -> Result<(), Error> {
        if at.is_empty() {
            return Ok(());
        }
        let pool = self.pool();
        // A step left half done goes first: its records are in the journal.
        if let Some(j) = Journal::load(pool)?
            && j.step.is_some()
        {
            self.finish_step(j)?;
            // Records moved: a search made before the locks no longer holds.
            self.forget_scan();
        }
        // Noted first: a crash after it leaves holes to close (or records
        // not yet holed, which compaction then moves like any other).
        let journal = match Journal::load(pool)? {
            Some(mut j) if at[0] >= j.read => {
                j.holes.extend_from_slice(at);
                j.holes.sort_unstable();
                j.holes.dedup();
                j
            }
            // A hole before the compaction's front: start again from it,
            // the gap already open becoming holes ahead.
            Some(j) => {
                let mut holes: Vec<u64> = at.to_vec();
                holes.extend(j.write..j.read);
                holes.extend(j.holes);
                holes.sort_unstable();
                holes.dedup();
                Journal {
                    write: holes[0],
                    read: holes[0],
                    holes,
                    ..Journal::default()
                }
            }
            None => Journal {
                write: at[0],
                read: at[0],
                holes: at.to_vec(),
                ..Journal::default()
            },
        };
        Journal::store(pool, Some(&journal))?;
        for &i in at {
            self.write_record(i, &HOLE)?;
        }
        Ok(())
    }

    /// One step of compaction: at most [`STEP_RECORDS`] records moved.
    /// Returns whether compaction is done.
    fn compact_step(&mut self) -> Result<bool, Error> {
        let pool = self.pool();
        let Some(mut j) = Journal::load(pool)? else {
            return Ok(true);
        };
        if j.step.is_some() {
            // A step a crash interrupted: done again from the journal.
            self.finish_step(j)?;
            return Ok(false);
        }
        let records = self.records()?;
        if j.cut {
            return self.finish_cut(&j, records);
        }
        if j.read >= records {
            // Everything from `write` on is holes now: cut them off, saying
            // so first, so that a crash between the cut and the journal's
            // removal is told from a cut not yet made.
            j.cut = true;
            j.read = records;
            j.holes.clear();
            Journal::store(pool, Some(&j))?;
            return self.finish_cut(&j, records);
        }
        // The step's records: the next ones, holes left out.
        let mut kept = Vec::new();
        let mut record = [0u8; RECORD_SIZE];
        let mut read = j.read;
        let mut taken = 0;
        while read < records && taken < STEP_RECORDS {
            if j.holes.first() == Some(&read) {
                j.holes.remove(0);
            } else {
                self.read_record(read, &mut record)?;
                if record != HOLE {
                    kept.push((taken, Box::new(record)));
                }
                taken += 1;
            }
            read += 1;
        }
        if j.write == j.read && taken == read - j.read {
            // No gap yet: nothing moves, the front only advances.
            j.write = read;
            j.read = read;
            j.holes.retain(|&h| h >= read);
            Journal::store(pool, Some(&j))?;
            return Ok(false);
        }
        j.step = Some(Step {
            read_to: read,
            count: taken,
            records: kept,
        });
        Journal::store(pool, Some(&j))?;
        self.finish_step(j)?;
        Ok(false)
    }

    /// Writes a journalled step's records at their new places, NULs what
    /// they left behind, and notes where compaction now stands. Doing it
    /// twice comes out the same.
    fn finish_step(&mut self, mut j: Journal) -> Result<(), Error> {
        let Some(step) = j.step.take() else {
            return Ok(());
        };
        let n = step.count;
        // Only what differs is written: moving padding over padding costs
        // no write (nor dirty pages to wait on).
        let mut there = [0u8; RECORD_SIZE];
        let mut kept = step.records.iter().peekable();
        for i in 0..n {
            let want: &[u8; RECORD_SIZE] = match kept.peek() {
                Some((at, record)) if *at == i => {
                    kept.next();
                    record
                }
                _ => &HOLE,
            };
            self.read_record(j.write + i, &mut there)?;
            if there != *want {
                self.write_record(j.write + i, want)?;
            }
        }
        // What lies between the records' new end and where reading stopped
        // is the gap now: the places they left, and the holes passed.
        for i in (j.write + n)..step.read_to {
            self.read_record(i, &mut there)?;
            if there != HOLE {
                self.write_record(i, &HOLE)?;
            }
        }
        j.write += n;
        j.read = step.read_to;
        j.holes.retain(|&h| h >= j.read);
        Journal::store(self.pool(), Some(&j))
    }

    /// Cuts the file to `j.write` records, unless the cut was made before a
    /// crash and another writer has appended since (a record that is not a
    /// hole where only holes were), then removes the journal.
    fn finish_cut(&mut self, j: &Journal, records: u64) -> Result<bool, Error> {
        let mut record = [0u8; RECORD_SIZE];
        let mut only_holes = true;
        for i in j.write..j.read.min(records) {
            self.read_record(i, &mut record)?;
            if record != HOLE {
                only_holes = false;
                break;
            }
        }
        if only_holes && records >= j.write {
            // Records appended after the holes (none, unless another writer
            // came between the steps) are moved down first.
            if records > j.read {
                let next = Journal {
                    write: j.write,
                    read: j.read,
                    ..Journal::default()
                };
                Journal::store(self.pool(), Some(&next))?;
                return Ok(false);
            }
            self.set_len(j.write * RECORD_SIZE as u64)?;
        }
        Journal::store(self.pool(), None)?;
        Ok(true)
    }

    fn read_record(&self, index: u64, out: &mut [u8; RECORD_SIZE]) -> Result<(), Error> {
        self.pool()
            .file()
            .read_exact_at(out, index * RECORD_SIZE as u64)
            .map_err(|e| self.pool().io_error("read", e))
    }

    fn write_record(&self, index: u64, record: &[u8; RECORD_SIZE]) -> Result<(), Error> {
        self.pool()
            .file()
            .write_all_at(record, index * RECORD_SIZE as u64)
            .map_err(|e| self.pool().io_error("write", e))
    }
}

impl PoolFile {
    /// Closes the holes an upsert or a delete left (see the module docs), a
    /// bounded step at a time, taking the locks for each step and releasing
    /// them between steps, so that another process waits at most one step
    /// for them. Returns the number of steps. Nothing to do is one step
    /// that finds no journal.
    ///
    /// [`Locked::upsert`] and [`Locked::delete`] leave holes; call this once
    /// their locks are dropped. [`PoolFile::open`] calls it to finish what
    /// a process that died left.
    ///
    /// ```
    /// use kvp_sink::{OpenOptionsPool, PoolFile};
    /// use std::time::Duration;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let (pool, _) = PoolFile::open(dir.path().join(".kvp_pool_1"), &OpenOptionsPool::default())?;
    /// let mut locked = pool.lock(Duration::from_secs(1))?;
    /// locked.upsert_kv("a", "1")?;
    /// locked.upsert_kv("b", "2")?;
    /// assert_eq!(locked.delete(b"a")?, 1); // a hole, in place
    /// drop(locked);
    /// pool.compact(Duration::from_secs(1))?; // closed, a step at a time
    /// assert_eq!(pool.lock(Duration::from_secs(1))?.records()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn compact(&self, lock_timeout: Duration) -> Result<u64, Error> {
        let mut steps = 0;
        loop {
            steps += 1;
            let started = std::time::Instant::now();
            let mut locked = self.lock(lock_timeout)?;
            if locked.compact_step()? {
                drop(locked);
                Journal::remove_if_done(self)?;
                return Ok(steps);
            }
            drop(locked);
            // The locks are free at least as long as the step held them: a
            // process waiting for them (the host's daemon) gets its turn,
            // rather than losing every race to the next step.
            std::thread::sleep(started.elapsed().max(MIN_PAUSE));
        }
    }

    /// Whether a compaction is under way (its journal exists).
    pub fn compaction_pending(&self) -> bool {
        Journal::path(self).exists()
    }
}
