//! The writer looks at its queue on a timer while records come and waits on
//! it after a quiet spell: either way a record reaches the file without a
//! flush. (That a flush is answered at once rather than at the writer's
//! next look is a matter of time: the `sink_flush_after_pause` bench
//! measures it.)

#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use kvp_codec::RECORD_SIZE;
use kvp_sink::WriterBuilder;

/// Waits (at most 5 s) for the file to hold `records` records.
fn wait_for(path: &Path, records: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if std::fs::metadata(path).unwrap().len() == records * RECORD_SIZE as u64 {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn records_reach_the_file_without_a_flush_while_polling_and_after_a_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();

    sink.append(None, "first", "while the writer polls");
    assert!(wait_for(&path, 1), "polled record written");

    // Past the 2 s after which the writer waits on the queue instead.
    std::thread::sleep(Duration::from_millis(2500));
    sink.append(None, "second", "after the writer went to wait");
    assert!(wait_for(&path, 2), "record after a pause written");
    assert_eq!(guard.stats().written, 2);
}
