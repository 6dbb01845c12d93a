//! `kvp stats`: records counted by level and name, problems, room under the cap.

use std::collections::BTreeMap;
use std::ops::ControlFlow;

use clap::Args;
use kvp_codec::{DecodeError, KeyParts, decode};
use serde_json::json;

use crate::exit::Result;
use crate::output::print_all;
use crate::records::{Item, for_each_item};
use crate::stream;
use crate::target::Target;

#[derive(Debug, Args)]
pub(crate) struct StatsArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object.
    #[arg(long)]
    json: bool,
    /// The record cap to count the room left against.
    #[arg(long, default_value_t = 1024)]
    cap: u64,
}

pub(crate) fn stats(a: &StatsArgs) -> Result {
    let path = a.target.path();
    // Two passes, each in flat memory: the records as stored, then the
    // logical records they make.
    let mut invalid = 0usize;
    let scan = stream::records(&path, |_, record| {
        if matches!(
            decode(record.raw()).next(),
            Some(Err(DecodeError::InvalidUtf8 { .. }))
        ) {
            invalid += 1;
        }
        ControlFlow::Continue(())
    })?;
    let (records, torn) = (scan.records, scan.tail);
    let mut by_level: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    let mut logical = 0;
    for_each_item(&path, |item| {
        if let Item::Record { key, .. } = item {
            logical += 1;
            let (level, name) = match KeyParts::parse(&key) {
                Some(p) => (p.level.as_str().to_owned(), p.name.to_owned()),
                None => other_layout(&key),
            };
            *by_level.entry(level).or_default() += 1;
            *by_name.entry(name).or_default() += 1;
        }
        Ok(ControlFlow::Continue(()))
    })?;
    let room = a.cap.saturating_sub(records as u64);
    if a.json {
        return print_all([json!({
            "path": path.display().to_string(),
            "records": records,
            "logical_records": logical,
            "by_level": by_level,
            "by_name": by_name,
            "torn_tail_bytes": torn,
            "invalid_records": invalid,
            "cap": a.cap,
            "room": room,
        })
        .to_string()]);
    }
    let mut lines = vec![
        format!("{}", path.display()),
        format!("  records          {records} ({logical} logical)"),
        format!("  room under cap   {room} of {}", a.cap),
        format!(
            "  torn tail        {}",
            if torn == 0 {
                "none".to_owned()
            } else {
                format!("{torn} bytes")
            }
        ),
        format!("  invalid UTF-8    {invalid} records"),
        "  by level".to_owned(),
    ];
    lines.extend(by_level.iter().map(|(k, v)| format!("    {k:<16} {v}")));
    lines.push("  by name".to_owned());
    lines.extend(by_name.iter().map(|(k, v)| format!("    {k:<40} {v}")));
    print_all(lines)
}

/// Level and name for keys outside our layout: cloud-init's
/// `CLOUD_INIT|<boot epoch>|<event type>|<name>|...` by event type and name,
/// anything else by its first part.
fn other_layout(key: &str) -> (String, String) {
    let parts: Vec<&str> = key.split('|').collect();
    match parts.as_slice() {
        ["CLOUD_INIT", _, kind, name, ..] => (format!("cloud-init {kind}"), (*name).to_owned()),
        [first, ..] => ("(other layout)".to_owned(), (*first).to_owned()),
        [] => ("(other layout)".to_owned(), String::new()),
    }
}
