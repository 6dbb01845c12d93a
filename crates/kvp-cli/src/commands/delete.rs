//! `kvp delete`: every record with a key removed, the rest kept in order.

use clap::Args;
use kvp_sink::{OpenOptionsPool, PoolFile};

use super::{LOCK_WAIT, file_and_key};
use crate::exit::{No, Result};
use crate::files::existing_file;
use crate::output::print_all;
use crate::target::Named;

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
        n => print_all([format!("deleted {n} record(s) from {}", path.display())]),
    }
}
