//! The pool file's rules, one test each: stale truncation, the record cap
//! and its marker, upsert, chunking, torn tails, and paths that must be
//! refused (missing or read-only directory, symlink, FIFO, directory).

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::{Duration, Instant, SystemTime};

use common::{child_role, intact_keys, pool_path, spawn_self, value_for};
use kvp_codec::{RECORD_SIZE, Reassembled, decode_strict, reassemble};
use kvp_sink::{
    DEFAULT_MARKER_KEY, Error, OpenOptionsPool, PoolFile, TRUNCATED_MARKER, Upserted, WriterBuilder,
};

fn write_records(path: &std::path::Path, n: usize) {
    let mut data = vec![0u8; n * RECORD_SIZE];
    for (i, slot) in data.chunks_exact_mut(RECORD_SIZE).enumerate() {
        let key = format!("old-{i}");
        kvp_codec::encode(
            &key,
            &value_for(&key),
            &Default::default(),
            slot.try_into().unwrap(),
        )
        .unwrap();
    }
    std::fs::write(path, data).unwrap();
}

/// A new pool gets the mode `hv_kvp_daemon` gives its pools (owner
/// read-write, others read), less the umask; the mode can be set.
#[test]
fn new_files_get_the_daemons_mode_or_the_one_asked_for() {
    let umask = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|m| u32::from_str_radix(m.trim(), 8).unwrap())
        .unwrap();
    let (_dir, path) = pool_path();
    let (_pool, report) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    assert_eq!(report.records, 0);
    assert_eq!(
        std::fs::metadata(&path).unwrap().mode() & 0o777,
        0o644 & !umask
    );
    let (_dir, path) = pool_path();
    let private = OpenOptionsPool {
        mode: 0o600,
        ..OpenOptionsPool::default()
    };
    PoolFile::open(&path, &private).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
}

#[test]
fn stale_data_is_truncated_only_when_asked() {
    let (_dir, path) = pool_path();
    write_records(&path, 3);
    let before_boot = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(before_boot)
        .unwrap();

    let (_p, report) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    assert!(!report.truncated_stale);
    assert_eq!(report.records, 3);

    let options = OpenOptionsPool {
        truncate_stale: true,
        ..Default::default()
    };
    let (_p, report) = PoolFile::open(&path, &options).unwrap();
    assert!(report.truncated_stale);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);

    // Written at the boot's very second: stale, as azure-init counts it.
    write_records(&path, 1);
    let boot = boot_time();
    let at_boot = SystemTime::UNIX_EPOCH + Duration::from_secs(boot);
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(at_boot).unwrap();
    let (p, report) = PoolFile::open(&path, &options).unwrap();
    assert!(report.truncated_stale);
    // An empty file from an earlier boot is stale, with nothing reported cut.
    f.set_modified(before_boot).unwrap();
    assert!(p.lock(Duration::from_secs(5)).unwrap().is_stale().unwrap());
    let (_p, report) = PoolFile::open(&path, &options).unwrap();
    assert!(!report.truncated_stale);
    drop(f);

    // Written this boot: kept.
    write_records(&path, 2);
    let (_p, report) = PoolFile::open(&path, &options).unwrap();
    assert!(!report.truncated_stale);
    assert_eq!(report.records, 2);
}

#[test]
fn a_torn_tail_is_cut_on_open() {
    let (_dir, path) = pool_path();
    write_records(&path, 2);
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(&[b'x'; 1000]);
    std::fs::write(&path, &data).unwrap();
    let (sink, guard, report) = WriterBuilder::new(&path).spawn().unwrap();
    assert_eq!(report.torn_tail_bytes, Some(1000));
    assert_eq!(guard.stats().torn_tails_repaired, 1);
    sink.append(None, "new", &value_for("new"));
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(
        intact_keys(&std::fs::read(&path).unwrap()),
        ["old-0", "old-1", "new"]
    );
}

#[test]
fn the_cap_drops_new_records_and_the_last_slot_says_how_many() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(Some(10))
        .reserve_percent(0)
        .spawn()
        .unwrap();
    for i in 0..25 {
        let key = format!("rec-{i:02}");
        sink.append(None, &key, &value_for(&key));
        // Several batches, so the cap is met across them.
        if i % 7 == 0 {
            guard.flush(Duration::from_secs(5));
        }
    }
    assert!(!guard.flush(Duration::from_secs(5)), "records were dropped");
    let stats = guard.stats();
    assert_eq!((stats.written, stats.dropped_cap), (9, 16), "{stats:?}");

    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len(), 10 * RECORD_SIZE, "exactly at the cap");
    let records: Vec<_> = decode_strict(&data).map(Result::unwrap).collect();
    assert_eq!(records[8].key, "rec-08");
    assert_eq!(records[9].key, DEFAULT_MARKER_KEY);
    assert!(
        records[9].value == "dropped=16 reason=cap cap=10 reserved=0 unlevelled=16",
        "{}",
        records[9].value
    );
}

