//! Which pool file a command works on: a path, `--file`, `--dir` or
//! `--pool N`, and by default the guest's pool.

use std::path::PathBuf;

use clap::Args;

/// The guest's pool, the one guest agents write and the host reads.
pub(crate) const GUEST_POOL: &str = "/var/lib/hyperv/.kvp_pool_1";

/// A pool file given as a path or as one of [`Named`]'s options; none of
/// them means the guest's pool, [`GUEST_POOL`].
#[derive(Debug, Args)]
pub(crate) struct Target {
    /// The pool file (the same as --file).
    #[arg(conflicts_with_all = ["file", "dir", "pool"])]
    path: Option<PathBuf>,
    #[command(flatten)]
    named: Named,
}

impl Target {
    #[cfg(feature = "demo")]
    pub(crate) fn from_path(path: PathBuf) -> Self {
        Target {
            path: Some(path),
            named: Named::default(),
        }
    }

    pub(crate) fn path(&self) -> PathBuf {
        match &self.path {
            Some(p) => p.clone(),
            None => self.named.path(),
        }
    }
}

/// The file chosen by option alone: `--file`, `--dir` or `--pool N`. Also
/// used on its own by commands whose positional arguments are something
/// else (a key).
#[derive(Debug, Default, Args)]
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
    /// Whether any of the options was given.
    pub(crate) fn is_given(&self) -> bool {
        self.file.is_some() || self.dir.is_some() || self.pool.is_some()
    }

    pub(crate) fn path(&self) -> PathBuf {
        if let Some(file) = &self.file {
            return file.clone();
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
