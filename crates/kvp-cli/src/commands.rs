//! `dump`, `follow`, `stats`, `clear`, `write`.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use kvp_codec::schema::value_pieces;
use kvp_codec::{DecodeError, KeyParts, Limits, RECORD_SIZE, decode, encode, encode_chunk};
use kvp_sink::{OpenOptionsPool, PoolFile};
use serde_json::json;

use crate::exit::{No, Result, Usage};
use crate::files::{existing_file, refuse_non_file};
use crate::output::{self, Lines, Reader};
use crate::records::{Item, for_each_item};
use crate::stream;
use crate::target::{Named, Target};

/// How long commands wait for another process's lock on the pool.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

pub(crate) fn print_lines(lines: impl IntoIterator<Item = String>) -> Result {
    output::print_lines(lines)?;
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object per line per logical record: index, chunks, key,
    /// value, "incomplete": true for a series missing chunks, and parts and
    /// fields (the name=value pairs) when the key follows the layout; a
    /// record that cannot be decoded is {index, error}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn dump(a: &DumpArgs) -> Result {
    let mut lines = Lines::default();
    for_each_item(&a.target.path(), |item| {
        let line = if a.json {
            item.to_json().to_string()
        } else {
            item.to_table()
        };
        Ok(match lines.push(line)? {
            Reader::Open => ControlFlow::Continue(()),
            Reader::Gone => ControlFlow::Break(()),
        })
    })?;
    lines.flush()?;
    Ok(())
}

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    /// The record cap to count the room left against.
    #[arg(long, default_value_t = 1024)]
    cap: u64,
}

