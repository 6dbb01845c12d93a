//! Upserts and deletes that a SIGKILL cannot leave half done: the records
//! they remove become holes in place, and compaction closes the holes in
//! bounded steps, from a journal. (How long they hold the locks is measured
//! in `edit_lock_hold.rs`.)

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{child_role, encoded as record, pool_path, spawn_self};
use kvp_codec::decode;
use kvp_sink::{OpenOptionsPool, PoolFile};

const WAIT: Duration = Duration::from_secs(5);

/// One round of edits: the report upserted over its copy, a record appended
/// and deleted, a copy of the report appended, each followed by its
/// compaction.
fn edit_round(pool: &PoolFile, round: u64) {
    let mut locked = pool.lock_for_keys(WAIT, &[b"R"]).unwrap();
    locked
        .upsert(&record("R", &format!("round {round}")))
        .unwrap();
    // A record to delete, and the report again: one more copy, which the
    // next upsert removes.
    locked
        .append(&record(&format!("tmp-{round}"), "x"))
        .unwrap();
    locked.append(&record("R", "copy")).unwrap();
    drop(locked);
    pool.compact(WAIT).unwrap();
    let key = format!("tmp-{round}");
    let mut locked = pool.lock_for_keys(WAIT, &[key.as_bytes()]).unwrap();
    assert_eq!(locked.delete(key.as_bytes()).unwrap(), 1);
    drop(locked);
    pool.compact(WAIT).unwrap();
}

/// The child's part: rounds of edits on the pool, until it is killed.
fn edit_until_killed(path: &str) {
    let (pool, _) = PoolFile::open(path, &OpenOptionsPool::default()).unwrap();
    for round in 0.. {
        edit_round(&pool, round);
    }
}

/// 3,000 records, and the report three times among them.
fn seed_pool(path: &std::path::Path) {
    let mut data = Vec::new();
    for i in 0..3_000 {
        data.extend_from_slice(&record(&format!("keep-{i:05}"), "v"));
        if i % 1000 == 0 {
            data.extend_from_slice(&record("R", "copy"));
        }
    }
    std::fs::write(path, data).unwrap();
}

/// SIGKILL at random moments of upserts, deletes and compactions, 30 times:
/// after the next open, every record is there exactly once, in order, the
/// report once, and no deleted record is back.
#[test]
fn a_kill_at_any_moment_of_an_edit_is_repaired_by_the_next_open() {
    if child_role().is_some() {
        edit_until_killed(&std::env::var("KVP_TEST_POOL").unwrap());
        return;
    }
    let (_dir, path) = pool_path();
    seed_pool(&path);
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    for run in 0..30 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = spawn_self(
            "a_kill_at_any_moment_of_an_edit_is_repaired_by_the_next_open",
            &run.to_string(),
            &[("KVP_TEST_POOL", path.display().to_string())],
        );
        std::thread::sleep(Duration::from_millis(5 + seed % 60));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The next open finishes what the child left.
        let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
        assert!(!pool.compaction_pending(), "run {run}");
        let data = std::fs::read(&path).unwrap();
        let keys: Vec<&str> = decode(&data).map(|r| r.unwrap().key).collect();
        let holes: Vec<(usize, String)> = decode(&data)
            .map(|r| r.unwrap())
            .filter(|r| r.key.is_empty())
            .map(|r| (r.index, r.value.chars().take(20).collect()))
            .collect();
        assert!(
            holes.is_empty(),
            "run {run}: holes left at {holes:?} of {} records",
            keys.len()
        );
        let kept: Vec<&str> = keys
            .iter()
            .copied()
            .filter(|k| k.starts_with("keep-"))
            .collect();
        let expected: Vec<String> = (0..3_000).map(|i| format!("keep-{i:05}")).collect();
        if kept != expected {
            let missing: Vec<&String> = expected
                .iter()
                .filter(|k| !kept.contains(&k.as_str()))
                .collect();
            let mut seen = std::collections::HashSet::new();
            let twice: Vec<&&str> = kept.iter().filter(|k| !seen.insert(**k)).collect();
            panic!(
                "run {run}: missing {missing:?}, twice {twice:?}, {} kept",
                kept.len()
            );
        }
        // Once; twice between the append of a copy and the upsert that
        // removes it; three times only when run 0 died before its first
        // upsert (the file starts with three).
        let reports = keys.iter().filter(|k| **k == "R").count();
        let most = if run == 0 { 3 } else { 2 };
        assert!(
            (1..=most).contains(&reports),
            "run {run}: the report {reports} times"
        );
        let tmps: Vec<String> = keys
            .iter()
            .filter(|k| k.starts_with("tmp-"))
            .map(|k| (*k).to_owned())
            .collect();
        assert!(
            tmps.len() <= 1,
            "run {run}: a deleted record came back: {tmps:?}"
        );
        // The next run starts from one report and no temporary record.
        let mut locked = pool.lock(WAIT).unwrap();
        locked.upsert(&record("R", "reset")).unwrap();
        for tmp in &tmps {
            locked.delete(tmp.as_bytes()).unwrap();
        }
        drop(locked);
        pool.compact(WAIT).unwrap();
    }
}

/// The same edits as the killed child's, with no kill: every round leaves
/// the records once, in order.
#[test]
fn edits_without_a_kill_keep_every_record_once_in_order() {
    let (_dir, path) = pool_path();
    seed_pool(&path);
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    for round in 0..20 {
        edit_round(&pool, round);
        let data = std::fs::read(&path).unwrap();
        let keys: Vec<&str> = decode(&data).map(|r| r.unwrap().key).collect();
        let kept = keys.iter().filter(|k| k.starts_with("keep-")).count();
        let in_order = keys
            .iter()
            .filter(|k| k.starts_with("keep-"))
            .zip((0..3_000).map(|i| format!("keep-{i:05}")))
            .all(|(a, b)| *a == b);
        assert!(kept == 3_000 && in_order, "round {round}: {kept} kept");
        assert_eq!(
            keys.iter().filter(|k| **k == "R").count(),
            2,
            "round {round}"
        );
        assert!(
            keys.iter().all(|k| !k.is_empty()),
            "round {round}: a hole left"
        );
    }
}
