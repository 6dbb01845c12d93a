//! A pool's records as a tree of spans with their events.
//!
//! Three writers' records become spans and events:
//!
//! | writer | span | event | nesting |
//! |---|---|---|---|
//! | ours (`tracing-kvp`) | `start=.. end=.. duration_ms=.. status=.. [parent=<id>]`; an `<id>-open` record while open | `time=.. [span=<id>] ..` | by ids |
//! | azure-init | `Start: <t> \| End: <t>` | `Time: <t> \| Event: ..` | by time containment |
//! | cloud-init | a `start` event and the `finish` event of the same name | any other event type | by time containment |
//!
//! Containment: a span holds another whose interval lies within its own;
//! of two spans with the same interval, the one whose record comes later
//! (it closed later) holds the other. An event goes to the innermost span
//! that holds its time, preferring one of its own name (azure-init names an
//! event after its span).

use std::collections::HashMap;

use kvp_codec::KeyParts;
use serde_json::Value;
use tracing_kvp::parse_fields;

use super::time::Time;
use crate::records::Item;

/// How a span ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Error,
    /// No close record: still running, or the process died.
    Open,
    /// The writer does not say (azure-init).
    Unknown,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Error => "error",
            Status::Open => "open",
            Status::Unknown => "",
        }
    }
}

/// A span, with what happened inside it.
#[derive(Debug)]
pub(crate) struct Span {
    pub(crate) name: String,
    /// Its id in the pool, when the writer gives one.
    pub(crate) id: Option<String>,
    pub(crate) level: Option<String>,
    pub(crate) start: Option<Time>,
    pub(crate) end: Option<Time>,
    pub(crate) duration_ms: Option<f64>,
    pub(crate) status: Status,
    pub(crate) fields: Vec<(String, String)>,
    /// The index of its record in the pool.
    pub(crate) index: usize,
    /// On the chain from a root to the first error.
    pub(crate) on_error_path: bool,
    pub(crate) children: Vec<Node>,
}

/// An event.
#[derive(Debug)]
pub(crate) struct Event {
    pub(crate) level: String,
    pub(crate) time: Option<Time>,
    /// Its target (ours) or name (the peers').
    pub(crate) name: String,
    pub(crate) message: Option<String>,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) index: usize,
    /// The first error in the pool.
    pub(crate) first_error: bool,
}

/// One line of the tree and what hangs below it.
#[derive(Debug)]
pub(crate) enum Node {
    Span(Span),
    Event(Event),
    /// Events that name a span whose records are not in the pool.
    UnknownSpan {
        id: String,
        children: Vec<Node>,
        /// The first error is among them.
        on_error_path: bool,
    },
}

/// The whole pool as a tree.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) roots: Vec<Node>,
    /// The last `PROVISIONING_REPORT` value.
    pub(crate) report: Option<String>,
    /// Metric records (one per series), not part of the tree.
    pub(crate) metrics: usize,
    /// Records that are neither spans, events, metrics nor a report.
    pub(crate) other: usize,
    /// Records that could not be decoded.
    pub(crate) unreadable: usize,
}

/// What one record is, before nesting.
enum Parsed {
    Span(Span, Nesting),
    Event(Event, Nesting),
    /// Our span's open record, for the span's id.
    Open(Span),
    /// A cloud-init `start` or `finish` event.
    CloudInit(CloudInitMark),
}

/// How a record finds its parent.
enum Nesting {
    /// Ours: the parent span's id, if any.
    ById(Option<String>),
    /// The peers': by time.
    ByTime,
}

struct CloudInitMark {
    name: String,
    start: bool,
    time: Option<Time>,
    result: Option<String>,
    message: Option<String>,
    index: usize,
}

impl Tree {
    /// Builds the tree from a pool's display items.
    pub(crate) fn build(items: &[Item]) -> Tree {
        let mut tree = Tree::default();
        let mut parsed = Vec::new();
        for item in items {
            match item {
                Item::Error { .. } => tree.unreadable += 1,
                Item::Record {
                    index, key, value, ..
                } => match classify(*index, key, value) {
                    Classified::Report => tree.report = Some(value.clone()),
                    Classified::Metric => tree.metrics += 1,
                    Classified::Other => tree.other += 1,
                    Classified::Parsed(p) => parsed.push(*p),
                },
            }
        }
        tree.roots = nest(parsed);
        mark_first_error(&mut tree.roots);
        tree
    }
}

enum Classified {
    Report,
    Metric,
    Other,
    /// Boxed: a span is large, and most records are one.
    Parsed(Box<Parsed>),
}

