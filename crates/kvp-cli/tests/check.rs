//! `kvp check` on every fixture, and on files made to break each host rule.

#![allow(clippy::unwrap_used)]

mod common;

use std::fs::{File, FileTimes};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{fixture, json_lines, kvp, ok};
use serde_json::Value;

const RECORD: usize = 2560;

/// A copy of `name` in `dir`, written now (so never from an earlier boot).
fn copy(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name.replace('/', "_"));
    std::fs::copy(fixture(name), &to).unwrap();
    to
}

/// `kvp check --json` on `path`: its exit code, the problems, the summary.
fn check(path: &Path) -> (i32, Vec<Value>, Value) {
    let out = kvp(&["check", "--json", path.to_str().unwrap()]);
    let mut lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    let summary = lines.pop().unwrap();
    (out.status.code().unwrap(), lines, summary)
}

/// Each problem's record and kind, in order.
fn kinds(problems: &[Value]) -> Vec<(u64, &str)> {
    problems
        .iter()
        .map(|p| {
            (
                p["record"].as_u64().unwrap(),
                p["problem"].as_str().unwrap(),
            )
        })
        .collect()
}

fn record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut r = vec![0u8; RECORD];
    r[..key.len()].copy_from_slice(key);
    r[512..512 + value.len()].copy_from_slice(value);
    r
}

#[test]
fn every_fixture_is_judged_as_the_host_would_read_it() {
    let dir = tempfile::tempdir().unwrap();
    let clean = [
        "cloud-init/cloud-init-22.4-small.kvp",
        "cloud-init/cloud-init-22.4-split.kvp",
        "cloud-init/cloud-init-main-small.kvp",
        "cloud-init/cloud-init-main-split.kvp",
        "kvp-demo.kvp",
    ];
    for name in clean {
        let (code, problems, summary) = check(&copy(dir.path(), name));
        assert_eq!((code, problems.len()), (0, 0), "{name}: {problems:?}");
        assert_eq!(summary["clean"], true);
    }

    // azure-init 0.1.1 cut a value inside an `é`: the host stops at record
    // 5, hiding the 5 after it.
    let (code, problems, summary) =
        check(&copy(dir.path(), "azure-init/azure-init-0.1.1-sample.kvp"));
    assert_eq!(code, 1);
    assert_eq!(problems[0]["record"], 5);
    assert_eq!(problems[0]["problem"], "invalid_utf8");
    assert_eq!(problems[0]["field"], "value");
    assert_eq!(problems[0]["offset"], 5 * RECORD + 512 + 1021);
    assert_eq!(problems[0]["hidden_after"], 5);
    assert_eq!(problems[1]["record"], 6);
    assert_eq!(problems[1]["hidden_after"], Value::Null);
    assert_eq!(summary["records"], 11);

    // The hand-made edge cases: a 512-byte key with no NUL (also too long
    // for the host) and a partial record; invalid UTF-8 after a NUL is not
    // a problem, since no reader sees it.
    let (code, problems, summary) = check(&copy(dir.path(), "edge-cases.kvp"));
    assert_eq!(code, 1);
    assert_eq!(kinds(&problems), [(3, "unterminated"), (3, "cut")]);
    assert_eq!(problems[1]["kept_units"], 254);
    let file = summary["file_problems"].as_array().unwrap();
    assert_eq!(file.len(), 1);
    assert!(file[0].as_str().unwrap().contains("70 bytes"), "{summary}");
}

#[test]
fn the_table_names_the_record_and_the_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy(dir.path(), "azure-init/azure-init-0.1.1-sample.kvp");
    let out = kvp(&["check", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("record 5 (byte 14333): value is not valid UTF-8"),
        "{text}"
    );
    assert!(text.contains("hiding the 5 record(s) after it"), "{text}");
}

#[test]
fn each_host_rule_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool");
    let mut data = Vec::new();
    data.extend(record(b"fine", b"v"));
    // 1100 units of value: the host keeps 1022.
    data.extend(record(b"long", &[b'x'; 1100]));
    data.extend(record(b"", b"orphan value"));
    // A series that skips |1.
    data.extend(record(b"big|0", b"a"));
    data.extend(record(b"big|2", b"c"));
    data.extend(record(b"bad", b"ok \xff"));
    data.extend(record(b"after", b"hidden"));
    std::fs::write(&path, &data).unwrap();
    let (code, problems, _) = check(&path);
    assert_eq!(code, 1);
    assert_eq!(
        kinds(&problems),
        [
            (1, "cut"),
            (2, "empty_key"),
            (4, "chunk_gap"),
            (5, "invalid_utf8")
        ]
    );
    assert_eq!(problems[0]["units"], 1100);
    assert_eq!(problems[0]["kept_units"], 1022);
    assert_eq!(problems[3]["hidden_after"], 1);
    assert_eq!(problems[3]["offset"], 5 * RECORD + 512 + 3);
}

#[test]
fn an_earlier_boot_and_a_file_over_the_cap_fail_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool");
    let p = path.to_str().unwrap();
    for k in ["a", "b", "c"] {
        ok(&["write", p, k, "v"]);
    }
    assert!(ok(&["check", p]).contains("clean"));
    let out = kvp(&["check", "--cap", "2", p]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 records, over the 2"));

    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_times(FileTimes::new().set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1)))
        .unwrap();
    let (code, problems, summary) = check(&path);
    assert_eq!((code, problems.len()), (1, 0));
    assert!(
        summary["file_problems"][0]
            .as_str()
            .unwrap()
            .contains("before this boot"),
        "{summary}"
    );
}

/// (A FIFO or a device is refused by every reading command: `large.rs`.)
#[test]
fn a_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = kvp(&["check", dir.path().join("missing").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
}
