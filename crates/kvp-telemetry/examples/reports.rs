//! An agent that reports its result to the host: a failure, then (after a
//! retry) a success. Both upsert `PROVISIONING_REPORT`, in azure-init's
//! encoding, so the pool holds the last one.
//!
//! `cargo run -p kvp-telemetry --example reports`

use std::time::Duration;

use kvp_telemetry::{ProvisioningReport, Telemetry};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("kvp-reports-{}", std::process::id()));
    let pool = dir.join(".kvp_pool_1");
    let guard = Telemetry::builder("example-agent")
        .pool_path(&pool)
        .create_dir(true)
        .vm_id("6b1c32a4-8f0e-4d52-9c1e-0a3b5e7d9f11")
        .stderr(false)
        .init()?;

    let failure = ProvisioningReport::failure("example-agent/1.0", "useradd failed: exit 1")
        .field("step", "create_user");
    tracing::error!(health_report = %failure, "provisioning failed");
    let success = ProvisioningReport::success("example-agent/1.0").field("attempt", 2);
    tracing::warn!(health_report = %success, "provisioning succeeded on retry");
    assert!(guard.flush(Duration::from_secs(5)));

    let data = std::fs::read(&pool)?;
    let report = kvp_telemetry::kvp_codec::decode(&data)
        .filter_map(Result::ok)
        .find(|r| r.key == "PROVISIONING_REPORT")
        .map(|r| r.value.to_owned())
        .ok_or("no report in the pool")?;
    println!("{report}");
    assert!(
        report.starts_with("result=success|agent=example-agent/1.0|pps_type=None|vm_id=6b1c32a4")
    );
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
