//! The pool file itself: opening it safely, and everything done to it under
//! its locks (torn-tail repair, stale truncation, append, upsert).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kvp_codec::{RECORD_SIZE, Record};

use crate::boot;
use crate::error::Error;
use crate::lock::BothLocks;
use crate::scan::{KeyScan, has_key, search};

/// How to open a pool file.
#[derive(Clone, Debug)]
pub struct OpenOptionsPool {
    /// Create the pool's directory (mode 0700) when it is missing. Off by
    /// default: a missing `/var/lib/hyperv` usually means the VM has no KVP
    /// daemon, which the caller should hear about.
    pub create_dir: bool,
    /// Truncate the file, under its locks, when it was last written before
    /// this boot (the cloud-init and azure-init rule). Off by default.
    pub truncate_stale: bool,
    /// The longest wait for the locks during open.
    pub lock_timeout: Duration,
    /// The mode a new pool file is created with, less the process's umask
    /// (default [`DEFAULT_POOL_MODE`], 0644). An existing file keeps its
    /// mode.
    pub mode: u32,
}

/// The mode of a pool file we create, 0644: owner read-write and others
/// read, as `hv_kvp_daemon` creates its pools (0604) and as azure-init's
/// files come out under the usual umask (0644, the mode the Hyper-V
/// integration tests check for), so that diagnostic tools run by other
/// users can read it.
pub const DEFAULT_POOL_MODE: u32 = 0o644;

impl Default for OpenOptionsPool {
    fn default() -> Self {
        OpenOptionsPool {
            create_dir: false,
            truncate_stale: false,
            lock_timeout: Duration::from_secs(1),
            mode: DEFAULT_POOL_MODE,
        }
    }
}

/// What opening found and mended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes of a partial record cut off the end.
    pub torn_tail_bytes: Option<u64>,
    /// Whether stale data from an earlier boot was truncated.
    pub truncated_stale: bool,
    /// Whole records in the file after open.
    pub records: u64,
}

/// An open pool file. Every change is made under both locks; see
/// [`PoolFile::lock`].
///
/// ```no_run
/// use kvp_sink::{PoolFile, OpenOptionsPool};
/// use std::time::Duration;
///
/// let (pool, report) = PoolFile::open("/var/lib/hyperv/.kvp_pool_1", &OpenOptionsPool::default())?;
/// let mut locked = pool.lock(Duration::from_millis(100))?;
/// locked.upsert_kv("PROVISIONING_REPORT", "result=success|agent=my-agent/1.0")?;
/// # Ok::<(), kvp_sink::Error>(())
/// ```
#[derive(Debug)]
pub struct PoolFile {
    file: File,
    path: PathBuf,
    /// Open was asked to truncate stale data but could not take the locks:
    /// the first [`PoolFile::lock`] checks instead.
    stale_unchecked: AtomicBool,
}

impl PoolFile {
    /// Opens or creates (mode [`OpenOptionsPool::mode`]) the pool file at `path`, then, under its
    /// locks, cuts a torn tail and (if asked) truncates stale data.
    ///
    /// Never follows a symlink and never blocks on a FIFO: such paths, and
    /// directories and devices, are [`Error::NotAFile`]. When the locks
    /// cannot be had within `lock_timeout`, the file is still returned and
    /// the checks are left to later: every append cuts a torn tail, and the
    /// first successful [`PoolFile::lock`] truncates stale data (if asked),
    /// so an earlier boot's records never outlive a busy lock at open.
    pub fn open(
        path: impl AsRef<Path>,
        options: &OpenOptionsPool,
    ) -> Result<(PoolFile, OpenReport), Error> {
        let path = path.as_ref().to_path_buf();
        let pool = PoolFile::open_file(&path, options.create_dir, options.mode)?;
        let mut report = OpenReport::default();
        match pool.lock(options.lock_timeout) {
            Ok(mut locked) => {
                if options.truncate_stale && locked.is_stale()? {
                    // An empty stale file has nothing to cut, and the
                    // report says only what was removed.
                    report.truncated_stale = locked.len()? > 0;
                    locked.truncate()?;
                }
                report.torn_tail_bytes = locked.repair_tail()?;
                report.records = locked.records()?;
            }
            Err(Error::LockTimeout { .. }) => {
                pool.stale_unchecked
                    .store(options.truncate_stale, Ordering::Relaxed);
            }
            Err(e) => return Err(e),
        }
        if pool.compaction_pending() {
            // A process died while closing holes: finish its work, a
            // bounded step at a time.
            pool.compact(options.lock_timeout)?;
            report.records = pool.records_unlocked()?;
        }
        Ok((pool, report))
    }

