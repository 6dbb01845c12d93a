//! Project automation, in Rust rather than shell (see rust-analyzer's
//! `xtask`). Run through the cargo alias: `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: everything CI checks, in order (formatting, clippy,
//!   tests, rustdoc, packaging with verification builds, cargo-deny);
//!   installs the tools it needs when they are missing (cargo-deny; the
//!   `rotel` OTLP collector the OTLP tests run against, into
//!   `target/tools/`).
//! - `cargo xtask bench [--quick] [FILTER]`: the criterion benches, then one
//!   table of our median beside each peer's or baseline's, with the ratio.
//! - `cargo xtask flamegraph FILTER`: profiles one bench case and writes an
//!   SVG flame graph (sampling with pprof: no `perf` needed).
//! - `cargo xtask tidy`: every source file is named in
//!   docs/ARCHITECTURE.md, and the private docs build without warnings.
//! - `cargo xtask compare REV BENCH FILTER [--rounds N]`: one bench target
//!   at git revision `REV` against the working tree, interleaved round by
//!   round, with the spread of each.

mod bench;
mod compare;
mod tidy;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("bench") => bench::bench(&args[1..]),
        Some("flamegraph") => bench::flamegraph(&args[1..]),
        Some("compare") => compare::compare(&args[1..]),
        Some("tidy") => tidy::tidy(),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | tidy | bench [--quick] [FILTER] | flamegraph FILTER \
                 | compare REV BENCH FILTER [--rounds N]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

/// The steps of CI, each a command that must succeed.
fn ci() -> Result {
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    ensure_rotel()?;
    run("cargo", &["test", "--workspace"], &[])?;
    // The metrics bridge must also build and pass with only the
    // `opentelemetry` API crate (its SDK fast path is a default feature).
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "tracing-otel-metrics",
            "--no-default-features",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    run(
        "cargo",
        &[
            "test",
            "-p",
            "tracing-otel-metrics",
            "--no-default-features",
        ],
        &[],
    )?;
    // The codec must stay no_std without a heap; the tests above use `alloc`.
    run(
        "cargo",
        &["check", "-p", "kvp-codec", "--no-default-features"],
        &[],
    )?;
    run(
        "cargo",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    tidy::tidy()?;
    package()?;
    ensure_cargo_deny()?;
    run(
        "cargo",
        &["deny", "check", "licenses", "bans", "sources"],
        &[],
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}

/// Packages every crate as crates.io would receive it, with the
/// verification build of each, then runs `kvp-codec`'s tests from its
/// unpacked package, outside the workspace: they must need no file the
/// package leaves out.
fn package() -> Result {
    run("cargo", &["package", "--workspace", "--allow-dirty"], &[])?;
    let root = workspace_root();
    let version = env!("CARGO_PKG_VERSION");
    let krate = root.join(format!("target/package/kvp-codec-{version}.crate"));
    let outside = std::env::temp_dir().join(format!("kvp-codec-packaged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).map_err(|e| format!("{}: {e}", outside.display()))?;
    let (krate, outside_str) = (
        krate.to_str().ok_or("the workspace path is not UTF-8")?,
        outside.to_str().ok_or("the temporary path is not UTF-8")?,
    );
    run("tar", &["-xzf", krate, "-C", outside_str], &[])?;
    let manifest = outside.join(format!("kvp-codec-{version}/Cargo.toml"));
    let target = root.join("target/packaged");
    let result = run(
        "cargo",
        &[
            "test",
            "--offline",
            "--manifest-path",
            manifest.to_str().ok_or("the temporary path is not UTF-8")?,
        ],
        &[(
            "CARGO_TARGET_DIR",
            target.to_str().ok_or("the workspace path is not UTF-8")?,
        )],
    );
    let _ = std::fs::remove_dir_all(&outside);
    result
}

fn ensure_cargo_deny() -> Result {
    let installed = Command::new("cargo")
        .args(["deny", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if installed {
        return Ok(());
    }
    eprintln!("xtask: cargo-deny is missing; installing it (takes a few minutes, once)");
    run("cargo", &["install", "cargo-deny", "--locked"], &[])
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Installs the `rotel` OTLP collector from PyPI into a virtual environment
/// under `target/tools/` (once per machine), where the OTLP tests look for
/// `rotel-agent`. Its binary needs `libpython3.11.so.1.0` (Debian package
/// `libpython3.11`), installed here when missing.
fn ensure_rotel() -> Result {
    if std::env::var_os("ROTEL_AGENT").is_some() {
        return Ok(());
    }
    let venv = workspace_root().join("target/tools/rotel-venv");
    let installed = std::fs::read_dir(venv.join("lib")).is_ok_and(|mut dirs| {
        dirs.any(|d| d.is_ok_and(|d| d.path().join("site-packages/rotel/rotel-agent").exists()))
    });
    if !installed {
        eprintln!(
            "xtask: installing the rotel OTLP collector into {}",
            venv.display()
        );
        let venv_str = venv.to_str().ok_or("the workspace path is not UTF-8")?;
        run("python3", &["-m", "venv", venv_str], &[])?;
        let pip = venv.join("bin/pip");
        let pip = pip.to_str().ok_or("the workspace path is not UTF-8")?;
        run(pip, &["install", "--quiet", "rotel"], &[])?;
    }
    let has_libpython = Command::new("ldconfig")
        .arg("-p")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("libpython3.11.so.1.0"));
    if !has_libpython {
        eprintln!("xtask: rotel-agent needs libpython3.11; installing the Debian package");
        run("apt-get", &["update", "-qq"], &[])?;
        run("apt-get", &["install", "-y", "-qq", "libpython3.11"], &[])?;
    }
    Ok(())
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)]) -> Result {
    eprintln!("xtask: $ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .status()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed ({status})", args.join(" ")))
    }
}
