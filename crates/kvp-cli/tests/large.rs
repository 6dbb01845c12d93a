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
