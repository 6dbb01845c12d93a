//! `KvpLayer::builder(prefix).open(path)`: one call from a path to a layer
//! and its guard, with an agent's defaults, and the guard's shutdown.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use test_support::pool_records;
use tracing_kvp::KvpLayer;
use tracing_subscriber::prelude::*;

/// A pool last written before this boot is truncated when `open` opens it,
/// as cloud-init and azure-init do.
#[test]
fn open_truncates_a_pool_from_an_earlier_boot() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let mut old = vec![0u8; 2560];
    old[..11].copy_from_slice(b"earlier-key");
    std::fs::write(&path, &old).unwrap();
    let file = std::fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000))
        .unwrap();
    drop(file);

    let (layer, guard) = KvpLayer::builder("my-agent")
        .vm_id("vm-1")
        .open(&path)
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::warn!("this boot's record");
    });
    guard.shutdown(Duration::from_secs(5)).unwrap();
    let records = pool_records(&path);
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].0.starts_with("my-agent|vm-1|WARN|"),
        "{records:?}"
    );
}

/// The record cap's marker is written in the agent's own key layout, not
/// under a key of the sink's.
#[test]
fn the_cap_marker_is_in_the_layers_key_layout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let writer = kvp_sink::WriterBuilder::new(&path).record_cap(Some(5));
    let (layer, guard) = KvpLayer::builder("my-agent")
        .vm_id("vm-1")
        .rate_limit(None)
        .open_with(writer)
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        for i in 0..20 {
            tracing::warn!(i, "flood");
        }
    });
    let err = guard.shutdown(Duration::from_secs(5)).unwrap_err();
    assert!(err.stats.dropped_cap > 0, "{err}");
    let records = pool_records(&path);
    let marker: Vec<&(String, String)> = records
        .iter()
        .filter(|(_, v)| v.contains("reason=cap"))
        .collect();
    assert_eq!(marker.len(), 1, "{records:?}");
    assert!(
        marker[0].0.starts_with("my-agent|vm-1|WARN|kvp-sink|"),
        "{}",
        marker[0].0
    );
}

/// `shutdown` says what was written and what was lost, as a `Result`.
#[test]
fn shutdown_reports_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let (layer, guard) = KvpLayer::builder("my-agent")
        .vm_id("vm-1")
        .open(&path)
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let _span = tracing::warn_span!("provision").entered();
        tracing::error!("one");
        tracing::warn!("two");
    });
    let stats = guard.shutdown(Duration::from_secs(5)).unwrap();
    assert_eq!((stats.written, stats.dropped()), (3, 0));
    assert_eq!(pool_records(&path).len(), 3);
}

/// `shutdown_async` completes on an executor without blocking it: here a
/// thread that polls with a real waker and parks until woken.
#[test]
fn shutdown_async_wakes_its_task_when_the_writer_is_done() {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let (layer, guard) = KvpLayer::builder("my-agent")
        .vm_id("vm-1")
        .open(&path)
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::warn!("before shutdown");
    });
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(guard.shutdown_async(Duration::from_secs(5)));
    let stats = loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(result) => break result.unwrap(),
            // Parked until the shutdown thread wakes this task (a spurious
            // wake-up only polls again).
            Poll::Pending => std::thread::park(),
        }
    };
    assert_eq!(stats.written, 1);
    assert_eq!(pool_records(&path).len(), 1);
}

/// A bad prefix is refused before the pool is opened: no file is left.
#[test]
fn a_bad_prefix_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    let err = KvpLayer::builder("a|b")
        .vm_id("vm-1")
        .open_unfiltered(&path)
        .unwrap_err();
    assert!(matches!(err, tracing_kvp::OpenError::Layer(_)), "{err}");
    assert!(!path.exists());
}
