//! The KVP layer on a subscriber you build yourself, beside a layer of your
//! own (here: a plain-text log to stdout), each with its own filter.
//!
//! `cargo run -p tracing-kvp --example own_registry`

use std::time::Duration;

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::prelude::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("kvp-own-registry-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let pool = dir.join(".kvp_pool_1");
    let (kvp, guard) = tracing_kvp::KvpLayer::builder("example-agent")
        .vm_id("example-vm")
        .filter("warn")
        .open(&pool)?;
    let mine = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(false)
        .with_filter(LevelFilter::INFO);
    tracing_subscriber::registry().with(kvp).with(mine).init();

    tracing::info!("to stdout only: below the KVP layer's filter");
    tracing::warn!(disk = "sda", "to stdout and to the pool");
    assert!(guard.flush(Duration::from_secs(5)));
    let written = guard.stats().written;
    println!("{written} record(s) in {}", pool.display());
    assert_eq!(written, 1);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
