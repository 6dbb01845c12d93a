//! A writer killed with SIGKILL at a random moment, 20 times: each time the
//! file decodes with every whole record intact, and a torn tail, if any, is
//! cut on the next open.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{child_role, intact_keys, pool_path, spawn_self, value_for};
use kvp_sink::{OpenOptionsPool, PoolFile, WriterBuilder};

fn child(path: &str, run: &str) {
    let (sink, _guard, _) = WriterBuilder::new(path)
        .record_cap(None)
        .blocking(true)
        .spawn()
        .unwrap();
    for i in 0.. {
        let key = format!("run-{run}|{i:08}-k{}", "x".repeat(i % 50));
        sink.append(None, &key, &value_for(&key));
    }
}

#[test]
fn killed_writers_leave_a_readable_file() {
    if let Some(run) = child_role() {
        child(&std::env::var("KVP_TEST_POOL").unwrap(), &run);
        return;
    }
    let (_dir, path) = pool_path();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut total = 0;
    for run in 0..20 {
        // xorshift: a fresh moment each run, no extra crate.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut child = spawn_self(
            "killed_writers_leave_a_readable_file",
            &run.to_string(),
            &[("KVP_TEST_POOL", path.display().to_string())],
        );
        std::thread::sleep(Duration::from_millis(20 + seed % 150));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let data = std::fs::read(&path).unwrap();
        let whole = data.len() - data.len() % kvp_codec::RECORD_SIZE;
        let keys = intact_keys(&data[..whole]);
        assert!(
            keys.len() >= total,
            "run {run}: nothing lost from earlier runs"
        );
        let (_pool, report) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
        assert_eq!(
            report.torn_tail_bytes,
            (whole != data.len()).then_some((data.len() - whole) as u64)
        );
        assert_eq!(std::fs::metadata(&path).unwrap().len() as usize, whole);
        total = keys.len();
    }
    assert!(total > 0, "the children wrote something");
}