fn parsed(p: Parsed) -> Classified {
    Classified::Parsed(Box::new(p))
}

fn classify(index: usize, key: &str, value: &str) -> Classified {
    if key == "PROVISIONING_REPORT" {
        return Classified::Report;
    }
    if let Some(rest) = key.strip_prefix("CLOUD_INIT|") {
        return cloud_init(index, rest, value);
    }
    let Some(parts) = KeyParts::parse(key) else {
        return Classified::Other;
    };
    let level = parts.level.as_str().to_owned();
    if let Some(rest) = value.strip_prefix("Time: ") {
        return azure_init_event(index, parts.name, level, rest);
    }
    if let Some(rest) = value.strip_prefix("Start: ") {
        return azure_init_span(index, parts.name, level, rest);
    }
    if parts.name.starts_with("metric.") && value.starts_with("kind=") {
        return Classified::Metric;
    }
    let Ok(mut fields) = parse_fields(value) else {
        return Classified::Other;
    };
    let mut take = |name: &str| {
        let at = fields.iter().position(|(n, _)| n == name)?;
        Some(fields.remove(at).1)
    };
    if let Some(time) = take("time") {
        let span = take("span");
        let message = take("message");
        return parsed(Parsed::Event(
            Event {
                level,
                time: Time::parse(&time),
                name: parts.name.to_owned(),
                message,
                fields,
                index,
                first_error: false,
            },
            Nesting::ById(span),
        ));
    }
    let Some(start) = take("start") else {
        return Classified::Other;
    };
    let end = take("end").and_then(|t| Time::parse(&t));
    let duration_ms = take("duration_ms").and_then(|d| d.parse().ok());
    let status = match take("status").as_deref() {
        Some("ok") => Status::Ok,
        Some("error") => Status::Error,
        Some("open") => Status::Open,
        _ => Status::Unknown,
    };
    let parent = take("parent");
    let open_id = parts.id.strip_suffix("-open");
    let span = Span {
        name: parts.name.to_owned(),
        id: Some(open_id.unwrap_or(parts.id).to_owned()),
        level: Some(level),
        start: Time::parse(&start),
        end,
        duration_ms,
        status,
        fields,
        index,
        on_error_path: false,
        children: Vec::new(),
    };
    if open_id.is_some() {
        // The open record carries the parent too; keep it for a span that
        // never closed.
        let mut span = span;
        span.status = Status::Open;
        if let Some(p) = parent {
            span.fields.insert(0, ("parent".to_owned(), p));
        }
        return parsed(Parsed::Open(span));
    }
    parsed(Parsed::Span(span, Nesting::ById(parent)))
}

/// `Time: <t> | Event: <text>`.
fn azure_init_event(index: usize, name: &str, level: String, rest: &str) -> Classified {
    let (time, text) = rest.split_once(" | Event: ").unwrap_or((rest, ""));
    let (message, fields) = match text.strip_prefix("message=") {
        Some(m) => {
            let (message, more) = m.split_once(", ").unwrap_or((m, ""));
            let fields = if more.is_empty() {
                Vec::new()
            } else {
                vec![(String::new(), more.to_owned())]
            };
            (Some(message.to_owned()), fields)
        }
        None if text.is_empty() => (None, Vec::new()),
        None => (None, vec![(String::new(), text.to_owned())]),
    };
    parsed(Parsed::Event(
        Event {
            level,
            time: Time::parse(time),
            name: name.to_owned(),
            message,
            fields,
            index,
            first_error: false,
        },
        Nesting::ByTime,
    ))
}

/// `Start: <t> | End: <t>`.
fn azure_init_span(index: usize, name: &str, level: String, rest: &str) -> Classified {
    let (start, end) = rest.split_once(" | End: ").unwrap_or((rest, ""));
    let (start, end) = (Time::parse(start), Time::parse(end));
    let duration_ms = match (&start, &end) {
        (Some(s), Some(e)) => Some(s.ms_until(e)),
        _ => None,
    };
    parsed(Parsed::Span(
        Span {
            name: name.to_owned(),
            id: None,
            level: Some(level),
            start,
            end,
            duration_ms,
            status: Status::Unknown,
            fields: Vec::new(),
            index,
            on_error_path: false,
            children: Vec::new(),
        },
        Nesting::ByTime,
    ))
}

