//! How often the writer wakes, counted from its voluntary context switches
//! in `/proc/self/task/<tid>/status`: at most twice a record while records
//! trickle in, and not at all when idle. Alone in its test binary, so that
//! its writer is the process's only `kvp-writer` thread.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{pool_path, wait_for_records};
use kvp_sink::WriterBuilder;

/// The `/proc/self/task` directory of the process's `kvp-writer` thread
/// (a new thread names itself as it starts, so it is looked for a while).
fn writer_task() -> std::path::PathBuf {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .map(|t| t.unwrap().path())
            .find(|t| {
                std::fs::read_to_string(t.join("comm"))
                    .unwrap_or_default()
                    .trim()
                    == "kvp-writer"
            });
        match found {
            Some(task) => return task,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
            None => panic!("no kvp-writer thread"),
        }
    }
}

/// Voluntary context switches of a thread so far: each time it slept and
/// was woken.
fn wakeups(task: &Path) -> u64 {
    let status = std::fs::read_to_string(task.join("status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn an_idle_writer_sleeps_and_a_slow_trickle_costs_at_most_two_wake_ups_a_record() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();
    let task = writer_task();
    // The writer's first look, just after it starts, is not the records'.
    std::thread::sleep(Duration::from_millis(300));

    // One record a second for 10 s: the goal is at most 2 wake-ups each.
    let before = wakeups(&task);
    for i in 0..10 {
        sink.append(None, &format!("trickle-{i}"), "v");
        std::thread::sleep(Duration::from_secs(1));
    }
    let trickle = wakeups(&task) - before;
    assert!(
        wait_for_records(&path, 10),
        "every record reached the file unasked"
    );
    assert!(
        trickle <= 20,
        "{trickle} wake-ups for 10 records a second apart"
    );

    // Past one look without records the writer sleeps with no timer: the
    // goal is no wake-up in 10 idle seconds.
    std::thread::sleep(Duration::from_millis(300));
    let before = wakeups(&task);
    std::thread::sleep(Duration::from_secs(10));
    let idle = wakeups(&task) - before;
    assert_eq!(idle, 0, "{idle} wake-ups in 10 idle seconds");
    eprintln!("writer wake-ups: {trickle} for 10 records 1 s apart, {idle} in 10 s idle");

    // The first record after the sleep wakes the writer itself.
    sink.append(None, "after-sleep", "v");
    assert!(
        wait_for_records(&path, 11),
        "a record after the sleep is written"
    );
    // The counter is bumped just after the write the file shows.
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(guard.stats().written, 11);
}
