//! The sink respects the locks other programs take on the pool: a POSIX
//! `fcntl` lock as hv_kvp_daemon takes, and `flock` as cloud-init takes.
//! While either is held nothing is written and the application never waits,
//! unless it asked for blocking mode: then it waits, and loses nothing.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{LockHolder, empty_pool, intact_keys, pool_path, value_for};
use kvp_sink::WriterBuilder;

fn sink_waits_for(kind: &str) {
    let (_dir, path) = empty_pool();

    let holder = LockHolder::hold(&path, kind);
    let (sink, guard, _) = WriterBuilder::new(&path)
        .lock_timeout(Duration::from_millis(20))
        .retry_interval(Duration::from_millis(5))
        .capacity(64)
        .spawn()
        .unwrap();

    // The application sends far more than the queue holds: every call
    // returns at once, the overflow is dropped and counted.
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for i in 0..1000 {
        let key = format!("app|{kind}|{i}");
        let t = Instant::now();
        sink.append(None, &key, &value_for(&key));
        slowest = slowest.max(t.elapsed());
    }
    let sending = started.elapsed();
    assert!(
        slowest < Duration::from_millis(50),
        "{kind}: the slowest send took {slowest:?} while the lock was held"
    );
    assert!(
        sending < Duration::from_secs(1),
        "{kind}: sending took {sending:?}"
    );

    assert!(
        !sink.flush(Duration::from_millis(300)),
        "{kind}: nothing can be written yet"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "{kind}: nothing written while locked"
    );
    let stats = sink.stats();
    assert!(stats.lock_timeouts > 0, "{kind}: {stats:?}");
    assert!(stats.dropped_queue_full > 0, "{kind}: {stats:?}");

    holder.release();
    assert!(
        sink.flush(Duration::from_secs(10)),
        "{kind}: written after release"
    );
    let stats = sink.stats();
    let keys = intact_keys(&std::fs::read(&path).unwrap());
    assert_eq!(keys.len() as u64, stats.written);
    assert_eq!(
        stats.written + stats.dropped_queue_full,
        1000,
        "{kind}: {stats:?}"
    );
    assert!(
        stats.written >= 64,
        "{kind}: the queue's worth was kept: {stats:?}"
    );
    drop(guard);
}

#[test]
fn waits_for_a_posix_fcntl_lock_like_hv_kvp_daemon() {
    sink_waits_for("lockf");
}

#[test]
fn waits_for_flock_like_cloud_init() {
    sink_waits_for("flock");
}

/// The OFD lock we take is seen by a POSIX-lock user: while we hold the
/// pool, Python's `lockf` with `LOCK_NB` fails.
#[test]
fn our_lock_excludes_posix_and_flock_users() {
    let (_dir, path) = pool_path();
    let (pool, _) = kvp_sink::PoolFile::open(&path, &Default::default()).unwrap();
    let held = pool.lock(Duration::from_secs(1)).unwrap();
    for kind in ["lockf", "flock"] {
        let status = std::process::Command::new("python3")
            .args([
                "-c",
                &format!(
                    "import fcntl, sys\nf = open(sys.argv[1], 'r+')\n\
                     try:\n    fcntl.{kind}(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\nexcept OSError:\n    sys.exit(3)\n"
                ),
            ])
            .arg(&path)
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(3), "{kind} must see our lock");
    }
    drop(held);
}

/// Blocking mode, the other way round: producers wait while another
/// program holds the pool, and once it lets go every record arrives. Four
/// producers share a queue of 8, so they spend the lock's hold waiting for
/// room and are woken batch by batch after it.
#[test]
fn blocking_producers_wait_out_a_lock_holder_and_lose_nothing() {
    let (_dir, path) = empty_pool();
    let holder = LockHolder::hold(&path, "flock");
    let (sink, guard, _) = WriterBuilder::new(&path)
        .lock_timeout(Duration::from_millis(20))
        .retry_interval(Duration::from_millis(5))
        .capacity(8)
        .blocking(true)
        .record_cap(None)
        .spawn()
        .unwrap();
    let producers: Vec<_> = (0..4)
        .map(|t| {
            let sink = sink.clone();
            std::thread::spawn(move || {
                (0..500)
                    .filter(|i| sink.append(None, &format!("t{t}-{i}"), "v"))
                    .count()
            })
        })
        .collect();
    // Long enough for every producer to fill the queue and wait.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        sink.queued(),
        8,
        "the queue stays full while the pool is held"
    );
    assert_eq!(guard.stats().written, 0, "nothing written under the lock");
    holder.release();
    let sent: usize = producers.into_iter().map(|p| p.join().unwrap()).sum();
    assert_eq!(sent, 2000, "every blocking send returned true");
    assert!(guard.flush(Duration::from_secs(30)));
    let stats = guard.stats();
    assert_eq!(stats.written, 2000);
    assert_eq!(stats.dropped(), 0);
    let keys: std::collections::HashSet<String> = test_support::pool_records(&path)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(keys.len(), 2000, "each record once");
}
