//! The facade's errors.

use std::fmt;

/// Why telemetry could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// An environment override has a value that cannot be used.
    InvalidEnv {
        /// The variable.
        var: String,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// The pool file could not be opened (missing directory, symlink, ...).
    Pool(kvp_sink::Error),
    /// The KVP layer could not be built (an unusable prefix).
    Layer(tracing_kvp::BuildError),
    /// The KVP layer could not be started.
    Kvp(tracing_kvp::OpenError),
    /// A global subscriber is already installed.
    AlreadyInstalled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidEnv {
                var,
                value,
                expected,
            } => {
                write!(
                    f,
                    "environment variable {var}={value:?} is invalid: expected {expected}"
                )
            }
            // What failed is the source, printed once by whoever prints
            // the chain.
            Error::Pool(_) => f.write_str("the KVP pool could not be opened"),
            Error::Layer(_) => f.write_str("the KVP layer could not be built"),
            Error::Kvp(_) => f.write_str("the KVP layer could not be started"),
            Error::AlreadyInstalled => {
                f.write_str("a global tracing subscriber is already installed")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Pool(e) => Some(e),
            Error::Layer(e) => Some(e),
            Error::Kvp(e) => Some(e),
            _ => None,
        }
    }
}
