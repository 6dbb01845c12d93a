//! A real OpenTelemetry collector on loopback: `rotel-agent` from the
//! `rotel` package on PyPI, which prints what it receives. `cargo xtask
//! ci` installs it under `target/tools/`; set `ROTEL_AGENT` to use another.
//! A test that needs it fails, not skips, without it.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `rotel-agent` binary: `ROTEL_AGENT`, else the one `cargo xtask ci`
/// installs.
///
/// # Panics
///
/// When neither exists, with what to do.
pub fn rotel_agent() -> PathBuf {
    if let Some(p) = std::env::var_os("ROTEL_AGENT") {
        return p.into();
    }
    let tools = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/rotel-venv/lib");
    let found = std::fs::read_dir(&tools).ok().and_then(|dirs| {
        dirs.filter_map(Result::ok)
            .map(|d| d.path().join("site-packages/rotel/rotel-agent"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "rotel-agent not found under {}: run `cargo xtask ci` once (it installs it), or set ROTEL_AGENT",
            tools.display()
        )
    })
}

/// A loopback port nothing listens on (at the moment of the call).
///
/// # Panics
///
/// When no port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("loopback has a free port")
}

/// A running collector that prints every trace, metric and log record it
/// receives; stopped on drop.
pub struct Collector {
    child: Child,
    out: PathBuf,
    /// Its OTLP/HTTP port on 127.0.0.1.
    pub http: u16,
    _dir: tempfile::TempDir,
}

impl Collector {
    /// Starts the collector and waits until it listens.
    ///
    /// # Panics
    ///
    /// When it cannot be started or does not listen within 10 s.
    pub fn start() -> Collector {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let out = dir.path().join("rotel.out");
        let (grpc, http) = (free_port(), free_port());
        let child = Command::new(rotel_agent())
            .args(["start", "--exporter", "blackhole"])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args([
                "--debug-log",
                "traces",
                "--debug-log",
                "metrics",
                "--debug-log",
                "logs",
                "--debug-log-verbosity",
                "detailed",
            ])
            .env("NO_COLOR", "1")
            .stdout(std::fs::File::create(&out).expect("the collector's output file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("rotel-agent starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", http)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rotel-agent did not listen on {http}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Collector {
            child,
            out,
            http,
            _dir: dir,
        }
    }

    /// Everything the collector has printed so far.
    ///
    /// # Panics
    ///
    /// When its output file cannot be read.
    pub fn output(&self) -> String {
        let mut s = String::new();
        std::fs::File::open(&self.out)
            .and_then(|mut f| f.read_to_string(&mut s))
            .expect("the collector's output is readable");
        s
    }

    /// The output once it holds every one of `needles`.
    ///
    /// # Panics
    ///
    /// When 15 s pass first, with the output so far.
    pub fn wait_for(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let out = self.output();
            if needles.iter().all(|n| out.contains(n)) {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "collector never printed {needles:?}:\n{out}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}
