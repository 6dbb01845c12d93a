//! Our records (`tracing-kvp`'s events and spans, the facade's metric
//! series), as docs/FORMAT.md gives them.

use kvp_codec::KeyParts;
use tracing_kvp::parse_fields;

use super::{Classified, Metric, Nesting, Parsed, parsed};
use crate::model::{Event, Span, Status};
use crate::time::Time;

/// An event, a span (closed or open) or a metric series.
pub(crate) fn read(index: usize, parts: &KeyParts<'_>, value: &str) -> Classified {
    let level = parts.level.as_str().to_owned();
    // Our ids are `<run>-<counter>`: the run is the writing process's.
    let run = parts
        .id
        .split_once('-')
        .map(|(run, _)| format!("run {run}"));
    if let Some(name) = parts.name.strip_prefix("metric.")
        && value.starts_with("kind=")
    {
        return Classified::Metric(Box::new(Metric {
            name: name.to_owned(),
            fields: parse_fields(value).unwrap_or_default(),
        }));
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
                run,
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
        run,
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