    fn open_file(path: &Path, create_dir: bool, mode: u32) -> Result<PoolFile, Error> {
        let io_err = |op, source| Error::Io {
            path: path.to_path_buf(),
            op,
            source,
        };
        let parent = path.parent().filter(|d| !d.as_os_str().is_empty());
        if let Some(dir) = parent.filter(|d| !d.is_dir()) {
            if !create_dir {
                return Err(Error::MissingDirectory {
                    path: dir.to_path_buf(),
                });
            }
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| io_err("create directory", e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .mode(mode & 0o777)
            // O_NONBLOCK: opening a FIFO must not wait for a peer; it is
            // refused below. It has no effect on regular files.
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => Error::NotAFile {
                    path: path.to_path_buf(),
                    kind: "symlink",
                },
                Some(libc::EISDIR) => Error::NotAFile {
                    path: path.to_path_buf(),
                    kind: "directory",
                },
                // A Unix socket cannot be opened at all (`ENXIO`): say what
                // is there rather than the errno.
                _ => match std::fs::symlink_metadata(path).map(|m| m.file_type()) {
                    Ok(t) if t.is_socket() => Error::NotAFile {
                        path: path.to_path_buf(),
                        kind: "socket",
                    },
                    _ => io_err("open", e),
                },
            })?;
        let file_type = file.metadata().map_err(|e| io_err("stat", e))?.file_type();
        if !file_type.is_file() {
            let kind = if file_type.is_dir() {
                "directory"
            } else if file_type.is_fifo() {
                "FIFO"
            } else if file_type.is_socket() {
                "socket"
            } else {
                "device"
            };
            return Err(Error::NotAFile {
                path: path.to_path_buf(),
                kind,
            });
        }
        Ok(PoolFile {
            file,
            path: path.to_path_buf(),
            stale_unchecked: AtomicBool::new(false),
        })
    }

    /// The path the pool was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes both locks (see the crate docs), waiting at most `timeout`.
    ///
    /// The first time it succeeds after an open that could not take them,
    /// it truncates stale data first if the open was asked to
    /// ([`OpenOptionsPool::truncate_stale`]).
    pub fn lock(&self, timeout: Duration) -> Result<Locked<'_>, Error> {
        match BothLocks::acquire(&self.file, timeout) {
            Ok(locks) => {
                let mut locked = Locked {
                    pool: self,
                    _locks: locks,
                    scan: None,
                };
                if self.stale_unchecked.load(Ordering::Relaxed) {
                    if locked.is_stale()? {
                        locked.truncate()?;
                    }
                    self.stale_unchecked.store(false, Ordering::Relaxed);
                }
                Ok(locked)
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(Error::LockTimeout {
                path: self.path.clone(),
                waited: timeout,
            }),
            Err(e) => Err(self.io_err("lock", e)),
        }
    }

    /// Whole records in the file, read without the locks (a hint: the
    /// file may change before they are taken).
    pub(crate) fn records_unlocked(&self) -> Result<u64, Error> {
        let len = self
            .file
            .metadata()
            .map_err(|e| self.io_err("stat", e))?
            .len();
        Ok(len / RECORD_SIZE as u64)
    }

    /// Searches the file for `keys` without taking the locks, so that
    /// [`PoolFile::lock_scanned`]'s holder reads only what changed since.
    pub(crate) fn scan_keys(&self, keys: &[&[u8]]) -> Result<KeyScan, Error> {
        let records = self.records_unlocked()?;
        KeyScan::of(&self.file, records, keys).map_err(|e| self.io_err("read", e))
    }

