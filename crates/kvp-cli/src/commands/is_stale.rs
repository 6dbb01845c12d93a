//! `kvp is-stale`: whether the pool was last written before this boot.

use clap::Args;
use kvp_sink::{OpenOptionsPool, PoolFile};

use super::LOCK_WAIT;
use crate::exit::{No, Result};
use crate::files::existing_file;
use crate::output::print_all;
use crate::target::Target;

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
        print_all([format!("{} is stale", path.display())])
    } else {
        Err(No(format!("{} was written during this boot", path.display())).into())
    }
}
