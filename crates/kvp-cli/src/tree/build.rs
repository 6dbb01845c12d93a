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

use super::model::{Event, Span, Status, Tree};
use super::time::Time;
use crate::records::Item;

/// What one record is, before nesting.
pub(super) enum Parsed {
    Span(Span, Nesting),
    Event(Event, Nesting),
    /// Our span's open record, for the span's id.
    Open(Span),
    /// A cloud-init `start` or `finish` event.
    CloudInit(CloudInitMark),
}

/// How a record finds its parent.
pub(super) enum Nesting {
    /// Ours: the parent span's id, if any.
    ById(Option<String>),
    /// The peers': by time.
    ByTime,
}

pub(super) struct CloudInitMark {
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
        tree.roots = super::nest::nest(parsed);
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
    let mut message = None;
    let mut fields = Vec::new();
    for (name, value) in azure_init_fields(text) {
        if name == "message" && message.is_none() {
            message = Some(value.to_owned());
        } else {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
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

/// azure-init's event text: `name=value` pairs joined by `, `, each value
/// as `Debug` writes it (text quoted, the message bare). A `, ` inside a
/// value does not end it unless a field name and `=` follow, so a message
/// such as `retrying, attempt 2` stays whole. Text before the first pair
/// is a pair with no name.
fn azure_init_fields(text: &str) -> Vec<(&str, &str)> {
    let starts_pair = |rest: &str| {
        let name_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
            .count();
        name_len > 0
            && rest.as_bytes()[0].is_ascii_alphabetic() | (rest.as_bytes()[0] == b'_')
            && rest.as_bytes().get(name_len) == Some(&b'=')
    };
    let mut pairs = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        // The end of this pair: the first `, ` that a `name=` follows.
        let mut end = rest.len();
        let mut from = 0;
        while let Some(at) = rest[from..].find(", ") {
            let at = from + at;
            if starts_pair(&rest[at + 2..]) {
                end = at;
                break;
            }
            from = at + 2;
        }
        let pair = &rest[..end];
        let (name, value) = if starts_pair(pair) {
            pair.split_once('=').unwrap_or(("", pair))
        } else {
            ("", pair)
        };
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        pairs.push((name, value));
        rest = rest.get(end + 2..).unwrap_or("");
    }
    pairs
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
pub(super) fn pair_cloud_init(marks: Vec<CloudInitMark>) -> (Vec<Span>, Vec<Event>) {
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
