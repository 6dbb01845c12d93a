//! Which pool file a command works on: a path, or `--pool N`.

use std::path::PathBuf;

use clap::Args;

/// A pool file given as a path or as `--pool N`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub(crate) struct Target {
    /// The pool file.
    path: Option<PathBuf>,
    /// Shorthand for /var/lib/hyperv/.kvp_pool_N (0 to 4; guests write 1).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
    pool: Option<u8>,
}

impl Target {
    pub(crate) fn from_path(path: PathBuf) -> Self {
        Target {
            path: Some(path),
            pool: None,
        }
    }

    pub(crate) fn path(&self) -> PathBuf {
        match (&self.path, self.pool) {
            (Some(p), _) => p.clone(),
            (None, Some(n)) => PathBuf::from(format!("/var/lib/hyperv/.kvp_pool_{n}")),
            (None, None) => unreachable!("clap requires a path or --pool"),
        }
    }
}
