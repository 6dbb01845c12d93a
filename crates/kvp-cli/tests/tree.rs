//! `kvp tree` on every pool in `crates/kvp-codec/testdata/pools/` (snapshots), and on pools
//! built here the way each writer lays out its spans and events.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{fixture, ok, pool};
use serde_json::Value;

fn tree(args: &[&str], path: &Path) -> String {
    let mut all = vec!["tree"];
    all.extend_from_slice(args);
    all.push(path.to_str().unwrap());
    ok(&all)
}

#[test]
fn every_fixture_as_a_tree() {
    for name in [
        "kvp-demo.kvp",
        "azure-init/azure-init-0.1.1-sample.kvp",
        "cloud-init/cloud-init-22.4-small.kvp",
        "cloud-init/cloud-init-22.4-split.kvp",
        "cloud-init/cloud-init-main-small.kvp",
        "cloud-init/cloud-init-main-split.kvp",
        "edge-cases.kvp",
    ] {
        let snapshot = name.replace(['/', '.'], "_");
        insta::assert_snapshot!(snapshot, ok(&["tree", &fixture(name)]));
    }
}

#[test]
fn the_demo_pool_as_json() {
    let json: Value =
        serde_json::from_str(&ok(&["tree", "--json", &fixture("kvp-demo.kvp")])).unwrap();
    insta::assert_snapshot!(serde_json::to_string_pretty(&json).unwrap());
}

#[test]
fn errors_shows_only_the_chain_to_the_first_error() {
    let out = ok(&["tree", "--errors", &fixture("kvp-demo.kvp")]);
    let tree: Vec<&str> = out.lines().take_while(|l| !l.is_empty()).collect();
    assert_eq!(tree.len(), 3, "{out}");
    assert!(tree[0].starts_with("✗ provision  "), "{out}");
    assert!(tree[1].starts_with("✗ └─ configure_ssh  "), "{out}");
    assert!(
        tree[2].starts_with("✗    └─ ") && tree[2].contains("ERROR  sshd config check failed"),
        "{out}"
    );
}

const VM: &str = "00000000-0000-0000-0000-000000000001";

/// Our layout: a key `agent|<vm>|<LEVEL>|<name>|<id>`.
fn ours(level: &str, name: &str, id: &str) -> String {
    format!("agent|{VM}|{level}|{name}|{id}")
}

