//! azure-init's records (its `EmitKVPLayer`): `Start: <t> | End: <t>`
//! for a span, `Time: <t> | Event: <fields>` for an event, both nested by
//! time.

use kvp_codec::KeyParts;

use super::{Classified, Nesting, Parsed, parsed};
use crate::model::{Event, Span, Status};
use crate::time::Time;

/// The record as azure-init's, or `None` when its value is not in
/// azure-init's form.
pub(crate) fn read(index: usize, parts: &KeyParts<'_>, value: &str) -> Option<Classified> {
    let level = parts.level.as_str().to_owned();
    if let Some(rest) = value.strip_prefix("Time: ") {
        return Some(event(index, parts.name, level, rest));
    }
    let rest = value.strip_prefix("Start: ")?;
    Some(span(index, parts.name, level, rest))
}

/// `Time: <t> | Event: <text>`.
fn event(index: usize, name: &str, level: String, rest: &str) -> Classified {
    let (time, text) = rest.split_once(" | Event: ").unwrap_or((rest, ""));
    let mut message = None;
    let mut fields = Vec::new();
    for (name, value) in pairs(text) {
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
            run: None,
        },
        Nesting::ByTime,
    ))
}

/// azure-init's event text: `name=value` pairs joined by `, `, each value
/// as `Debug` writes it (text quoted, the message bare). A `, ` inside a
/// value does not end it unless a field name and `=` follow, so a message
/// such as `retrying, attempt 2` stays whole. Text before the first pair
/// is a pair with no name.
fn pairs(text: &str) -> Vec<(&str, &str)> {
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
fn span(index: usize, name: &str, level: String, rest: &str) -> Classified {
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
            run: None,
        },
        Nesting::ByTime,
    ))
}