#[test]
fn upsert_replaces_in_place_or_appends() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();
    sink.append(None, "a", "1");
    sink.upsert(None, "PROVISIONING_REPORT", "result=error");
    sink.append(None, "b", "2");
    sink.upsert(None, "PROVISIONING_REPORT", "result=success");
    assert!(guard.flush(Duration::from_secs(5)));
    let data = std::fs::read(&path).unwrap();
    let kv: Vec<_> = decode_strict(&data)
        .map(|r| r.map(|r| (r.key, r.value)).unwrap())
        .collect();
    // Arrival order: the report was first appended between `a` and `b`,
    // then replaced where it stood.
    assert_eq!(
        kv,
        [
            ("a", "1"),
            ("PROVISIONING_REPORT", "result=success"),
            ("b", "2")
        ]
    );

    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    let mut locked = pool.lock(Duration::from_secs(1)).unwrap();
    assert_eq!(locked.upsert_kv("a", "one").unwrap(), Upserted::Replaced(0));
    assert_eq!(locked.upsert_kv("c", "3").unwrap(), Upserted::Appended(3));
}

/// Another writer left the key three times: after an upsert one record
/// remains, in the last one's place, the earlier ones holes in place (read
/// as padding); once the holes are closed, the rest keep their order,
/// chunk series included.
#[test]
fn upsert_of_a_repeated_key_leaves_one_record_where_the_last_was() {
    let (_dir, path) = pool_path();
    let records = [
        ("R", "old-1"),
        ("s|0", "a"),
        ("s|1", "b"),
        ("R", "old-2"),
        ("c", "3"),
        ("R", "old-3"),
        ("d", "4"),
    ];
    let mut data = vec![0u8; records.len() * RECORD_SIZE];
    for ((k, v), slot) in records.iter().zip(data.chunks_exact_mut(RECORD_SIZE)) {
        kvp_codec::encode(k, v, &Default::default(), slot.try_into().unwrap()).unwrap();
    }
    std::fs::write(&path, &data).unwrap();

    let (pool, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    let mut locked = pool.lock(Duration::from_secs(1)).unwrap();
    assert_eq!(locked.find(b"R").unwrap(), Some(5));
    assert_eq!(locked.upsert_kv("R", "new").unwrap(), Upserted::Replaced(3));
    assert_eq!(locked.find(b"R").unwrap(), Some(5), "nothing moved yet");
    drop(locked);
    let holes = std::fs::read(&path).unwrap();
    let padding = decode_strict(&holes)
        .filter(|r| r.as_ref().is_ok_and(|r| r.key.is_empty()))
        .count();
    assert_eq!(padding, 2, "the earlier duplicates are holes");
    assert!(pool.compaction_pending());
    pool.compact(Duration::from_secs(1)).unwrap();
    assert!(!pool.compaction_pending());
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len(), 5 * RECORD_SIZE);
    let kv: Vec<_> = decode_strict(&data)
        .map(|r| r.map(|r| (r.key, r.value)).unwrap())
        .collect();
    assert_eq!(
        kv,
        [
            ("s|0", "a"),
            ("s|1", "b"),
            ("c", "3"),
            ("R", "new"),
            ("d", "4")
        ]
    );
}

#[test]
fn long_values_are_chunked_and_capped() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path).max_chunks(3).spawn().unwrap();
    let three = "é".repeat(2500); // 3 chunks of <= 1022 units
    let too_long = "x".repeat(5000); // needs 5
    sink.append(None, "fits", &three);
    sink.append(None, "cut", &too_long);
    assert!(guard.flush(Duration::from_secs(5)));
    let stats = guard.stats();
    assert_eq!((stats.written, stats.truncated_values), (6, 1));

    let out = reassemble(&std::fs::read(&path).unwrap());
    let [Reassembled::Record(fits), Reassembled::Record(cut)] = &out[..] else {
        panic!("{out:?}")
    };
    assert_eq!(
        (fits.key.as_str(), fits.value.as_str(), fits.chunks),
        ("fits", three.as_str(), 3)
    );
    assert_eq!((cut.key.as_str(), cut.chunks), ("cut", 3));
    assert!(cut.value.ends_with(TRUNCATED_MARKER));
    assert!(cut.value.len() < too_long.len());
}

