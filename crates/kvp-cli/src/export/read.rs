//! One pool into an [`Output`]: records read by dialect
//! ([`crate::dialect`]), placed, and handed over.
//!
//! Our records name their span and parent by id, so they are placed as
//! they are read and handed over at once: memory stays flat however large
//! the file. azure-init's and cloud-init's are placed by time containment,
//! which needs all of them: they are kept until the end of the file and
//! nested there ([`crate::tree::nest`]), as `kvp tree` does.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::Path;

use kvp_codec::KeyParts;
use kvp_codec::schema::metric::{self, MetricKind};
use kvp_codec::schema::{PROVISIONING_REPORT, field, run_of};

use super::ids::{SpanId, TraceId};
use super::out::{Counts, EventOut, MetricOut, Output, Resource, SpanOut};
use crate::dialect::{Classified, Metric, Nesting, Parsed, classify};
use crate::exit::Result;
use crate::model::{Event, Node, Span, Status};
use crate::records::{Item, for_each_item};

/// Sends the pool at `path` to `out`, and says what it sent.
pub(crate) fn pool(path: &Path, out: &mut dyn Output) -> Result<Counts> {
    let resource = resource(path)?;
    out.begin(&resource)?;
    let mut reader = Reader {
        vm: resource.vm_id.clone().unwrap_or_default(),
        out,
        counts: Counts::default(),
        open: HashMap::new(),
        peers: Vec::new(),
        latest_us: None,
    };
    let mut failed = None;
    for_each_item(path, |item| match reader.item(item) {
        Ok(()) => Ok(ControlFlow::Continue(())),
        Err(e) => {
            failed = Some(e);
            Ok(ControlFlow::Break(()))
        }
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    reader.finish()?;
    let counts = reader.counts;
    out.end()?;
    Ok(counts)
}

/// The resource the pool's first keyed record names: its prefix as the
/// service, its vm_id as the host. A file in which no record decodes is
/// not a pool, and is refused before anything is sent.
fn resource(path: &Path) -> Result<Resource> {
    let mut found = Resource {
        file: path.display().to_string(),
        service: String::from("kvp-pool"),
        vm_id: None,
    };
    let (mut records, mut unreadable) = (0usize, 0usize);
    for_each_item(path, |item| {
        let Item::Record { key, value, .. } = item else {
            unreadable += 1;
            return Ok(ControlFlow::Continue(()));
        };
        records += 1;
        if key.starts_with("CLOUD_INIT|") {
            found.service = String::from("cloud-init");
            return Ok(ControlFlow::Break(()));
        }
        if key == PROVISIONING_REPORT {
            found.vm_id = report_fields(&value)
                .into_iter()
                .find_map(|(k, v)| (k == "vm_id").then_some(v));
            return Ok(ControlFlow::Continue(()));
        }
        match KeyParts::parse(&key) {
            Some(parts) => {
                found.service = parts.prefix.to_owned();
                found.vm_id = Some(parts.vm_id.to_owned());
                Ok(ControlFlow::Break(()))
            }
            None => Ok(ControlFlow::Continue(())),
        }
    })?;
    if records == 0 && unreadable > 0 {
        return Err(
            format!("not a pool file: none of its {unreadable} records can be decoded").into(),
        );
    }
    Ok(found)
}

/// A `PROVISIONING_REPORT` value's `name=value` fields, `|`-separated.
pub(crate) fn report_fields(value: &str) -> Vec<(String, String)> {
    value
        .split('|')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

struct Reader<'a> {
    vm: String,
    out: &'a mut dyn Output,
    counts: Counts,
    /// Our spans whose open record has been read and whose close has not.
    open: HashMap<String, Span>,
    /// azure-init's and cloud-init's spans and events, for nesting by time.
    peers: Vec<Parsed>,
    /// The latest time in the pool: where a span never closed is cut.
    latest_us: Option<i64>,
}

impl Reader<'_> {
    fn item(&mut self, item: Item) -> Result {
        let Item::Record {
            index, key, value, ..
        } = item
        else {
            self.counts.unreadable += 1;
            return Ok(());
        };
        if key.is_empty() && value.is_empty() {
            // A zeroed slot (a sparse or pre-sized file): no record at all.
            self.counts.empty += 1;
            return Ok(());
        }
        match classify(index, &key, &value) {
            Classified::Report => {
                if self.out.report(report_fields(&value))? {
                    self.counts.reports += 1;
                }
            }
            Classified::Metric(m) => self.metric(*m)?,
            Classified::Other => {
                let level = KeyParts::parse(&key).map_or("INFO", |p| p.level.as_str());
                self.log(EventOut {
                    context: None,
                    time_us: None,
                    level: level.to_owned(),
                    name: key,
                    message: Some(value),
                    fields: Vec::new(),
                })?;
            }
            Classified::Parsed(p) => self.parsed(*p)?,
        }
        Ok(())
    }

    fn parsed(&mut self, p: Parsed) -> Result {
        match p {
            Parsed::Span(span, Nesting::ById(parent)) => {
                if let Some(id) = &span.id {
                    self.open.remove(id);
                }
                let parent = parent.map(|p| SpanId::of(&[&self.vm, &p]));
                let (trace, id) = self.our_ids(span.id.as_deref().unwrap_or(""));
                self.span(span, trace, id, parent)
            }
            Parsed::Event(event, Nesting::ById(span)) => {
                let context = span.map(|s| self.our_ids(&s));
                self.event(event, context)
            }
            Parsed::Open(span) => {
                self.seen(span.start.as_ref().map(|t| t.micros));
                if let Some(id) = span.id.clone() {
                    self.open.insert(id, span);
                }
                Ok(())
            }
            peer => {
                self.peers.push(peer);
                Ok(())
            }
        }
    }

    /// Our span `id`'s trace (one per run: the id's part before `-`, which
    /// the writing process chose) and span ids.
    fn our_ids(&self, id: &str) -> (TraceId, SpanId) {
        let run = run_of(id);
        (TraceId::of(&[&self.vm, run]), SpanId::of(&[&self.vm, id]))
    }

    fn seen(&mut self, us: Option<i64>) {
        if let Some(us) = us {
            self.latest_us = Some(self.latest_us.map_or(us, |l| l.max(us)));
        }
    }

    fn span(&mut self, span: Span, trace: TraceId, id: SpanId, parent: Option<SpanId>) -> Result {
        let start = span.start.as_ref().map(|t| t.micros);
        let end = span.end.as_ref().map(|t| t.micros);
        self.seen(start);
        self.seen(end);
        let Some(start_us) = start else {
            // A span with no start that reads cannot be placed on a
            // timeline: its record goes as a log record.
            let mut fields = span.fields;
            fields.push(("kvp.record".to_owned(), "span without a start".to_owned()));
            return self.log(EventOut {
                context: parent.map(|p| (trace, p)),
                time_us: end,
                level: span.level.unwrap_or_else(|| "INFO".to_owned()),
                name: span.name,
                message: None,
                fields,
            });
        };
        let mut fields = span.fields;
        // The times are written to the millisecond, the duration finer: a
        // 0.5 ms step keeps its length.
        let measured = span
            .duration_ms
            .map(|ms| start_us + (ms * 1000.0).round() as i64);
        if let Some(ms) = span.duration_ms {
            fields.push(("duration_ms".to_owned(), ms.to_string()));
        }
        self.out.span(SpanOut {
            trace,
            id,
            parent,
            name: span.name,
            start_us,
            end_us: measured
                .or(end)
                .or(self.latest_us)
                .unwrap_or(start_us)
                .max(start_us),
            status: span.status,
            level: span.level,
            fields,
        })?;
        self.counts.spans += 1;
        Ok(())
    }

    fn event(&mut self, event: Event, context: Option<(TraceId, SpanId)>) -> Result {
        let time_us = event.time.as_ref().map(|t| t.micros);
        self.seen(time_us);
        let sent = self.out.event(EventOut {
            context,
            time_us,
            level: event.level,
            name: event.name,
            message: event.message,
            fields: event.fields,
        })?;
        if sent {
            self.counts.events += 1;
        } else {
            self.counts.untimed += 1;
        }
        Ok(())
    }

    /// Something that is not a span or event of a known writer.
    fn log(&mut self, event: EventOut) -> Result {
        if self.out.event(event)? {
            self.counts.as_logs += 1;
        } else {
            self.counts.untimed += 1;
        }
        Ok(())
    }

    fn metric(&mut self, m: Metric) -> Result {
        let get = |name: &str| {
            m.fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let metric = MetricOut {
            kind: get(field::KIND).and_then(|k| MetricKind::parse(&k)),
            value: get(field::VALUE).and_then(|v| v.parse().ok()),
            unit: get(field::UNIT),
            attributes: m
                .fields
                .iter()
                .filter_map(|(n, v)| {
                    Some((
                        n.strip_prefix(field::ATTRIBUTE_PREFIX)?.to_owned(),
                        v.clone(),
                    ))
                })
                .collect(),
            name: m.name,
            fields: m.fields,
        };
        let name = metric::series_name(&metric.name);
        let fields = metric.fields.clone();
        if self.out.metric(metric)? {
            self.counts.metrics += 1;
            return Ok(());
        }
        self.log(EventOut {
            context: None,
            time_us: None,
            level: "INFO".to_owned(),
            name,
            message: None,
            fields,
        })
    }

    /// Spans that never closed, then the peers' records, nested by time.
    fn finish(&mut self) -> Result {
        let mut open: Vec<Span> = self.open.drain().map(|(_, s)| s).collect();
        open.sort_by_key(|s| s.index);
        for mut span in open {
            let parent = span
                .fields
                .iter()
                .position(|(n, _)| n == field::PARENT)
                .map(|at| span.fields.remove(at).1)
                .map(|p| SpanId::of(&[&self.vm, &p]));
            span.status = Status::Open;
            let (trace, id) = self.our_ids(span.id.as_deref().unwrap_or(""));
            self.span(span, trace, id, parent)?;
        }
        let peers = std::mem::take(&mut self.peers);
        if peers.is_empty() {
            return Ok(());
        }
        let mut seen: HashMap<(String, i64, i64), usize> = HashMap::new();
        let mut stack: Vec<(Node, Option<(TraceId, SpanId)>)> = crate::tree::nest::nest(peers)
            .into_iter()
            .rev()
            .map(|n| (n, None))
            .collect();
        while let Some((node, context)) = stack.pop() {
            match node {
                Node::Span(mut span) => {
                    let children = std::mem::take(&mut span.children);
                    // The same name and times twice (a retried step in the
                    // same millisecond) still get two ids.
                    let times = (
                        span.start.as_ref().map_or(0, |t| t.micros),
                        span.end.as_ref().map_or(0, |t| t.micros),
                    );
                    let n = seen
                        .entry((span.name.clone(), times.0, times.1))
                        .or_default();
                    *n += 1;
                    let id = SpanId::of(&[
                        &self.vm,
                        &span.name,
                        &times.0.to_string(),
                        &times.1.to_string(),
                        &n.to_string(),
                    ]);
                    let trace = context
                        .map_or_else(|| TraceId::of(&[&self.vm, &id.hex()]), |(trace, _)| trace);
                    self.span(span, trace, id, context.map(|(_, parent)| parent))?;
                    stack.extend(children.into_iter().rev().map(|c| (c, Some((trace, id)))));
                }
                Node::Event(event) => self.event(event, context)?,
                Node::UnknownSpan { children, .. } => {
                    stack.extend(children.into_iter().rev().map(|c| (c, context)));
                }
            }
        }
        Ok(())
    }
}
