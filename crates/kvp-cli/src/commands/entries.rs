//! `kvp entries`: the last value of every key.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::Path;

use clap::Args;

use crate::exit::Result;
use crate::output::print_all;
use crate::records::{Item, for_each_item};
use crate::target::Target;

/// The last logical record of each key, in the order keys first appear
/// (memory grows with the number of keys, not of records).
fn last_values(path: &Path) -> Result<Vec<(String, String)>> {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut at: BTreeMap<String, usize> = BTreeMap::new();
    for_each_item(path, |item| {
        if let Item::Record { key, value, .. } = item {
            match at.get(&key) {
                Some(&i) => order[i].1 = value,
                None => {
                    at.insert(key.clone(), order.len());
                    order.push((key, value));
                }
            }
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(order)
}

#[derive(Debug, Args)]
pub(crate) struct EntriesArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object of key to value.
    #[arg(long)]
    json: bool,
}

pub(crate) fn entries(a: &EntriesArgs) -> Result {
    let entries = last_values(&a.target.path())?;
    if a.json {
        let object: serde_json::Map<String, serde_json::Value> = entries
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::String(v)))
            .collect();
        return print_all([serde_json::Value::Object(object).to_string()]);
    }
    print_all(entries.into_iter().map(|(k, v)| format!("{k}\t{v}")))
}
