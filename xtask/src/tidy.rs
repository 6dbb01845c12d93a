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
//! - Every dependency edge between the workspace's crates is one that
//!   docs/ARCHITECTURE.md's "Dependency rules" table allows (read from
//!   `cargo metadata`), a crate the table says has no dependencies has
//!   none, and the table names every crate and no other.
//! - Pool-file writes and locks happen in `kvp-sink` only: no other crate's
//!   source opens files for writing, locks them, or cuts them.
//! - The map names no file that is not there: each crate table's first
//!   column is a file of that crate (the map is checked both ways).
//! - No source file is longer than [`MAX_LINES`] lines: a file holds one
//!   idea.
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
    let stale = stale_names(&root, &doc)?;
    if !stale.is_empty() {
        return Err(format!(
            "docs/ARCHITECTURE.md names files that do not exist (remove or rename the rows):\n  {}",
            stale.join("\n  ")
        ));
    }
    let long = long_files(&root)?;
    if !long.is_empty() {
        return Err(format!(
            "source files over {MAX_LINES} lines (split each by idea):\n  {}",
            long.join("\n  ")
        ));
    }
    let rules = dependency_rules(&doc)?;
    let metadata = cargo_metadata()?;
    let broken = check_dependencies(&metadata, &rules);
    if !broken.is_empty() {
        return Err(format!(
            "dependencies that docs/ARCHITECTURE.md's \"Dependency rules\" do not allow:\n  {}",
            broken.join("\n  ")
        ));
    }
    let io = pool_io_outside_the_sink(&root)?;
    if !io.is_empty() {
        return Err(format!(
            "file writes or locks outside kvp-sink (pool I/O belongs there):\n  {}",
            io.join("\n  ")
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

/// The most lines a source file may have.
pub(crate) const MAX_LINES: usize = 600;

/// Files a crate's table names in its first column that the crate does
/// not have, as `crates/<crate>/src/<file>`.
fn stale_names(root: &Path, doc: &str) -> Result<Vec<String>> {
    let mut stale = Vec::new();
    for dir in read_dir(&root.join("crates"))? {
        let name = file_name(&dir);
        let text = section(doc, &format!("crates/{name}")).unwrap_or("");
        for file in table_files(text) {
            if !dir.join("src").join(&file).is_file() {
                stale.push(format!("crates/{name}/src/{file}"));
            }
        }
    }
    Ok(stale)
}

/// The `.rs` files a section's tables name in their first column.
pub(crate) fn table_files(section: &str) -> Vec<String> {
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split_once('`'))
        .map(|(file, _)| file)
        .filter(|f| f.ends_with(".rs"))
        .map(str::to_owned)
        .collect()
}

/// Source files longer than [`MAX_LINES`], with their length.
fn long_files(root: &Path) -> Result<Vec<String>> {
    let mut files = Vec::new();
    for dir in read_dir(&root.join("crates"))? {
        files.extend(rust_files(&dir.join("src"))?);
    }
    for support in read_dir(&root.join("support"))? {
        files.extend(rust_files(&support.join("src"))?);
    }
    for dir in ["xtask/src", "benches/src", "benches/benches"] {
        files.extend(rust_files(&root.join(dir))?);
    }
    let mut long = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let lines = text.lines().count();
        if lines > MAX_LINES {
            let rel = file
                .strip_prefix(root)
                .unwrap_or(&file)
                .display()
                .to_string();
            long.push(format!("{rel}: {lines} lines"));
        }
    }
    Ok(long)
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

/// What a crate may depend on: workspace crates by name, and whether it may
/// have other (external) dependencies.
#[derive(Debug, PartialEq)]
pub(crate) struct Rule {
    pub(crate) krate: String,
    pub(crate) workspace: Vec<String>,
    pub(crate) external: bool,
}

/// The rows of the "Dependency rules" table:
/// `| `crate` | `dep`, `dep` or none | any or none |`.
pub(crate) fn dependency_rules(doc: &str) -> Result<Vec<Rule>> {
    let table = section(doc, "Dependency rules")
        .ok_or("docs/ARCHITECTURE.md has no \"## Dependency rules\" section")?;
    let names = |cell: &str| -> Vec<String> {
        cell.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    };
    let mut rules = Vec::new();
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [krate, workspace, external] = cells.as_slice() else {
            return Err(format!("a dependency rule that is not three cells: {line}"));
        };
        let krate = names(krate).pop().ok_or(format!("no crate in: {line}"))?;
        rules.push(Rule {
            krate,
            workspace: names(workspace),
            external: *external != "none",
        });
    }
    Ok(rules)
}

fn cargo_metadata() -> Result<serde_json::Value> {
    let out = std::process::Command::new("cargo")
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// The edges `metadata` has that `rules` do not allow, and the crates
/// under `crates/` the rules do not name (or name but do not exist).
/// Only normal and build dependencies count: tests may use anything.
pub(crate) fn check_dependencies(metadata: &serde_json::Value, rules: &[Rule]) -> Vec<String> {
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    let is_crate = |p: &serde_json::Value| {
        p["manifest_path"]
            .as_str()
            .is_some_and(|m| m.contains("/crates/"))
    };
    let members: Vec<&str> = packages.iter().filter_map(|p| p["name"].as_str()).collect();
    let mut broken = Vec::new();
    for package in packages.iter().filter(|p| is_crate(p)) {
        let name = package["name"].as_str().unwrap_or_default();
        let Some(rule) = rules.iter().find(|r| r.krate == name) else {
            broken.push(format!("{name}: no row in the table"));
            continue;
        };
        for dep in package["dependencies"].as_array().into_iter().flatten() {
            if dep["kind"].as_str() == Some("dev") {
                continue;
            }
            let dep_name = dep["name"].as_str().unwrap_or_default();
            let allowed = if members.contains(&dep_name) {
                rule.workspace.iter().any(|w| w == dep_name)
            } else {
                rule.external
            };
            if !allowed {
                broken.push(format!("{name} -> {dep_name}"));
            }
        }
    }
    for rule in rules {
        if !packages
            .iter()
            .any(|p| is_crate(p) && p["name"].as_str() == Some(rule.krate.as_str()))
        {
            broken.push(format!("{}: in the table, but no such crate", rule.krate));
        }
    }
    broken
}

/// What writes, cuts or locks a file: none of it may appear in a crate's
/// source outside `kvp-sink`.
const POOL_IO: &[&str] = &[
    "OpenOptions::new()",
    "libc::flock",
    "F_OFD_SETLK",
    ".set_len(",
    "write_all_at(",
    "libc::pwrite",
];

/// Lines of crates other than `kvp-sink` that write, cut or lock files.
fn pool_io_outside_the_sink(root: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    for dir in read_dir(&root.join("crates"))? {
        if file_name(&dir) == "kvp-sink" {
            continue;
        }
        for file in rust_files(&dir.join("src"))? {
            let text =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                if let Some(what) = POOL_IO.iter().find(|w| code.contains(*w)) {
                    let rel = file
                        .strip_prefix(root)
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    found.push(format!("{rel}:{}: {what}", n + 1));
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    /// The map is read both ways: a row naming a file is found, so that a
    /// file renamed or removed without its row fails tidy.
    #[test]
    fn table_rows_name_their_files() {
        let section = "## crates/x\n\n| file | what |\n|---|---|\n| `a.rs` | one |\n| `dir/b.rs` | two |\n| `Thing` | not a file |\n";
        assert_eq!(super::table_files(section), ["a.rs", "dir/b.rs"]);
    }

    use super::*;

    fn metadata(codec_deps: &[&str]) -> serde_json::Value {
        let dep = |name: &str| serde_json::json!({ "name": name, "kind": null });
        serde_json::json!({
            "packages": [
                {
                    "name": "kvp-codec",
                    "manifest_path": "/w/crates/kvp-codec/Cargo.toml",
                    "dependencies": codec_deps.iter().map(|d| dep(d)).collect::<Vec<_>>(),
                },
                {
                    "name": "kvp-sink",
                    "manifest_path": "/w/crates/kvp-sink/Cargo.toml",
                    "dependencies": [dep("kvp-codec"), dep("libc"),
                        { "name": "tempfile", "kind": "dev" }],
                },
            ]
        })
    }

    fn rules() -> Vec<Rule> {
        let doc = "\n## Dependency rules\n\n| crate | workspace | other |\n|---|---|---|\n\
                   | `kvp-codec` | none | none |\n| `kvp-sink` | `kvp-codec` | any |\n";
        dependency_rules(doc).unwrap()
    }

    #[test]
    fn the_rules_are_read_from_the_table() {
        assert_eq!(
            rules(),
            [
                Rule {
                    krate: "kvp-codec".into(),
                    workspace: vec![],
                    external: false,
                },
                Rule {
                    krate: "kvp-sink".into(),
                    workspace: vec!["kvp-codec".into()],
                    external: true,
                },
            ]
        );
    }

    #[test]
    fn a_checkout_where_the_codec_gains_a_dependency_fails() {
        assert_eq!(
            check_dependencies(&metadata(&[]), &rules()),
            Vec::<String>::new()
        );
        assert_eq!(
            check_dependencies(&metadata(&["itoa"]), &rules()),
            ["kvp-codec -> itoa"]
        );
        assert_eq!(
            check_dependencies(&metadata(&["kvp-sink"]), &rules()),
            ["kvp-codec -> kvp-sink"],
            "nor may it depend on a sibling"
        );
    }

    #[test]
    fn the_real_map_allows_the_real_workspace() {
        let root = workspace_root();
        let doc = std::fs::read_to_string(root.join("docs/ARCHITECTURE.md")).unwrap();
        let rules = dependency_rules(&doc).unwrap();
        assert!(rules.iter().any(|r| r.krate == "kvp-codec" && !r.external));
        let broken = check_dependencies(&cargo_metadata().unwrap(), &rules);
        assert!(broken.is_empty(), "{broken:?}");
    }
}
