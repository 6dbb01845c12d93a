//! `kvp check`: what the Hyper-V host will see of a pool file, by the rules
//! in docs/FORMAT.md, and what it will miss or cut.
//!
//! The file is read record by record ([`crate::stream`]), and each problem
//! is printed as it is found, so memory stays flat whatever the file's size.

use std::ops::ControlFlow;
use std::path::Path;

use clap::Args;
use kvp_codec::{
    Field, KEY_SIZE, KeyParts, Limits, RECORD_SIZE, Record, VALUE_SIZE, split_chunk_suffix,
    utf16_len,
};
use serde_json::{Value, json};

use crate::exit::No;
use crate::exit::Result;
use crate::files::existing_file;
use crate::output::{self, Reader};
use crate::stream;
use crate::target::Target;

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    #[command(flatten)]
    target: Target,
    /// One JSON object per problem, then one with the totals.
    #[arg(long)]
    json: bool,
    /// The record count past which the host is slow to enumerate the pool
    /// (azure-init's documented ceiling).
    #[arg(long, default_value_t = 1024)]
    cap: usize,
}

/// One way in which the host's view differs from what was written.
#[derive(Debug, PartialEq, Eq)]
enum Problem {
    /// Bytes before the field's first NUL that are not UTF-8. The host's
    /// read of the record fails, and it stops enumerating there, hiding
    /// `hidden` records; `None` when an earlier record already stopped it.
    InvalidUtf8 {
        field: Field,
        offset: usize,
        hidden: Option<usize>,
    },
    /// A field filled to its end with no NUL.
    Unterminated { field: Field },
    /// A field longer than the host keeps: it gets `kept` UTF-16 units.
    Cut {
        field: Field,
        units: usize,
        kept: usize,
        lost: String,
    },
    /// An empty key: the record reads as padding.
    EmptyKey,
    /// A chunk series (`<stem>|<i>`) that skips from `expected` to `found`.
    ChunkGap {
        stem: String,
        expected: u32,
        found: u32,
    },
}

/// A problem and where it is.
struct Finding {
    record: usize,
    problem: Problem,
}

impl Finding {
    fn offset(&self) -> usize {
        match self.problem {
            Problem::InvalidUtf8 { offset, .. } => offset,
            Problem::Unterminated { field } | Problem::Cut { field, .. } => {
                self.record * RECORD_SIZE + field_start(field)
            }
            _ => self.record * RECORD_SIZE,
        }
    }

