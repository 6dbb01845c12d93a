//! `kvp clear`: empty the pool under its locks (`--if-stale`: only an earlier boot's).

use clap::Args;
use kvp_sink::{OpenOptionsPool, PoolFile};

use super::LOCK_WAIT;
use crate::exit::Result;
use crate::files::existing_file;
use crate::output::print_all;
use crate::target::Target;

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
        return print_all([format!(
            "nothing to clear: {} does not exist",
            path.display()
        )]);
    }
    existing_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    let mut locked = pool.lock(LOCK_WAIT)?;
    let records = locked.records()?;
    if a.if_stale && !locked.is_stale()? {
        return print_all([format!(
            "kept {}: written during this boot ({records} records)",
            path.display()
        )]);
    }
    locked.truncate()?;
    print_all([format!("cleared {} ({records} records)", path.display())])
}