    /// [`PoolFile::lock`], with a search for keys made before it.
    pub(crate) fn lock_scanned(
        &self,
        timeout: Duration,
        scan: KeyScan,
    ) -> Result<Locked<'_>, Error> {
        let mut locked = self.lock(timeout)?;
        locked.scan = Some(scan);
        Ok(locked)
    }

    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    pub(crate) fn io_error(&self, op: &'static str, source: io::Error) -> Error {
        self.io_err(op, source)
    }

    /// [`PoolFile::lock`] for an edit of `keys`: the file is searched for
    /// them before the locks are taken, so that under the locks only what
    /// changed since is read, and the time they are held does not grow
    /// with the file. For [`Locked::upsert`], [`Locked::delete`] and
    /// [`Locked::find`] on a large pool.
    pub fn lock_for_keys(&self, timeout: Duration, keys: &[&[u8]]) -> Result<Locked<'_>, Error> {
        if keys.iter().any(|k| k.first().is_none_or(|&b| b == 0)) {
            return Err(Error::EmptyKey {
                path: self.path.clone(),
            });
        }
        let scan = self.scan_keys(keys)?;
        self.lock_scanned(timeout, scan)
    }

    fn io_err(&self, op: &'static str, source: io::Error) -> Error {
        Error::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// A pool file with both locks held; they are released on drop. Keep it
/// briefly: the host's transactions time out after 30 s.
#[derive(Debug)]
pub struct Locked<'a> {
    pool: &'a PoolFile,
    _locks: BothLocks<'a>,
    /// A search made before the locks were taken, if any (see the `scan`
    /// module). Holes are made in place and compaction takes the locks
    /// anew, so it stays true, but for a step a crash left half done,
    /// which moves records ([`Locked::forget_scan`]).
    scan: Option<KeyScan>,
}

/// Where an upsert put its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upserted {
    /// Replaced the record at this index.
    Replaced(u64),
    /// Appended at this index.
    Appended(u64),
}

impl<'a> Locked<'a> {
    pub(crate) fn pool(&self) -> &'a PoolFile {
        self.pool
    }

    /// Drops the search made before the locks: records moved since.
    pub(crate) fn forget_scan(&mut self) {
        self.scan = None;
    }
}