/// `CLOUD_INIT|<boot>|<type>|<name>[|<vm_id>]|<uuid>` with a JSON value.
fn cloud_init(index: usize, key_rest: &str, value: &str) -> Classified {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(value) else {
        return Classified::Other;
    };
    let text = |k: &str| obj.get(k).and_then(Value::as_str).map(str::to_owned);
    let event_type = text("type").or_else(|| key_rest.split('|').nth(1).map(str::to_owned));
    let Some(name) = text("name") else {
        return Classified::Other;
    };
    let time = text("ts").and_then(|t| Time::parse(&t));
    let message = text("msg").filter(|m| !m.is_empty());
    let result = text("result");
    match event_type.as_deref() {
        Some(kind @ ("start" | "finish")) => parsed(Parsed::CloudInit(CloudInitMark {
            name,
            start: kind == "start",
            time,
            result,
            message,
            index,
        })),
        other => {
            let level = match result.as_deref() {
                Some("FAIL") => "ERROR",
                Some("WARN") => "WARN",
                _ => "INFO",
            };
            let mut fields = Vec::new();
            if let Some(t) = other {
                fields.push(("type".to_owned(), t.to_owned()));
            }
            parsed(Parsed::Event(
                Event {
                    level: level.to_owned(),
                    time,
                    name,
                    message,
                    fields,
                    index,
                    first_error: false,
                },
                Nesting::ByTime,
            ))
        }
    }
}

/// cloud-init's `start` and `finish` events paired by name into spans, in
/// order: a `finish` closes the latest open `start` of its name. A `start`
/// without a `finish` is an open span; a `finish` without a `start` is an
/// event.
fn pair_cloud_init(marks: Vec<CloudInitMark>) -> (Vec<Span>, Vec<Event>) {
    let mut open: HashMap<String, Vec<Span>> = HashMap::new();
    let mut spans = Vec::new();
    let mut events = Vec::new();
    for m in marks {
        if m.start {
            let mut fields = Vec::new();
            if let Some(msg) = m.message {
                fields.push(("msg".to_owned(), msg));
            }
            open.entry(m.name.clone()).or_default().push(Span {
                name: m.name,
                id: None,
                level: None,
                start: m.time,
                end: None,
                duration_ms: None,
                status: Status::Open,
                fields,
                index: m.index,
                on_error_path: false,
                children: Vec::new(),
            });
            continue;
        }
        let status = match m.result.as_deref() {
            Some("FAIL") => Status::Error,
            Some("WARN") => Status::Warn,
            _ => Status::Ok,
        };
        match open.get_mut(&m.name).and_then(Vec::pop) {
            Some(mut span) => {
                span.duration_ms = match (&span.start, &m.time) {
                    (Some(s), Some(e)) => Some(s.ms_until(e)),
                    _ => None,
                };
                span.end = m.time;
                span.status = status;
                // The span sits where it closed, as ours and azure-init's do.
                span.index = m.index;
                if let Some(result) = m.result {
                    span.fields.push(("result".to_owned(), result));
                }
                if let Some(msg) = m.message {
                    span.fields.push(("finish".to_owned(), msg));
                }
                spans.push(span);
            }
            None => events.push(Event {
                level: if status == Status::Error {
                    "ERROR"
                } else {
                    "INFO"
                }
                .to_owned(),
                time: m.time,
                name: m.name,
                message: m.message,
                fields: vec![("type".to_owned(), "finish".to_owned())],
                index: m.index,
                first_error: false,
            }),
        }
    }
    spans.extend(open.into_values().flatten());
    (spans, events)
}

/// A span or event waiting for its place.
enum Loose {
    Span(Span),
    Event(Event),
}

impl Loose {
    fn time(&self) -> Option<&Time> {
        match self {
            Loose::Span(s) => s.start.as_ref(),
            Loose::Event(e) => e.time.as_ref(),
        }
    }

    fn index(&self) -> usize {
        match self {
            Loose::Span(s) => s.index,
            Loose::Event(e) => e.index,
        }
    }
}

