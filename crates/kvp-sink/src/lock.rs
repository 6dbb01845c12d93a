//! Taking both kinds of lock a pool file is guarded by, with a deadline.
//!
//! cloud-init and azure-init take `flock(LOCK_EX)`; `hv_kvp_daemon` takes a
//! POSIX `fcntl` write lock on the whole file, even to read. On Linux the two
//! kinds do not see each other, so a writer that must exclude everyone takes
//! both. For the `fcntl` kind we take an **open file description** lock
//! (`F_OFD_SETLK`): it conflicts with the daemon's POSIX lock but, unlike a
//! POSIX lock, is not dropped when some other descriptor of the same file is
//! closed in this process (a CLI reading the pool, say).
//!
//! Waiting is bounded: the blocking forms (`LOCK_EX`, `F_OFD_SETLKW`) cannot
//! be given a timeout without signals, so we poll the non-blocking forms with
//! a short backoff until the deadline.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

/// How long to sleep between attempts: short, because the host's own
/// transactions time out after 30 s and we hold locks briefly.
const BACKOFF_START: Duration = Duration::from_micros(200);
const BACKOFF_MAX: Duration = Duration::from_millis(10);

/// Holds `flock(LOCK_EX)` and an OFD write lock on a file until dropped.
#[derive(Debug)]
pub(crate) struct BothLocks<'a> {
    file: &'a File,
}

impl<'a> BothLocks<'a> {
    /// Takes both locks, waiting at most `timeout`. On timeout the error is
    /// `io::ErrorKind::TimedOut` and no lock is held.
    pub(crate) fn acquire(file: &'a File, timeout: Duration) -> io::Result<Self> {
        let deadline = Instant::now() + timeout;
        poll(deadline, || try_flock(file))?;
        if let Err(e) = poll(deadline, || try_ofd_lock(file)) {
            // Do not keep half the locks.
            let _ = flock(file, libc::LOCK_UN);
            return Err(e);
        }
        Ok(BothLocks { file })
    }
}

impl Drop for BothLocks<'_> {
    fn drop(&mut self) {
        // Unlocking an owned descriptor cannot fail in a way we could act on;
        // closing the file would release both anyway.
        let _ = ofd_lock(self.file, libc::F_OFD_SETLK, libc::F_UNLCK);
        let _ = flock(self.file, libc::LOCK_UN);
    }
}

/// Calls `attempt` until it returns `Ok(true)`, an error, or the deadline.
fn poll(deadline: Instant, mut attempt: impl FnMut() -> io::Result<bool>) -> io::Result<()> {
    let mut backoff = BACKOFF_START;
    loop {
        if attempt()? {
            return Ok(());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "lock held by another process",
            ));
        }
        thread::sleep(backoff.min(deadline - now));
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// `Ok(false)` when another holder has the lock.
fn try_flock(file: &File) -> io::Result<bool> {
    match flock(file, libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

fn try_ofd_lock(file: &File) -> io::Result<bool> {
    match ofd_lock(file, libc::F_OFD_SETLK, libc::F_WRLCK) {
        Ok(()) => Ok(true),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EAGAIN | libc::EACCES)) => Ok(false),
        Err(e) => Err(e),
    }
}

fn flock(file: &File, operation: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: `flock` only reads its integer arguments; the descriptor is
        // owned by `file`, which outlives the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), operation) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// An OFD lock over the whole file (`l_len = 0` covers it as it grows).
fn ofd_lock(file: &File, cmd: libc::c_int, lock_type: libc::c_int) -> io::Result<()> {
    // SAFETY: `flock` is a plain C struct for which all-zero is a valid
    // value; OFD locks require `l_pid` to be 0.
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    // The lock-type and whence constants are small and fit `c_short`.
    lock.l_type = lock_type as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    loop {
        // SAFETY: `lock` is a valid, initialised `struct flock` that lives
        // across the call; the descriptor is owned by `file`.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), cmd, &mut lock) };
        if rc != -1 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
