//! `kvp tree` on hostile shapes: a chain of parents 10,000 deep, 2,000
//! azure-init spans nested by time, 100,000 spans side by side. Each runs
//! the real binary under a memory limit and asserts what the tool promises
//! (RELIABILITY.md): no crash, time within the bound, output bounded (the
//! indent stops growing past a depth), and `--json` nests no deeper than
//! its cap.

#![allow(clippy::unwrap_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kvp_codec::{Limits, RECORD_SIZE, encode};

/// Writes records from `make` as a pool in `dir`.
fn pool(dir: &Path, n: usize, make: impl Fn(usize) -> (String, String)) -> PathBuf {
    let path = dir.join(".kvp_pool_1");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut record = [0u8; RECORD_SIZE];
    for i in 0..n {
        let (key, value) = make(i);
        encode(&key, &value, &Limits::SAFE, &mut record).unwrap();
        file.write_all(&record).unwrap();
    }
    file.flush().unwrap();
    path
}

/// Runs `kvp tree <args> <path>` under a memory limit (an address-space
/// cap, so that a tree that outgrew it fails rather than passes): its
/// stdout, and how long it took.
fn tree(args: &[&str], path: &Path) -> (Vec<u8>, Duration) {
    use std::os::unix::process::CommandExt;
    let start = Instant::now();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kvp"));
    cmd.arg("tree").args(args).arg(path);
    // SAFETY: setrlimit is async-signal-safe, and the closure touches no
    // memory of the parent's.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: MEMORY_LIMIT,
                rlim_max: MEMORY_LIMIT,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "kvp tree {args:?}: {:?} {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (out.stdout, took)
}

/// The address space `kvp tree` may use: 1 GiB, for what holds about
/// 150 MiB on a 100,000-span file (PERFORMANCE.md).
const MEMORY_LIMIT: libc::rlim_t = 1 << 30;

/// RFC 3339 text `ms` milliseconds after a fixed instant.
fn at(ms: usize) -> String {
    let s = ms / 1000;
    format!(
        "2026-12-07T{:02}:{:02}:{:02}.{:03}Z",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// How deep a JSON value nests.
fn json_depth(v: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 1)];
    while let Some((v, d)) = stack.pop() {
        deepest = deepest.max(d);
        match v {
            serde_json::Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            serde_json::Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    deepest
}

#[test]
fn a_chain_of_parents_ten_thousand_deep() {
    const DEPTH: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    // Each span's parent is the one before it; the deepest holds an ERROR.
    let path = pool(dir.path(), DEPTH + 1, |i| {
        if i == DEPTH {
            return (
                format!("agent|vm|ERROR|deep|e-{i}"),
                format!("time={} span=s-{} message=\"at the bottom\"", at(i), i - 1),
            );
        }
        let parent = if i == 0 {
            String::new()
        } else {
            format!(" parent=s-{}", i - 1)
        };
        (
            format!("agent|vm|INFO|level{i}|s-{i}"),
            format!(
                "start={} end={} duration_ms=1.000 status=ok{parent}",
                at(i),
                at(2 * DEPTH - i)
            ),
        )
    });
    for args in [&[][..], &["--errors"][..]] {
        let (out, took) = tree(args, &path);
        assert!(took < Duration::from_secs(20), "{args:?}: {took:?}");
        assert!(out.len() < 16 << 20, "{args:?}: {} bytes", out.len());
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("at the bottom"), "{args:?}");
        assert!(
            text.contains("[depth 10000]"),
            "{args:?}: the depth is said"
        );
        let widest = text.lines().map(|l| l.chars().count()).max().unwrap();
        assert!(
            widest < 400,
            "{args:?}: the indent stops growing ({widest} wide)"
        );
    }
    let (out, took) = tree(&["--json"], &path);
    assert!(took < Duration::from_secs(20), "--json: {took:?}");
    assert!(out.len() < 16 << 20, "--json: {} bytes", out.len());
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let depth = json_depth(&json);
    assert!(depth < 200, "--json nests {depth} deep");
    let text = String::from_utf8(out).unwrap();
    assert_eq!(
        text.matches("\"kind\":\"span\"").count(),
        DEPTH,
        "every span is there"
    );
}

#[test]
fn two_thousand_azure_init_spans_nested_by_time() {
    const N: usize = 2_000;
    let dir = tempfile::tempdir().unwrap();
    // azure-init writes a span when it closes, the innermost first.
    let path = pool(dir.path(), N + 1, |i| {
        if i == N {
            return (
                "azure-init|vm|ERROR|provision:step0|ev".to_owned(),
                format!("Time: {} | Event: msg=\"failed\"", at(N + 1)),
            );
        }
        let depth = N - 1 - i;
        (
            format!("azure-init|vm|INFO|provision:step{depth}|u-{i}"),
            format!("Start: {} | End: {}", at(depth), at(4 * N - depth)),
        )
    });
    let (out, took) = tree(&[], &path);
    assert!(took < Duration::from_secs(5), "{took:?}");
    let text = String::from_utf8(out).unwrap();
    let first = text.lines().next().unwrap();
    assert!(
        first.contains("provision:step0"),
        "the outermost is the root: {first}"
    );
    assert!(text.contains("[depth 1999]"), "nested all the way down");
    assert!(text.contains("failed"));
}

#[test]
fn a_hundred_thousand_spans_side_by_side() {
    const N: usize = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = pool(dir.path(), N, |i| {
        (
            format!("agent|vm|INFO|span{i}|s-{i}"),
            format!(
                "start={} end={} duration_ms=1.000 status=ok",
                at(i),
                at(i + 1)
            ),
        )
    });
    let (out, took) = tree(&[], &path);
    assert!(took < Duration::from_secs(60), "{took:?}");
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), N);
}
