//! The `Layer`: spans and events to records.

use std::cell::RefCell;
use std::fmt::{self, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kvp_codec::Level;
use kvp_sink::Sink;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};
use tracing::{Event, Id as SpanId, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::fields::{push_field, push_redacted};
use crate::ids::{Id, Ids};
use crate::key::KeyLayout;
use crate::limit::{Admit, Limiters};
use crate::redact::Redactor;
use crate::report::{HEALTH_REPORT_FIELD, PROVISIONING_REPORT_KEY};

/// Where the time comes from (injectable for reproducible tests).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A `tracing` layer that writes spans and events to a KVP pool through a
/// [`kvp_sink::Sink`]. Build it with [`crate::KvpLayer::builder`].
pub struct KvpLayer {
    pub(crate) sink: Sink,
    pub(crate) key: KeyLayout,
    pub(crate) ids: Arc<Ids>,
    pub(crate) clock: Clock,
    pub(crate) span_open_records: bool,
    pub(crate) redactor: Redactor,
    pub(crate) limiters: Arc<Limiters>,
}

/// A handle to a [`KvpLayer`] that stays usable after the layer is moved
/// into a subscriber; see [`KvpLayer::handle`].
#[derive(Clone)]
pub struct KvpHandle {
    sink: Sink,
    key: KeyLayout,
    ids: Arc<Ids>,
    clock: Clock,
    limiters: Arc<Limiters>,
}

impl fmt::Debug for KvpHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvpHandle").finish_non_exhaustive()
    }
}

impl KvpHandle {
    /// Writes one WARN record per callsite whose records were suppressed by
    /// the rate limit since its last record, saying how many. Returns the
    /// number of such records.
    pub fn flush_suppressed(&self) -> usize {
        let mut written = 0;
        for limiter in self.limiters.all() {
            let n = limiter.take_suppressed();
            if n == 0 {
                continue;
            }
            let meta = limiter.meta;
            let name = if meta.is_span() {
                meta.name()
            } else {
                meta.target()
            };
            let mut value = String::new();
            let _ = write!(
                value,
                "time={} suppressed={n} reason=rate-limit",
                humantime::format_rfc3339_millis((self.clock)())
            );
            if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
                push_field(&mut value, "callsite", &format!("{file}:{line}"));
            }
            let mut key = String::new();
            self.key
                .write(&mut key, Level::Warn, name, self.ids.next().as_str());
            self.sink.append(Some(Level::Warn), &key, &value);
            written += 1;
        }
        written
    }
}

impl KvpLayer {
    /// A handle for [`KvpHandle::flush_suppressed`], to take before the
    /// layer goes into a subscriber.
    pub fn handle(&self) -> KvpHandle {
        KvpHandle {
            sink: self.sink.clone(),
            key: self.key.clone(),
            ids: Arc::clone(&self.ids),
            clock: Arc::clone(&self.clock),
            limiters: Arc::clone(&self.limiters),
        }
    }
}

impl fmt::Debug for KvpLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvpLayer")
            .field("key", &self.key)
            .field("span_open_records", &self.span_open_records)
            .finish_non_exhaustive()
    }
}

/// What the layer keeps in a span's extensions. Inserted once, in
/// `on_new_span`, after checking it is not there (azure-init inserted a
/// type twice and panicked).
struct SpanData {
    id: Id,
    parent: Option<Id>,
    start: SystemTime,
    fields: String,
    error: bool,
}

/// Reused text buffers, one set per thread: after warm-up, formatting a
/// record allocates nothing.
struct Buffers {
    key: String,
    value: String,
    scratch: String,
    report: String,
    /// The RFC 3339 text of one second (`2026-11-21T13:15:47`), and that
    /// second: timestamps within it only format their milliseconds.
    second: (u64, String),
}

impl Buffers {
    fn new() -> Self {
        Buffers {
            // A key never exceeds its field, so the key buffer never grows;
            // the others grow to the largest record seen and stay there.
            key: String::with_capacity(kvp_codec::KEY_SIZE),
            value: String::with_capacity(1024),
            scratch: String::with_capacity(256),
            report: String::new(),
            second: (u64::MAX, String::with_capacity(24)),
        }
    }
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::new());
}

/// Runs `f` with this thread's buffers, or fresh ones when they are busy (a
/// field's `Debug` that itself logs) or gone (thread teardown).
fn with_buffers<R>(f: impl FnOnce(&mut Buffers) -> R) -> R {
    let mut f = Some(f);
    let done = BUFFERS
        .try_with(|cell| {
            let mut b = cell.try_borrow_mut().ok()?;
            f.take().map(|f| f(&mut b))
        })
        .ok()
        .flatten();
    match (done, f) {
        (Some(r), _) => r,
        (None, Some(f)) => f(&mut Buffers::new()),
        (None, None) => unreachable!("`f` is taken only when it runs"),
    }
}

