//! The full stack in one call: stderr, the KVP pool, metrics into the pool.
//!
//! `cargo run -p kvp-telemetry --example full_stack [POOL_DIR]`
//!
//! The pool goes to `POOL_DIR` (default: a new temporary directory), not
//! `/var/lib/hyperv`, so that the example runs anywhere.

use std::time::Duration;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given = std::env::args().nth(1).map(std::path::PathBuf::from);
    let dir = given.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("kvp-example-{}", std::process::id()))
    });
    let pool = dir.join(".kvp_pool_1");
    let guard = kvp_telemetry::Telemetry::builder("example-agent")
        .pool_path(&pool)
        .create_dir(true)
        .kvp_filter("info")
        .init()?;

    let span = tracing::info_span!("provision", user = "azureuser");
    let _entered = span.enter();
    tracing::info!(monotonic_counter.users_created = 1u64, "created user");
    tracing::warn!(path = "/home/azureuser/.ssh", "authorized_keys replaced");
    drop(_entered);
    drop(span);

    assert!(
        guard.flush(Duration::from_secs(5)),
        "everything reached the pool"
    );
    let written = guard.kvp_stats().map_or(0, |s| s.written);
    println!("{written} records in {}", pool.display());
    assert!(written >= 3, "two events and a span");
    drop(guard);
    if given.is_none() {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