/// Puts every span and event under its parent.
fn nest(parsed: Vec<Parsed>) -> Vec<Node> {
    let mut loose: Vec<Loose> = Vec::new();
    // Where each record goes: a parent in `loose`, an unknown span id, or
    // the roots.
    let mut by_id: Vec<Option<String>> = Vec::new();
    let mut timed: Vec<bool> = Vec::new();
    let mut opens = Vec::new();
    let mut marks = Vec::new();
    for p in parsed {
        let (item, nesting) = match p {
            Parsed::Span(s, n) => (Loose::Span(s), n),
            Parsed::Event(e, n) => (Loose::Event(e), n),
            Parsed::Open(s) => {
                opens.push(s);
                continue;
            }
            Parsed::CloudInit(m) => {
                marks.push(m);
                continue;
            }
        };
        loose.push(item);
        match nesting {
            Nesting::ById(id) => {
                by_id.push(id);
                timed.push(false);
            }
            Nesting::ByTime => {
                by_id.push(None);
                timed.push(true);
            }
        }
    }
    let (ci_spans, ci_events) = pair_cloud_init(marks);
    for s in ci_spans {
        loose.push(Loose::Span(s));
        by_id.push(None);
        timed.push(true);
    }
    for e in ci_events {
        loose.push(Loose::Event(e));
        by_id.push(None);
        timed.push(true);
    }
    // An open record stands for its span only when the span never closed.
    let closed = span_ids(&loose);
    for mut s in opens {
        if s.id.as_ref().is_some_and(|id| closed.contains_key(id)) {
            continue;
        }
        let parent = match s.fields.first() {
            Some((name, _)) if name == "parent" => Some(s.fields.remove(0).1),
            _ => None,
        };
        loose.push(Loose::Span(s));
        by_id.push(parent);
        timed.push(false);
    }
    let ids = span_ids(&loose);

    let parents = time_parents(&loose, &timed);
    let mut parent: Vec<Option<usize>> = vec![None; loose.len()];
    let mut unknown: Vec<Option<String>> = vec![None; loose.len()];
    for i in 0..loose.len() {
        if timed[i] {
            parent[i] = parents[i];
        } else if let Some(id) = &by_id[i] {
            match ids.get(id) {
                Some(&p) if p != i => parent[i] = Some(p),
                Some(_) => {}
                // A span whose parent is not in the pool is a root; an event
                // whose span is not is grouped under that span's id.
                None if matches!(loose[i], Loose::Event(_)) => unknown[i] = Some(id.clone()),
                None => {}
            }
        }
    }
    break_cycles(&mut parent);
    assemble(loose, &parent, &unknown)
}

/// Where each span with an id is in `loose`.
fn span_ids(loose: &[Loose]) -> HashMap<String, usize> {
    loose
        .iter()
        .enumerate()
        .filter_map(|(i, l)| match l {
            Loose::Span(s) => s.id.clone().map(|id| (id, i)),
            Loose::Event(_) => None,
        })
        .collect()
}

/// For records nested by time: the innermost timed span that holds each.
fn time_parents(loose: &[Loose], timed: &[bool]) -> Vec<Option<usize>> {
    let spans: Vec<usize> = (0..loose.len())
        .filter(|&i| timed[i] && matches!(loose[i], Loose::Span(_)))
        .collect();
    let interval = |i: usize| match &loose[i] {
        Loose::Span(s) => match (&s.start, &s.end) {
            (Some(a), Some(b)) => Some((a.micros, b.micros)),
            (Some(a), None) => Some((a.micros, i64::MAX)),
            _ => None,
        },
        Loose::Event(_) => None,
    };
    // `outer` holds `inner`: its interval covers it, and with the same
    // interval, it closed later.
    let holds = |outer: usize, inner: usize| -> bool {
        let (Some((a0, a1)), Some((b0, b1))) = (interval(outer), interval(inner)) else {
            return false;
        };
        a0 <= b0
            && b1 <= a1
            && ((a0, a1) != (b0, b1) || loose[outer].index() > loose[inner].index())
    };
    let depth = |i: usize| spans.iter().filter(|&&o| o != i && holds(o, i)).count();
    (0..loose.len())
        .map(|i| {
            if !timed[i] {
                return None;
            }
            match &loose[i] {
                Loose::Span(_) => spans
                    .iter()
                    .copied()
                    .filter(|&o| o != i && holds(o, i))
                    .max_by_key(|&o| depth(o)),
                Loose::Event(e) => {
                    let t = e.time.as_ref()?.micros;
                    let holding: Vec<usize> = spans
                        .iter()
                        .copied()
                        .filter(|&o| interval(o).is_some_and(|(a, b)| a <= t && t <= b))
                        .collect();
                    let same_name = holding
                        .iter()
                        .copied()
                        .filter(|&o| matches!(&loose[o], Loose::Span(s) if s.name == e.name))
                        .max_by_key(|&o| depth(o));
                    same_name.or_else(|| holding.into_iter().max_by_key(|&o| depth(o)))
                }
            }
        })
        .collect()
}

