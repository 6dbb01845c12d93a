//! Re-running the current test binary as a child process that runs one
//! test in a given role: for what a test cannot do in a process shared
//! with other tests (install a global subscriber or panic hook, hold a lock
//! against another process, die).
//!
//! The test that is re-run checks [`role`] first: `Some(role)` means it is
//! the child and does the child's part; `None` means it is an ordinary run
//! and must do (and assert) something itself, so that it never passes
//! without checking anything.

use std::ffi::OsStr;
use std::process::{Child, Command, Output, Stdio};

/// The environment variable that carries the child's role.
pub const ROLE_VAR: &str = "TEST_SUPPORT_CHILD_ROLE";

/// The role this process was started for, when it is a child.
pub fn role() -> Option<String> {
    std::env::var(ROLE_VAR).ok()
}

/// The command that runs test `test` of this binary as a child in `role`,
/// with `env` added, to adjust before it runs (say, to remove a variable).
///
/// # Panics
///
/// When the test binary's path is unknown.
pub fn command<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    test: &str,
    role: &str,
    env: &[(K, V)],
) -> Command {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("no test binary path: {e}"));
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role)
        .envs(env.iter().map(|(k, v)| (k, v)));
    cmd
}

/// Runs test `test` of this binary as a child in `role`, with `env` added,
/// and waits for it.
///
/// # Panics
///
/// When the child cannot be started.
pub fn run<K: AsRef<OsStr>, V: AsRef<OsStr>>(test: &str, role: &str, env: &[(K, V)]) -> Output {
    command(test, role, env)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {test} as a child: {e}"))
}

/// Starts test `test` of this binary as a child in `role`, with `env`
/// added; its stdout is piped, its stderr as given.
///
/// # Panics
///
/// When the child cannot be started.
pub fn spawn<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    test: &str,
    role: &str,
    env: &[(K, V)],
    stderr: Stdio,
) -> Child {
    command(test, role, env)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {test} as a child: {e}"))
}

/// [`run`], and what the child did: whether it succeeded, its stdout and
/// its stderr as text.
///
/// # Panics
///
/// When the child cannot be started.
pub fn run_text<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    test: &str,
    role: &str,
    env: &[(K, V)],
) -> (bool, String, String) {
    let out = run(test, role, env);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes a panic in this (child) process abort it after the installed
/// hooks ran, so that it dies without unwinding into guards' drops, as a
/// process that panics in `main` with `panic = "abort"` would.
pub fn abort_on_panic() {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        hook(info);
        std::process::abort();
    }));
}
