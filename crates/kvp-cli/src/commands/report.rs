//! `kvp report success|failure`: upserts a `PROVISIONING_REPORT` whose value
//! is byte for byte what azure-init's `libazureinit-kvp report-success` and
//! `report-failure` write, but for the timestamp.

use clap::{Args, Subcommand};
use kvp_sink::{OpenOptionsPool, PoolFile};
use tracing_kvp::ProvisioningReport;
use tracing_kvp::{PROVISIONING_REPORT_KEY, detect_vm_id};

use crate::commands::LOCK_WAIT;
use crate::exit::Result;
use crate::exit::Usage;
use crate::files::refuse_non_file;
use crate::output::print_all;
use crate::target::Named;

/// The agent named when `--agent` is not given.
const DEFAULT_AGENT: &str = concat!("kvp/", env!("CARGO_PKG_VERSION"));

#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(subcommand)]
    outcome: Outcome,
}

#[derive(Debug, Subcommand)]
enum Outcome {
    /// result=success|agent=...|pps_type=None|vm_id=...|timestamp=...,
    /// then the supporting data.
    Success(Common),
    /// result=error|reason=...|agent=..., the supporting data, then
    /// pps_type, vm_id, timestamp and documentation_url when given.
    Failure {
        /// Why provisioning failed.
        #[arg(long)]
        reason: String,
        /// A link that explains the failure (none unless given, as
        /// azure-init's tool does).
        #[arg(long, value_name = "URL")]
        documentation_url: Option<String>,
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// The VM's id; by default DMI's product_uuid, as the host knows it.
    #[arg(long)]
    vm_id: Option<String>,
    /// The reporting agent, such as Azure-Init/0.1.1.
    #[arg(long, default_value = DEFAULT_AGENT)]
    agent: String,
    /// Supporting data as key=value pairs separated by commas; repeatable.
    /// A value wrapped whole in '...' or "..." may hold commas (the quotes
    /// are dropped): --supporting-data "step=ssh,detail='a,b'".
    #[arg(long, value_name = "K=V[,K=V...]", value_parser = supporting_data)]
    supporting_data: Vec<Pairs>,
    #[command(flatten)]
    target: Named,
}

/// The pairs of one `--supporting-data` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Pairs(Vec<(String, String)>);

pub(crate) fn report(a: &ReportArgs) -> Result {
    let (report, common) = match &a.outcome {
        Outcome::Success(common) => (ProvisioningReport::success(&common.agent), common),
        Outcome::Failure {
            reason,
            documentation_url,
            common,
        } => (
            ProvisioningReport::failure(&common.agent, reason)
                .documentation_url(documentation_url.as_deref()),
            common,
        ),
    };
    let vm_id = match &common.vm_id {
        Some(id) => id.clone(),
        None => detect_vm_id().ok_or_else(|| {
            Usage("cannot read this VM's id from DMI (not a VM, or not root): give --vm-id".into())
        })?,
    };
    let report = common
        .supporting_data
        .iter()
        .flat_map(|p| &p.0)
        .fold(report.vm_id(&vm_id), |r, (k, v)| r.field(k, v));
    let value = report.to_string();
    let path = common.target.path();
    refuse_non_file(&path)?;
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default())?;
    let at = pool
        .lock_for_keys(LOCK_WAIT, &[PROVISIONING_REPORT_KEY.as_bytes()])?
        .upsert_kv(PROVISIONING_REPORT_KEY, &value)?;
    pool.compact(LOCK_WAIT)?;
    let said = match at {
        kvp_sink::Upserted::Replaced(i) => format!("replaced record {i}"),
        kvp_sink::Upserted::Appended(i) => format!("appended record {i}"),
    };
    print_all([format!(
        "{said}, {PROVISIONING_REPORT_KEY} in {}: {value}",
        path.display()
    )])
}

/// Parses one `--supporting-data` argument: `key=value` pairs split on
/// commas, where a value that starts with `'` or `"` runs to the matching
/// quote (which must end the pair) and loses the quotes. Empty pairs, as
/// from a trailing comma, are skipped. These are the rules of azure-init's
/// tool, so that its command lines work here unchanged.
fn supporting_data(raw: &str) -> std::result::Result<Pairs, String> {
    let mut pairs = Vec::new();
    let mut rest = raw;
    while !rest.is_empty() {
        let (pair, after) = next_pair(rest).map_err(|why| format!("{why} in {raw:?}"))?;
        rest = after;
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not key=value in {raw:?}"))?;
        if key.is_empty() {
            return Err(format!("{pair:?} has an empty key in {raw:?}"));
        }
        let value = match value.as_bytes().first() {
            Some(&q @ (b'\'' | b'"')) if value.len() >= 2 && value.ends_with(q as char) => {
                &value[1..value.len() - 1]
            }
            _ => value,
        };
        pairs.push((key.to_owned(), value.to_owned()));
    }
    Ok(Pairs(pairs))
}

/// The first pair of `text` and what follows its comma.
fn next_pair(text: &str) -> std::result::Result<(&str, &str), &'static str> {
    let end = match text.find([',', '=']) {
        Some(eq) if text.as_bytes()[eq] == b'=' => {
            let value = &text[eq + 1..];
            match value.chars().next() {
                Some(q @ ('\'' | '"')) => {
                    let close = value[1..].find(q).ok_or("an unterminated quote")?;
                    let end = eq + 1 + 1 + close + 1;
                    if !(text[end..].is_empty() || text[end..].starts_with(',')) {
                        return Err("characters after a quoted value");
                    }
                    end
                }
                _ => eq + 1 + value.find(',').unwrap_or(value.len()),
            }
        }
        Some(comma) => comma,
        None => text.len(),
    };
    let after = text.get(end + 1..).unwrap_or("");
    Ok((&text[..end], after))
}

#[cfg(test)]
mod tests {
    use super::supporting_data;

    fn pairs(raw: &str) -> Vec<(String, String)> {
        match supporting_data(raw) {
            Ok(p) => p.0,
            Err(e) => panic!("{raw:?}: {e}"),
        }
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn pairs_split_on_commas_outside_quotes() {
        assert_eq!(pairs("k=v"), [pair("k", "v")]);
        assert_eq!(pairs("k1=v1,k2=v2"), [pair("k1", "v1"), pair("k2", "v2")]);
        assert_eq!(pairs("k='a,b',x=y"), [pair("k", "a,b"), pair("x", "y")]);
        assert_eq!(pairs("k=\"a,b\""), [pair("k", "a,b")]);
        assert_eq!(pairs("k=a'b"), [pair("k", "a'b")]);
        assert_eq!(pairs("k=v,"), [pair("k", "v")]);
        assert_eq!(pairs("k=a=b"), [pair("k", "a=b")]);
        assert_eq!(pairs("k="), [pair("k", "")]);
        assert_eq!(pairs("note=say \"hi\""), [pair("note", "say \"hi\"")]);
    }

    #[test]
    fn malformed_pairs_are_refused_with_the_reason() {
        for (raw, why) in [
            ("novalue", "not key=value"),
            ("=v", "empty key"),
            ("k='a,b", "unterminated quote"),
            ("k='a,b'x", "after a quoted value"),
        ] {
            match supporting_data(raw) {
                Ok(p) => panic!("{raw:?} gave {p:?}"),
                Err(e) => assert!(e.contains(why), "{raw:?}: {e}"),
            }
        }
    }
}
