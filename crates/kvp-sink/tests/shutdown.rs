//! A loss at exit is on record before the guard's drop returns: a process
//! that drops its guard while another process holds the pool, and exits at
//! once, has said on stderr how many records it lost.

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{LockHolder, child_role, empty_pool, spawn_self_with};
use kvp_sink::WriterBuilder;

#[test]
fn records_lost_at_exit_are_reported_before_the_guard_drop_returns() {
    if child_role().is_some() {
        let path = std::env::var("KVP_TEST_POOL").unwrap();
        let (sink, guard, _) = WriterBuilder::new(&path)
            .lock_timeout(Duration::from_millis(10))
            .shutdown_timeout(Duration::from_millis(200))
            .spawn()
            .unwrap();
        for i in 0..100 {
            sink.append(None, &format!("k{i}"), "v");
        }
        drop(guard);
        // As returning from `main` does: no time for the writer to speak.
        std::process::exit(0);
    }
    let (_dir, path) = empty_pool();
    let holder = LockHolder::hold(&path, "flock");
    let child = spawn_self_with(
        "records_lost_at_exit_are_reported_before_the_guard_drop_returns",
        "exit",
        &[("KVP_TEST_POOL", path.display().to_string())],
        Stdio::piped(),
    );
    let out = child.wait_with_output().unwrap();
    holder.release();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("100 records not written at shutdown"),
        "{stderr}"
    );
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn records_queued_after_the_guard_gave_up_are_counted_not_written_late() {
    let (_dir, path) = empty_pool();
    let holder = LockHolder::hold(&path, "flock");
    let (sink, guard, _) = WriterBuilder::new(&path)
        .lock_timeout(Duration::from_millis(10))
        .shutdown_timeout(Duration::from_millis(100))
        .spawn()
        .unwrap();
    for i in 0..10 {
        sink.append(None, &format!("k{i}"), "v");
    }
    drop(guard);
    holder.release();
    // The lock is free now, but the guard has given the records up: the
    // writer counts them as it comes to them.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while sink.stats().dropped_lock < 10 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stats = sink.stats();
    assert_eq!(stats.written, 0, "{stats:?}");
    assert_eq!(stats.dropped_lock, 10, "{stats:?}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
}
