//! `kvp follow`: records as they land, like `tail -f`, and records changed
//! in place (an upserted report or metric series) shown again as updates.
//!
//! Each time the file changes, it is read again record by record
//! ([`crate::stream`]) and each record is compared with a hash of what was
//! last shown at its index, so memory is 8 bytes a record.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime};

use clap::Args;
use kvp_codec::Record;

use crate::exit::Result;
use crate::files::existing_file;
use crate::output::{self, Reader};
use crate::records::{Item, single};
use crate::stream;
use crate::target::Target;

/// How often the file is looked at.
const POLL: Duration = Duration::from_millis(200);

/// How many lines are printed at once while a large file is read.
const LINES_AT_ONCE: usize = 256;

#[derive(Debug, Args)]
pub(crate) struct FollowArgs {
    #[command(flatten)]
    target: Target,
    /// JSON lines, one per record, in the shape of dump --json (each record a
    /// series of one chunk), with "updated": true for a record changed in
    /// place.
    #[arg(long)]
    json: bool,
    /// Only records appended or changed from now on.
    #[arg(long)]
    new: bool,
    /// Exit after printing this many records.
    #[arg(long)]
    max: Option<usize>,
}

/// What tells that a file may have changed since it was last read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: SystemTime,
    ino: u64,
}

fn stamp(path: &Path) -> Result<Stamp> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Stamp {
        len: meta.len(),
        modified: meta.modified()?,
        ino: meta.ino(),
    })
}

fn hash(record: Record<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    record.raw().hash(&mut h);
    h.finish()
}

/// The follower's state between reads.
struct Follower<'a> {
    args: &'a FollowArgs,
    /// A hash of what is at each index, as last read.
    seen: Vec<u64>,
    printed: usize,
    lines: Vec<String>,
    reader: Reader,
}

impl Follower<'_> {
    fn done(&self) -> bool {
        self.reader == Reader::Gone || self.args.max.is_some_and(|m| self.printed >= m)
    }

    fn show(&mut self, item: &Item, updated: bool) -> std::io::Result<()> {
        let line = match (self.args.json, updated) {
            (true, false) => item.to_json().to_string(),
            (true, true) => {
                let mut v = item.to_json();
                v["updated"] = serde_json::Value::Bool(true);
                v.to_string()
            }
            (false, false) => item.to_table(),
            (false, true) => {
                let table = item.to_table();
                match table.split_once('\n') {
                    Some((head, rest)) => format!("{head}  [updated]\n{rest}"),
                    None => format!("{table}  [updated]"),
                }
            }
        };
        self.lines.push(line);
        self.printed += 1;
        if self.lines.len() >= LINES_AT_ONCE || self.done() {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.lines.is_empty() {
            self.reader = output::print_lines(self.lines.drain(..))?;
        }
        Ok(())
    }

    /// Reads the file once, showing new and changed records (only noting
    /// them when `quiet`).
    fn read(&mut self, path: &Path, quiet: bool) -> Result {
        let mut failed = None;
        let scan = stream::records(path, |index, record| {
            let h = hash(record);
            let updated = match self.seen.get_mut(index) {
                Some(old) if *old == h => return ControlFlow::Continue(()),
                Some(old) => {
                    *old = h;
                    true
                }
                None => {
                    self.seen.push(h);
                    false
                }
            };
            if quiet {
                return ControlFlow::Continue(());
            }
            if let Err(e) = self.show(&single(index, record), updated) {
                failed = Some(e);
            }
            if failed.is_some() || self.done() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if let Some(e) = failed {
            return Err(e.into());
        }
        self.flush()?;
        if !self.done() && scan.records < self.seen.len() {
            let gone = self.seen.len() - scan.records;
            if scan.records == 0 {
                eprintln!(
                    "kvp: {} was emptied; following from its start",
                    path.display()
                );
            } else {
                eprintln!(
                    "kvp: {gone} record(s) left {}; those after them moved up and show as updates",
                    path.display()
                );
            }
            self.seen.truncate(scan.records);
        }
        Ok(())
    }
}

pub(crate) fn follow(a: &FollowArgs) -> Result {
    let path = a.target.path();
    existing_file(&path)?;
    let mut follower = Follower {
        args: a,
        seen: Vec::new(),
        printed: 0,
        lines: Vec::new(),
        reader: Reader::Open,
    };
    let mut last: Option<(Stamp, SystemTime)> = None;
    let mut quiet = a.new;
    loop {
        let now = SystemTime::now();
        let stamp = stamp(&path)?;
        // A change within the clock's granularity of the last read may
        // leave the stamp as it was, so a file modified shortly before the
        // last read is read again.
        let settled = last.is_some_and(|(seen, read_at)| {
            seen == stamp
                && read_at
                    .duration_since(stamp.modified)
                    .is_ok_and(|age| age > Duration::from_secs(1))
        });
        if !settled {
            follower.read(&path, quiet)?;
            quiet = false;
            last = Some((stamp, now));
        }
        if follower.done() || output::reader_gone() {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}
