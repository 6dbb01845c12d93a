//! `cargo xtask tidy`: checks that keep the docs true (as rust-analyzer's
//! tidy does).
//!
//! - Every source file is named in docs/ARCHITECTURE.md: a crate's files
//!   (by their path under `src/`) in that crate's section, and the files of
//!   `xtask/`, `benches/` and `support/` in the section about them. A crate
//!   root (`lib.rs`, `main.rs`) is named by its section's heading.
//! - No module of a crate depends, through `crate::` paths, on a module
//!   that depends back on it: each crate's modules form a tree of uses, so
//!   a file can be read after the files it uses.
//! - `cargo doc --workspace --document-private-items` builds with warnings
//!   denied, so private docs cannot rot either.

use std::path::{Path, PathBuf};

use crate::{Result, run, workspace_root};

pub(crate) fn tidy() -> Result {
    let root = workspace_root();
    let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md"))
        .map_err(|e| format!("docs/ARCHITECTURE.md: {e}"))?;
    let missing = unnamed_files(&root, &doc)?;
    if !missing.is_empty() {
        return Err(format!(
            "docs/ARCHITECTURE.md does not name these source files (add each to its crate's table):\n  {}",
            missing.join("\n  ")
        ));
    }
    let cycles = module_cycles(&root)?;
    if !cycles.is_empty() {
        return Err(format!(
            "module cycles (each module uses the next through `crate::`):\n  {}",
            cycles.join("\n  ")
        ));
    }
    run(
        "cargo",
        &[
            "doc",
            "--workspace",
            "--no-deps",
            "--document-private-items",
        ],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )
}

/// The text of the section whose heading starts with `## <heading>`, up to
/// the next `## `.
fn section<'a>(doc: &'a str, heading: &str) -> Option<&'a str> {
    let start = doc.find(&format!("\n## {heading}"))?;
    let rest = &doc[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    Some(&rest[..end])
}

/// Source files the architecture map does not name, as paths from the
/// workspace root.
fn unnamed_files(root: &Path, doc: &str) -> Result<Vec<String>> {
    let mut missing = Vec::new();
    for dir in read_dir(&root.join("crates"))? {
        let name = file_name(&dir);
        let text = section(doc, &format!("crates/{name}")).unwrap_or("");
        for file in rust_files(&dir.join("src"))? {
            let rel = file
                .strip_prefix(dir.join("src"))
                .map_err(|e| e.to_string())?
                .to_string_lossy()
                .into_owned();
            if rel == "lib.rs" || rel == "main.rs" {
                continue;
            }
            if !text.contains(&format!("`{rel}`")) {
                missing.push(format!("crates/{name}/src/{rel}"));
            }
        }
    }
    let elsewhere = section(doc, "Elsewhere").unwrap_or("");
    let mut others = Vec::new();
    for dir in ["xtask/src", "benches/src", "benches/benches"] {
        others.extend(rust_files(&root.join(dir))?);
    }
    for support in read_dir(&root.join("support"))? {
        others.extend(rust_files(&support.join("src"))?);
    }
    for file in others {
        let rel = file
            .strip_prefix(root)
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        if !elsewhere.contains(&format!("`{rel}`")) {
            missing.push(rel);
        }
    }
    missing.sort();
    Ok(missing)
}

/// The top-level modules a source file names through `crate::<module>`,
/// comments left out.
fn uses(source: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            if !name.is_empty() && !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// Each crate's cycles of top-level modules, as `crate: a -> b -> a`.
fn module_cycles(root: &Path) -> Result<Vec<String>> {
    let mut found: Vec<(Vec<String>, String)> = Vec::new();
    for dir in read_dir(&root.join("crates"))? {
        let src = dir.join("src");
        let mut graph: Vec<(String, Vec<String>)> = Vec::new();
        for file in rust_files(&src)? {
            let rel = file.strip_prefix(&src).map_err(|e| e.to_string())?;
            let module = rel
                .components()
                .next()
                .map(|c| {
                    c.as_os_str()
                        .to_string_lossy()
                        .trim_end_matches(".rs")
                        .to_owned()
                })
                .unwrap_or_default();
            if module == "lib" || module == "main" {
                continue;
            }
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let deps: Vec<String> = uses(&text).into_iter().filter(|d| *d != module).collect();
            match graph.iter_mut().find(|(m, _)| *m == module) {
                Some((_, all)) => all.extend(deps),
                None => graph.push((module, deps)),
            }
        }
        let edges = |m: &str| -> Vec<String> {
            graph
                .iter()
                .find(|(n, _)| n == m)
                .map(|(_, d)| {
                    d.iter()
                        .filter(|d| graph.iter().any(|(n, _)| n == *d))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        for (start, _) in &graph {
            // The shortest path back to `start` through its uses.
            let mut paths: Vec<Vec<String>> = vec![vec![start.clone()]];
            let mut seen: Vec<String> = vec![start.clone()];
            let mut at = 0;
            while at < paths.len() {
                let path = paths[at].clone();
                at += 1;
                let last = path.last().cloned().unwrap_or_default();
                for next in edges(&last) {
                    if next == *start {
                        let mut members = path.clone();
                        members.sort();
                        if !found.iter().any(|(m, _)| *m == members) {
                            let mut cycle = path.clone();
                            cycle.push(next);
                            let text = format!("{}: {}", file_name(&dir), cycle.join(" -> "));
                            found.push((members, text));
                        }
                    } else if !seen.contains(&next) {
                        seen.push(next.clone());
                        let mut longer = path.clone();
                        longer.push(next);
                        paths.push(longer);
                    }
                }
            }
        }
    }
    Ok(found.into_iter().map(|(_, text)| text).collect())
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// Every `.rs` file under `dir`, recursively; none when `dir` is missing.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(out);
    };
    for entry in entries.flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(rust_files(&p)?);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}
