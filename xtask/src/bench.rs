//! `cargo xtask bench` and `cargo xtask flamegraph`.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::{Result, run, workspace_root};

/// Functions in a bench group that measure our code; every other function
/// in the group is a peer or a baseline to compare against.
const OURS: [&str; 5] = [
    "kvp_codec",
    "kvp_layer",
    "kvp_layer_queue_full",
    "kvp_sink",
    "ours",
];

/// Criterion settings for `--quick`: the whole suite in a few minutes.
const QUICK: [&str; 6] = [
    "--warm-up-time",
    "0.5",
    "--measurement-time",
    "2",
    "--sample-size",
    "10",
];

/// Runs the benches (all, or those matching `filter`) and prints, for each
/// group, our median beside each peer's or baseline's from the same run.
pub(crate) fn bench(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    let filter: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| *a != "--quick")
        .collect();
    let started = SystemTime::now();
    let mut cmd: Vec<&str> = vec!["bench", "-p", "kvp-benches", "--"];
    if quick {
        cmd.extend(QUICK);
    }
    cmd.extend(&filter);
    run("cargo", &cmd, &[])?;
    let results = read_results(started)?;
    if results.is_empty() {
        return Err(format!("no bench matched {filter:?}"));
    }
    print_summary(&results);
    Ok(())
}

/// Profiles the benches matching `filter` and prints where the flame graphs
/// are. Sampling uses pprof (`SIGPROF`): no `perf` needed.
pub(crate) fn flamegraph(args: &[String]) -> Result {
    let [filter] = args else {
        return Err(
            "usage: cargo xtask flamegraph FILTER (a bench id, such as encode_record/kvp_codec)"
                .into(),
        );
    };
    let started = SystemTime::now();
    run(
        "cargo",
        &[
            "bench",
            "-p",
            "kvp-benches",
            "--",
            "--profile-time",
            "5",
            filter,
        ],
        &[],
    )?;
    let mut svgs = Vec::new();
    find(&criterion_dir(), &mut |p: &Path| {
        if p.file_name().is_some_and(|n| n == "flamegraph.svg") && modified_since(p, started) {
            svgs.push(p.to_path_buf());
        }
    });
    if svgs.is_empty() {
        return Err(format!(
            "no bench matched {filter:?}; ids look like group/function"
        ));
    }
    for svg in svgs {
        println!("flame graph: {}", svg.display());
    }
    Ok(())
}

struct Result1 {
    group: String,
    function: String,
    median_ns: f64,
}

fn criterion_dir() -> PathBuf {
    workspace_root().join("target/criterion")
}

fn modified_since(p: &Path, t: SystemTime) -> bool {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .is_ok_and(|m| m >= t)
}

fn find(dir: &Path, f: &mut dyn FnMut(&Path)) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            find(&p, f);
        } else {
            f(&p);
        }
    }
}

/// Reads criterion's `new/estimates.json` files written since `started`.
fn read_results(started: SystemTime) -> Result<Vec<Result1>> {
    let mut files = Vec::new();
    find(&criterion_dir(), &mut |p: &Path| {
        if p.ends_with("new/estimates.json") && modified_since(p, started) {
            files.push(p.to_path_buf());
        }
    });
    let mut out = Vec::new();
    for est in files {
        let dir = est.parent().ok_or("estimates.json has a parent")?;
        let read = |p: PathBuf| -> Result<serde_json::Value> {
            let text = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", p.display()))
        };
        let meta = read(dir.join("benchmark.json"))?;
        let estimates = read(est.clone())?;
        let function = match meta["value_str"].as_str() {
            Some(v) => format!("{}/{v}", meta["function_id"].as_str().unwrap_or("?")),
            None => meta["function_id"].as_str().unwrap_or("?").to_owned(),
        };
        out.push(Result1 {
            group: meta["group_id"].as_str().unwrap_or("?").to_owned(),
            function,
            median_ns: estimates["median"]["point_estimate"]
                .as_f64()
                .unwrap_or(f64::NAN),
        });
    }
    out.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    Ok(out)
}

fn human(ns: f64) -> String {
    match ns {
        n if n >= 1e6 => format!("{:.2} ms", n / 1e6),
        n if n >= 1e3 => format!("{:.2} µs", n / 1e3),
        n => format!("{n:.1} ns"),
    }
}

fn is_ours(function: &str) -> bool {
    OURS.iter()
        .any(|o| function == *o || function.starts_with(&format!("{o}/")))
}

fn print_summary(results: &[Result1]) {
    println!(
        "\n{:<40} {:<28} {:>10}   {:<32} {:>10} {:>7}",
        "group", "ours", "median", "peer or baseline", "median", "ratio"
    );
    let mut groups: Vec<&str> = results.iter().map(|r| r.group.as_str()).collect();
    groups.dedup();
    for group in groups {
        let in_group: Vec<&Result1> = results.iter().filter(|r| r.group == group).collect();
        let (ours, others): (Vec<&Result1>, Vec<&Result1>) =
            in_group.iter().partition(|r| is_ours(&r.function));
        for o in &ours {
            // Compare like with like: same parameter when there is one.
            let param = o.function.split_once('/').map(|(_, p)| p);
            let peers: Vec<&&Result1> = others
                .iter()
                .filter(|p| {
                    param.is_none()
                        || p.function.split_once('/').map(|(_, q)| q) == param
                        || !p.function.contains('/')
                })
                .collect();
            if peers.is_empty() {
                println!("{group:<40} {:<28} {:>10}", o.function, human(o.median_ns));
            }
            for p in peers {
                println!(
                    "{group:<40} {:<28} {:>10}   {:<32} {:>10} {:>6.2}x",
                    o.function,
                    human(o.median_ns),
                    p.function,
                    human(p.median_ns),
                    o.median_ns / p.median_ns
                );
            }
        }
    }
}
