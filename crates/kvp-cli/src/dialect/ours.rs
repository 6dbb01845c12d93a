//! Our records (`tracing-kvp`'s events and spans, the facade's metric
//! series), as docs/FORMAT.md gives them.

use kvp_codec::KeyParts;
use kvp_codec::schema::{OPEN_SUFFIX, field, run_of, status};
use tracing_kvp::parse_fields;

use super::{Classified, Metric, Nesting, Parsed, parsed};
use crate::model::{Event, Span, Status};
use crate::time::Time;

/// A metric series' value starts with its kind.
const KIND_FIRST: &str = "kind=";

/// An event, a span (closed or open) or a metric series.
pub(crate) fn read(index: usize, parts: &KeyParts<'_>, value: &str) -> Classified {
    let level = parts.level.as_str().to_owned();
    // Our ids are `<run>-<counter>`: the run is the writing process's.
    let run = parts
        .id
        .contains('-')
        .then(|| format!("run {}", run_of(parts.id)));
    if let Some(name) = parts.name.strip_prefix(field::METRIC_NAME_PREFIX)
        && value.starts_with(KIND_FIRST)
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
    if let Some(time) = take(field::TIME) {
        let span = take(field::SPAN);
        let message = take(field::MESSAGE);
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
    let Some(start) = take(field::START) else {
        return Classified::Other;
    };
    let end = take(field::END).and_then(|t| Time::parse(&t));
    let duration_ms = take(field::DURATION_MS).and_then(|d| d.parse().ok());
    let status = match take(field::STATUS).as_deref() {
        Some(status::OK) => Status::Ok,
        Some(status::ERROR) => Status::Error,
        Some(status::OPEN) => Status::Open,
        _ => Status::Unknown,
    };
    let parent = take(field::PARENT);
    let open_id = parts.id.strip_suffix(OPEN_SUFFIX);
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
            span.fields.insert(0, (field::PARENT.to_owned(), p));
        }
        return parsed(Parsed::Open(span));
    }
    parsed(Parsed::Span(span, Nesting::ById(parent)))
}
