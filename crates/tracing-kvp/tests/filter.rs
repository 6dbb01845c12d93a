//! The layer's own filter: from its environment variable, from the builder,
//! and an invalid directive falling back to `warn`. Each case runs in a
//! child process with its own environment.

#![allow(clippy::unwrap_used)]

mod common;

use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

const VAR: &str = "TRACING_KVP_TEST_FILTER";

/// Emits one event per level with the given builder directive and returns
/// the levels that reached the pool.
fn levels_written(builder_directive: &str) -> Vec<String> {
    let pool = common::pool();
    let layer = KvpLayer::builder("t")
        .vm_id("vm")
        .env_var(VAR)
        .filter(builder_directive)
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::trace!("t");
        tracing::debug!("d");
        tracing::info!("i");
        tracing::warn!("w");
        tracing::error!("e");
    });
    pool.flush()
        .into_iter()
        .map(|(k, _)| k.split('|').nth(2).unwrap().to_owned())
        .collect()
}

/// The levels a child writes with the builder's `directive` and `env` as
/// the layer's variable, and whether it warned about the filter.
fn in_child(env: Option<&str>, directive: &str) -> String {
    let mut cmd = test_support::child::command(
        "child_writes_one_event_per_level",
        "filter",
        &[("FILTER_CHILD_DIRECTIVE", directive)],
    );
    cmd.env_remove(VAR);
    if let Some(v) = env {
        cmd.env(VAR, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let levels = stdout
        .split("LEVELS ")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    format!(
        "{levels}{}",
        if stderr.contains("invalid filter") {
            " (warned)"
        } else {
            ""
        }
    )
}

/// In a child, the child's part; in an ordinary run, one case of its own,
/// so that it never passes without checking something.
#[test]
fn child_writes_one_event_per_level() {
    if test_support::child::role().is_some() {
        let directive = std::env::var("FILTER_CHILD_DIRECTIVE").unwrap();
        println!("LEVELS {}", levels_written(&directive).join(","));
    } else {
        assert_eq!(in_child(None, "info"), "INFO,WARN,ERROR");
    }
}

#[test]
fn the_default_is_warn() {
    assert_eq!(in_child(None, "warn"), "WARN,ERROR");
}

#[test]
fn the_builder_sets_the_filter() {
    assert_eq!(in_child(None, "error"), "ERROR");
    assert_eq!(in_child(None, "debug"), "DEBUG,INFO,WARN,ERROR");
}

#[test]
fn the_environment_variable_wins_over_the_builder() {
    assert_eq!(in_child(Some("info"), "error"), "INFO,WARN,ERROR");
    assert_eq!(in_child(Some("some_other_crate=trace,off"), "error"), "");
    assert_eq!(
        in_child(Some("filter=debug,off"), "error"),
        "DEBUG,INFO,WARN,ERROR"
    );
}

#[test]
fn an_invalid_variable_falls_back_to_the_builders_filter_then_to_warn() {
    assert_eq!(in_child(Some("[=bad"), "error"), "ERROR (warned)");
    assert_eq!(in_child(None, "info,[=bad"), "WARN,ERROR (warned)");
    assert_eq!(in_child(Some("[=bad"), "info,[=bad"), "WARN,ERROR (warned)");
}

/// The stderr line names the variable and what is used instead.
#[test]
fn the_warning_names_the_variable() {
    let mut cmd = test_support::child::command(
        "child_writes_one_event_per_level",
        "filter",
        &[("FILTER_CHILD_DIRECTIVE", "error")],
    );
    let out = cmd.env(VAR, "[=bad").output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("invalid filter"))
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].contains(VAR) && lines[0].contains("\"error\" from the builder"),
        "{}",
        lines[0]
    );
}

/// A provisioning report passes any filter: one that lets only ERROR
/// through, and one that lets nothing through.
#[test]
fn a_report_passes_every_filter() {
    for directive in ["error", "off", "some_other_crate=trace"] {
        let pool = common::pool();
        let layer = KvpLayer::builder("t")
            .vm_id("vm")
            .ignore_env()
            .filter(directive)
            .build(pool.sink.clone())
            .unwrap();
        tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
            tracing::info!("left out");
            tracing::debug!(health_report = "result=success|agent=t/1", "report");
        });
        let records = pool.flush();
        let keys: Vec<&str> = records.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["PROVISIONING_REPORT"], "filter {directive:?}");
        assert_eq!(records[0].1, "result=success|agent=t/1");
    }
}
