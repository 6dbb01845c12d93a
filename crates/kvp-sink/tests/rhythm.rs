//! Who wakes the writer: an ordinary record waits for the writer's own
//! timer; an ERROR record, an upsert and a full queue wake it. (How often it
//! wakes is counted in `rhythm_idle.rs`.)

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{pool_path, records, wait_for_records};
use kvp_codec::Level;
use kvp_sink::WriterBuilder;

#[test]
fn an_error_record_or_an_upsert_wakes_the_writer_and_an_info_record_waits() {
    let (_dir, path) = pool_path();
    // A delay no test outlasts: only a wake-up can get a record written.
    let (sink, guard, _) = WriterBuilder::new(&path)
        .max_delay(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    // Let the writer take its first look and go to sleep on its timer.
    assert!(guard.flush(Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(200));
    sink.append(Some(Level::Info), "info", "waits for the writer's timer");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(records(&path), 0, "an INFO record does not wake the writer");
    sink.append(Some(Level::Error), "error", "wakes the writer");
    assert!(
        wait_for_records(&path, 2),
        "the ERROR record and the one before it"
    );
    sink.append(Some(Level::Info), "info-2", "waits again");
    sink.upsert(None, "PROVISIONING_REPORT", "result=success");
    assert!(wait_for_records(&path, 4), "an upsert wakes the writer too");
    // The counter is bumped just after the write the file shows.
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(guard.stats().written, 4);
}

#[test]
fn a_full_queue_wakes_the_writer_so_a_blocking_producer_does_not_wait_for_its_timer() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .capacity(8)
        .blocking(true)
        .record_cap(None)
        .max_delay(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    // 100 records through a queue of 8: each time it fills, the producer
    // wakes the writer, or it would wait an hour.
    for i in 0..100 {
        sink.append(Some(Level::Info), &format!("k{i}"), "v");
    }
    assert!(
        wait_for_records(&path, 92),
        "all but the last queue's worth are written"
    );
    assert!(guard.flush(Duration::from_secs(10)));
    assert_eq!(records(&path), 100);
}

/// A flush into a full queue, with the writer asleep on its timer, wakes
/// it to make room rather than waiting for the timer.
#[test]
fn a_flush_into_a_full_queue_wakes_the_writer() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .capacity(4)
        .max_delay(Duration::from_secs(3600))
        .spawn()
        .unwrap();
    // Let the writer take its first look and go to sleep on its timer.
    assert!(guard.flush(Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(200));
    // Four INFO records fill the queue without waking the writer.
    for i in 0..4 {
        assert!(sink.append(Some(Level::Info), &format!("k{i}"), "v"));
    }
    assert_eq!(sink.queued(), 4, "the queue is full and the writer asleep");
    assert!(
        guard.flush(Duration::from_secs(10)),
        "the flush got through"
    );
    assert_eq!(records(&path), 4);
}
