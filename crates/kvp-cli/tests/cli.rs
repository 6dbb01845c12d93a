//! The built `kvp` binary on the pool files in `crates/kvp-codec/testdata/pools/` (written
//! by real cloud-init and azure-init) and on files the facade wrote.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use common::{fixture, json_lines, kvp, ok};
use serde_json::Value;

#[test]
fn dump_json_joins_cloud_init_chunks_and_merges_their_messages() {
    let lines = json_lines(&ok(&[
        "dump",
        "--json",
        &fixture("cloud-init/cloud-init-main-split.kvp"),
    ]));
    assert_eq!(lines.len(), 3);
    for (n, l) in lines.iter().enumerate() {
        assert_eq!(l["chunks"], 6);
        assert_eq!(l["index"], n * 6);
        let event: Value = serde_json::from_str(l["value"].as_str().unwrap()).unwrap();
        assert_eq!(
            event["msg"].as_str().unwrap(),
            format!("peer event {n}{}", "x".repeat(5000))
        );
        assert!(event.get("msg_i").is_none());
        assert!(
            l.get("parts").is_none(),
            "cloud-init keys do not follow our layout"
        );
    }
}

#[test]
fn dump_json_reads_azure_init_files_with_parts() {
    let lines = json_lines(&ok(&[
        "dump",
        "--json",
        &fixture("azure-init/azure-init-0.1.1-sample.kvp"),
    ]));
    assert_eq!(lines.len(), 8, "11 records, two shared-key chunk groups");
    assert!(
        lines.iter().all(|l| l.get("error").is_none()),
        "joining repairs the split é"
    );
    assert_eq!(lines[2]["chunks"], 3);
    assert_eq!(lines[3]["chunks"], 2);
    assert_eq!(lines[0]["parts"]["prefix"], "azure-init-0.1.1");
    assert_eq!(lines[0]["parts"]["level"], "INFO");
    assert_eq!(lines[0]["parts"]["name"], "provision::user:create_user");
    assert_eq!(lines[7]["key"], "PROVISIONING_REPORT");
}

#[test]
fn bad_records_are_lines_with_an_error_and_the_exit_status_is_zero() {
    let out = kvp(&["dump", "--json", &fixture("edge-cases.kvp")]);
    assert!(out.status.success());
    let lines = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[5]["index"], 5);
    assert!(
        lines[5]["error"]
            .as_str()
            .unwrap()
            .contains("partial record of 70 bytes")
    );
    let table = ok(&["dump", &fixture("edge-cases.kvp")]);
    assert!(
        table.contains("!! record 5: partial record of 70 bytes"),
        "{table}"
    );
}

