//! The commands that fit one file each, one file per command; `tree/` and
//! `export/` have folders of their own. Here: what they share (the lock
//! wait, printing, how a key and a file are taken from the command line).

mod check;
mod clear;
mod delete;
#[cfg(feature = "demo")]
mod demo;
mod dump;
mod entries;
mod follow;
mod is_stale;
mod read;
mod report;
mod stats;
mod write;

use std::path::Path;
use std::time::Duration;

pub(crate) use check::{CheckArgs, check};
pub(crate) use clear::{ClearArgs, clear};
pub(crate) use delete::{DeleteArgs, delete};
#[cfg(feature = "demo")]
pub(crate) use demo::{DemoArgs, run as demo};
pub(crate) use dump::{DumpArgs, dump};
pub(crate) use entries::{EntriesArgs, entries};
pub(crate) use follow::{FollowArgs, follow};
pub(crate) use is_stale::{IsStaleArgs, is_stale};
pub(crate) use read::{ReadArgs, read_key};
pub(crate) use report::{ReportArgs, report};
pub(crate) use stats::{StatsArgs, stats};
pub(crate) use write::{WriteArgs, write};

use crate::exit::{Result, Usage};
use crate::target::Named;

/// How long commands wait for another process's lock on the pool.
pub(crate) const LOCK_WAIT: Duration = Duration::from_secs(5);

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
