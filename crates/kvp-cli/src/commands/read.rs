//! `kvp read`: the last value of a key.

use std::ops::ControlFlow;

use clap::Args;

use super::file_and_key;
use crate::exit::{No, Result};
use crate::output::print_all;
use crate::records::{Item, for_each_item};
use crate::target::Named;

#[derive(Debug, Args)]
pub(crate) struct ReadArgs {
    /// KEY, after the file's PATH unless an option names the file.
    #[arg(num_args = 1..=2, required = true, value_names = ["PATH", "KEY"])]
    args: Vec<String>,
    #[command(flatten)]
    target: Named,
}

pub(crate) fn read_key(a: &ReadArgs) -> Result {
    let (path, wanted) = file_and_key(&a.args, &a.target)?;
    let mut last = None;
    for_each_item(&path, |item| {
        if let Item::Record { key, value, .. } = item
            && key == wanted
        {
            last = Some(value);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    match last {
        Some(value) => print_all([value]),
        None => Err(No(format!(
            "no record with key {:?} in {}",
            wanted,
            path.display()
        ))
        .into()),
    }
}
