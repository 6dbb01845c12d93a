//! The tree as text lines (with colour on a terminal) or as nested JSON.

use kvp_codec::schema::PROVISIONING_REPORT;
use serde_json::{Value, json};

use crate::model::{Event, Node, Span, Status, Tree};
use crate::time::Time;

/// What to show.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct View {
    /// Only the chain from a root to the first error.
    pub(crate) errors_only: bool,
    /// Only spans that took at least this many milliseconds (open spans,
    /// whose length is unknown, stay).
    pub(crate) slow_ms: Option<f64>,
    /// ANSI colour: red for errors, yellow for warnings, dim times.
    pub(crate) colour: bool,
    /// Times with their date: the pool spans more than one day.
    pub(crate) dated: bool,
}

/// A field value longer than this is cut, with `…`.
const FIELD_CHARS: usize = 48;
/// The fields of one line together are cut at this many characters.
const FIELDS_CHARS: usize = 120;

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

impl View {
    fn paint(&self, colour: &str, text: &str) -> String {
        if self.colour && !text.is_empty() {
            format!("{colour}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    /// Whether `node` is shown at all.
    fn shows(&self, node: &Node) -> bool {
        match node {
            Node::Span(s) => {
                (!self.errors_only || s.on_error_path)
                    && self
                        .slow_ms
                        .is_none_or(|min| s.duration_ms.is_none_or(|d| d >= min))
            }
            Node::Event(e) => self.slow_ms.is_none() && (!self.errors_only || e.first_error),
            Node::UnknownSpan {
                children,
                on_error_path,
                ..
            } => (!self.errors_only || *on_error_path) && children.iter().any(|c| self.shows(c)),
        }
    }
}

/// The tree as lines of text, with a summary of what is not in it. When
/// the pool holds more than one run of its writers, a line marks where
/// each run's spans and events begin.
pub(crate) fn text(tree: &Tree, view: View) -> Vec<String> {
    let mut out = Vec::new();
    let view = View {
        dated: view.dated || spans_days(tree),
        ..view
    };
    let roots: Vec<&Node> = tree.roots.iter().filter(|n| view.shows(n)).collect();
    let several_runs = {
        let mut runs: Vec<&str> = roots.iter().filter_map(|n| run_of(n)).collect();
        runs.sort_unstable();
        runs.dedup();
        runs.len() > 1
    };
    let mut current_run = None;
    for node in &roots {
        if several_runs && let Some(run) = run_of(node) {
            if current_run != Some(run) {
                let from = match node {
                    Node::Span(s) => s.start.as_ref(),
                    Node::Event(e) => e.time.as_ref(),
                    Node::UnknownSpan { .. } => None,
                };
                let from = from.map_or(String::new(), |t| format!(", from {}", at(t, view)));
                out.push(view.paint(BOLD, &format!("── {run}{from} ──")));
            }
            current_run = Some(run);
        }
        line(node, view, &mut out);
    }
    if roots.is_empty() {
        out.push(if view.errors_only {
            "(no error in this pool)".to_owned()
        } else {
            "(no spans or events in this pool)".to_owned()
        });
    }
    if let Some(report) = &tree.report {
        out.push(String::new());
        let failed = report.contains("result=error") || report.contains("result=failure");
        let label = if failed {
            view.paint(RED, PROVISIONING_REPORT)
        } else {
            PROVISIONING_REPORT.to_owned()
        };
        out.push(format!("{label} {report}"));
    }
    let mut notes = Vec::new();
    if tree.metrics > 0 {
        notes.push(plural(tree.metrics, "metric record"));
    }
    if tree.other > 0 {
        notes.push(plural(tree.other, "other record"));
    }
    if tree.unreadable > 0 {
        notes.push(format!(
            "{} that could not be read",
            plural(tree.unreadable, "record")
        ));
    }
    if !notes.is_empty() {
        out.push(String::new());
        out.push(format!(
            "not in the tree: {} (see kvp dump)",
            notes.join(", ")
        ));
    }
    out
}

/// The run that wrote a root, as its writer names it.
fn run_of(node: &Node) -> Option<&str> {
    match node {
        Node::Span(s) => s.run.as_deref(),
        Node::Event(e) => e.run.as_deref(),
        Node::UnknownSpan { children, .. } => children.first().and_then(run_of),
    }
}

/// Whether the tree's times fall on more than one day (UTC), walked with a
/// stack of its own.
fn spans_days(tree: &Tree) -> bool {
    const DAY_US: i64 = 86_400_000_000;
    let mut days: Option<(i64, i64)> = None;
    let mut stack: Vec<&Node> = tree.roots.iter().collect();
    while let Some(node) = stack.pop() {
        let times: [Option<&Time>; 2] = match node {
            Node::Span(s) => [s.start.as_ref(), s.end.as_ref()],
            Node::Event(e) => [e.time.as_ref(), None],
            Node::UnknownSpan { .. } => [None, None],
        };
        for t in times.into_iter().flatten() {
            let day = t.micros.div_euclid(DAY_US);
            days = Some(days.map_or((day, day), |(lo, hi)| (lo.min(day), hi.max(day))));
        }
        stack.extend(node_children(node));
    }
    days.is_some_and(|(lo, hi)| lo != hi)
}

/// A time as the tree shows it: the time of day, with the date before it
/// when the pool spans days.
fn at(t: &Time, view: View) -> String {
    match (view.dated, t.text.get(..10)) {
        (true, Some(date)) => format!("{date} {}", t.time_of_day()),
        _ => t.time_of_day().to_owned(),
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Past this depth the indent stops growing: each deeper line says its
/// depth instead, so that a chain thousands deep costs lines, not
/// kilobytes of indent each.
pub(crate) const MAX_DRAWN_DEPTH: usize = 32;

/// Writes `node` and its shown children, depth first, with a stack of its
/// own (a file can nest spans thousands deep). A root has no branch.
fn line(node: &Node, view: View, out: &mut Vec<String>) {
    // (node, the indentation drawn above it, whether it is its parent's
    // last shown child (None for a root), its depth)
    let mut stack: Vec<(&Node, std::rc::Rc<str>, Option<bool>, usize)> =
        vec![(node, std::rc::Rc::from(""), None, 0)];
    while let Some((node, lead, last, depth)) = stack.pop() {
        let drawn = depth <= MAX_DRAWN_DEPTH;
        let (branch, next_lead): (String, std::rc::Rc<str>) = match last {
            None => (String::new(), std::rc::Rc::from("")),
            Some(_) if !drawn => (format!("{lead}┆ [depth {depth}] "), lead.clone()),
            Some(true) => (
                format!("{lead}└─ "),
                std::rc::Rc::from(format!("{lead}   ")),
            ),
            Some(false) => (
                format!("{lead}├─ "),
                std::rc::Rc::from(format!("{lead}│  ")),
            ),
        };
        let marked = match node {
            Node::Span(s) => s.on_error_path,
            Node::Event(e) => e.first_error,
            Node::UnknownSpan { on_error_path, .. } => *on_error_path,
        };
        let mark = if marked {
            view.paint(RED, "✗ ")
        } else {
            "  ".to_owned()
        };
        let body = match node {
            Node::Span(s) => span_text(s, view),
            Node::Event(e) => event_text(e, view),
            Node::UnknownSpan { id, .. } => {
                format!("(unknown span {id}: its records are not in this pool)")
            }
        };
        out.push(format!("{mark}{branch}{body}").trim_end().to_owned());
        let children: &[Node] = match node {
            Node::Span(s) => &s.children,
            Node::UnknownSpan { children, .. } => children,
            Node::Event(_) => &[],
        };
        let shown: Vec<&Node> = children.iter().filter(|c| view.shows(c)).collect();
        let count = shown.len();
        // Pushed last first, so that the first child is drawn first.
        for (i, child) in shown.into_iter().enumerate().rev() {
            stack.push((child, next_lead.clone(), Some(i + 1 == count), depth + 1));
        }
    }
}

fn span_text(s: &Span, view: View) -> String {
    let mut parts = vec![view.paint(BOLD, &s.name)];
    match (s.status, &s.start) {
        (Status::Open, Some(start)) => {
            parts.push(view.paint(YELLOW, &format!("open since {}", at(start, view))))
        }
        (Status::Open, None) => parts.push(view.paint(YELLOW, "open")),
        _ => {
            if let Some(d) = s.duration_ms {
                parts.push(duration(d));
            }
            let status = s.status.as_str();
            parts.push(match s.status {
                Status::Error => view.paint(RED, status),
                Status::Warn => view.paint(YELLOW, status),
                _ => status.to_owned(),
            });
        }
    }
    parts.push(fields_text(&s.fields));
    join(parts)
}

fn event_text(e: &Event, view: View) -> String {
    let level = format!("{:<5}", e.level);
    let level = match e.level.as_str() {
        "ERROR" => view.paint(RED, &level),
        "WARN" => view.paint(YELLOW, &level),
        _ => level,
    };
    let time = e.time.as_ref().map_or(String::new(), |t| at(t, view));
    let mut parts = vec![view.paint(DIM, &time), level];
    if let Some(m) = &e.message {
        parts.push(shorten(m, FIELDS_CHARS));
    }
    parts.push(fields_text(&e.fields));
    join(parts)
}

fn join(parts: Vec<String>) -> String {
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("  ")
}

/// A duration as a person reads it: `0.862 ms`, `310 ms`, `1.52 s`.
fn duration(ms: f64) -> String {
    if ms >= 1_000.0 {
        format!("{:.2} s", ms / 1_000.0)
    } else if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.3} ms")
    }
}

/// `name=value` pairs, each value cut to [`FIELD_CHARS`] and all of them to
/// [`FIELDS_CHARS`]. A pair with an empty name is text a peer wrote as is.
fn fields_text(fields: &[(String, String)]) -> String {
    let text = fields
        .iter()
        .map(|(name, value)| {
            if name.is_empty() {
                return value.clone();
            }
            let value = shorten(value, FIELD_CHARS);
            if value.is_empty() || value.contains([' ', '"', '=']) {
                format!("{name}={value:?}")
            } else {
                format!("{name}={value}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    shorten(&text, FIELDS_CHARS)
}

/// `text` cut to `max` characters, ending in `…` when cut; control
/// characters are shown escaped so that one record stays on one line.
fn shorten(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n + 1 == max && text.chars().count() > max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// The tree as one JSON object: `roots` (nested nodes), `report`,
/// `metrics`, `other` and `unreadable`.
pub(crate) fn json(tree: &Tree, view: View) -> Value {
    let shown: Vec<&Node> = tree.roots.iter().filter(|n| view.shows(n)).collect();
    let roots = nodes_json(&shown, view);
    json!({
        "roots": roots,
        "report": tree.report,
        "metrics": tree.metrics,
        "other": tree.other,
        "unreadable": tree.unreadable,
    })
}

fn fields_json(fields: &[(String, String)]) -> Value {
    let mut map = serde_json::Map::new();
    for (name, value) in fields {
        let name = if name.is_empty() {
            "text"
        } else {
            name.as_str()
        };
        map.insert(name.to_owned(), Value::String(value.clone()));
    }
    Value::Object(map)
}

/// Past this depth JSON nodes nest no further: deeper ones are listed in
/// the `children` of their ancestor at this depth, in order, each with its
/// `depth`, so that the output's nesting (and a reader's recursion) stays
/// bounded.
pub(crate) const MAX_JSON_DEPTH: usize = 32;

/// The shown nodes below `roots` as JSON, built bottom-up with a stack of
/// its own.
fn nodes_json(roots: &[&Node], view: View) -> Vec<Value> {
    // A frame: a node being built, and its children's values so far.
    struct Frame<'a> {
        node: &'a Node,
        depth: usize,
        children: Vec<Value>,
    }
    let mut out = Vec::new();
    for root in roots {
        let mut frames: Vec<Frame<'_>> = Vec::new();
        // Nodes to visit, and when `None`, a frame to close.
        let mut todo: Vec<Option<(&Node, usize)>> = vec![Some((root, 0))];
        while let Some(next) = todo.pop() {
            match next {
                Some((node, depth)) => {
                    let shown: Vec<&Node> = node_children(node)
                        .iter()
                        .filter(|c| view.shows(c))
                        .collect();
                    if depth < MAX_JSON_DEPTH {
                        frames.push(Frame {
                            node,
                            depth,
                            children: Vec::new(),
                        });
                        todo.push(None);
                    } else {
                        // Flat, in its ancestor's children, with its depth.
                        let mut value = node_json(node, Vec::new());
                        value["depth"] = Value::from(depth);
                        if let Some(frame) = frames.last_mut() {
                            frame.children.push(value);
                        }
                    }
                    for child in shown.into_iter().rev() {
                        todo.push(Some((child, depth + 1)));
                    }
                }
                None => {
                    let Some(frame) = frames.pop() else { continue };
                    let mut value = node_json(frame.node, frame.children);
                    if frame.depth == MAX_JSON_DEPTH - 1
                        && value["children"].as_array().is_some_and(|c| !c.is_empty())
                    {
                        value["flattened_below"] = Value::Bool(true);
                    }
                    match frames.last_mut() {
                        Some(parent) => parent.children.push(value),
                        None => out.push(value),
                    }
                }
            }
        }
    }
    out
}

fn node_children(node: &Node) -> &[Node] {
    match node {
        Node::Span(s) => &s.children,
        Node::UnknownSpan { children, .. } => children,
        Node::Event(_) => &[],
    }
}

/// One node as JSON, with its children's values already made.
fn node_json(node: &Node, children: Vec<Value>) -> Value {
    match node {
        Node::Span(s) => json!({
            "kind": "span",
            "name": s.name,
            "id": s.id,
            "level": s.level,
            "record": s.index,
            "start": s.start.as_ref().map(|t| t.text.clone()),
            "end": s.end.as_ref().map(|t| t.text.clone()),
            "duration_ms": s.duration_ms,
            "status": match s.status {
                Status::Unknown => Value::Null,
                other => Value::from(other.as_str()),
            },
            "fields": fields_json(&s.fields),
            "on_error_path": s.on_error_path,
            "children": children,
        }),
        Node::Event(e) => json!({
            "kind": "event",
            "name": e.name,
            "level": e.level,
            "record": e.index,
            "time": e.time.as_ref().map(|t| t.text.clone()),
            "message": e.message,
            "fields": fields_json(&e.fields),
            "first_error": e.first_error,
        }),
        Node::UnknownSpan {
            id, on_error_path, ..
        } => json!({
            "kind": "unknown_span",
            "id": id,
            "on_error_path": on_error_path,
            "children": children,
        }),
    }
}
