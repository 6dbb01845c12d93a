//! `kvp tree`: a pool's spans as a timed tree, with their events under
//! them and the path to the first error marked.

mod build;
pub(crate) mod nest;
mod render;

use std::io::IsTerminal as _;
use std::ops::ControlFlow;

use clap::Args;

use crate::exit::Result;
use crate::output::print_all;
use crate::records::for_each_item;
use crate::target::Target;

pub(crate) use crate::model::Tree;
pub(crate) use render::View;

#[derive(Debug, Args)]
pub(crate) struct TreeArgs {
    #[command(flatten)]
    target: Target,
    /// Only the chain of spans from a root to the first ERROR, and that
    /// event.
    #[arg(long)]
    errors: bool,
    /// Only spans that took at least N milliseconds (and spans still open).
    #[arg(long, value_name = "N")]
    slow: Option<f64>,
    /// The same tree as one nested JSON object.
    #[arg(long)]
    json: bool,
}

impl TreeArgs {
    #[cfg(feature = "demo")]
    /// The whole tree of `path`.
    pub(crate) fn for_path(path: std::path::PathBuf) -> Self {
        TreeArgs {
            target: Target::from_path(path),
            errors: false,
            slow: None,
            json: false,
        }
    }
}

/// Colour only on a terminal, and never when `NO_COLOR` is set
/// (<https://no-color.org>).
fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub(crate) fn tree(a: &TreeArgs) -> Result {
    if a.slow.is_some_and(|ms| !ms.is_finite() || ms < 0.0) {
        return Err("--slow takes a number of milliseconds, 0 or more".into());
    }
    // The tree needs every record, but the file is still read through the
    // one streaming path: a FIFO or device is refused, chunks joined as
    // everywhere else.
    let mut items = Vec::new();
    for_each_item(&a.target.path(), |item| {
        items.push(item);
        Ok(ControlFlow::Continue(()))
    })?;
    let tree = Tree::build(&items);
    let view = View {
        errors_only: a.errors,
        slow_ms: a.slow,
        colour: !a.json && colour(),
        dated: false,
    };
    if a.json {
        print_all([render::json(&tree, view).to_string()])
    } else {
        print_all(render::text(&tree, view))
    }
}