#[test]
fn bad_keys_are_counted_not_written() {
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path).spawn().unwrap();
    sink.append(None, "", "empty key");
    sink.append(None, "nul\0key", "v");
    sink.append(None, &"k".repeat(300), "v");
    sink.append(None, "good", "v");
    assert!(!guard.flush(Duration::from_secs(5)));
    let stats = guard.stats();
    assert_eq!((stats.written, stats.dropped_invalid), (1, 3), "{stats:?}");
}

#[test]
fn a_full_queue_drops_and_counts_without_blocking() {
    let (_dir, path) = pool_path();
    // Another open file description holding the locks stalls the writer.
    let (other, _) = PoolFile::open(&path, &OpenOptionsPool::default()).unwrap();
    let held = other.lock(Duration::from_secs(1)).unwrap();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .capacity(8)
        .lock_timeout(Duration::from_millis(10))
        .shutdown_timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let t = Instant::now();
    let sent = (0..10_000)
        .filter(|i| sink.append(None, &format!("k{i}"), "v"))
        .count();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Kept: what the queue holds plus the one batch the writer took before
    // it stalled. A batch grows until it passes 1 MiB: 409 records are
    // still under it, so it stops at 410.
    assert!(sent <= 8 + 410, "{sent}");
    assert_eq!(guard.stats().dropped_queue_full as usize, 10_000 - sent);
    // Dropping the guard while the pool stays locked returns by its deadline.
    let t = Instant::now();
    drop(guard);
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    drop(held);
}

#[test]
fn a_missing_directory_is_an_error_unless_creation_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hyperv").join(".kvp_pool_1");
    let err = WriterBuilder::new(&path).spawn().unwrap_err();
    assert!(
        matches!(&err, Error::MissingDirectory { path: p } if p.ends_with("hyperv")),
        "{err}"
    );
    assert!(err.to_string().contains("does not exist"));

    let (sink, guard, _) = WriterBuilder::new(&path).create_dir(true).spawn().unwrap();
    sink.append(None, "k", "v");
    assert!(guard.flush(Duration::from_secs(5)));
    assert_eq!(
        std::fs::metadata(path.parent().unwrap()).unwrap().mode() & 0o777,
        0o700
    );
}

#[test]
fn symlinks_fifos_directories_and_devices_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    std::fs::write(&target, b"").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call's duration.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let subdir = dir.path().join("dir");
    std::fs::create_dir(&subdir).unwrap();
    let socket = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();

    for (path, kind) in [
        (&link, "symlink"),
        (&fifo, "FIFO"),
        (&subdir, "directory"),
        (&socket, "socket"),
    ] {
        let t = Instant::now();
        let err = PoolFile::open(path, &OpenOptionsPool::default()).unwrap_err();
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "{kind} refused quickly"
        );
        assert!(
            matches!(&err, Error::NotAFile { kind: k, .. } if *k == kind),
            "{kind}: {err}"
        );
    }
    assert_eq!(
        std::fs::metadata(&target).unwrap().len(),
        0,
        "the link's target is untouched"
    );
    // A character device: opened (harmlessly, /dev/null) and refused.
    let err = PoolFile::open("/dev/null", &OpenOptionsPool::default()).unwrap_err();
    assert!(
        matches!(&err, Error::NotAFile { kind: "device", .. }),
        "{err}"
    );
}

