//! Exit statuses, one meaning each, so that scripts can branch on them.
//!
//! | status | meaning |
//! |---|---|
//! | 0 | ok (and for `is-stale`: the file is stale) |
//! | 1 | a negative answer: key not found, file not stale, `check` found problems |
//! | 2 | usage: arguments that do not fit together |
//! | 3 | I/O: the file cannot be read, written or locked, or is not a pool |

use std::error::Error;
use std::fmt;
use std::process::ExitCode;

/// What a command returns; its error's type picks the exit status
/// ([`status`]).
pub(crate) type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// A negative answer, not a failure: exit status 1.
#[derive(Debug)]
pub(crate) struct No(pub(crate) String);

/// Arguments that do not fit together: exit status 2, as clap's own.
#[derive(Debug)]
pub(crate) struct Usage(pub(crate) String);

impl fmt::Display for No {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for No {}
impl Error for Usage {}

/// The status for a command's error: 1, 2, or 3 for everything else.
pub(crate) fn status(e: &(dyn Error + 'static)) -> ExitCode {
    if e.is::<No>() {
        ExitCode::from(1)
    } else if e.is::<Usage>() {
        ExitCode::from(2)
    } else {
        ExitCode::from(3)
    }
}

/// The table above, for `--help`.
pub(crate) const HELP: &str = "Exit status: 0 ok (is-stale: stale); 1 a negative answer \
(key not found, not stale, check found problems); 2 usage; 3 I/O (cannot read, write or lock the file).";
