//! How long the writer holds the pool's locks, measured from another
//! process. Alone in its test binary, so that no other test competes for
//! the cores while the holds are measured.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::pool_path;
use kvp_sink::WriterBuilder;

/// The writer holds the locks briefly even on a 1 GiB pool: it searches for
/// the keys it upserts before taking them, and under them reads only what
/// it found and what was appended since. Another process, trying the lock
/// without waiting in a loop, measures the longest stretch it was held.
#[test]
fn the_locks_are_held_briefly_on_a_1_gib_pool() {
    use std::io::{BufRead, Write};
    use std::process::{Command, Stdio};
    let (_dir, path) = pool_path();
    test_support::sparse_file(&path, 1 << 30);
    // Reads the file once so that both sides search it from the page cache.
    std::io::copy(
        &mut std::fs::File::open(&path).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    let script = "import fcntl, sys, time\n\
                  f = open(sys.argv[1], 'r+')\n\
                  print('ready', flush=True)\n\
                  longest = 0.0\n\
                  held_since = None\n\
                  end = time.monotonic() + float(sys.argv[2])\n\
                  while time.monotonic() < end:\n\
                  \x20   try:\n\
                  \x20       fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n\
                  \x20       fcntl.flock(f, fcntl.LOCK_UN)\n\
                  \x20       if held_since is not None:\n\
                  \x20           longest = max(longest, time.monotonic() - held_since)\n\
                  \x20           held_since = None\n\
                  \x20   except BlockingIOError:\n\
                  \x20       if held_since is None:\n\
                  \x20           held_since = time.monotonic()\n\
                  print('LONGEST_MS', longest * 1000, flush=True)\n";
    let mut observer = Command::new("python3")
        .args(["-c", script])
        .arg(&path)
        .arg("6")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(observer.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");
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
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(observer.wait().unwrap().success());
    let longest: f64 = rest
        .split("LONGEST_MS ")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eprintln!("1 GiB pool: the locks were held at most {longest:.1} ms at a time; {stats:?}");
    let _ = std::io::stderr().flush();
    assert!(
        longest <= 50.0,
        "the locks were held {longest:.1} ms at once"
    );
}
