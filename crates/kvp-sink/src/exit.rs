//! What runs when a process ends without dropping its guards: a call to
//! `std::process::exit` (which runs no destructor), and, when asked,
//! SIGTERM or SIGINT (which end the process without running anything).
//!
//! A writer's owner registers a hook ([`on_exit`]) that flushes what it
//! holds, bounded by its own timeout; the [`ExitHook`] it gets back removes
//! the hook when dropped, so that a guard dropped in the ordinary way leaves
//! nothing behind. Hooks run once per ending, newest first, each at most
//! once.
//!
//! - At `exit`: the C library runs its `atexit` functions on the thread that
//!   called `exit`, while every other thread still runs; the writer thread
//!   is one of them, so a flush can complete.
//! - At a signal ([`flush_on_signals`], opt-in): the handler only writes
//!   the signal's number to a pipe (all a handler may safely do); a thread
//!   of ours reads it, runs the hooks, then restores the signal's default
//!   action and raises it again, so the process ends as it would have
//!   (systemd sees a stop by SIGTERM, a shell sees an interrupt).

use std::io;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Once, OnceLock};

/// How the process is ending, for a hook that says so in what it writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ending {
    /// `std::process::exit` (or a return from `main` with a hook still
    /// registered).
    Exit,
    /// The signal with this number (`libc::SIGTERM`, `libc::SIGINT`).
    Signal(i32),
}

impl Ending {
    /// The signal's name (`SIGTERM`), or `exit`.
    pub fn name(&self) -> &'static str {
        match *self {
            Ending::Exit => "exit",
            Ending::Signal(libc::SIGTERM) => "SIGTERM",
            Ending::Signal(libc::SIGINT) => "SIGINT",
            Ending::Signal(libc::SIGHUP) => "SIGHUP",
            Ending::Signal(_) => "signal",
        }
    }
}

type Hook = Arc<dyn Fn(Ending) + Send + Sync>;

/// The hooks registered now, with their registration numbers.
static HOOKS: Mutex<Vec<(u64, Hook)>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0);

/// Keeps a hook registered; dropping it removes the hook.
#[derive(Debug)]
#[must_use = "dropping the ExitHook removes the hook at once"]
pub struct ExitHook {
    id: u64,
}

impl Drop for ExitHook {
    fn drop(&mut self) {
        let mut hooks = HOOKS.lock().unwrap_or_else(|e| e.into_inner());
        hooks.retain(|(id, _)| *id != self.id);
    }
}

/// Runs `hook` if the process calls `exit` (or ends by a signal that
/// [`flush_on_signals`] handles) while the returned [`ExitHook`] lives.
/// The first call registers one `atexit` function for the process.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let (sink, guard, _) = kvp_sink::WriterBuilder::new(dir.path().join(".kvp_pool_1")).spawn()?;
/// let flusher = sink.clone();
/// let _hook = kvp_sink::on_exit(move |_| {
///     flusher.flush(std::time::Duration::from_secs(1));
/// });
/// sink.append(None, "k", "v"); // reaches the file even if the program calls exit() now
/// # drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn on_exit(hook: impl Fn(Ending) + Send + Sync + 'static) -> ExitHook {
    static AT_EXIT: Once = Once::new();
    AT_EXIT.call_once(|| {
        // SAFETY: `run_at_exit` is an `extern "C" fn()` that never unwinds
        // (it catches panics) and stays valid for the life of the process.
        unsafe {
            libc::atexit(run_at_exit);
        }
    });
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut hooks = HOOKS.lock().unwrap_or_else(|e| e.into_inner());
    hooks.push((id, Arc::new(hook)));
    ExitHook { id }
}

/// Takes every hook out of the registry and runs it, newest first. A hook
/// that panics does not stop the others.
fn run_hooks(ending: Ending) {
    let hooks = std::mem::take(&mut *HOOKS.lock().unwrap_or_else(|e| e.into_inner()));
    for (_, hook) in hooks.iter().rev() {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(ending)));
    }
}

extern "C" fn run_at_exit() {
    // Unwinding out of an `extern "C"` function aborts: keep it in.
    let _ = std::panic::catch_unwind(|| run_hooks(Ending::Exit));
}

/// The write end of the pipe the signal handler writes to.
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    // SAFETY: `write` is async-signal-safe; `byte` lives across the call.
    unsafe {
        libc::write(fd, (&raw const byte).cast(), 1);
    }
}

/// Which signals [`flush_on_signals`] took over, and why it could not.
#[derive(Debug, Default)]
pub struct SignalsHandled {
    /// The signals whose default action now runs the hooks first.
    pub handled: Vec<i32>,
    /// The signals left as they were, because the application already
    /// handles or ignores them.
    pub left: Vec<i32>,
}

/// Makes SIGTERM and SIGINT run the registered hooks (flushing what each
/// writer holds) before the process ends by the same signal. Opt-in, and
/// process-wide: call it once, in `main`. A signal the application already
/// handles or ignores is left alone ([`SignalsHandled::left`]). Later calls
/// return what the first did.
///
/// ```no_run
/// let handled = kvp_sink::flush_on_signals()?;
/// assert!(handled.handled.contains(&libc::SIGTERM));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn flush_on_signals() -> io::Result<&'static SignalsHandled> {
    static DONE: OnceLock<io::Result<SignalsHandled>> = OnceLock::new();
    match DONE.get_or_init(install_signal_handlers) {
        Ok(handled) => Ok(handled),
        Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
    }
}

fn install_signal_handlers() -> io::Result<SignalsHandled> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe2` writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    // The reader blocks; only the handler's end must never block.
    // SAFETY: `read_fd` is ours, just made.
    unsafe {
        let flags = libc::fcntl(read_fd, libc::F_GETFL);
        libc::fcntl(read_fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
    }
    SIGNAL_PIPE.store(write_fd, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("kvp-signals".into())
        .spawn(move || signal_thread(read_fd))?;
    let mut handled = SignalsHandled::default();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed `sigaction` is a valid value to fill in, and
        // `on_signal` is an async-signal-safe `extern "C" fn(c_int)`.
        let took = unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            let default_action = libc::sigaction(signal, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction == libc::SIG_DFL;
            if !default_action {
                false
            } else {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                libc::sigaction(signal, &new, std::ptr::null_mut()) == 0
            }
        };
        if took {
            handled.handled.push(signal);
        } else {
            handled.left.push(signal);
        }
    }
    Ok(handled)
}

/// Waits for a signal's number from the handler, runs the hooks, then lets
/// the signal take its default course.
fn signal_thread(read_fd: libc::c_int) {
    loop {
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) };
        if n == 1 {
            let signal = libc::c_int::from(byte);
            run_hooks(Ending::Signal(signal));
            // SAFETY: restoring the default action and raising the signal
            // again ends the process as the signal would have.
            unsafe {
                libc::signal(signal, libc::SIG_DFL);
                libc::raise(signal);
            }
            return;
        }
        if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}
