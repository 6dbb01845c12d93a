//! `cargo xtask compare REV BENCH FILTER [--rounds N]`: one bench target at
//! git revision `REV` against the working tree, run interleaved.
//!
//! The machines are shared and noisy, so an old and a new binary measured
//! minutes apart prove little. This builds both bench binaries (the old one
//! from a `git worktree` of `REV`, into `target/compare/target-old`), then
//! runs them in turn `rounds` times, old then new in odd rounds and new
//! then old in even ones, so that neither always runs second (one tree
//! against itself, run always second, measured 3-6 % slower at the
//! median on these machines), and prints for each bench the median over the rounds of
//! each binary with the spread, and the median and spread of the per-round
//! ratio new / old.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Result, run, workspace_root};

pub(crate) fn compare(args: &[String]) -> Result {
    let usage = "usage: cargo xtask compare REV BENCH FILTER [--rounds N] \
                 (BENCH: codec, sink, layer, metrics or sparse; FILTER: a criterion filter)";
    let mut rounds = 5usize;
    let mut positional = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--rounds" {
            rounds = it
                .next()
                .and_then(|n| n.parse().ok())
                .filter(|&n| n > 0)
                .ok_or(usage)?;
        } else {
            positional.push(a.as_str());
        }
    }
    let [rev, bench, filter] = positional[..] else {
        return Err(usage.into());
    };
    let root = workspace_root();
    let target = root.join("target");
    // Keyed by the commit, not by how it was named: `HEAD` or a branch
    // moves, and a worktree left from an earlier run must not stand in.
    let commit = resolve(&root, rev)?;
    let tree = target.join("compare").join(&commit);
    if !tree.exists() {
        let tree_str = tree.to_str().ok_or("the workspace path is not UTF-8")?;
        run(
            "git",
            &["worktree", "add", "--detach", tree_str, &commit],
            &[],
        )?;
    }
    // The old tree builds into a target directory of its own: cargo keys a
    // workspace member's artifacts by its path relative to the workspace,
    // so the two trees' builds would overwrite each other's artifacts in a
    // shared directory and leave one of them stale.
    let old = build(&tree, &target.join("compare/target-old"), bench)?;
    let new = build(&root, &target, bench)?;
    // bench id -> (old medians, new medians), in ns, one per round.
    let mut medians: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for round in 1..=rounds {
        eprintln!("xtask compare: round {round} of {rounds}");
        let order = if round % 2 == 1 {
            [(false, &old), (true, &new)]
        } else {
            [(true, &new), (false, &old)]
        };
        for (is_new, bin) in order {
            for (id, ns) in measure(bin, filter)? {
                let entry = medians.entry(id).or_default();
                if is_new { &mut entry.1 } else { &mut entry.0 }.push(ns);
            }
        }
    }
    println!(
        "\n{:<60} {:>22} {:>22} {:>20}",
        "bench (medians over rounds, ns)", "old [min-max]", "new [min-max]", "new/old [min-max]"
    );
    for (id, (o, n)) in &medians {
        let ratios: Vec<f64> = o.iter().zip(n).map(|(a, b)| b / a).collect();
        println!(
            "{id:<60} {:>22} {:>22} {:>20}",
            spread(o, 2),
            spread(n, 2),
            spread(&ratios, 3)
        );
    }
    println!("\n{rounds} rounds; old = {rev} ({commit}), new = the working tree");
    Ok(())
}

