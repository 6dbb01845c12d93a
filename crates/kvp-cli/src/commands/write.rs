//! `kvp write`: append or upsert one record under the pool's locks.

use clap::Args;
use kvp_codec::schema::value_pieces;
use kvp_codec::{Limits, RECORD_SIZE, encode, encode_chunk};
use kvp_sink::{OpenOptionsPool, PoolFile};

use super::{LOCK_WAIT, key_arg, looks_like_a_pool_file};
use crate::exit::{Result, Usage};
use crate::files::refuse_non_file;
use crate::output::print_all;
use crate::target::Named;

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
        return print_all([format!("{said} in {}", path.display())]);
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
    print_all([format!("wrote {records} record(s) to {}", path.display())])
}