impl Locked<'_> {
    fn len(&self) -> Result<u64, Error> {
        Ok(self
            .pool
            .file
            .metadata()
            .map_err(|e| self.pool.io_err("stat", e))?
            .len())
    }

    /// Whole records in the file.
    pub fn records(&self) -> Result<u64, Error> {
        Ok(self.len()? / RECORD_SIZE as u64)
    }

    /// Whether the file was last written before this boot, or at its very
    /// second: `mtime <= btime`, azure-init's rule. An empty file is judged
    /// by its time like any other, so an empty file from an earlier boot is
    /// stale too.
    pub fn is_stale(&self) -> Result<bool, Error> {
        let meta = self
            .pool
            .file
            .metadata()
            .map_err(|e| self.pool.io_err("stat", e))?;
        boot::is_stale(&meta).map_err(|e| self.pool.io_err("read /proc/stat", e))
    }

    /// Cuts a trailing partial record, returning how many bytes were cut.
    pub fn repair_tail(&mut self) -> Result<Option<u64>, Error> {
        let len = self.len()?;
        let torn = len % RECORD_SIZE as u64;
        if torn == 0 {
            return Ok(None);
        }
        self.set_len(len - torn)?;
        Ok(Some(torn))
    }

    /// Empties the file.
    pub fn truncate(&mut self) -> Result<(), Error> {
        self.set_len(0)
    }

    pub(crate) fn set_len(&mut self, len: u64) -> Result<(), Error> {
        self.pool
            .file
            .set_len(len)
            .map_err(|e| self.pool.io_err("truncate", e))
    }

    /// Appends whole records (`batch.len()` a multiple of [`RECORD_SIZE`])
    /// after the last whole record, with one `pwrite` where the kernel
    /// writes it all at once. If the write fails part-way (a full disk, a
    /// file-size limit, an I/O error) the file is cut back to its length
    /// before the batch, so no torn record remains.
    pub fn append(&mut self, batch: &[u8]) -> Result<(), Error> {
        debug_assert_eq!(batch.len() % RECORD_SIZE, 0);
        // A torn tail left by a writer that died would misalign every
        // record after it.
        self.repair_tail()?;
        let start = self.len()?;
        if let Err(e) = self.pool.file.write_all_at(batch, start) {
            // Best effort: if even the truncate fails, the next append
            // cuts the torn tail before writing.
            let _ = self.pool.file.set_len(start);
            return Err(self.pool.io_err("write", e));
        }
        Ok(())
    }

    /// The index of the last whole record whose key (up to its NUL) is
    /// `key`: the one azure-init's store and our readers take when a key
    /// repeats. An empty key is [`Error::EmptyKey`], as for every call
    /// that takes a key.
    pub fn find(&self, key: &[u8]) -> Result<Option<u64>, Error> {
        Ok(self.matching(key)?.last().copied())
    }

    /// Replaces the record with the same key, or appends it.
    ///
    /// Afterwards exactly one record has the key. It sits where the last
    /// record with that key was, since that is the one readers take; earlier
    /// duplicates become holes in place (padding to every reader), and
    /// every other record keeps its place. Nothing moves under the locks:
    /// [`PoolFile::compact`] closes the holes afterwards in bounded steps
    /// (see the `compact` module). Duplicates go before the record is
    /// replaced, so a crash in between leaves the key's one record, old or
    /// new.
    pub fn upsert(&mut self, record: &[u8; RECORD_SIZE]) -> Result<Upserted, Error> {
        let key = Record::new(record).key_bytes();
        let found = self.matching(key)?;
        let (Some(&first), Some(&last)) = (found.first(), found.last()) else {
            let index = self.records()?;
            self.append(record)?;
            return Ok(Upserted::Appended(index));
        };
        if first == last {
            self.pool
                .file
                .write_all_at(record, last * RECORD_SIZE as u64)
                .map_err(|e| self.pool.io_err("write", e))?;
            return Ok(Upserted::Replaced(last));
        }
        self.punch_holes(&found[..found.len() - 1])?;
        self.pool
            .file
            .write_all_at(record, last * RECORD_SIZE as u64)
            .map_err(|e| self.pool.io_err("write", e))?;
        // Where it will be once the holes before it are closed.
        Ok(Upserted::Replaced(last + 1 - found.len() as u64))
    }

    /// Removes every whole record whose key is `key`, returning how many:
    /// each becomes a hole in place, and [`PoolFile::compact`] closes the
    /// holes afterwards in bounded steps, so the rest keep their order and
    /// the locks are never held for a move of the file's tail.
    pub fn delete(&mut self, key: &[u8]) -> Result<u64, Error> {
        let found = self.matching(key)?;
        self.punch_holes(&found)?;
        Ok(found.len() as u64)
    }

    /// Indices of the whole records whose key is `key`: from the search
    /// made before the locks when it still holds (each record it found
    /// still has the key, and the file did not shrink), plus the records
    /// appended since; else the whole file, a block at a time.
    fn matching(&self, key: &[u8]) -> Result<Vec<u64>, Error> {
        if key.first().is_none_or(|&b| b == 0) {
            return Err(Error::EmptyKey {
                path: self.pool.path.clone(),
            });
        }
        let records = self.records()?;
        let read_err = |e| self.pool.io_err("read", e);
        if let Some(scan) = &self.scan
            && let Some(before) = scan.positions(key)
            && records >= scan.records()
        {
            let mut still = true;
            for &at in before {
                still &= has_key(&self.pool.file, at, key).map_err(read_err)?;
            }
            if still {
                let mut found = before.to_vec();
                search(&self.pool.file, scan.records()..records, &[key], |i, _| {
                    found.push(i);
                })
                .map_err(read_err)?;
                return Ok(found);
            }
        }
        let mut found = Vec::new();
        search(&self.pool.file, 0..records, &[key], |i, _| found.push(i)).map_err(read_err)?;
        Ok(found)
    }

    /// Encodes `key` and `value` with [`kvp_codec::Limits::SAFE`] and
    /// upserts them. An invalid key or value is an `InvalidInput` I/O error
    /// naming the limit.
    pub fn upsert_kv(&mut self, key: &str, value: &str) -> Result<Upserted, Error> {
        let mut record = [0u8; RECORD_SIZE];
        kvp_codec::encode(key, value, &kvp_codec::Limits::SAFE, &mut record).map_err(|e| {
            self.pool
                .io_err("encode", io::Error::new(io::ErrorKind::InvalidInput, e))
        })?;
        self.upsert(&record)
    }
}
