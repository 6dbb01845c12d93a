//! How long an upsert over duplicated keys and a delete hold the pool's
//! locks on a 1 GiB pool, compaction included, measured from another
//! process. Alone in its test binary, so that no other test competes for
//! the cores while the holds are measured.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{encoded as record, pool_path};
use kvp_codec::{RECORD_SIZE, decode};
use kvp_sink::{OpenOptionsPool, PoolFile};

const WAIT: Duration = Duration::from_secs(5);

/// Another process, trying `flock` without waiting in a loop for `secs`
/// seconds, reports the longest stretch the lock was held.
struct Watcher {
    child: std::process::Child,
    out: std::io::BufReader<std::process::ChildStdout>,
}

impl Watcher {
    fn start(path: &std::path::Path, secs: u32) -> Watcher {
        // A stretch of failed tries counts only while the tries follow each
        // other closely: if the watcher itself was off the CPU for more
        // than 2 ms, what it missed is not taken for a hold.
        let script = "import fcntl, sys, time\n\
                      f = open(sys.argv[1], 'r+')\n\
                      print('ready', flush=True)\n\
                      longest = 0.0\n\
                      held_since = None\n\
                      last = time.monotonic()\n\
                      end = last + float(sys.argv[2])\n\
                      while last < end:\n\
                      \x20   now = time.monotonic()\n\
                      \x20   if held_since is not None and now - last > 0.002:\n\
                      \x20       longest = max(longest, last - held_since)\n\
                      \x20       held_since = None\n\
                      \x20   last = now\n\
                      \x20   try:\n\
                      \x20       fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                      \x20       fcntl.flock(f, fcntl.LOCK_UN)\n\
                      \x20       if held_since is not None:\n\
                      \x20           longest = max(longest, time.monotonic() - held_since)\n\
                      \x20           held_since = None\n\
                      \x20   except BlockingIOError:\n\
                      \x20       if held_since is None:\n\
                      \x20           held_since = now\n\
                      print('LONGEST_MS', longest * 1000, flush=True)\n";
        let mut child = Command::new("python3")
            .args(["-c", script])
            .arg(path)
            .arg(secs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        Watcher { child, out }
    }

    fn longest_ms(mut self) -> f64 {
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.out, &mut rest).unwrap();
        assert!(self.child.wait().unwrap().success());
        rest.split("LONGEST_MS ")
            .nth(1)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

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
