//! Traces and metrics to an OpenTelemetry collector over OTLP/HTTP, beside
//! the pool (here: off).
//!
//! `cargo run -p kvp-telemetry --features otlp --example otlp -- http://127.0.0.1:4318`
//!
//! `cargo xtask ci` runs it against a real collector (rotel) it starts.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "http://127.0.0.1:4318".to_owned());
    let guard = kvp_telemetry::Telemetry::builder("example-agent")
        .kvp(false)
        .stderr(false)
        .otlp(&endpoint)
        .init()?;
    {
        let _span = tracing::info_span!("provision", user = "azureuser").entered();
        tracing::info!(monotonic_counter.users_created = 1u64, "created user");
    }
    let delivered = guard.flush(Duration::from_secs(10));
    println!("exported to {endpoint}: {delivered}");
    if !delivered {
        return Err(format!("the collector at {endpoint} did not take the export").into());
    }
    Ok(())
}