/// A directory the process may not write to. As root, permissions do not
/// apply, so the check runs in a child that drops to `nobody` first.
#[test]
fn a_read_only_directory_is_an_error() {
    if child_role().is_some() {
        // SAFETY: plain syscalls on integer ids; the child is single-purpose.
        unsafe {
            if libc::geteuid() == 0 {
                assert_eq!(libc::setgid(65534), 0);
                assert_eq!(libc::setuid(65534), 0);
            }
        }
        let path = std::env::var("KVP_TEST_POOL").unwrap();
        let err = WriterBuilder::new(&path).spawn().unwrap_err();
        assert!(
            matches!(&err, Error::Io { op: "open", source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied),
            "{err}"
        );
        println!(
            "CHILD OK: {err}: {}",
            std::error::Error::source(&err).unwrap()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut child = spawn_self(
        "a_read_only_directory_is_an_error",
        "read-only",
        &[(
            "KVP_TEST_POOL",
            ro.join(".kvp_pool_1").display().to_string(),
        )],
    );
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(child.wait().unwrap().success(), "{out}");
    assert!(out.contains("CHILD OK"), "{out}");
    assert!(out.contains("Permission denied"), "{out}");
}

/// Part of the cap is kept for ERROR records and upserts: a noisy INFO phase
/// cannot starve the last records of a failing run.
#[test]
fn the_reserve_keeps_room_for_errors_and_upserts() {
    use kvp_codec::Level;
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(Some(100))
        .spawn()
        .unwrap();
    for i in 0..1000 {
        sink.append(Some(Level::Info), &format!("info-{i:04}"), "noise");
        if i % 100 == 0 {
            guard.flush(Duration::from_secs(5));
        }
    }
    for i in 0..5 {
        sink.append(Some(Level::Error), &format!("error-{i}"), "the cause");
    }
    sink.upsert(None, "PROVISIONING_REPORT", "result=error|reason=disk");
    guard.flush(Duration::from_secs(5));

    let data = std::fs::read(&path).unwrap();
    let records: Vec<_> = decode_strict(&data).map(Result::unwrap).collect();
    assert_eq!(
        records.len(),
        96,
        "89 INFO (cap 100 - 1 marker - 10 reserved), 5 ERROR, report, marker"
    );
    let keys: Vec<&str> = records.iter().map(|r| r.key).collect();
    for i in 0..5 {
        assert!(
            keys.contains(&format!("error-{i}").as_str()),
            "error-{i} is in the file"
        );
    }
    let report = records
        .iter()
        .find(|r| r.key == "PROVISIONING_REPORT")
        .unwrap();
    assert_eq!(report.value, "result=error|reason=disk");
    let marker = records
        .iter()
        .find(|r| r.key == DEFAULT_MARKER_KEY)
        .unwrap();
    assert_eq!(
        marker.value,
        "dropped=911 reason=cap cap=100 reserved=10 INFO=911"
    );
    assert_eq!(guard.stats().dropped_cap, 911);
}

/// When even the reserve is used up, a new upsert is dropped and counted,
/// never lost silently; replacing an existing key still works.
#[test]
fn an_upsert_into_a_full_pool_is_counted() {
    use kvp_codec::Level;
    let (_dir, path) = pool_path();
    let (sink, guard, _) = WriterBuilder::new(&path)
        .record_cap(Some(10))
        .reserve_percent(20)
        .spawn()
        .unwrap();
    sink.upsert(None, "PROVISIONING_REPORT", "result=pending");
    guard.flush(Duration::from_secs(5));
    for i in 0..20 {
        sink.append(Some(Level::Error), &format!("error-{i}"), "x");
    }
    guard.flush(Duration::from_secs(5));
    // The pool is full, reserve included: a new key is dropped and counted.
    sink.upsert(None, "metric-series", "value=1");
    sink.upsert(None, "PROVISIONING_REPORT", "result=success");
    assert!(!guard.flush(Duration::from_secs(5)));
    let data = std::fs::read(&path).unwrap();
    let records: Vec<_> = decode_strict(&data).map(Result::unwrap).collect();
    assert_eq!(records.len(), 10);
    assert_eq!(records[0].value, "result=success", "replaced in place");
    let marker = records
        .iter()
        .find(|r| r.key == DEFAULT_MARKER_KEY)
        .unwrap();
    assert_eq!(
        marker.value,
        "dropped=13 reason=cap cap=10 reserved=2 ERROR=12 upsert=1"
    );
}

/// This boot's time, in seconds since the epoch, as `/proc/stat` gives it.
fn boot_time() -> u64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// Another process holds the pool while it is opened, so open cannot check
/// for stale data; the first write does, under the locks, and an earlier
/// boot's records do not survive into this one.
#[test]
fn stale_data_is_truncated_by_the_first_write_when_the_lock_was_busy_at_open() {
    let (_dir, path) = pool_path();
    write_records(&path, 50);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000))
        .unwrap();
    let holder = common::LockHolder::hold(&path, "flock");
    let (sink, guard, report) = WriterBuilder::new(&path)
        .truncate_stale(true)
        .spawn()
        .unwrap();
    assert!(!report.truncated_stale, "open could not take the locks");
    holder.release();
    sink.append(None, "new", &value_for("new"));
    assert!(guard.flush(Duration::from_secs(5)));
    let data = std::fs::read(&path).unwrap();
    assert_eq!(intact_keys(&data), ["new"], "the 50 stale records are gone");
}