/// Ids written by a broken or hostile writer can make a loop of parents;
/// the span that closes the loop becomes a root, so nothing is lost.
fn break_cycles(parent: &mut [Option<usize>]) {
    for start in 0..parent.len() {
        let mut seen = vec![false; parent.len()];
        let mut at = start;
        seen[at] = true;
        while let Some(p) = parent[at] {
            if seen[p] {
                parent[at] = None;
                break;
            }
            seen[p] = true;
            at = p;
        }
    }
}

/// Turns the parent links into owned nodes, children in time order.
fn assemble(loose: Vec<Loose>, parent: &[Option<usize>], unknown: &[Option<String>]) -> Vec<Node> {
    let n = loose.len();
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut roots = Vec::new();
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for i in 0..n {
        match (parent[i], &unknown[i]) {
            (Some(p), _) => children[p].push(i),
            (None, Some(id)) => match groups.iter_mut().find(|(g, _)| g == id) {
                Some((_, members)) => members.push(i),
                None => groups.push((id.clone(), vec![i])),
            },
            (None, None) => roots.push(i),
        }
    }
    let order = |list: &mut Vec<usize>| {
        list.sort_by(|&a, &b| {
            let (ta, tb) = (loose[a].time(), loose[b].time());
            let key = |t: Option<&Time>| t.map_or(i64::MAX, |t| t.micros);
            key(ta)
                .cmp(&key(tb))
                .then(loose[a].index().cmp(&loose[b].index()))
        });
    };
    for list in &mut children {
        order(list);
    }
    order(&mut roots);
    for (_, members) in &mut groups {
        order(members);
    }
    let mut slots: Vec<Option<Loose>> = loose.into_iter().map(Some).collect();
    fn take(i: usize, slots: &mut [Option<Loose>], children: &[Vec<usize>]) -> Option<Node> {
        let item = slots[i].take()?;
        Some(match item {
            Loose::Event(e) => Node::Event(e),
            Loose::Span(mut s) => {
                s.children = children[i]
                    .iter()
                    .filter_map(|&c| take(c, slots, children))
                    .collect();
                Node::Span(s)
            }
        })
    }
    let mut out: Vec<Node> = roots
        .iter()
        .filter_map(|&r| take(r, &mut slots, &children))
        .collect();
    for (id, members) in groups {
        let children = members
            .iter()
            .filter_map(|&m| take(m, &mut slots, &children))
            .collect();
        out.push(Node::UnknownSpan {
            id,
            children,
            on_error_path: false,
        });
    }
    out
}

/// Marks the first ERROR event (the earliest; by record order on a tie)
/// and the spans above it. With no ERROR event, the first span that ended
/// in error and holds no such span is the failure.
fn mark_first_error(roots: &mut [Node]) {
    fn first(
        nodes: &[Node],
        path: &mut Vec<usize>,
        best: &mut Option<(i64, usize, Vec<usize>)>,
        events: bool,
    ) {
        for (i, node) in nodes.iter().enumerate() {
            path.push(i);
            match node {
                Node::Event(e) if events && e.level == "ERROR" => {
                    let key = (e.time.as_ref().map_or(i64::MAX, |t| t.micros), e.index);
                    if best.as_ref().is_none_or(|(t, x, _)| key < (*t, *x)) {
                        *best = Some((key.0, key.1, path.clone()));
                    }
                }
                Node::Span(s) => {
                    let before = best.as_ref().map(|b| b.2.clone());
                    first(&s.children, path, best, events);
                    let inner_found = best.as_ref().map(|b| &b.2) != before.as_ref();
                    if !events && s.status == Status::Error && !inner_found {
                        let key = (s.end.as_ref().map_or(i64::MAX, |t| t.micros), s.index);
                        if best.as_ref().is_none_or(|(t, x, _)| key < (*t, *x)) {
                            *best = Some((key.0, key.1, path.clone()));
                        }
                    }
                }
                Node::UnknownSpan { children, .. } => first(children, path, best, events),
                Node::Event(_) => {}
            }
            path.pop();
        }
    }
    let mut best = None;
    first(roots, &mut Vec::new(), &mut best, true);
    if best.is_none() {
        first(roots, &mut Vec::new(), &mut best, false);
    }
    let Some((_, _, path)) = best else { return };
    let mut nodes = roots;
    for (depth, &i) in path.iter().enumerate() {
        let last = depth + 1 == path.len();
        match &mut nodes[i] {
            Node::Span(s) => {
                s.on_error_path = true;
                nodes = &mut s.children;
            }
            Node::Event(e) => {
                e.first_error = last;
                return;
            }
            Node::UnknownSpan {
                children,
                on_error_path,
                ..
            } => {
                *on_error_path = true;
                nodes = children;
            }
        }
    }
}
