//! How long the writer holds the pool's locks, measured from another
//! process. Alone in its test binary, so that no other test competes for
//! the cores while the holds are measured.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{Watcher, pool_path};
use kvp_sink::WriterBuilder;

/// The writer holds the locks briefly even on a 1 GiB pool: it searches for
/// the keys it upserts before taking them, and under them reads only what
/// it found and what was appended since. Another process, trying the lock
/// without waiting in a loop, measures the longest stretch it was held.
#[test]
fn the_locks_are_held_briefly_on_a_1_gib_pool() {
    use std::io::Write;
    let (_dir, path) = pool_path();
    test_support::sparse_file(&path, 1 << 30);
    // Reads the file once so that both sides search it from the page cache.
    std::io::copy(
        &mut std::fs::File::open(&path).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    let watcher = Watcher::start(&path, 6);
    let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();
    for round in 0..3 {
        for i in 0..6 {
            sink.append(None, &format!("k{round}-{i}"), "v");
        }
        sink.upsert(
            None,
            "PROVISIONING_REPORT",
            &format!("result=success|round={round}"),
        );
        guard.flush(Duration::from_secs(60));
    }
    let stats = guard.stats();
    drop(guard);
    let longest = watcher.longest_ms();
    eprintln!("1 GiB pool: the locks were held at most {longest:.1} ms at a time; {stats:?}");
    let _ = std::io::stderr().flush();
    assert!(
        longest <= 50.0,
        "the locks were held {longest:.1} ms at once"
    );
}
