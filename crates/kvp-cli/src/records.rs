//! Logical records for display: chunks joined, key parts parsed, cloud-init
//! chunk messages merged.

use std::ops::ControlFlow;
use std::path::Path;

use kvp_codec::{DecodeError, KeyParts, LogicalRecord, Reassembled, Reassembler, Record, decode};
use serde_json::{Map, Value, json};
use tracing_kvp::parse_fields;

/// One line of `dump` or `follow` output, in one shape for both.
pub(crate) enum Item {
    Record {
        index: usize,
        chunks: usize,
        key: String,
        value: String,
        complete: bool,
    },
    Error {
        index: usize,
        message: String,
    },
}

/// Calls `each` with the display items of the pool file at `path`, in
/// order, until it breaks: the file is read record by record
/// ([`crate::stream`]) and chunks joined as they come, so memory does not
/// grow with the file.
pub(crate) fn for_each_item(
    path: &Path,
    mut each: impl FnMut(Item) -> crate::exit::Result<ControlFlow<()>>,
) -> crate::exit::Result {
    let mut reassembler = Reassembler::new();
    let mut done = Vec::new();
    let mut outcome: crate::exit::Result<ControlFlow<()>> = Ok(ControlFlow::Continue(()));
    let mut drain = |done: &mut Vec<Reassembled>,
                     outcome: &mut crate::exit::Result<ControlFlow<()>>| {
        for r in done.drain(..) {
            if matches!(outcome, Ok(ControlFlow::Continue(()))) {
                *outcome = each(item(r));
            }
        }
    };
    let scan = crate::stream::records(path, |_, record| {
        reassembler.push(record.raw(), &mut done);
        drain(&mut done, &mut outcome);
        match &outcome {
            Ok(ControlFlow::Continue(())) => ControlFlow::Continue(()),
            _ => ControlFlow::Break(()),
        }
    })?;
    if matches!(outcome, Ok(ControlFlow::Continue(()))) {
        reassembler.finish(scan.tail, &mut done);
        drain(&mut done, &mut outcome);
    }
    outcome.map(|_| ())
}

fn item(r: Reassembled) -> Item {
    match r {
        Reassembled::Record(r) => Item::Record {
            index: r.index,
            chunks: r.chunks,
            value: cloud_init_merged(&r).unwrap_or_else(|| r.value.clone()),
            complete: r.complete,
            key: r.key,
        },
        Reassembled::Error { index, message } => Item::Error { index, message },
    }
}

/// One record on its own, as `follow` shows records as they land: a series
/// of one chunk, at `index` in the file.
pub(crate) fn single(index: usize, record: Record<'_>) -> Item {
    match decode(record.raw()).next() {
        Some(Ok(r)) => Item::Record {
            index,
            chunks: 1,
            key: r.key.to_owned(),
            value: r.value.to_owned(),
            complete: true,
        },
        // Decoded alone, the record is number 0; the error is told again
        // with its place in the file.
        Some(Err(DecodeError::InvalidUtf8 {
            field,
            valid_up_to,
            record,
            ..
        })) => Item::Error {
            index,
            message: DecodeError::InvalidUtf8 {
                index,
                field,
                valid_up_to,
                record,
            }
            .to_string(),
        },
        Some(Err(e)) => Item::Error {
            index,
            message: e.to_string(),
        },
        None => Item::Error {
            index,
            message: format!("record {index}: not a whole record"),
        },
    }
}

/// cloud-init puts a JSON object in each chunk, with one slice of the
/// message in `msg` and its position in `msg_i`. Joined, they are one event:
/// the first object with the whole `msg` and no `msg_i`.
fn cloud_init_merged(r: &LogicalRecord) -> Option<String> {
    if r.chunks < 2 {
        return None;
    }
    let mut merged: Option<Map<String, Value>> = None;
    let mut msg = String::new();
    for i in 0..r.chunks {
        let Value::Object(mut obj) = serde_json::from_str(r.chunk_value(i)?).ok()? else {
            return None;
        };
        if obj.remove("msg_i")?.as_u64()? != i as u64 {
            return None;
        }
        msg.push_str(obj.get("msg")?.as_str()?);
        merged.get_or_insert(obj);
    }
    let mut merged = merged?;
    merged.insert("msg".into(), Value::String(msg));
    serde_json::to_string(&merged).ok()
}

impl Item {
    pub(crate) fn to_json(&self) -> Value {
        match self {
            Item::Record {
                index,
                chunks,
                key,
                value,
                complete,
            } => {
                let mut v = json!({ "index": index, "chunks": chunks, "key": key, "value": value });
                if !complete {
                    v["incomplete"] = json!(true);
                }
                if let Some(p) = KeyParts::parse(key) {
                    v["parts"] = json!({
                        "prefix": p.prefix,
                        "vm_id": p.vm_id,
                        "level": p.level.as_str(),
                        "name": p.name,
                        "id": p.id,
                    });
                    // Our layout's values are `name=value` fields; a value
                    // that does not parse is left as the text alone.
                    if let Ok(fields) = parse_fields(value) {
                        let fields: Map<String, Value> = fields
                            .into_iter()
                            .map(|(name, value)| (name, Value::String(value)))
                            .collect();
                        v["fields"] = Value::Object(fields);
                    }
                }
                v
            }
            Item::Error { index, message } => json!({ "index": index, "error": message }),
        }
    }

    pub(crate) fn to_table(&self) -> String {
        match self {
            Item::Record {
                index,
                chunks,
                key,
                value,
                complete,
            } => {
                // A series that lost its first chunks is marked even when
                // only one chunk survives, so the table says what the JSON
                // says.
                let note = match (*chunks, *complete) {
                    (1, true) => String::new(),
                    (1, false) => String::from("  [1 chunk, incomplete]"),
                    (n, true) => format!("  [{n} chunks]"),
                    (n, false) => format!("  [{n} chunks, incomplete]"),
                };
                format!("{index:>5}  {key}{note}\n       {value}")
            }
            Item::Error { index, message } => format!("{index:>5}  !! {message}"),
        }
    }
}
