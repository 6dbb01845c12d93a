//! `cargo xtask tidy`: checks that keep the docs true (as rust-analyzer's
//! tidy does).
//!
//! - Every source file is named in docs/ARCHITECTURE.md: a crate's files
//!   (by their path under `src/`) in that crate's section, and the files of
//!   `xtask/`, `benches/` and `support/` in the section about them. A crate
//!   root (`lib.rs`, `main.rs`) is named by its section's heading.
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
