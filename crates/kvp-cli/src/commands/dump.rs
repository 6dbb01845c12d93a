//! `kvp dump`: every logical record, as a table or JSON lines.

use std::ops::ControlFlow;

use clap::Args;

use crate::exit::Result;
use crate::output::{Lines, Reader};
use crate::records::for_each_item;
use crate::target::Target;

#[derive(Debug, Args)]
pub(crate) struct DumpArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object per line per logical record: index, chunks, key,
    /// value, "incomplete": true for a series missing chunks, and parts and
    /// fields (the name=value pairs) when the key follows the layout; a
    /// record that cannot be decoded is {index, error}.
    #[arg(long)]
    json: bool,
}

pub(crate) fn dump(a: &DumpArgs) -> Result {
    let mut lines = Lines::default();
    for_each_item(&a.target.path(), |item| {
        let line = if a.json {
            item.to_json().to_string()
        } else {
            item.to_table()
        };
        Ok(match lines.push(line)? {
            Reader::Open => ControlFlow::Continue(()),
            Reader::Gone => ControlFlow::Break(()),
        })
    })?;
    lines.flush()?;
    Ok(())
}
