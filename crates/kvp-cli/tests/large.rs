//! The CLI streams pool files: its memory does not grow with the file. A
//! 1 GiB sparse pool (419,430 records) is dumped, counted, searched and
//! checked, each in at most 64 MiB, measured as the child's peak RSS.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

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
