//! cloud-init's records: `CLOUD_INIT|...` keys with a JSON value; a
//! `start` and the next `finish` of the same name make a span.

use std::collections::HashMap;

use serde_json::Value;

use super::{Classified, Nesting, Parsed, parsed};
use crate::model::{Event, Span, Status};
use crate::time::Time;

/// A cloud-init `start` or `finish` event.
pub(crate) struct Mark {
    name: String,
    start: bool,
    time: Option<Time>,
    result: Option<String>,
    message: Option<String>,
    index: usize,
    run: Option<String>,
}

/// `CLOUD_INIT|<boot>|<type>|<name>[|<vm_id>]|<uuid>` with a JSON value.
pub(crate) fn read(index: usize, key_rest: &str, value: &str) -> Classified {
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
    let run = key_rest
        .split('|')
        .next()
        .filter(|b| !b.is_empty())
        .map(|boot| format!("boot {boot}"));
    match event_type.as_deref() {
        Some(kind @ ("start" | "finish")) => parsed(Parsed::CloudInit(Mark {
            name,
            start: kind == "start",
            time,
            result,
            message,
            index,
            run,
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
                    run,
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
pub(crate) fn pair(marks: Vec<Mark>) -> (Vec<Span>, Vec<Event>) {
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
                run: m.run,
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
                run: m.run,
            }),
        }
    }
    spans.extend(open.into_values().flatten());
    (spans, events)
}
