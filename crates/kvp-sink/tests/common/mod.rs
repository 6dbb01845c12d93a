//! Helpers shared by the sink's integration tests: child processes and
//! checks on what a pool file holds.

#![allow(dead_code, unused_imports, unreachable_pub, clippy::unwrap_used)]

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use kvp_codec::{RECORD_SIZE, decode_strict};

/// A pool path in a fresh temporary directory; the file does not exist
/// yet. The directory lives as long as the returned guard.
pub fn pool_path() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".kvp_pool_1");
    (dir, path)
}

/// [`pool_path`] with an empty pool file made, as a lock holder needs one
/// to open before the sink does.
pub fn empty_pool() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = pool_path();
    std::fs::write(&path, b"").unwrap();
    (dir, path)
}

/// The whole records the file at `path` holds now, from its length.
pub fn records(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len() / RECORD_SIZE as u64
}

/// Waits (at most 10 s) for the file to hold at least `n` records.
pub fn wait_for_records(path: &Path, n: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if records(path) >= n {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    false
}

/// The value every test record carries for `key`, so that a record torn or
/// interleaved with another shows as a mismatch.
pub fn value_for(key: &str) -> String {
    format!("payload-of[{key}]-{}", "z".repeat(key.len() % 7 * 10))
}

/// Decodes the whole file strictly and checks that every record's value
/// matches its key. Returns the keys.
pub fn intact_keys(data: &[u8]) -> Vec<String> {
    assert_eq!(data.len() % RECORD_SIZE, 0, "no partial record");
    decode_strict(data)
        .map(|r| {
            let r = r.unwrap_or_else(|e| panic!("record does not decode: {e}"));
            assert_eq!(r.value, value_for(r.key), "record {} is intact", r.index);
            r.key.to_owned()
        })
        .collect()
}

pub use test_support::child::role as child_role;

/// Re-runs this test binary as a child that runs only test `name` in
/// `role`, with extra environment. Its stdout is piped; its stderr goes to
/// ours.
pub fn spawn_self(name: &str, role: &str, env: &[(&str, String)]) -> Child {
    test_support::child::spawn(name, role, env, Stdio::inherit())
}

/// [`spawn_self`] with the child's stderr as given.
pub fn spawn_self_with(name: &str, role: &str, env: &[(&str, String)], stderr: Stdio) -> Child {
    test_support::child::spawn(name, role, env, stderr)
}

/// A Python child holding a lock on `path` the way another program does:
/// `lockf` is a POSIX `fcntl` lock (hv_kvp_daemon's kind), `flock` is
/// cloud-init's. It holds the lock until its stdin closes.
pub struct LockHolder {
    child: Child,
}

impl LockHolder {
    pub fn hold(path: &Path, kind: &str) -> LockHolder {
        use std::io::BufRead;
        let script = format!(
            "import fcntl, sys\n\
             f = open(sys.argv[1], 'r+')\n\
             fcntl.{kind}(f, fcntl.LOCK_EX)\n\
             print('locked', flush=True)\n\
             sys.stdin.read()\n"
        );
        let mut child = Command::new("python3")
            .args(["-c", &script])
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs the lock-holding child");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "locked", "the child holds the lock");
        LockHolder { child }
    }

    /// Releases the lock by ending the child.
    pub fn release(mut self) {
        drop(self.child.stdin.take());
        assert!(self.child.wait().unwrap().success());
    }
}

/// `key` and `value` as one record (SAFE limits).
pub fn encoded(key: &str, value: &str) -> [u8; kvp_codec::RECORD_SIZE] {
    let mut r = [0u8; kvp_codec::RECORD_SIZE];
    kvp_codec::encode(key, value, &kvp_codec::Limits::SAFE, &mut r).unwrap();
    r
}

/// Another process, trying `flock` without waiting in a loop for `secs`
/// seconds, reports the longest stretch the lock was held.
pub struct Watcher {
    child: Child,
    out: std::io::BufReader<ChildStdout>,
}

impl Watcher {
    pub fn start(path: &std::path::Path, secs: u32) -> Watcher {
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

    pub fn longest_ms(mut self) -> f64 {
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
