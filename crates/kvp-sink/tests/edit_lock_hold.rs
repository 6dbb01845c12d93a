//! How long an upsert over duplicated keys and a delete hold the pool's
//! locks on a 1 GiB pool, compaction included, measured from another
//! process. Alone in its test binary, so that no other test competes for
//! the cores while the holds are measured.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write as _;
use std::time::Duration;

use common::{Watcher, encoded as record, pool_path};
use kvp_codec::{RECORD_SIZE, decode};
use kvp_sink::{OpenOptionsPool, PoolFile};

const WAIT: Duration = Duration::from_secs(5);

/// A 1 GiB pool with the report three times near its start, and a record to
/// delete near its start: the upsert and the delete, through the lock
/// searched before and the compaction after, hold the locks at most 50 ms
/// at a time, however long the whole edit takes.
#[test]
fn edits_of_a_1_gib_pool_hold_the_locks_briefly() {
    let (_dir, path) = pool_path();
    // 1 GiB of whole records (a sparse file: padding, but for ours below).
    const RECORDS: u64 = (1 << 30) / RECORD_SIZE as u64;
    test_support::sparse_file(&path, RECORDS * RECORD_SIZE as u64);
    {
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        use std::os::unix::fs::FileExt;
        for (i, (k, v)) in [
            ("PROVISIONING_REPORT", "result=error|n=1"),
            ("early", "delete me"),
            ("PROVISIONING_REPORT", "result=error|n=2"),
            ("kept", "1"),
            ("PROVISIONING_REPORT", "result=error|n=3"),
        ]
        .iter()
        .enumerate()
        {
            file.write_all_at(&record(k, v), (i * RECORD_SIZE) as u64)
                .unwrap();
        }
        // A record at the very end too, which has to move all the way up.
        let end = (RECORDS - 1) * RECORD_SIZE as u64;
        file.write_all_at(&record("last", "at the end"), end)
            .unwrap();
    }
    // Both sides search the file from the page cache.
    std::io::copy(
        &mut std::fs::File::open(&path).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    let watcher = Watcher::start(&path, 30);
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    let key = b"PROVISIONING_REPORT";
    let mut locked = pool.lock_for_keys(WAIT, &[key]).unwrap();
    locked
        .upsert(&record("PROVISIONING_REPORT", "result=success"))
        .unwrap();
    drop(locked);
    let upsert_steps = pool.compact(WAIT).unwrap();
    let mut locked = pool.lock_for_keys(WAIT, &[b"early"]).unwrap();
    assert_eq!(locked.delete(b"early").unwrap(), 1);
    drop(locked);
    let delete_steps = pool.compact(WAIT).unwrap();
    let longest = watcher.longest_ms();
    eprintln!(
        "1 GiB pool: upsert over 3 copies ({upsert_steps} steps) and a delete near the start \
         ({delete_steps} steps): the locks were held at most {longest:.1} ms at a time"
    );
    let _ = std::io::stderr().flush();
    assert!(
        longest <= 50.0,
        "the locks were held {longest:.1} ms at once"
    );
    // Exactly what was asked: one report, in the last one's place, the
    // others in order, and the file three records shorter.
    let len = std::fs::metadata(&path).unwrap().len();
    assert_eq!(len, (RECORDS - 3) * RECORD_SIZE as u64);
    let data = std::fs::read(&path).unwrap();
    let keys: Vec<(usize, &str)> = decode(&data)
        .map(|r| r.unwrap())
        .filter(|r| !r.key.is_empty())
        .map(|r| (r.index, r.key))
        .collect();
    let last = len as usize / RECORD_SIZE - 1;
    assert_eq!(
        keys,
        [(0, "kept"), (1, "PROVISIONING_REPORT"), (last, "last")]
    );
}