    fn message(&self) -> String {
        match &self.problem {
            Problem::InvalidUtf8 {
                field,
                hidden: Some(hidden),
                ..
            } => format!(
                "{field} is not valid UTF-8 before its NUL: the host cannot read this record \
                 and stops there, hiding the {hidden} record(s) after it"
            ),
            Problem::InvalidUtf8 {
                field,
                hidden: None,
                ..
            } => format!(
                "{field} is not valid UTF-8 before its NUL (the host already stopped at an \
                 earlier record)"
            ),
            Problem::Unterminated { field } => format!(
                "{field} fills its {} bytes with no NUL: readers disagree on where it ends",
                field_size(*field)
            ),
            Problem::Cut {
                field,
                units,
                kept,
                lost,
            } => format!(
                "{field} is {units} UTF-16 units: the host keeps {kept} and cuts {} ({lost:?})",
                units - kept
            ),
            Problem::EmptyKey => "empty key: the record reads as padding".to_owned(),
            Problem::ChunkGap {
                stem,
                expected,
                found,
            } => {
                format!("chunks of {stem:?} skip from |{expected} to |{found}: the value has a gap")
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self.problem {
            Problem::InvalidUtf8 { .. } => "invalid_utf8",
            Problem::Unterminated { .. } => "unterminated",
            Problem::Cut { .. } => "cut",
            Problem::EmptyKey => "empty_key",
            Problem::ChunkGap { .. } => "chunk_gap",
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "record": self.record,
            "offset": self.offset(),
            "problem": self.kind(),
            "message": self.message(),
        });
        match &self.problem {
            Problem::InvalidUtf8 { field, hidden, .. } => {
                v["field"] = json!(field.to_string());
                v["hidden_after"] = json!(hidden);
            }
            Problem::Unterminated { field } => v["field"] = json!(field.to_string()),
            Problem::Cut {
                field, units, kept, ..
            } => {
                v["field"] = json!(field.to_string());
                v["units"] = json!(units);
                v["kept_units"] = json!(kept);
            }
            Problem::EmptyKey | Problem::ChunkGap { .. } => {}
        }
        v
    }

    fn to_line(&self) -> String {
        format!(
            "record {} (byte {}): {}",
            self.record,
            self.offset(),
            self.message()
        )
    }
}

fn field_start(field: Field) -> usize {
    match field {
        Field::Key => 0,
        Field::Value => KEY_SIZE,
    }
}

fn field_size(field: Field) -> usize {
    match field {
        Field::Key => KEY_SIZE,
        Field::Value => VALUE_SIZE,
    }
}

/// The problems of one record, in the order of its bytes. `stopped` is
/// whether an earlier record already stopped the host's enumeration.
fn record_problems(index: usize, record: Record<'_>, total: usize, stopped: bool) -> Vec<Problem> {
    let mut problems = Vec::new();
    let fields = [
        (Field::Key, record.key_bytes(), Limits::SAFE.key_units()),
        (
            Field::Value,
            record.value_bytes(),
            Limits::SAFE.value_units(),
        ),
    ];
    for (field, bytes, max_units) in fields {
        if !record.is_terminated(field) {
            problems.push(Problem::Unterminated { field });
        }
        match std::str::from_utf8(bytes) {
            Err(e) => problems.push(Problem::InvalidUtf8 {
                field,
                offset: index * RECORD_SIZE + field_start(field) + e.valid_up_to(),
                hidden: (!stopped).then(|| total.saturating_sub(index + 1)),
            }),
            Ok(text) => {
                if let Some(cut) = cut(field, text, max_units) {
                    problems.push(cut);
                }
            }
        }
    }
    if record.key_bytes().is_empty() {
        problems.push(Problem::EmptyKey);
    }
    problems
}

/// What the host cuts from `text`, which it converts to UTF-16 and keeps
/// at most `max_units` of, never half of a surrogate pair.
fn cut(field: Field, text: &str, max_units: usize) -> Option<Problem> {
    let kept_text = kvp_codec::prefix_within(text, usize::MAX, max_units);
    if kept_text.len() == text.len() {
        return None;
    }
    let lost: String = text[kept_text.len()..].chars().take(40).collect();
    Some(Problem::Cut {
        field,
        units: utf16_len(text),
        kept: utf16_len(kept_text),
        lost,
    })
}

/// The chunk series being read: records `<stem>|<i>` in a row.
struct Series {
    stem: String,
    first: usize,
    next: u32,
    start: u32,
    len: usize,
}

impl Series {
    /// A series that began past `|0` has lost its first chunks, if it is a
    /// series at all: several chunks, or one of an event key (a lone plain
    /// `name|1` is a key of its own, as docs/FORMAT.md says).
    fn lost_start(&self) -> Option<Finding> {
        let is_series = self.len > 1 || KeyParts::parse(&self.stem).is_some();
        (self.start != 0 && is_series).then(|| Finding {
            record: self.first,
            problem: Problem::ChunkGap {
                stem: self.stem.clone(),
                expected: 0,
                found: self.start,
            },
        })
    }
}

/// Finds chunk gaps in the order records come.
#[derive(Default)]
struct Gaps {
    open: Option<Series>,
}

impl Gaps {
    fn next(&mut self, index: usize, key: Option<&str>, found: &mut Vec<Finding>) {
        let (stem, chunk) = key.map_or(("", None), split_chunk_suffix);
        if let (Some(open), Some(i)) = (&mut self.open, chunk)
            && open.stem == stem
        {
            if i != open.next {
                found.push(Finding {
                    record: index,
                    problem: Problem::ChunkGap {
                        stem: stem.to_owned(),
                        expected: open.next,
                        found: i,
                    },
                });
            }
            open.next = i.saturating_add(1);
            open.len += 1;
            return;
        }
        found.extend(self.finish());
        self.open = chunk.map(|i| Series {
            stem: stem.to_owned(),
            first: index,
            next: i.saturating_add(1),
            start: i,
            len: 1,
        });
    }

    fn finish(&mut self) -> Option<Finding> {
        self.open.take().and_then(|s| s.lost_start())
    }
}

/// Problems with the file as a whole.
fn file_problems(path: &Path, len: u64, cap: usize) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let records = usize::try_from(len / RECORD_SIZE as u64).unwrap_or(usize::MAX);
    if records > cap {
        problems.push(format!(
            "{records} records, over the {cap} the host can enumerate in time: it re-reads \
             the whole file for every record it asks for"
        ));
    }
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if len > 0 && kvp_sink::is_stale(&meta)? {
        problems.push(
            "written before this boot (mtime <= btime): the host reads an earlier boot's \
             records as this one's until an agent clears the file"
                .to_owned(),
        );
    }
    Ok(problems)
}

