//! `kvp report` run with azure-init's own command lines writes the values
//! azure-init's `libazureinit-kvp` wrote for them, but for the timestamp.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::{kvp, ok};
use test_support::reports::{vectors, without_time};

/// Splits a command line into words as the shell does, by asking bash.
fn words(cmd: &str) -> Vec<String> {
    let out = Command::new("bash")
        .args(["-c", &format!("printf '%s\\0' {cmd}")])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_terminator('\0')
        .map(str::to_owned)
        .collect()
}

#[test]
fn azure_inits_command_lines_write_azure_inits_values() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool");
    let pool = pool.to_str().unwrap();
    let vectors = vectors();
    assert_eq!(vectors.len(), 5);
    for (cmd, theirs) in vectors {
        let mut args = words(&cmd);
        // `report-success` there is `report success` here.
        let outcome = args.remove(0).replace("report-", "");
        let mut ours = vec!["report", outcome.as_str(), "--file", pool];
        ours.extend(args.iter().map(String::as_str));
        ok(&ours);
        let value = ok(&["read", "PROVISIONING_REPORT", "--file", pool]);
        assert_eq!(
            without_time(value.trim_end()),
            without_time(&theirs),
            "{cmd}"
        );
    }
    // Each report replaced the one before.
    assert_eq!(ok(&["entries", "--file", pool]).lines().count(), 1);
}

#[test]
fn bad_supporting_data_is_a_usage_error_that_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool");
    let out = kvp(&[
        "report",
        "failure",
        "--reason",
        "r",
        "--vm-id",
        "v",
        "--supporting-data",
        "k='a,b",
        "--file",
        pool.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unterminated quote"),
        "{out:?}"
    );
    assert!(!pool.exists(), "nothing is created for a refused command");
}

#[test]
fn a_report_that_cannot_fit_one_record_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join("pool");
    let p = pool.to_str().unwrap();
    ok(&["write", p, "k", "v"]);
    let long = "x".repeat(2000);
    let out = kvp(&[
        "report", "success", "--vm-id", "v", "--agent", &long, "--file", p,
    ]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the limit is"),
        "{out:?}"
    );
    assert_eq!(ok(&["entries", "--file", p]).trim_end(), "k\tv");
}
