//! Which pool file a command works on: a path, `--file`, `--dir` or
//! `--pool N`, and by default the guest's pool.

use std::path::PathBuf;

use clap::Args;

/// The guest's pool, the one guest agents write and the host reads.
pub(crate) const GUEST_POOL: &str = "/var/lib/hyperv/.kvp_pool_1";

/// A pool file given as a path, `--file`, `--dir` or `--pool N`; none of
/// them means the guest's pool, [`GUEST_POOL`].
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct Target {
    /// The pool file (the same as --file).
    path: Option<PathBuf>,
    /// The pool file.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// A directory holding the pool: DIR/.kvp_pool_1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Shorthand for /var/lib/hyperv/.kvp_pool_N (0 to 4; guests write 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pool: Option<u8>,
}

impl Target {
    pub(crate) fn from_path(path: PathBuf) -> Self {
        Target {
            path: Some(path),
            file: None,
            dir: None,
            pool: None,
        }
    }

    pub(crate) fn path(&self) -> PathBuf {
        if let Some(p) = self.path.as_ref().or(self.file.as_ref()) {
            return p.clone();
        }
        if let Some(dir) = &self.dir {
            return dir.join(".kvp_pool_1");
        }
        match self.pool {
            Some(n) => PathBuf::from(format!("/var/lib/hyperv/.kvp_pool_{n}")),
            None => PathBuf::from(GUEST_POOL),
        }
    }
}

/// The same choice without the positional path, for commands whose
/// positional arguments are something else (a key).
#[derive(Debug, Args)]
#[group(required = false, multiple = false)]
pub(crate) struct Named {
    /// The pool file.
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// A directory holding the pool: DIR/.kvp_pool_1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Shorthand for /var/lib/hyperv/.kvp_pool_N (0 to 4; guests write 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pool: Option<u8>,
}

impl Named {
    pub(crate) fn path(&self) -> PathBuf {
        Target {
            path: None,
            file: self.file.clone(),
            dir: self.dir.clone(),
            pool: self.pool,
        }
        .path()
    }
}
