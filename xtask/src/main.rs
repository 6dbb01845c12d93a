//! Project automation, in Rust rather than shell (see rust-analyzer's
//! `xtask`). Run through the cargo alias: `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: everything CI checks, in order; installs the tools it
//!   needs when they are missing.

use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        _ => {
            eprintln!("usage: cargo xtask ci");
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
    run("cargo", &["test", "--workspace"], &[])?;
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
    ensure_cargo_deny()?;
    run(
        "cargo",
        &["deny", "check", "licenses", "bans", "sources"],
        &[],
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
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
