//! Project automation, in Rust rather than shell (see rust-analyzer's
//! `xtask`). Run through the cargo alias: `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: everything CI checks, in order (formatting,
//!   packaging with verification builds, clippy, tests, rustdoc, the
//!   examples, cargo-deny);
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
    // CI builds each crate once, so incremental state (about a fifth of the
    // target directory) is disk spent for nothing.
    // SAFETY: nothing else runs yet: xtask has started no thread, and the
    // variable is read only by the cargo processes started below.
    unsafe { std::env::set_var("CARGO_INCREMENTAL", "0") };
    run("cargo", &["fmt", "--all", "--check"], &[])?;
    // Packaging first: its verification builds need a target directory of
    // their own, removed when they pass, so the disk never holds theirs and
    // the main build's at once.
    package()?;
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
    // The facade without its default features is stderr and KVP: it must
    // build and lint clean, and pull in no OpenTelemetry crate.
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "kvp-telemetry",
            "--no-default-features",
            "--lib",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    no_opentelemetry_in("kvp-telemetry")?;
    // Nor is the CLI without `demo`: a reader and editor of pool files.
    run(
        "cargo",
        &[
            "clippy",
            "-p",
            "kvp-cli",
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    no_opentelemetry_in("kvp-cli")?;
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
    examples()?;
    ensure_cargo_deny()?;
    run(
        "cargo",
        &["deny", "check", "licenses", "bans", "sources"],
        &[],
    )?;
    eprintln!("xtask ci: all steps passed");
    Ok(())
}

/// Fails when `package` without its default features depends, at run
/// time, on any crate whose name holds `opentelemetry`.
fn no_opentelemetry_in(package: &str) -> Result {
    eprintln!("xtask: $ cargo tree -p {package} --no-default-features -e normal");
    let out = Command::new("cargo")
        .args([
            "tree",
            "-p",
            package,
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo tree: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo tree -p {package} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let otel: Vec<&str> = tree
        .lines()
        .filter(|l| l.contains("opentelemetry"))
        .collect();
    if otel.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{package} without default features depends on OpenTelemetry: {}",
            otel.join(", ")
        ))
    }
}

/// Packages every crate as crates.io would receive it, with the
/// verification build of each, then runs `kvp-codec`'s tests from its
/// unpacked package, outside the workspace: they must need no file the
/// package leaves out.
fn package() -> Result {
    forget_packaged_sources()?;
    let root = workspace_root();
    // Verification builds compile each package's workspace dependencies as
    // registry crates, and cargo never rebuilds a registry crate whose
    // name and version it has built before: a fresh target directory each
    // time, or a crate changed since the last run is verified against the
    // old build of its dependency.
    let build = root.join("target/package-build");
    let _ = std::fs::remove_dir_all(&build);
    let build_str = build.to_str().ok_or("the workspace path is not UTF-8")?;
    run(
        "cargo",
        &["package", "--workspace", "--allow-dirty"],
        // Nobody debugs a verification build: it only has to compile.
        &[
            ("CARGO_TARGET_DIR", build_str),
            ("CARGO_PROFILE_DEV_DEBUG", "false"),
        ],
    )?;
    let version = env!("CARGO_PKG_VERSION");
    let krate = build.join(format!("package/kvp-codec-{version}.crate"));
    let outside = std::env::temp_dir().join(format!("kvp-codec-packaged-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&outside);
    std::fs::create_dir_all(&outside).map_err(|e| format!("{}: {e}", outside.display()))?;
    let (krate, outside_str) = (
        krate.to_str().ok_or("the workspace path is not UTF-8")?,
        outside.to_str().ok_or("the temporary path is not UTF-8")?,
    );
    run("tar", &["-xzf", krate, "-C", outside_str], &[])?;
    let manifest = outside.join(format!("kvp-codec-{version}/Cargo.toml"));
    // A fresh target directory: the unpacked files keep the archive's
    // times, so cargo could take an older build of them for a fresh one.
    let target = root.join("target/packaged");
    let _ = std::fs::remove_dir_all(&target);
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
    // Both build directories are scratch, and together over a gigabyte.
    let _ = std::fs::remove_dir_all(&build);
    let _ = std::fs::remove_dir_all(&target);
    result
}

/// Removes what an earlier `cargo package` left in cargo's home: it
/// unpacks each verified crate from a local registry under
/// `$CARGO_HOME/registry/{src,cache}`, keyed by name and version only, and
/// would use that stale copy of a crate whose version has not changed
/// since. Only this workspace's crate names are touched, and never in
/// crates.io's directories.
fn forget_packaged_sources() -> Result {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let ours: Vec<String> = std::fs::read_dir(workspace_root().join("crates"))
        .map_err(|e| format!("crates/: {e}"))?
        .filter_map(|e| e.ok())
        .map(|e| format!("{}-", e.file_name().to_string_lossy()))
        .collect();
    for sub in ["registry/src", "registry/cache"] {
        let Ok(registries) = std::fs::read_dir(home.join(sub)) else {
            continue;
        };
        for registry in registries.filter_map(|e| e.ok()) {
            if registry
                .file_name()
                .to_string_lossy()
                .starts_with("index.crates.io")
            {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(registry.path()) else {
                continue;
            };
            for entry in entries.filter_map(|e| e.ok()) {
                let name = entry.file_name().to_string_lossy().into_owned();
                let is_ours = ours.iter().any(|o| {
                    name.strip_prefix(o.as_str())
                        .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))
                });
                if is_ours {
                    let path = entry.path();
                    let removed = if path.is_dir() {
                        std::fs::remove_dir_all(&path)
                    } else {
                        std::fs::remove_file(&path)
                    };
                    removed.map_err(|e| format!("{}: {e}", path.display()))?;
                }
            }
        }
    }
    Ok(())
}

/// Runs every example (each asserts what it shows); the OTLP one against a
/// real collector started here.
fn examples() -> Result {
    for (package, example) in [
        ("kvp-telemetry", "full_stack"),
        ("kvp-telemetry", "reports"),
        ("tracing-kvp", "own_registry"),
        ("tracing-kvp", "azure_init_like"),
        ("tracing-otel-metrics", "metrics_only"),
    ] {
        run(
            "cargo",
            &["run", "-q", "-p", package, "--example", example],
            &[],
        )?;
    }
    let agent = rotel_agent()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let grpc = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let mut collector = Command::new(&agent)
        .args(["start", "--exporter", "blackhole"])
        .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
        .args(["--otlp-http-endpoint", &format!("127.0.0.1:{port}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", agent.display()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            let _ = collector.kill();
            return Err("the rotel collector did not listen".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let endpoint = format!("http://127.0.0.1:{port}");
    let result = run(
        "cargo",
        &[
            "run",
            "-q",
            "-p",
            "kvp-telemetry",
            "--features",
            "otlp",
            "--example",
            "otlp",
            "--",
            &endpoint,
        ],
        &[],
    );
    let _ = collector.kill();
    let _ = collector.wait();
    result
}

/// The `rotel-agent` binary `ensure_rotel` installed, or `ROTEL_AGENT`.
fn rotel_agent() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return Ok(p.into());
    }
    let lib = workspace_root().join("target/tools/rotel-venv/lib");
    std::fs::read_dir(&lib)
        .map_err(|e| format!("{}: {e}", lib.display()))?
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("site-packages/rotel/rotel-agent"))
        .find(|p| p.exists())
        .ok_or_else(|| format!("no rotel-agent under {}", lib.display()))
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