fn level_of(level: &tracing::Level) -> Level {
    match *level {
        tracing::Level::TRACE => Level::Trace,
        tracing::Level::DEBUG => Level::Debug,
        tracing::Level::INFO => Level::Info,
        tracing::Level::WARN => Level::Warn,
        tracing::Level::ERROR => Level::Error,
    }
}

/// Writes fields as `name=value` (see the `fields` module for escaping).
struct FieldWriter<'a> {
    redactor: &'a Redactor,
    out: &'a mut String,
    scratch: &'a mut String,
    /// An `error` field, or an `Error` value, was seen.
    error: bool,
    /// Where the `health_report` field goes, when wanted.
    report: Option<&'a mut String>,
}

impl FieldWriter<'_> {
    fn seen(&mut self, field: &Field) {
        if field.name() == "error" {
            self.error = true;
        }
    }
}

impl FieldWriter<'_> {
    /// Writes `name=<redacted>` for a denied field and returns `true`;
    /// the value is never formatted.
    fn redacted(&mut self, field: &Field) -> bool {
        if !self.redactor.is_denied(field.name()) {
            return false;
        }
        self.seen(field);
        push_redacted(self.out, field.name());
        true
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.redacted(field) {
            return;
        }
        self.seen(field);
        if field.name() == HEALTH_REPORT_FIELD
            && let Some(report) = self.report.as_mut()
        {
            report.push_str(value);
            return;
        }
        push_field(self.out, field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.redacted(field) {
            return;
        }
        self.scratch.clear();
        // Writing to a String cannot fail.
        let _ = write!(self.scratch, "{value:?}");
        let text = std::mem::take(self.scratch);
        self.record_str(field, &text);
        *self.scratch = text;
    }

    // Numbers and booleans without the `fmt` machinery: they are the most
    // common fields and never need quoting.
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_str(field, itoa::Buffer::new().format(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_str(field, itoa::Buffer::new().format(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // `ryu` writes what `Debug` writes (`1.5`, `2.0`, `1e20`, `NaN`,
        // `inf`), several times faster.
        self.record_str(field, ryu::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_str(field, if value { "true" } else { "false" });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.error = true;
        if self.redacted(field) {
            return;
        }
        self.scratch.clear();
        let _ = write!(self.scratch, "{value}");
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(self.scratch, ": {s}");
            source = s.source();
        }
        let text = std::mem::take(self.scratch);
        self.record_str(field, &text);
        *self.scratch = text;
    }
}

impl KvpLayer {
    /// Appends ` name=<RFC 3339, UTC, milliseconds>`.
    fn write_time(second: &mut (u64, String), out: &mut String, name: &str, time: SystemTime) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(name);
        out.push('=');
        let Ok(since) = time.duration_since(SystemTime::UNIX_EPOCH) else {
            // Before 1970: not worth a fast path.
            let _ = write!(out, "{}", humantime::format_rfc3339_millis(time));
            return;
        };
        if second.0 != since.as_secs() {
            second.1.clear();
            let whole = SystemTime::UNIX_EPOCH + Duration::from_secs(since.as_secs());
            let _ = write!(second.1, "{}", humantime::format_rfc3339_seconds(whole));
            second.1.pop(); // the `Z`
            second.0 = since.as_secs();
        }
        out.push_str(&second.1);
        let ms = since.subsec_millis();
        let digits = [
            b'.',
            b'0' + (ms / 100) as u8,
            b'0' + (ms / 10 % 10) as u8,
            b'0' + (ms % 10) as u8,
            b'Z',
        ];
        out.push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
    }

    /// Visits span fields into `data.fields` (at open and on `record`),
    /// noting an `error` field.
    fn visit_span_fields(
        &self,
        data: &mut SpanData,
        scratch: &mut String,
        visit: impl FnOnce(&mut FieldWriter<'_>),
    ) {
        let mut w = FieldWriter {
            redactor: &self.redactor,
            out: &mut data.fields,
            scratch,
            error: false,
            report: None,
        };
        visit(&mut w);
        data.error |= w.error;
    }

    fn send(&self, level: Level, key: &str, value: &str) {
        // A full queue is counted by the sink; the application goes on.
        self.sink.append(Some(level), key, value);
    }

    fn span_record(
        &self,
        b: &mut Buffers,
        name: &str,
        level: Level,
        data: &SpanData,
        end: Option<SystemTime>,
        suppressed: u64,
    ) {
        b.value.clear();
        Self::write_time(&mut b.second, &mut b.value, "start", data.start);
        let id = match end {
            Some(end) => {
                Self::write_time(&mut b.second, &mut b.value, "end", end);
                // Milliseconds with 3 decimals from whole microseconds: float
                // formatting with a precision costs more than the rest of
                // the record.
                let us = end
                    .duration_since(data.start)
                    .unwrap_or_default()
                    .as_micros();
                b.value.push_str(" duration_ms=");
                b.value.push_str(itoa::Buffer::new().format(us / 1000));
                let frac = (us % 1000) as u16;
                let digits = [
                    b'.',
                    b'0' + (frac / 100) as u8,
                    b'0' + (frac / 10 % 10) as u8,
                    b'0' + (frac % 10) as u8,
                ];
                b.value
                    .push_str(std::str::from_utf8(&digits).expect("ASCII digits"));
                b.value.push_str(if data.error {
                    " status=error"
                } else {
                    " status=ok"
                });
                data.id.as_str()
            }
            None => {
                b.value.push_str(" status=open");
                b.scratch.clear();
                b.scratch.push_str(data.id.as_str());
                b.scratch.push_str("-open");
                b.scratch.as_str()
            }
        };
        if let Some(parent) = &data.parent {
            b.value.push_str(" parent=");
            b.value.push_str(parent.as_str());
        }
        if suppressed > 0 {
            let _ = write!(b.value, " suppressed={suppressed}");
        }
        if !data.fields.is_empty() {
            b.value.push(' ');
            b.value.push_str(&data.fields);
        }
        self.key.write(&mut b.key, level, name, id);
        self.send(level, &b.key, &b.value);
    }
}

impl<S> tracing_subscriber::Layer<S> for KvpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &SpanId, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if span.extensions().get::<SpanData>().is_some() {
            return;
        }
        let parent = span
            .parent()
            .and_then(|p| p.extensions().get::<SpanData>().map(|d| d.id));
        let mut data = SpanData {
            id: self.ids.next(),
            parent,
            start: (self.clock)(),
            fields: String::new(),
            error: false,
        };
        with_buffers(|b| {
            self.visit_span_fields(&mut data, &mut b.scratch, |w| attrs.record(w));
            if self.span_open_records
                && let Admit::Yes { suppressed } = self.limiters.admit(span.metadata())
            {
                let level = level_of(span.metadata().level());
                self.span_record(b, span.name(), level, &data, None, suppressed);
            }
        });
        let mut ext = span.extensions_mut();
        if ext.get_mut::<SpanData>().is_none() {
            ext.insert(data);
        }
    }

    fn on_record(&self, id: &SpanId, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<SpanData>() else {
            return;
        };
        with_buffers(|b| self.visit_span_fields(data, &mut b.scratch, |w| values.record(w)));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = level_of(meta.level());
        let span = ctx.event_span(event);
        let span_id = span
            .as_ref()
            .and_then(|s| s.extensions().get::<SpanData>().map(|d| d.id));
        if level == Level::Error
            && let Some(scope) = ctx.event_scope(event)
        {
            for s in scope {
                if let Some(d) = s.extensions_mut().get_mut::<SpanData>() {
                    d.error = true;
                }
            }
        }
        let is_report = meta.fields().field(HEALTH_REPORT_FIELD).is_some();
        // A report upserts one record: it cannot flood, and is never held back.
        let suppressed = if is_report {
            0
        } else {
            match self.limiters.admit(meta) {
                Admit::Yes { suppressed } => suppressed,
                Admit::No => return,
            }
        };
        with_buffers(|b| {
            b.value.clear();
            Self::write_time(&mut b.second, &mut b.value, "time", (self.clock)());
            if let Some(id) = &span_id {
                b.value.push_str(" span=");
                b.value.push_str(id.as_str());
            }
            if suppressed > 0 {
                let _ = write!(b.value, " suppressed={suppressed}");
            }
            b.report.clear();
            let mut w = FieldWriter {
                redactor: &self.redactor,
                out: &mut b.value,
                scratch: &mut b.scratch,
                error: false,
                report: is_report.then_some(&mut b.report),
            };
            event.record(&mut w);
            if is_report {
                self.sink
                    .upsert(Some(level), PROVISIONING_REPORT_KEY, &b.report);
                return;
            }
            let id = self.ids.next();
            self.key
                .write(&mut b.key, level, meta.target(), id.as_str());
            self.send(level, &b.key, &b.value);
        });
    }

    fn on_close(&self, id: SpanId, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let ext = span.extensions();
        let Some(data) = ext.get::<SpanData>() else {
            return;
        };
        let Admit::Yes { suppressed } = self.limiters.admit(span.metadata()) else {
            return;
        };
        let end = (self.clock)();
        with_buffers(|b| {
            let level = level_of(span.metadata().level());
            self.span_record(b, span.name(), level, data, Some(end), suppressed);
        });
    }
}
