//! `kvp export`: pool files into the tools people already run, an
//! OpenTelemetry collector over OTLP (`--otlp URL`, feature `otlp`) or a
//! Chrome trace for Perfetto (`--chrome-trace`). Each file is its own
//! resource, read by its writer's dialect ([`read`]), and a bad file costs
//! only itself.

mod chrome;
mod ids;
#[cfg(feature = "otlp")]
mod otlp;
mod out;
mod read;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::exit::{Result, Usage};
use crate::target::GUEST_POOL;
use out::{Counts, Output};

#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    kvp export --otlp http://127.0.0.1:4318 /var/lib/hyperv/.kvp_pool_1\n  \
    kvp export --otlp https://collector:4318 pools/*/.kvp_pool_1\n  \
    kvp export --chrome-trace .kvp_pool_1 > run.json   (open in ui.perfetto.dev)")]
pub(crate) struct ExportArgs {
    /// Pool files, as many as you like (a fleet's pools collected in one
    /// place); none means the guest's pool.
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
    /// A pool file, the same as a FILE argument (may be repeated).
    #[arg(long = "file", value_name = "PATH")]
    file: Vec<PathBuf>,
    /// Send to the OpenTelemetry collector at URL over OTLP/HTTP (for
    /// example http://127.0.0.1:4318). Without it and without
    /// --chrome-trace, OTEL_EXPORTER_OTLP_ENDPOINT is used. TLS follows
    /// the OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE and
    /// _CLIENT_KEY variables.
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
    /// Write Chrome trace event JSON to standard output: a timeline for
    /// ui.perfetto.dev or chrome://tracing.
    #[arg(long, conflicts_with = "otlp")]
    chrome_trace: bool,
    /// Seconds one OTLP request may take before it counts as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    timeout: f64,
}

/// Where this run sends its pools.
enum Sink {
    Chrome(chrome::ChromeTrace),
    /// Boxed: the sender is large, the enum is moved once.
    #[cfg(feature = "otlp")]
    Otlp(Box<otlp::Otlp>),
}

impl Sink {
    fn output(&mut self) -> &mut dyn Output {
        match self {
            Sink::Chrome(c) => c,
            #[cfg(feature = "otlp")]
            Sink::Otlp(o) => o.as_mut(),
        }
    }

    /// Ends the run's output (the Chrome trace's closing brackets).
    fn finish(self) -> Result {
        match self {
            Sink::Chrome(c) => c.finish(),
            #[cfg(feature = "otlp")]
            Sink::Otlp(_) => Ok(()),
        }
    }
}

fn sink(a: &ExportArgs) -> Result<Sink> {
    if a.chrome_trace {
        return Ok(Sink::Chrome(chrome::ChromeTrace::start()?));
    }
    let (endpoint, source) = match &a.otlp {
        Some(url) => (url.clone(), "--otlp"),
        None => match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
            Ok(url) if !url.trim().is_empty() => (url, "OTEL_EXPORTER_OTLP_ENDPOINT"),
            _ => {
                return Err(Usage(
                    "say where to export: --otlp URL (or OTEL_EXPORTER_OTLP_ENDPOINT), or --chrome-trace"
                        .into(),
                )
                .into());
            }
        },
    };
    if !(a.timeout.is_finite() && a.timeout > 0.0) {
        return Err(Usage("--timeout takes a number of seconds above 0".into()).into());
    }
    #[cfg(feature = "otlp")]
    {
        let timeout = Duration::from_secs_f64(a.timeout.min(3600.0));
        Ok(Sink::Otlp(Box::new(otlp::Otlp::new(
            &endpoint, source, timeout,
        )?)))
    }
    #[cfg(not(feature = "otlp"))]
    {
        let _ = (endpoint, source, Duration::ZERO);
        Err(Usage(
            "this kvp was built without the `otlp` feature: --chrome-trace is available".into(),
        )
        .into())
    }
}

pub(crate) fn export(a: &ExportArgs) -> Result {
    let mut files: Vec<PathBuf> = a.files.iter().chain(&a.file).cloned().collect();
    if files.is_empty() {
        files.push(PathBuf::from(GUEST_POOL));
    }
    let mut sink = sink(a)?;
    let mut total = Counts::default();
    let mut failed = 0;
    for path in &files {
        match read::pool(path, sink.output()) {
            Ok(counts) => {
                eprintln!("kvp: export: {}: {}", path.display(), summary(&counts));
                total.add(&counts);
            }
            Err(e) => {
                failed += 1;
                eprintln!(
                    "kvp: export: {}: not exported: {}",
                    path.display(),
                    kvp_sink::WithCauses(e.as_ref())
                );
            }
        }
    }
    sink.finish()?;
    if files.len() > 1 {
        eprintln!(
            "kvp: export: {} pools: {}",
            files.len() - failed,
            summary(&total)
        );
    }
    if failed > 0 {
        return Err(format!("{failed} of {} pools could not be exported", files.len()).into());
    }
    Ok(())
}

/// One line: what was sent, and what was left out and why.
fn summary(c: &Counts) -> String {
    let mut line = format!(
        "sent {} spans, {} events, {} reports, {} metric series",
        c.spans, c.events, c.reports, c.metrics
    );
    if c.as_logs > 0 {
        line.push_str(&format!(", {} other records as log records", c.as_logs));
    }
    let left_out = c.unreadable + c.untimed;
    if left_out > 0 {
        line.push_str(&format!("; left out {left_out}:"));
        if c.unreadable > 0 {
            line.push_str(&format!(" {} that cannot be decoded", c.unreadable));
        }
        if c.untimed > 0 {
            if c.unreadable > 0 {
                line.push(',');
            }
            line.push_str(&format!(" {} with no time to place them at", c.untimed));
        }
    }
    if c.empty > 0 {
        line.push_str(&format!("; skipped {} empty records", c.empty));
    }
    line
}

impl Counts {
    fn add(&mut self, c: &Counts) {
        self.spans += c.spans;
        self.events += c.events;
        self.reports += c.reports;
        self.metrics += c.metrics;
        self.as_logs += c.as_logs;
        self.unreadable += c.unreadable;
        self.untimed += c.untimed;
        self.empty += c.empty;
    }
}