/// The abbreviated commit hash `rev` names in the repository at `root`.
fn resolve(root: &Path, rev: &str) -> Result<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args([
            "rev-parse",
            "--short",
            "--verify",
            &format!("{rev}^{{commit}}"),
        ])
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!("{rev:?} names no commit"));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Builds bench target `bench` of the workspace at `dir` into `target` and
/// returns its executable, copied aside so a later build cannot replace it.
fn build(dir: &Path, target: &Path, bench: &str) -> Result<PathBuf> {
    let out = Command::new("cargo")
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .args([
            "bench",
            "-p",
            "kvp-benches",
            "--bench",
            bench,
            "--no-run",
            "--message-format=json",
        ])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building bench {bench} in {} failed:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let exe = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"]["name"] == bench)
        .find_map(|v| v["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| format!("cargo built no executable for bench {bench}"))?;
    let kept = workspace_root().join("target/compare").join(format!(
        "{bench}-{}",
        if dir == workspace_root() {
            "new"
        } else {
            "old"
        }
    ));
    std::fs::copy(&exe, &kept).map_err(|e| format!("{}: {e}", kept.display()))?;
    Ok(kept)
}

/// Runs the benches of `bin` matching `filter` once and returns each one's
/// median in ns, from criterion's `time: [low median high]` lines, and the
/// per-event percentiles a bench prints on stderr.
fn measure(bin: &Path, filter: &str) -> Result<Vec<(String, f64)>> {
    let out = Command::new(bin)
        .args([
            "--bench",
            "--warm-up-time",
            "1",
            "--measurement-time",
            "3",
            "--noplot",
            filter,
        ])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed", bin.display()));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut results = Vec::new();
    let mut id = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.split_once("time:").map(|(before, rest)| {
            if !before.trim().is_empty() {
                id = Some(before.trim().to_owned());
            }
            rest
        }) {
            let words: Vec<&str> = rest
                .trim_matches(|c| c == ' ' || c == '[' || c == ']')
                .split_whitespace()
                .collect();
            // [low unit median unit high unit]
            if let (Some(name), [_, _, median, unit, ..]) = (id.take(), &words[..]) {
                let value: f64 = median
                    .parse()
                    .map_err(|_| format!("bad figure in {line:?}"))?;
                results.push((name, value * scale(unit)?));
            }
        } else if !trimmed.is_empty() && !line.starts_with(' ') && trimmed.contains('/') {
            id = Some(
                trimmed
                    .split_whitespace()
                    .next()
                    .unwrap_or(trimmed)
                    .to_owned(),
            );
        }
    }
    // The sparse bench prints each contender's per-event percentiles on
    // stderr (`<id>: <n> events, p50 <t>, p90 <t>, p99 <t>`); its goals are
    // set on them, not on criterion's mean.
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let Some((name, rest)) = line.split_once(": ") else {
            continue;
        };
        if !rest.contains(" events, p50 ") {
            continue;
        }
        for part in rest.split(", ").skip(1) {
            if let Some((label, time)) = part.split_once(' ') {
                results.push((format!("{name} {label}"), duration_ns(time)?));
            }
        }
    }
    Ok(results)
}

/// Nanoseconds in a `Duration`'s `Debug` text (`275ns`, `1.128µs`, `2.4ms`).
fn duration_ns(text: &str) -> Result<f64> {
    let at = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("no unit in {text:?}"))?;
    let (number, unit) = text.split_at(at);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad figure in {text:?}"))?;
    Ok(value * scale(unit)?)
}

fn scale(unit: &str) -> Result<f64> {
    Ok(match unit {
        "ps" => 1e-3,
        "ns" => 1.0,
        "µs" | "us" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => return Err(format!("unknown unit {other:?}")),
    })
}

/// The median of `v` and its range, as `m [lo-hi]`.
fn spread(v: &[f64], decimals: usize) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let median = if s.is_empty() {
        f64::NAN
    } else if s.len() % 2 == 1 {
        s[s.len() / 2]
    } else {
        (s[s.len() / 2 - 1] + s[s.len() / 2]) / 2.0
    };
    let (lo, hi) = (
        s.first().copied().unwrap_or(f64::NAN),
        s.last().copied().unwrap_or(f64::NAN),
    );
    format!("{median:.decimals$} [{lo:.decimals$}-{hi:.decimals$}]")
}

#[cfg(test)]
mod tests {
    use super::duration_ns;

    #[test]
    fn reads_a_duration_as_debug_prints_it() {
        assert_eq!(duration_ns("275ns").unwrap(), 275.0);
        assert!((duration_ns("1.128µs").unwrap() - 1128.0).abs() < 1e-6);
        assert!((duration_ns("1.175119ms").unwrap() - 1_175_119.0).abs() < 1e-3);
        assert!(duration_ns("12").is_err(), "no unit");
        assert!(duration_ns("1.2 parsecs").is_err());
    }
}
