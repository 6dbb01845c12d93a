//! The CLI streams pool files: its memory does not grow with the file. A
//! 1 GiB sparse pool (419,430 records) is dumped, counted, searched and
//! checked, each in at most 64 MiB, measured as the child's peak RSS. What
//! is not a regular file, where a read could block for ever (a FIFO) or
//! never end (`/dev/zero`), is refused at once by every reading command.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the built `kvp` with `args`, stdout discarded; its exit status and
/// its peak resident memory in bytes.
// `wait4` below reaps the child, which clippy cannot see.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (i32, u64) {
    let child = Command::new(env!("CARGO_BIN_EXE_kvp"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are to
    // live locals.
    let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(waited, pid);
    // Linux reports ru_maxrss in KiB.
    let peak = u64::try_from(usage.ru_maxrss).unwrap() * 1024;
    (libc::WEXITSTATUS(status), peak)
}

#[test]
fn a_1_gib_pool_is_read_in_flat_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    test_support::sparse_file(&path, 1 << 30);
    let p = path.to_str().unwrap();
    for (args, status) in [
        (vec!["dump", p], 0),
        (vec!["dump", "--json", p], 0),
        (vec!["stats", p], 0),
        (vec!["read", "missing", "--file", p], 1),
        (vec!["check", p], 1),
        (vec!["export", "--chrome-trace", p], 0),
    ] {
        let (got, peak) = run_measured(&args);
        eprintln!("kvp {args:?}: exit {got}, peak RSS {} MiB", peak >> 20);
        assert_eq!(got, status, "kvp {args:?}");
        assert!(
            peak <= 64 << 20,
            "kvp {args:?}: peak RSS {} MiB",
            peak >> 20
        );
    }
}

/// `kvp export` streams our records (each names its span by id, so none
/// waits for another): 100,000 events and spans, a 244 MiB pool, become a
/// Chrome trace in the same flat memory.
#[test]
fn a_large_pool_of_our_records_exports_in_flat_memory() {
    use kvp_codec::{Limits, RECORD_SIZE, encode};
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut record = [0u8; RECORD_SIZE];
    for i in 0..100_000u32 {
        let (key, value) = if i % 10 == 9 {
            (
                format!("agent|vm-1|INFO|step|5f3a9c0e12ab-{i:x}"),
                format!(
                    "start=2026-11-21T10:00:00.000Z end=2026-11-21T10:00:00.005Z duration_ms=5 status=ok parent=5f3a9c0e12ab-0 n={i}"
                ),
            )
        } else {
            (
                format!("agent|vm-1|INFO|agent|5f3a9c0e12ab-{i:x}"),
                format!(
                    "time=2026-11-21T10:00:00.001Z span=5f3a9c0e12ab-{:x} message=\"step {i} done\" attempt=1",
                    i / 10 * 10 + 9
                ),
            )
        };
        encode(&key, &value, &Limits::SAFE, &mut record).unwrap();
        file.write_all(&record).unwrap();
    }
    file.flush().unwrap();
    drop(file);
    let (got, peak) = run_measured(&["export", "--chrome-trace", path.to_str().unwrap()]);
    eprintln!(
        "kvp export --chrome-trace: exit {got}, peak RSS {} MiB",
        peak >> 20
    );
    assert_eq!(got, 0);
    assert!(peak <= 64 << 20, "peak RSS {} MiB", peak >> 20);
}

#[test]
fn a_fifo_or_a_device_is_refused_at_once_by_every_reading_command() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    for path in [fifo.to_str().unwrap(), "/dev/zero"] {
        for command in [
            vec!["dump", path],
            vec!["stats", path],
            vec!["tree", path],
            vec!["check", path],
            vec!["entries", path],
            vec!["read", "--file", path, "key"],
            vec!["follow", "--new", path],
            vec!["export", "--chrome-trace", path],
        ] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_kvp"))
                .args(&command)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // A read of the FIFO would block for ever, and of /dev/zero
            // never end: give each ten seconds, then fail.
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    child.kill().unwrap();
                    panic!("kvp {command:?} did not return");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            let out = child.wait_with_output().unwrap();
            assert_eq!(out.status.code(), Some(3), "kvp {command:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("is not a regular file"),
                "kvp {command:?}: {stderr}"
            );
        }
    }
}