pub(crate) fn stats(a: &StatsArgs) -> Result {
    let path = a.target.path();
    // Two passes, each in flat memory: the records as stored, then the
    // logical records they make.
    let mut invalid = 0usize;
    let scan = stream::records(&path, |_, record| {
        if matches!(
            decode(record.raw()).next(),
            Some(Err(DecodeError::InvalidUtf8 { .. }))
        ) {
            invalid += 1;
        }
        ControlFlow::Continue(())
    })?;
    let (records, torn) = (scan.records, scan.tail);
    let mut by_level: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut logical = 0;
    for_each_item(&path, |item| {
        if let Item::Record { key, .. } = item {
            logical += 1;
            let (level, name) = match KeyParts::parse(&key) {
                Some(p) => (p.level.as_str().to_owned(), p.name.to_owned()),
                None => other_layout(&key),
            };
            *by_level.entry(level).or_default() += 1;
            *by_name.entry(name).or_default() += 1;
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let room = a.cap.saturating_sub(records as u64);
    if a.json {
        return print_lines([json!({
            "path": path.display().to_string(),
            "records": records,
            "logical_records": logical,
            "by_level": by_level,
            "by_name": by_name,
            "torn_tail_bytes": torn,
            "invalid_records": invalid,
            "cap": a.cap,
            "room": room,
        })
        .to_string()]);
    }
    let mut lines = vec![
        format!("{}", path.display()),
        format!("  records          {records} ({logical} logical)"),
        format!("  room under cap   {room} of {}", a.cap),
        format!(
            "  torn tail        {}",
            if torn == 0 {
                "none".to_owned()
            } else {
                format!("{torn} bytes")
            }
        ),
        format!("  invalid UTF-8    {invalid} records"),
        "  by level".to_owned(),
    ];
    lines.extend(by_level.iter().map(|(k, v)| format!("    {k:<16} {v}")));
    lines.push("  by name".to_owned());
    lines.extend(by_name.iter().map(|(k, v)| format!("    {k:<40} {v}")));
    print_lines(lines)
}

/// Level and name for keys outside our layout: cloud-init's
/// `CLOUD_INIT|<boot epoch>|<event type>|<name>|...` by event type and name,
/// anything else by its first part.
fn other_layout(key: &str) -> (String, String) {
    let parts: Vec<&str> = key.split('|').collect();
    match parts.as_slice() {
        ["CLOUD_INIT", _, kind, name, ..] => (format!("cloud-init {kind}"), (*name).to_owned()),
        [first, ..] => ("(other layout)".to_owned(), (*first).to_owned()),
        [] => ("(other layout)".to_owned(), String::new()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct ClearArgs {
    #[command(flatten)]
    target: Target,
    /// Only when the file was last written before this boot, or in its
    /// first second (mtime <= btime, as azure-init counts it).
    #[arg(long)]
    if_stale: bool,
}

pub(crate) fn clear(a: &ClearArgs) -> Result {
    let path = a.target.path();
    if a.if_stale && !path.exists() {
        // As azure-init's tool answers: no file, nothing stale to clear.
        return print_lines([format!(
            "nothing to clear: {} does not exist",
            path.display()
        )]);
    }
    existing_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    let mut locked = pool.lock(LOCK_WAIT)?;
    let records = locked.records()?;
    if a.if_stale && !locked.is_stale()? {
        return print_lines([format!(
            "kept {}: written during this boot ({records} records)",
            path.display()
        )]);
    }
    locked.truncate()?;
    print_lines([format!("cleared {} ({records} records)", path.display())])
}

#[derive(Debug, Args)]
#[command(override_usage = "kvp write [--upsert] [PATH] KEY VALUE\n       \
                            kvp write [--upsert] [--file PATH | --dir DIR | --pool N] KEY VALUE")]
pub(crate) struct WriteArgs {
    /// KEY VALUE, after the file's PATH unless an option names the file.
    /// The key has at most 254 UTF-16 units; a value longer than one record
    /// is split into KEY|0, KEY|1, ...
    #[arg(num_args = 2..=3, required = true, value_names = ["PATH", "KEY", "VALUE"])]
    args: Vec<String>,
    #[command(flatten)]
    target: Named,
    /// Replace the record with this key, or append it. One record with the
    /// key remains, where the last one was; the others keep their order.
    #[arg(long)]
    upsert: bool,
}

impl WriteArgs {
    fn parts(&self) -> Result<(std::path::PathBuf, &str, &str)> {
        let (path, key, value) = match self.args.as_slice() {
            // `kvp write FILE KEY` with the value forgotten would write
            // FILE=KEY into the guest's live pool: refused.
            [key, _] if !self.target.is_given() && looks_like_a_pool_file(key) => {
                return Err(Usage(format!(
                    "{key:?} is a file: give KEY and VALUE after it (kvp write {key} KEY VALUE), \
                     or name the file with --file to write a key that looks like a path"
                ))
                .into());
            }
            [key, value] => (self.target.path(), key, value),
            [path, key, value] if !self.target.is_given() => (path.into(), key, value),
            [..] => {
                return Err(Usage(
                    "give the file once: PATH, --file, --dir or --pool (then KEY VALUE)".into(),
                )
                .into());
            }
        };
        key_arg(key).map_err(Usage)?;
        Ok((path, key, value))
    }
}

pub(crate) fn write(a: &WriteArgs) -> Result {
    let (path, key, value) = a.parts()?;
    refuse_non_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    let limits = Limits::SAFE;
    if a.upsert {
        let mut record = [0u8; RECORD_SIZE];
        encode(key, value, &limits, &mut record)?;
        let mut locked = pool.lock_for_keys(LOCK_WAIT, &[key.as_bytes()])?;
        let said = match locked.upsert(&record)? {
            kvp_sink::Upserted::Replaced(at) => format!("replaced record {at}"),
            kvp_sink::Upserted::Appended(at) => format!("appended record {at}"),
        };
        drop(locked);
        pool.compact(LOCK_WAIT)?;
        return print_lines([format!("{said} in {}", path.display())]);
    }
    let mut locked = pool.lock(LOCK_WAIT)?;
    let mut batch = Vec::new();
    // The schema's value policy, with no cut: the tool writes what it is
    // given, in as many `|<i>` chunks as that takes.
    let mut records = 0;
    if limits.value_fits(value) {
        let mut record = [0u8; RECORD_SIZE];
        encode(key, value, &limits, &mut record)?;
        batch.extend_from_slice(&record);
        records = 1;
    } else {
        for piece in value_pieces(value, &limits, usize::MAX) {
            let mut record = [0u8; RECORD_SIZE];
            encode_chunk(key, piece.index, piece.text, &limits, &mut record)?;
            batch.extend_from_slice(&record);
            records += 1;
        }
    }
    locked.append(&batch)?;
    print_lines([format!("wrote {records} record(s) to {}", path.display())])
}

#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// KEY, after the file's PATH unless an option names the file.
    #[arg(num_args = 1..=2, required = true, value_names = ["PATH", "KEY"])]
    args: Vec<String>,
    #[command(flatten)]
    target: Named,
}

/// The file and the key of a command that takes `[PATH] KEY`: the file as
/// a path before the key, or by option, as every command takes it.
fn file_and_key<'a>(args: &'a [String], target: &Named) -> Result<(std::path::PathBuf, &'a str)> {
    let (path, key) = match args {
        // `kvp delete FILE` with the key forgotten would remove FILE's
        // name from the guest's live pool: refused.
        [key] if !target.is_given() && looks_like_a_pool_file(key) => {
            return Err(Usage(format!(
                "{key:?} is a file: give KEY after it, or name the file with --file \
                 to use a key that looks like a path"
            ))
            .into());
        }
        [key] => (target.path(), key),
        [path, key] if !target.is_given() => (path.into(), key),
        _ => {
            return Err(Usage(
                "give the file once: PATH, --file, --dir or --pool (then KEY)".into(),
            )
            .into());
        }
    };
    key_arg(key).map_err(Usage)?;
    Ok((path, key))
}

/// The last logical record of each key, in the order keys first appear
/// (memory grows with the number of keys, not of records).
fn last_values(path: &Path) -> Result<Vec<(String, String)>> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for_each_item(path, |item| {
        if let Item::Record { key, value, .. } = item {
            match at.get(&key) {
                Some(&i) => order[i].1 = value,
                None => {
                    at.insert(key.clone(), order.len());
                    order.push((key, value));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(order)
}

pub(crate) fn read_key(a: &ReadArgs) -> Result {
    let (path, wanted) = file_and_key(&a.args, &a.target)?;
    let mut last = None;
    for_each_item(&path, |item| {
        if let Item::Record { key, value, .. } = item
            && key == wanted
        {
            last = Some(value);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    match last {
        Some(value) => print_lines([value]),
        None => Err(No(format!(
            "no record with key {:?} in {}",
            wanted,
            path.display()
        ))
        .into()),
    }
}

#[derive(Debug, Args)]
pub(crate) struct EntriesArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object of key to value.
    #[arg(long)]
    json: bool,
}

pub(crate) fn entries(a: &EntriesArgs) -> Result {
    let entries = last_values(&a.target.path())?;
    if a.json {
        let object: serde_json::Map<String, serde_json::Value> = entries
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        return print_lines([serde_json::Value::Object(object).to_string()]);
    }
    print_lines(entries.into_iter().map(|(k, v)| format!("{k}\t{v}")))
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// KEY whose records to remove, after the file's PATH unless an option
    /// names the file.
    #[arg(num_args = 1..=2, required = true, value_names = ["PATH", "KEY"])]
    args: Vec<String>,
    #[command(flatten)]
    target: Named,
}

pub(crate) fn delete(a: &DeleteArgs) -> Result {
    let (path, key) = file_and_key(&a.args, &a.target)?;
    // Refuse what is not a pool file before opening, which would create it.
    existing_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    // Searched before the locks; the records become holes under them, and
    // the holes are closed after, a bounded step at a time.
    let mut locked = pool.lock_for_keys(LOCK_WAIT, &[key.as_bytes()])?;
    let n = locked.delete(key.as_bytes())?;
    drop(locked);
    pool.compact(LOCK_WAIT)?;
    match n {
        0 => Err(No(format!(
            "no record with key {:?} in {}",
            key,
            path.display()
        ))
        .into()),
        n => print_lines([format!("deleted {n} record(s) from {}", path.display())]),
    }
}

#[derive(Debug, Args)]
pub(crate) struct IsStaleArgs {
    #[command(flatten)]
    target: Target,
}

pub(crate) fn is_stale(a: &IsStaleArgs) -> Result {
    let path = a.target.path();
    existing_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    if pool.lock(LOCK_WAIT)?.is_stale()? {
        print_lines([format!("{} is stale", path.display())])
    } else {
        Err(No(format!("{} was written during this boot", path.display())).into())
    }
}

/// A key given on the command line: never empty, since an empty key is
/// what a padding record (all NUL) reads as, and matching it would take
/// every empty slot of the file for a record.
fn key_arg(key: &str) -> std::result::Result<String, String> {
    if key.is_empty() {
        Err("a key must not be empty: an empty key is what padding reads as".to_owned())
    } else {
        Ok(key.to_owned())
    }
}

/// Whether a command-line word names an existing file, or reads as a pool's
/// path: then it is not taken for a key without the file named otherwise.
fn looks_like_a_pool_file(word: &str) -> bool {
    let path = Path::new(word);
    path.is_file() || word.contains(".kvp_pool_") || word.ends_with(".kvp")
}