#[test]
fn an_unreadable_file_is_a_clear_error() {
    let out = kvp(&["dump", "/nonexistent/.kvp_pool_1"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("kvp: cannot read /nonexistent/.kvp_pool_1: No such file"),
        "{err}"
    );
    let out = kvp(&["dump"]);
    assert!(!out.status.success(), "a path or --pool is required");
}

#[test]
fn pool_shorthand_names_the_hyperv_file() {
    // No file named: the guest's pool.
    let out = kvp(&["dump"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/var/lib/hyperv/.kvp_pool_1"), "{err}");
    let out = kvp(&["dump", "--pool", "3"]);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/var/lib/hyperv/.kvp_pool_3"), "{err}");
    assert!(
        !kvp(&["dump", "--pool", "7"]).status.success(),
        "pools are 0 to 4"
    );
}

#[test]
fn stats_count_what_is_there() {
    let s: Value = serde_json::from_str(&ok(&[
        "stats",
        "--json",
        &fixture("azure-init/azure-init-0.1.1-sample.kvp"),
    ]))
    .unwrap();
    assert_eq!(s["records"], 11);
    assert_eq!(s["logical_records"], 8);
    assert_eq!(s["invalid_records"], 2);
    assert_eq!(s["torn_tail_bytes"], 0);
    assert_eq!(s["room"], 1024 - 11);
    assert_eq!(s["by_level"]["INFO"], 6);
    let s: Value =
        serde_json::from_str(&ok(&["stats", "--json", &fixture("edge-cases.kvp")])).unwrap();
    assert_eq!(s["torn_tail_bytes"], 70);
    assert!(ok(&["stats", &fixture("edge-cases.kvp")]).contains("torn tail        70 bytes"));
    // cloud-init's keys are counted by event type and name.
    let path = fixture("cloud-init/cloud-init-22.4-split.kvp");
    let s: Value = serde_json::from_str(&ok(&["stats", "--json", &path])).unwrap();
    assert_eq!(s["by_level"]["cloud-init cloudinit_peer"], 3);
    assert_eq!(s["by_name"]["peer/ev0"], 1);
}

#[test]
fn write_upsert_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    let p = p.to_str().unwrap();
    ok(&["write", p, "a|vm|INFO|x|0001-1", "first"]);
    ok(&[
        "write",
        p,
        "PROVISIONING_REPORT",
        "result=error",
        "--upsert",
    ]);
    ok(&[
        "write",
        p,
        "PROVISIONING_REPORT",
        "result=success",
        "--upsert",
    ]);
    assert!(ok(&["write", p, "long", &"é".repeat(2500)]).contains("wrote 3 record(s)"));
    let lines = json_lines(&ok(&["dump", "--json", p]));
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["value"], "result=success");
    assert_eq!(lines[2]["value"], "é".repeat(2500));
    assert_eq!(lines[2]["chunks"], 3);
    let out = kvp(&["write", p, "", "v"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be empty"));
    let out = kvp(&["write", "--pool", "1", p, "k", "v"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("give the file once"));

    // Written this boot: --if-stale keeps it.
    assert!(ok(&["clear", p, "--if-stale"]).starts_with("kept"));
    assert_eq!(std::fs::metadata(p).unwrap().len(), 5 * 2560);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert!(ok(&["clear", p, "--if-stale"]).starts_with("cleared"));
    assert_eq!(std::fs::metadata(p).unwrap().len(), 0);
    // Empty, and from an earlier boot: stale like any other file.
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(
        ok(&["clear", p, "--if-stale"]),
        format!("cleared {p} (0 records)\n")
    );
    ok(&["write", p, "k", "v"]);
    assert!(ok(&["clear", p]).contains("(1 records)"));
}

#[test]
fn plain_keys_keep_their_records_and_lost_chunks_show_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    let p = p.to_str().unwrap();
    ok(&["write", p, "status", &"x".repeat(1022)]);
    ok(&["write", p, "status", "second"]);
    ok(&["write", p, "pipe|key|1", "plain"]);
    ok(&[
        "write",
        p,
        "p|vm|INFO|n|ab-1|2",
        "a lost series' last chunk",
    ]);
    let lines = json_lines(&ok(&["dump", "--json", p]));
    let keys: Vec<_> = lines.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["status", "status", "pipe|key|1", "p|vm|INFO|n|ab-1"]);
    assert_eq!(lines[1]["value"], "second");
    assert!(lines[2].get("incomplete").is_none());
    assert_eq!(lines[3]["incomplete"], true);
    let s: Value = serde_json::from_str(&ok(&["stats", "--json", p])).unwrap();
    assert_eq!(
        (s["records"].clone(), s["logical_records"].clone()),
        (4.into(), 4.into())
    );
    let table = ok(&["dump", p]);
    assert!(
        table.contains("p|vm|INFO|n|ab-1  [1 chunk, incomplete]"),
        "{table}"
    );
    assert!(table.contains("pipe|key|1\n"), "{table}");

    // Upsert of the repeated key: one left, where the last was.
    ok(&["write", "--upsert", p, "status", "third"]);
    let lines = json_lines(&ok(&["dump", "--json", p]));
    let kv: Vec<_> = lines
        .iter()
        .map(|l| (l["key"].as_str().unwrap(), l["value"].as_str().unwrap()))
        .collect();
    assert_eq!(kv.len(), 3, "{kv:?}");
    assert_eq!(kv[0], ("status", "third"));
    assert_eq!(kv[1].0, "pipe|key|1");
}

#[test]
fn follow_prints_records_as_they_are_appended() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    ok(&["write", p.to_str().unwrap(), "before", "1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args([
            "follow",
            "--json",
            "--new",
            "--max",
            "2",
            p.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    ok(&["write", p.to_str().unwrap(), "after-1", "2"]);
    ok(&["write", p.to_str().unwrap(), "after-2", "3"]);
    let lines: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    assert!(child.wait().unwrap().success());
    let keys: Vec<&str> = lines.iter().map(|l| l["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["after-1", "after-2"]);
    assert_eq!(lines[0]["index"], 1);
}

/// An upserted report changes a record in place; follow shows it again,
/// marked as an update, and a record appended after it as new.
#[test]
fn follow_shows_records_changed_in_place_as_updates() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    let p = p.to_str().unwrap();
    ok(&["report", "success", "--vm-id", "vm-1", "--file", p]);
    ok(&["write", p, "other", "1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args(["follow", "--json", "--max", "4", "--file", p])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut next = || {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        serde_json::from_str::<Value>(&line).unwrap()
    };
    assert_eq!(next()["key"], "PROVISIONING_REPORT");
    assert_eq!(next()["key"], "other");
    ok(&[
        "report", "failure", "--reason", "disk", "--vm-id", "vm-1", "--file", p,
    ]);
    let update = next();
    assert_eq!(update["index"], 0);
    assert_eq!(update["updated"], true);
    assert!(
        update["value"]
            .as_str()
            .unwrap()
            .starts_with("result=error|reason=disk|"),
        "{update}"
    );
    ok(&["write", p, "third", "3"]);
    let appended = next();
    assert_eq!(appended["key"], "third");
    assert!(appended.get("updated").is_none());
    assert!(child.wait().unwrap().success());
}

/// `kvp follow | head -1`: once the reader has its line and closes the
/// pipe, follow ends, successfully, though no record comes after.
#[test]
fn follow_ends_when_its_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    ok(&["write", p.to_str().unwrap(), "only", "1"]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args(["follow", p.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    reader.read_line(&mut first).unwrap();
    assert!(first.contains("only"), "{first}");
    drop(reader);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("kvp follow kept running after its reader closed the pipe");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

/// `follow --json` prints what `dump --json` prints for the same records,
/// our layout's fields parsed in both.
#[test]
fn follow_and_dump_print_one_json_shape_with_fields_parsed() {
    let path = fixture("kvp-demo.kvp");
    let dumped = json_lines(&ok(&["dump", "--json", &path]));
    let n = dumped.len().to_string();
    let followed = json_lines(&ok(&["follow", "--json", "--max", &n, &path]));
    assert_eq!(followed, dumped);
    let first = &dumped[0];
    assert_eq!(first["fields"]["message"], "provisioning started");
    assert_eq!(first["fields"]["vm_size"], "Standard_D2s_v5");
    // Keys outside our layout get no parts and no fields.
    let cloud = json_lines(&ok(&[
        "dump",
        "--json",
        &fixture("cloud-init/cloud-init-main-split.kvp"),
    ]));
    assert!(cloud[0].get("fields").is_none());
}

/// azure-init's store commands, and one exit status per meaning: 0 ok, 1 a
/// negative answer, 2 usage, 3 I/O.
#[test]
fn read_entries_delete_and_is_stale_with_their_exit_statuses() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let p = dir.path().join(".kvp_pool_1");
    let p = p.to_str().unwrap();
    ok(&["write", p, "a", "1"]);
    ok(&["write", p, "b", "2"]);
    ok(&["write", p, "a", "3"]);
    ok(&["write", p, "long", &"é".repeat(1500)]);
    let code = |args: &[&str]| kvp(args).status.code().unwrap();

    // read: the last value; --file, --dir and the positional path agree.
    assert_eq!(ok(&["read", "a", "--file", p]), "3\n");
    assert_eq!(ok(&["read", "a", "--dir", d]), "3\n");
    assert_eq!(
        ok(&["read", "long", "--dir", d]),
        format!("{}\n", "é".repeat(1500))
    );
    assert_eq!(code(&["read", "missing", "--dir", d]), 1);

    // entries: the last value of every key, in first-seen order.
    assert_eq!(
        ok(&["entries", "--dir", d])
            .lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect::<Vec<_>>(),
        ["a", "b", "long"]
    );
    let json: Value = serde_json::from_str(&ok(&["entries", "--json", p])).unwrap();
    assert_eq!(json["a"], "3");

    // delete: every record with the key, the others in order.
    assert!(ok(&["delete", "a", "--file", p]).contains("deleted 2 record(s)"));
    let keys: Vec<String> = json_lines(&ok(&["dump", "--json", p]))
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["b", "long"]);
    assert_eq!(code(&["delete", "a", "--file", p]), 1);

    // is-stale: 1 when written this boot, 0 when from an earlier one.
    assert_eq!(code(&["is-stale", p]), 1);
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(code(&["is-stale", "--dir", d]), 0);

    // Usage is 2 (clap's and ours); a file that cannot be read is 3.
    assert_eq!(code(&["read"]), 2);
    assert_eq!(code(&["write", "--pool", "1", p, "k", "v"]), 2);
    assert_eq!(
        code(&["dump", "--file", p, p]),
        2,
        "one way to name the file"
    );
    assert_eq!(code(&["dump", "--dir", d, "--pool", "1"]), 2);
    assert_eq!(code(&["read", "a", "--file", "/nonexistent/pool"]), 3);
    assert_eq!(code(&["is-stale", d]), 3, "a directory is not a pool file");
    assert!(ok(&["--help"]).contains("Exit status: 0 ok"));
}

#[test]
fn demo_runs_the_full_stack_and_prints_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let out = ok(&["demo", "--dir", dir.path().to_str().unwrap()]);
    let pool = dir.path().join(".kvp_pool_1");
    // It ends with the tree of what it wrote, the failure marked.
    assert!(out.contains("✗ provision"), "{out}");
    assert!(out.contains("✗ ├─ configure_ssh"), "{out}");
    assert!(out.contains("PROVISIONING_REPORT result=error"), "{out}");
    assert!(out.contains("4 metric records"), "{out}");
    assert!(out.contains("0 dropped"), "{out}");
    // A file the facade wrote reads back through the other commands.
    let lines = json_lines(&ok(&["dump", "--json", pool.to_str().unwrap()]));
    assert!(lines.iter().all(|l| l.get("error").is_none()));
    let levels: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["parts"]["level"].as_str())
        .collect();
    assert!(
        levels.contains(&"ERROR") && levels.contains(&"WARN") && levels.contains(&"INFO"),
        "{levels:?}"
    );
    let s: Value = serde_json::from_str(&ok(&["stats", "--json", pool.to_str().unwrap()])).unwrap();
    assert_eq!(s["records"].as_u64().unwrap() as usize, lines.len());
    assert!(Path::new(&pool).exists());
    // Running it again starts from a fresh pool.
    ok(&["demo", "--dir", dir.path().to_str().unwrap()]);
    assert_eq!(
        json_lines(&ok(&["dump", "--json", pool.to_str().unwrap()])).len(),
        lines.len()
    );
}

#[test]
fn every_command_has_help() {
    for cmd in [
        "demo", "tree", "dump", "follow", "stats", "clear", "write", "read", "entries", "delete",
        "is-stale", "report", "check",
    ] {
        let out = ok(&[cmd, "--help"]);
        assert!(out.contains("Usage: kvp"), "{cmd}: {out}");
    }
}

/// An empty key means nothing: every command that takes a key refuses it
/// with the usage status, and the file is untouched (padding records, which
/// read as an empty key, are not taken for records).
#[test]
fn an_empty_key_is_refused_by_every_command_that_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let p = pool.to_str().unwrap();
    ok(&["write", p, "real", "value"]);
    // Padding: a record of NULs, as a sparse file holds.
    let mut bytes = std::fs::read(&pool).unwrap();
    bytes.extend_from_slice(&[0u8; 2560]);
    std::fs::write(&pool, &bytes).unwrap();
    for args in [
        vec!["delete", "--file", p, ""],
        vec!["read", "--file", p, ""],
        vec!["write", p, "", "v"],
        vec!["write", "--upsert", p, "", "v"],
    ] {
        let out = kvp(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("must not be empty"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read(&pool).unwrap(), bytes, "nothing changed");
    // The library says so too, with a typed error.
    let (file, _) = kvp_sink::PoolFile::open(&pool, &Default::default()).unwrap();
    let mut locked = file.lock(Duration::from_secs(5)).unwrap();
    assert!(matches!(
        locked.delete(b""),
        Err(kvp_sink::Error::EmptyKey { .. })
    ));
}

/// `clear --if-stale` on a file that does not exist answers as azure-init's
/// tool does: nothing stale, nothing to clear, status 0.
#[test]
fn clear_if_stale_on_a_missing_file_is_nothing_to_clear() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join(".kvp_pool_1");
    let out = kvp(&["clear", "--if-stale", "--file", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!missing.exists(), "no file is made");
    let out = kvp(&["clear", "--file", missing.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "without --if-stale it is an error"
    );
}

/// `write --upsert` says what it did in a sentence.
#[test]
fn write_says_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let p = pool.to_str().unwrap();
    assert!(ok(&["write", "--upsert", p, "k", "1"]).starts_with("appended record 0 in "));
    assert!(ok(&["write", "--upsert", p, "k", "2"]).starts_with("replaced record 0 in "));
}

/// `kvp write FILE KEY` with the value forgotten does not write `FILE=KEY`
/// into the guest's live pool: it is a usage error that says what to do.
#[test]
fn write_with_the_value_forgotten_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    std::fs::write(&pool, b"").unwrap();
    let out = kvp(&["write", pool.to_str().unwrap(), "KEY"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give KEY and VALUE after it"), "{err}");
    assert_eq!(std::fs::read(&pool).unwrap().len(), 0, "nothing written");
    // With the file named, a key that looks like a path is still writable.
    ok(&[
        "write",
        "--file",
        pool.to_str().unwrap(),
        "a/.kvp_pool_1",
        "v",
    ]);
}

/// Every command takes its file the same way, `read` and `delete`
/// included: a PATH before the key, or `--file`; `delete FILE` with the
/// key forgotten is refused rather than run on the guest's pool.
#[test]
fn read_and_delete_take_the_file_as_a_path_or_an_option() {
    let dir = tempfile::tempdir().unwrap();
    let pool = dir.path().join(".kvp_pool_1");
    let p = pool.to_str().unwrap();
    ok(&["write", p, "k", "v1"]);
    ok(&["write", p, "other", "v2"]);
    assert_eq!(ok(&["read", p, "k"]), "v1\n");
    assert_eq!(ok(&["read", "--file", p, "k"]), "v1\n");
    assert_eq!(ok(&["read", "k", "--file", p]), "v1\n");
    let out = kvp(&["delete", p]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a file"));
    let out = kvp(&["read", p, "k", "--file", p]);
    assert_eq!(out.status.code(), Some(2), "the file given twice: {out:?}");
    ok(&["delete", p, "k"]);
    assert_eq!(kvp(&["read", p, "k"]).status.code(), Some(1));
    assert_eq!(ok(&["read", p, "other"]), "v2\n");
}

/// Help text is for a terminal: no markdown backticks from doc comments.
#[test]
fn help_text_has_no_markdown_backticks() {
    let top = ok(&["--help"]);
    assert!(!top.contains('`'), "{top}");
    let commands: Vec<String> = top
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 10, "{commands:?}");
    for command in commands {
        let help = ok(&[&command, "--help"]);
        assert!(!help.contains('`'), "kvp {command} --help:\n{help}");
    }
    for nested in [["report", "success"], ["report", "failure"]] {
        let help = ok(&[nested[0], nested[1], "--help"]);
        assert!(!help.contains('`'), "kvp {nested:?} --help:\n{help}");
    }
}
