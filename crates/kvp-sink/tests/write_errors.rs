//! Write errors, made real with a file-size limit (`RLIMIT_FSIZE`: the
//! kernel writes what fits, then fails with EFBIG, just as a full disk fails
//! with ENOSPC): no torn record stays, the counters are right, and the
//! writer goes on writing once there is room again. Runs in a child process
//! because the limit applies to the whole process.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{child_role, intact_keys, pool_path, spawn_self_with, value_for};
use kvp_codec::RECORD_SIZE;
use kvp_sink::{Error, OpenOptionsPool, PoolFile, WriterBuilder};

fn set_file_size_limit(bytes: libc::rlim_t) {
    let limit = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: `limit` is a valid rlimit that outlives the call; ignoring
    // SIGXFSZ makes an oversized write fail with EFBIG instead of killing us.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

fn records(keys: std::ops::Range<usize>) -> Vec<u8> {
    let mut batch = vec![0u8; keys.len() * RECORD_SIZE];
    for (slot, i) in batch.chunks_exact_mut(RECORD_SIZE).zip(keys) {
        let key = format!("rec-{i:04}");
        kvp_codec::encode(
            &key,
            &value_for(&key),
            &kvp_codec::Limits::SAFE,
            slot.try_into().unwrap(),
        )
        .unwrap();
    }
    batch
}

fn in_child() {
    let (_dir, path) = pool_path();

    // The pool file directly: a batch that fails part-way is cut back.
    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    let mut locked = pool.lock(Duration::from_secs(1)).unwrap();
    locked.append(&records(0..2)).unwrap();
    set_file_size_limit((3 * RECORD_SIZE + RECORD_SIZE / 2) as libc::rlim_t);
    let err = locked.append(&records(2..5)).unwrap_err();
    assert!(matches!(&err, Error::Io { op: "write", .. }), "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        2 * RECORD_SIZE as u64,
        "cut back"
    );
    drop(locked);
    drop(pool);
    std::fs::remove_file(&path).unwrap();

    // The writer: errors counted, the thread goes on.
    set_file_size_limit((2 * RECORD_SIZE + 100) as libc::rlim_t);
    let (sink, guard, _) = WriterBuilder::new(&path).record_cap(None).spawn().unwrap();
    for i in 0..5 {
        let key = format!("rec-{i:04}");
        sink.append(None, &key, &value_for(&key));
        sink.flush(Duration::from_secs(5));
    }
    let stats = guard.stats();
    assert_eq!(
        (stats.written, stats.dropped_write_error),
        (2, 3),
        "{stats:?}"
    );
    assert!(stats.write_errors >= 3, "{stats:?}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        2 * RECORD_SIZE as u64
    );

    // Room again: the same writer writes.
    set_file_size_limit(libc::RLIM_INFINITY);
    for i in 5..8 {
        let key = format!("rec-{i:04}");
        sink.append(None, &key, &value_for(&key));
    }
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(guard.stats().written, 5);
    let keys = intact_keys(&std::fs::read(&path).unwrap());
    assert_eq!(
        keys,
        ["rec-0000", "rec-0001", "rec-0005", "rec-0006", "rec-0007"]
    );
    println!("CHILD OK");
}

#[test]
fn failed_writes_leave_no_torn_record_and_the_writer_recovers() {
    if child_role().is_some() {
        return in_child();
    }
    // The child's stderr is a pipe, not ours: ours may be a file already
    // past the size limit the child sets, and the writer's error reports go
    // there.
    let child = spawn_self_with(
        "failed_writes_leave_no_torn_record_and_the_writer_recovers",
        "write-errors",
        &[],
        std::process::Stdio::piped(),
    );
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("CHILD OK"), "{stdout}");
    // The failures were reported, rate-limited: one line in this short run.
    assert_eq!(stderr.matches("kvp-sink: ").count(), 1, "{stderr}");
    assert!(stderr.contains("write failed"), "{stderr}");
}
