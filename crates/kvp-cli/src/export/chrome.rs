//! Chrome trace event JSON (`{"traceEvents": [...]}`): the timeline that
//! Perfetto (ui.perfetto.dev) and `chrome://tracing` open. Spans are
//! complete (`X`) events, events and the report instant (`i`) events;
//! each pool is a process, each trace in it a thread. Times are
//! microseconds since the Unix epoch, as the format counts them.
//!
//! The JSON is written as it is made, one event per line, so a pool of any
//! size costs the same memory.

use std::collections::HashMap;

use kvp_codec::schema::PROVISIONING_REPORT;
use serde_json::{Map, Value, json};

use super::ids::TraceId;
use super::out::{EventOut, MetricOut, Output, Resource, SpanOut};
use crate::exit::Result;
use crate::model::Status;
use crate::output::Lines;
use crate::time::Time;

/// The Chrome trace writer for every pool of one `kvp export`.
pub(crate) struct ChromeTrace {
    lines: Lines,
    /// Whether an event has been written (the next needs a comma).
    any: bool,
    pid: u64,
    /// Each trace's thread number in the current pool.
    tids: HashMap<TraceId, u64>,
}

impl ChromeTrace {
    /// Opens the JSON document.
    pub(crate) fn start() -> Result<ChromeTrace> {
        let mut lines = Lines::default();
        lines.push(String::from("{\"traceEvents\":["))?;
        Ok(ChromeTrace {
            lines,
            any: false,
            pid: 0,
            tids: HashMap::new(),
        })
    }

    /// Closes the JSON document.
    pub(crate) fn finish(mut self) -> Result {
        self.lines
            .push(String::from("],\"displayTimeUnit\":\"ms\"}"))?;
        self.lines.flush()?;
        Ok(())
    }

    fn write(&mut self, event: Value) -> Result {
        let line = if self.any {
            format!(",{event}")
        } else {
            event.to_string()
        };
        self.any = true;
        self.lines.push(line)?;
        Ok(())
    }

    /// The thread of `trace` in this pool, named when first met; thread 0
    /// holds what is in no span.
    fn tid(&mut self, trace: Option<TraceId>) -> Result<u64> {
        let Some(trace) = trace else { return Ok(0) };
        if let Some(tid) = self.tids.get(&trace) {
            return Ok(*tid);
        }
        let tid = self.tids.len() as u64 + 1;
        self.tids.insert(trace, tid);
        let name = format!("trace {}", trace.hex());
        self.write(json!({
            "ph": "M", "pid": self.pid, "tid": tid, "name": "thread_name",
            "args": { "name": name },
        }))?;
        Ok(tid)
    }
}

fn args(fields: Vec<(String, String)>) -> Map<String, Value> {
    fields
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

impl Output for ChromeTrace {
    fn begin(&mut self, resource: &Resource) -> Result {
        self.pid += 1;
        self.tids.clear();
        let name = match &resource.vm_id {
            Some(vm) => format!("{} on {vm}", resource.service),
            None => resource.service.clone(),
        };
        self.write(json!({
            "ph": "M", "pid": self.pid, "tid": 0, "name": "process_name",
            "args": { "name": name, "file": resource.file },
        }))?;
        self.write(json!({
            "ph": "M", "pid": self.pid, "tid": 0, "name": "thread_name",
            "args": { "name": "outside spans" },
        }))
    }

    fn span(&mut self, span: SpanOut) -> Result {
        let tid = self.tid(Some(span.trace))?;
        let mut args = args(span.fields);
        args.insert("span_id".into(), span.id.hex().into());
        if let Some(parent) = span.parent {
            args.insert("parent_id".into(), parent.hex().into());
        }
        if span.status != Status::Unknown {
            args.insert("status".into(), span.status.as_str().into());
        }
        if let Some(level) = span.level {
            args.insert("level".into(), level.into());
        }
        self.write(json!({
            "ph": "X", "pid": self.pid, "tid": tid, "cat": "span",
            "name": span.name, "ts": span.start_us,
            "dur": span.end_us - span.start_us, "args": args,
        }))
    }

    fn event(&mut self, event: EventOut) -> Result<bool> {
        let Some(ts) = event.time_us else {
            return Ok(false);
        };
        let tid = self.tid(event.context.map(|(trace, _)| trace))?;
        let mut args = args(event.fields);
        args.insert("level".into(), event.level.into());
        if let Some(message) = &event.message {
            args.insert("message".into(), message.clone().into());
        }
        let name = event.message.unwrap_or(event.name);
        self.write(json!({
            "ph": "i", "s": "t", "pid": self.pid, "tid": tid, "cat": "event",
            "name": name, "ts": ts, "args": args,
        }))?;
        Ok(true)
    }

    fn report(&mut self, fields: Vec<(String, String)>) -> Result<bool> {
        let ts = fields
            .iter()
            .find(|(k, _)| k == "timestamp")
            .and_then(|(_, t)| Time::parse(t));
        let Some(ts) = ts else { return Ok(false) };
        self.write(json!({
            "ph": "i", "s": "p", "pid": self.pid, "tid": 0, "cat": "report",
            "name": PROVISIONING_REPORT, "ts": ts.micros, "args": args(fields),
        }))?;
        Ok(true)
    }

    fn metric(&mut self, _metric: MetricOut) -> Result<bool> {
        // A series' record holds its last value and no time: nothing to
        // put on a timeline.
        Ok(false)
    }

    fn end(&mut self) -> Result {
        self.lines.flush()?;
        Ok(())
    }
}