/// Prints findings as they come, and counts them.
struct Report {
    json: bool,
    problems: usize,
    reader: Reader,
}

impl Report {
    fn emit(&mut self, findings: &mut Vec<Finding>) -> std::io::Result<Reader> {
        self.problems += findings.len();
        let json = self.json;
        let lines = findings.drain(..).map(|f| {
            if json {
                f.to_json().to_string()
            } else {
                f.to_line()
            }
        });
        self.reader = output::print_lines(lines)?;
        Ok(self.reader)
    }
}

pub(crate) fn check(a: &CheckArgs) -> Result {
    let path = a.target.path();
    existing_file(&path)?;
    let len = std::fs::metadata(&path)?.len();
    let total = usize::try_from(len / RECORD_SIZE as u64).unwrap_or(usize::MAX);
    let mut report = Report {
        json: a.json,
        problems: 0,
        reader: Reader::Open,
    };
    let mut gaps = Gaps::default();
    let mut found = Vec::new();
    let mut failed = None;
    let mut stopped = false;
    let scan = stream::records(&path, |index, record| {
        let problems = record_problems(index, record, total, stopped);
        stopped |= problems
            .iter()
            .any(|p| matches!(p, Problem::InvalidUtf8 { .. }));
        found.extend(problems.into_iter().map(|problem| Finding {
            record: index,
            problem,
        }));
        gaps.next(index, record.key().ok(), &mut found);
        match report.emit(&mut found) {
            Ok(Reader::Open) => ControlFlow::Continue(()),
            Ok(Reader::Gone) => ControlFlow::Break(()),
            Err(e) => {
                failed = Some(e);
                ControlFlow::Break(())
            }
        }
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if report.reader == Reader::Gone {
        return Ok(());
    }
    found.extend(gaps.finish());
    report.emit(&mut found)?;
    let mut whole = file_problems(&path, len, a.cap)?;
    if scan.tail > 0 {
        whole.push(format!(
            "the file ends with {} bytes that are not a whole record (at byte {}): the \
             host's daemon ignores them",
            scan.tail,
            scan.records * RECORD_SIZE
        ));
    }
    let problems = report.problems + whole.len();
    let summary = if a.json {
        json!({
            "path": path.display().to_string(),
            "records": scan.records,
            "file_problems": whole,
            "problems": problems,
            "clean": problems == 0,
        })
        .to_string()
    } else {
        let mut lines: Vec<String> = whole.iter().map(|p| format!("file: {p}")).collect();
        lines.push(if problems == 0 {
            format!(
                "{}: clean: the host sees all {} record(s) as written",
                path.display(),
                scan.records
            )
        } else {
            format!("{}: {problems} problem(s)", path.display())
        });
        lines.join("\n")
    };
    output::print_lines([summary])?;
    if problems == 0 {
        Ok(())
    } else {
        Err(No(format!(
            "the host would miss or cut part of {}",
            path.display()
        ))
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_is_where_the_units_run_out_never_inside_a_pair() {
        assert_eq!(cut(Field::Key, "abc", 3), None);
        let Some(Problem::Cut {
            units, kept, lost, ..
        }) = cut(Field::Key, "ab😀c", 3)
        else {
            panic!("a pair that does not fit is cut whole");
        };
        assert_eq!((units, kept, lost.as_str()), (5, 2, "😀c"));
    }

    fn gaps_of(keys: &[&str]) -> Vec<(usize, u32, u32)> {
        let mut gaps = Gaps::default();
        let mut found = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            gaps.next(i, Some(k), &mut found);
        }
        found.extend(gaps.finish());
        found
            .into_iter()
            .map(|f| match f.problem {
                Problem::ChunkGap {
                    expected, found, ..
                } => (f.record, expected, found),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn chunk_gaps_are_found_in_a_row_of_records() {
        assert!(gaps_of(&["a|0", "a|1", "b", "c|0"]).is_empty());
        assert_eq!(gaps_of(&["a|0", "a|2"]), [(1, 1, 2)]);
        assert_eq!(gaps_of(&["x", "a|1", "a|2"]), [(1, 0, 1)]);
        // A lone plain `name|1` is a key of its own; an event key's is not.
        assert!(gaps_of(&["pipe|key|1"]).is_empty());
        assert_eq!(gaps_of(&["p|vm|INFO|n|1-2|3"]), [(0, 0, 3)]);
    }
}