#[test]
fn our_spans_nest_by_id_with_missing_spans_and_open_spans_shown() {
    let dir = tempfile::tempdir().unwrap();
    let t = |ms: u32| format!("2026-11-21T10:00:00.{ms:03}Z");
    let records = [
        // The root span never closed (the process died): only its open
        // record is there.
        (
            ours("INFO", "provision", "aa-1-open"),
            format!("start={} status=open attempt=1", t(0)),
        ),
        (
            ours("INFO", "app", "aa-3"),
            format!("time={} span=aa-2 message=\"inside\"", t(20)),
        ),
        (
            ours("ERROR", "app", "aa-4"),
            format!(
                "time={} span=zz-9 message=\"from a span not in the pool\"",
                t(30)
            ),
        ),
        (
            ours("INFO", "create_user", "aa-2"),
            format!(
                "start={} end={} duration_ms=40 status=ok parent=aa-1 user=azureuser",
                t(10),
                t(50)
            ),
        ),
        (
            ours("WARN", "app", "aa-5"),
            format!("time={} message=\"no span\"", t(60)),
        ),
    ];
    let path = pool(dir.path(), &records);
    insta::assert_snapshot!(tree(&[], &path), @r"
      provision  open since 10:00:00.000  attempt=1
      └─ create_user  40.000 ms  ok  user=azureuser
         └─ 10:00:00.020  INFO   inside
      10:00:00.060  WARN   no span
    ✗ (unknown span zz-9: its records are not in this pool)
    ✗ └─ 10:00:00.030  ERROR  from a span not in the pool
    ");
}

#[test]
fn azure_init_spans_nest_by_time() {
    let dir = tempfile::tempdir().unwrap();
    let t = |ms: u32| format!("2026-11-21T10:00:00.{ms:03}Z");
    let key = |name: &str, id: &str| format!("azure-init|{VM}|INFO|{name}|{id}");
    // azure-init writes a span when it closes: the inner one first.
    let records = [
        (
            key("provision::user:create_user", "u-1"),
            format!(
                "Time: {} | Event: message=created user, user=\"azureuser\"",
                t(30)
            ),
        ),
        (
            key("provision::user:create_user", "u-2"),
            format!("Start: {} | End: {}", t(20), t(50)),
        ),
        (
            key("azure_init:provision", "u-3"),
            format!("Time: {} | Event: message=done", t(70)),
        ),
        (
            key("azure_init:provision", "u-4"),
            format!("Start: {} | End: {}", t(10), t(90)),
        ),
    ];
    let path = pool(dir.path(), &records);
    insta::assert_snapshot!(tree(&[], &path), @r#"
      azure_init:provision  80.000 ms
      ├─ provision::user:create_user  30.000 ms
      │  └─ 10:00:00.030  INFO   created user  user=azureuser
      └─ 10:00:00.070  INFO   done
    "#);
}

#[test]
fn cloud_init_start_and_finish_events_pair_into_spans() {
    let dir = tempfile::tempdir().unwrap();
    let t = |ms: u32| format!("2026-11-21T10:00:00.{ms:03}000Z");
    let event = |kind: &str, name: &str, ms: u32, msg: &str, result: Option<&str>| {
        let key = format!("CLOUD_INIT|1795265110|{kind}|{name}|{VM}|uuid-{ms}");
        let result = result.map_or(String::new(), |r| format!(",\"result\":\"{r}\""));
        let value = format!(
            "{{\"name\":\"{name}\",\"type\":\"{kind}\",\"ts\":\"{}\"{result},\"msg\":\"{msg}\"}}",
            t(ms)
        );
        (key, value)
    };
    let records = [
        event("start", "init-local", 0, "searching for local data", None),
        event(
            "start",
            "init-local/check-cache",
            10,
            "attempting to read from cache",
            None,
        ),
        event(
            "finish",
            "init-local/check-cache",
            20,
            "no cache found",
            Some("SUCCESS"),
        ),
        event("start", "init-local/search-Azure", 30, "searching", None),
        event("diagnostic", "azure-ds", 35, "IMDS unreachable", None),
        event(
            "finish",
            "init-local/search-Azure",
            80,
            "no local data",
            Some("FAIL"),
        ),
        event(
            "finish",
            "init-local",
            90,
            "init-local done",
            Some("SUCCESS"),
        ),
        event("start", "modules-final", 95, "running modules", None),
    ];
    let path = pool(dir.path(), &records);
    insta::assert_snapshot!(tree(&[], &path), @r#"
    ✗ init-local  90.000 ms  ok  msg="searching for local data" result=SUCCESS finish="init-local done"
      ├─ init-local/check-cache  10.000 ms  ok  msg="attempting to read from cache" result=SUCCESS finish="no cache found"
    ✗ └─ init-local/search-Azure  50.000 ms  error  msg=searching result=FAIL finish="no local data"
         └─ 10:00:00.035  INFO   IMDS unreachable  type=diagnostic
      modules-final  open since 10:00:00.095  msg="running modules"
    "#);
    let slow = tree(&["--slow", "40"], &path);
    assert!(
        slow.contains("init-local/search-Azure") && !slow.contains("check-cache"),
        "{slow}"
    );
    assert!(
        slow.contains("modules-final  open"),
        "open spans stay: {slow}"
    );
    assert!(!slow.contains("IMDS"), "events are not spans: {slow}");
}

#[test]
fn a_loop_of_parent_ids_loses_no_span() {
    let dir = tempfile::tempdir().unwrap();
    let span = |parent: &str| {
        format!(
            "start=2026-11-21T10:00:00.000Z end=2026-11-21T10:00:00.001Z duration_ms=1 status=ok parent={parent}"
        )
    };
    let records = [
        (ours("INFO", "a", "aa-1"), span("aa-2")),
        (ours("INFO", "b", "aa-2"), span("aa-1")),
    ];
    let path = pool(dir.path(), &records);
    let out = tree(&[], &path);
    assert!(
        out.contains("a  1.000 ms") && out.contains("b  1.000 ms"),
        "{out}"
    );
}

#[test]
fn the_json_tree_nests_what_the_text_shows() {
    let json: Value =
        serde_json::from_str(&ok(&["tree", "--json", &fixture("kvp-demo.kvp")])).unwrap();
    let roots = json["roots"].as_array().unwrap();
    assert_eq!(roots.len(), 1);
    let provision = &roots[0];
    assert_eq!(
        (&provision["kind"], &provision["name"], &provision["status"]),
        (
            &Value::from("span"),
            &Value::from("provision"),
            &Value::from("error")
        )
    );
    let names: Vec<&str> = provision["children"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] == "span")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create_user", "configure_ssh"]);
    assert_eq!(json["metrics"], 4);
    assert!(json["report"].as_str().unwrap().contains("result="));
}

/// Runs `kvp tree` on the demo fixture under a pseudo-terminal (util-linux
/// `script`), as a person at a terminal would.
fn on_a_terminal(no_color: bool) -> String {
    let command = format!(
        "{} tree {}",
        env!("CARGO_BIN_EXE_kvp"),
        fixture("kvp-demo.kvp")
    );
    let mut script = std::process::Command::new("script");
    script.args(["-qec", &command, "/dev/null"]);
    if no_color {
        script.env("NO_COLOR", "1");
    } else {
        script.env_remove("NO_COLOR");
    }
    let out = script.output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let coloured = on_a_terminal(false);
    assert!(
        coloured.contains("\x1b[31merror\x1b[0m"),
        "the error status is red on a terminal: {coloured:?}"
    );
    let plain = on_a_terminal(true);
    assert!(!plain.contains('\x1b'), "NO_COLOR: {plain:?}");
    assert!(plain.contains("provision"));
    let piped = ok(&["tree", &fixture("kvp-demo.kvp")]);
    assert!(!piped.contains('\x1b'), "not a terminal: {piped:?}");
}

/// An azure-init message that holds `, ` stays one message; the fields
/// after it are fields.
#[test]
fn an_azure_init_message_with_a_comma_stays_whole() {
    let dir = tempfile::tempdir().unwrap();
    let records = [
        (
            "azure-init|vm|INFO|provision:user|u-1".to_owned(),
            "Start: 2026-12-07T10:00:00.000Z | End: 2026-12-07T10:00:01.000Z".to_owned(),
        ),
        (
            "azure-init|vm|WARN|provision:user|u-2".to_owned(),
            "Time: 2026-12-07T10:00:00.500Z | Event: message=retrying, attempt 2 of 5, user=\"azureuser\""
                .to_owned(),
        ),
    ];
    let path = pool(dir.path(), &records);
    let json: Value = serde_json::from_str(&tree(&["--json"], &path)).unwrap();
    let event = &json["roots"][0]["children"][0];
    assert_eq!(event["message"], "retrying, attempt 2 of 5", "{event}");
    assert_eq!(
        event["fields"],
        serde_json::json!({"user": "azureuser"}),
        "{event}"
    );
}

/// Two runs of an agent in one pool, on two days (a reboot overnight):
/// each run's spans begin under a line that names it, and every time
/// carries its date.
#[test]
fn separate_runs_are_marked_and_dates_shown_across_days() {
    let dir = tempfile::tempdir().unwrap();
    let span = |day: u32, run: &str| {
        (
            ours("INFO", "provision", &format!("{run}-1")),
            format!(
                "start=2026-11-{day}T23:59:00.000Z end=2026-11-{day}T23:59:00.040Z duration_ms=40 status=ok"
            ),
        )
    };
    let event = |day: u32, run: &str| {
        (
            ours("WARN", "agent", &format!("{run}-2")),
            format!("time=2026-11-{day}T23:59:00.010Z span={run}-1 message=\"retrying\""),
        )
    };
    let records = [
        event(21, "5f3a9c0e12ab"),
        span(21, "5f3a9c0e12ab"),
        event(22, "77aa00bb11cc"),
        span(22, "77aa00bb11cc"),
    ];
    let path = pool(dir.path(), &records);
    insta::assert_snapshot!(tree(&[], &path), @r"
    ── run 5f3a9c0e12ab, from 2026-11-21 23:59:00.000 ──
      provision  40.000 ms  ok
      └─ 2026-11-21 23:59:00.010  WARN   retrying
    ── run 77aa00bb11cc, from 2026-11-22 23:59:00.000 ──
      provision  40.000 ms  ok
      └─ 2026-11-22 23:59:00.010  WARN   retrying
    ");
}
