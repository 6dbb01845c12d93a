//! The `Layer`: spans and events to records.

use std::cell::RefCell;
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};

use kvp_codec::Level;
use kvp_sink::Sink;
use tracing::dispatcher::WeakDispatch;
use tracing::field::Visit;
use tracing::span::{Attributes, Record};
use tracing::{Dispatch, Event, Id as SpanId, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::capture::{CaptureFields, Captured, EndedBy, FieldBytes, Header, Kind, push_scope};
use crate::flags::FieldFlags;
use crate::ids::Ids;
use crate::ids::Keys;
use crate::inline::InlineBytes;
use crate::limit::{Admit, Limiters};
use crate::provisioning_report::{
    HEALTH_REPORT_FIELD, PROVISIONING_REPORT_KEY, ReportField, UNKNOWN_REPORT_VM_ID,
};
use crate::redact::REDACTED;
use crate::redact::Redactor;
use crate::spans::{Fields, SpanData, Spans};
use crate::stamp::TimeSource;
use kvp_codec::schema::{field, push_field};

/// A `tracing` layer that writes spans and events to a KVP pool through a
/// [`kvp_sink::Sink`]. Build it with [`crate::KvpLayer::builder`].
pub struct KvpLayer {
    pub(crate) sink: Sink<Captured>,
    /// The VM id in keys, and in reports made without one.
    pub(crate) vm_id: String,
    pub(crate) key: Keys,
    pub(crate) ids: Arc<Ids>,
    pub(crate) time: TimeSource,
    pub(crate) span_open_records: bool,
    pub(crate) redactor: Redactor,
    pub(crate) limiters: Arc<Limiters>,
    /// The caller's hook for the name part of keys (the writer has its
    /// own copy, to render with).
    pub(crate) key_name: Option<crate::KeyName>,
    /// Tells this layer's entries in [`ENTERED`] from other layers'.
    pub(crate) instance: u64,
    /// The spans open now that this layer writes (shared with its
    /// handles, which close them when the process ends).
    pub(crate) spans: Arc<Spans>,
    /// The dispatcher the layer is part of, to name spans its filter
    /// leaves out (set once, when it is registered).
    pub(crate) registered: OnceLock<WeakDispatch>,
    /// The most text bytes one record's fields keep: one more than the
    /// writer could ever write of a value.
    pub(crate) capture_max: usize,
    /// Write events that happen in no span at all.
    pub(crate) events_outside_spans: bool,
}

/// A handle to a [`KvpLayer`] that stays usable after the layer is moved
/// into a subscriber; see [`KvpLayer::handle`].
#[derive(Clone)]
pub struct KvpHandle {
    sink: Sink<Captured>,
    key: Keys,
    key_name: Option<crate::KeyName>,
    ids: Arc<Ids>,
    time: TimeSource,
    limiters: Arc<Limiters>,
    spans: Arc<Spans>,
}

impl fmt::Debug for KvpHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvpHandle").finish_non_exhaustive()
    }
}

impl KvpHandle {
    /// The layout of this layer's keys (`<prefix>|<vm_id>|`, its limits and
    /// its chunk suffix), for another producer whose records should sit
    /// under the same head, as the facade's metric series do.
    pub fn key_layout(&self) -> &kvp_codec::KeyLayout<String> {
        &self.key
    }

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
            let shaped = self.key_name.as_ref().and_then(|f| f(meta));
            let name = shaped.as_deref().unwrap_or(if meta.is_span() {
                meta.name()
            } else {
                meta.target()
            });
            let mut value = String::new();
            let time = humantime::format_rfc3339_millis(self.time.system_time()).to_string();
            push_field(&mut value, field::TIME, &time);
            push_field(&mut value, field::SUPPRESSED, &n.to_string());
            push_field(&mut value, "reason", "rate-limit");
            if let (Some(file), Some(line)) = (meta.file(), meta.line()) {
                push_field(&mut value, "callsite", &format!("{file}:{line}"));
            }
            let mut key = String::new();
            // Writing into a String cannot fail.
            let _ = self
                .key
                .write(&mut key, Level::Warn, name, self.ids.next().as_str());
            self.sink.append(Some(Level::Warn), &key, &value);
            written += 1;
        }
        written
    }
}

impl KvpHandle {
    /// What the process's end runs while a guard lives: the open spans
    /// ended, the rate limit's counts written, the queue flushed (at most
    /// `timeout`).
    pub(crate) fn end_of_process(&self, ending: kvp_sink::Ending, timeout: std::time::Duration) {
        self.end_open_spans(ending);
        self.flush_suppressed();
        self.sink.flush(timeout);
    }

    /// Writes a close record for every span still open, as the process
    /// ends by `ending`: its end is now, its status what it recorded so
    /// far, and `ended_by=exit` (or `SIGTERM`, `SIGINT`) says why it never
    /// closed. The spans are no longer kept. Returns how many were written.
    pub(crate) fn end_open_spans(&self, ending: kvp_sink::Ending) -> usize {
        let ended_by = match ending {
            kvp_sink::Ending::Exit => EndedBy::Exit,
            kvp_sink::Ending::Signal(libc::SIGTERM) => EndedBy::Sigterm,
            kvp_sink::Ending::Signal(libc::SIGINT) => EndedBy::Sigint,
            _ => EndedBy::Signal,
        };
        let end = self.time.now();
        let mut written = 0;
        for mut data in self.spans.take_all() {
            let header = &mut data.record.header;
            header.end = Some(end);
            header.error = data.error;
            header.ended_by = ended_by;
            written += usize::from(self.sink.capture(data.record));
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
            key_name: self.key_name.clone(),
            ids: Arc::clone(&self.ids),
            time: self.time.clone(),
            limiters: Arc::clone(&self.limiters),
            spans: Arc::clone(&self.spans),
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

/// A span this layer saw entered on this thread.
struct Entered {
    layer: u64,
    span: SpanId,
    /// The span's KVP id, looked up when an event first needs it.
    kvp: Option<Option<u64>>,
}

thread_local! {
    /// The spans entered on this thread, innermost last. The innermost of a
    /// layer's is the span of its contextual events; keeping this stack
    /// saves each event the registry's lookup of the current span and of
    /// its extensions.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// A unique number per layer built.
pub(crate) fn next_instance() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Relaxed)
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

impl KvpLayer {
    /// Sends a captured record: its header, then what `fields` writes. Its
    /// text is made on the writer thread. A full queue is counted by the
    /// sink; the application goes on.
    fn send_captured(
        &self,
        header: Header,
        meta: &'static Metadata<'static>,
        fields: impl FnOnce(&mut FieldBytes),
    ) {
        let mut captured = Captured::new(self.instance, meta, header);
        fields(&mut captured.fields);
        self.sink.capture(captured);
    }

    /// Captures a span's fields as `record` visits them into `out`; `true`
    /// when one marks an error.
    fn span_fields<const N: usize>(
        &self,
        meta: &'static Metadata<'static>,
        out: &mut InlineBytes<N>,
        record: impl FnOnce(&mut dyn Visit),
    ) -> bool {
        let left = self.capture_max.saturating_sub(out.len());
        let mut w = CaptureFields {
            out,
            redactor: &self.redactor,
            flags: FieldFlags::get(meta, &self.redactor),
            error: false,
            left,
        };
        record(&mut w);
        w.error
    }
}

impl<S> tracing_subscriber::Layer<S> for KvpLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        let _ = self.registered.set(dispatch.downgrade());
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &SpanId, ctx: Context<'_, S>) {
        let meta = attrs.metadata();
        let start = self.time.now();
        // The close record's header: its end, status and suppressed count
        // are set when the span closes.
        let header = Header {
            kind: Kind::SpanClose,
            level: level_of(meta.level()),
            id: self.ids.next_n(),
            span: self.parent_of(attrs, id, &ctx),
            error: false,
            suppressed: 0,
            time: start,
            end: Some(start),
            ended_by: EndedBy::NotEnded,
        };
        // Built where it is kept: the record is most of a span's data, and
        // each move of it is a copy.
        let mut data = SpanData {
            meta,
            id: header.id,
            record: Captured::new(self.instance, meta, header),
            error: false,
        };
        data.error = self.span_fields(meta, &mut data.record.fields, |v| attrs.record(v));
        if self.span_open_records
            && let Admit::Yes { suppressed } = self.limiters.admit(meta, start)
        {
            let open = Header {
                kind: Kind::SpanOpen,
                error: data.error,
                suppressed,
                end: None,
                ..header
            };
            self.sink.capture(data.record.with_header(open));
        }
        self.spans.open(id, data);
    }

    fn on_record(&self, id: &SpanId, values: &Record<'_>, _: Context<'_, S>) {
        let Some(meta) = self.spans.with(id, |d| d.meta) else {
            return;
        };
        // Captured before the span's entry is locked: a value's `Debug` may
        // log, and that event looks the span up.
        let mut fields = Fields::new();
        let error = self.span_fields(meta, &mut fields, |v| values.record(v));
        self.spans.update(id, |data| {
            data.error |= error;
            data.record.fields.extend_from_slice(fields.as_slice());
        });
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        self.event(event, &EventScope(&ctx));
    }

    fn on_enter(&self, id: &SpanId, _: Context<'_, S>) {
        let _ = ENTERED.try_with(|stack| {
            if let Ok(mut stack) = stack.try_borrow_mut() {
                stack.push(Entered {
                    layer: self.instance,
                    span: id.clone(),
                    kvp: None,
                });
            }
        });
    }

    fn on_exit(&self, id: &SpanId, _: Context<'_, S>) {
        let _ = ENTERED.try_with(|stack| {
            if let Ok(mut stack) = stack.try_borrow_mut()
                && let Some(at) = stack
                    .iter()
                    .rposition(|e| e.layer == self.instance && e.span == *id)
            {
                stack.remove(at);
            }
        });
    }

    fn on_close(&self, id: SpanId, _: Context<'_, S>) {
        // Completed where it lies, and moved once, into the queue.
        let Some(mut data) = self.spans.close(&id) else {
            return;
        };
        let end = self.time.now();
        let Admit::Yes { suppressed } = self.limiters.admit(data.meta, end) else {
            return;
        };
        let header = &mut data.record.header;
        header.end = Some(end);
        header.error = data.error;
        header.suppressed = suppressed;
        self.sink.capture(data.record);
    }
}

impl KvpLayer {
    /// Writes an event. Not generic: see [`SpanLookup`].
    fn event(&self, event: &Event<'_>, spans: &dyn SpanLookup) {
        let meta = event.metadata();
        let level = level_of(meta.level());
        let span_id = self.event_span_id(event, spans);
        if level == Level::Error {
            spans.for_each_in_scope(event, &mut |id| {
                self.spans.update(id, |d| d.error = true);
            });
        }
        let flags = FieldFlags::get(meta, &self.redactor);
        if flags.report {
            // A report upserts one record: it cannot flood, and is never
            // held back by the rate limit.
            self.report(event, level);
            return;
        }
        // The event's spans this layer leaves out still say where it
        // happened; looked up only when it records none of them.
        let scope = if span_id.is_none() {
            spans.unrecorded_scope(self, event)
        } else {
            None
        };
        if !self.events_outside_spans && span_id.is_none() && scope.is_none() {
            return;
        }
        let time = self.time.now();
        let Admit::Yes { suppressed } = self.limiters.admit(meta, time) else {
            return;
        };
        let header = Header {
            kind: Kind::Event,
            level,
            id: self.ids.next_n(),
            span: span_id,
            error: false,
            suppressed,
            time,
            end: None,
            ended_by: EndedBy::NotEnded,
        };
        self.send_captured(header, meta, |out| {
            event.record(&mut CaptureFields {
                out,
                redactor: &self.redactor,
                flags,
                error: false,
                left: self.capture_max,
            });
            if let Some(path) = &scope {
                push_scope(out, path);
            }
        });
    }

    /// The KVP id of the span an event belongs to, if any: the innermost
    /// span of this layer entered on this thread, or else the registry's.
    fn event_span_id(&self, event: &Event<'_>, spans: &dyn SpanLookup) -> Option<u64> {
        let of = |id: &SpanId| self.spans.with(id, |d| d.id);
        if event.is_contextual() {
            let found = ENTERED.try_with(|stack| {
                let mut stack = stack.try_borrow_mut().ok()?;
                let Some(top) = stack.iter_mut().rev().find(|e| e.layer == self.instance) else {
                    return Some(None);
                };
                Some(*top.kvp.get_or_insert_with(|| of(&top.span)))
            });
            if let Ok(Some(id)) = found {
                return id;
            }
        }
        spans.event_span(event).and_then(|id| of(&id))
    }
}

/// What the event path asks of the subscriber's span registry.
///
/// `Layer::on_event` is generic over the subscriber, so it is compiled in
/// the application's crate, where (in a position-independent executable,
/// the default on Linux) every call into this crate goes through the global
/// offset table: an indirect call, and after a pause a cold one.
/// So `on_event` only wraps its context in this trait, and the event path
/// is compiled here, once, calling the registry through it only for what
/// the thread's entered spans cannot tell: an event outside them, an ERROR
/// event's spans, and the spans this layer's filter left out.
trait SpanLookup {
    /// The registry's span of `event`: its parent, or the current span.
    fn event_span(&self, event: &Event<'_>) -> Option<SpanId>;

    /// Calls `f` with each span `event` is in, innermost first.
    fn for_each_in_scope(&self, event: &Event<'_>, f: &mut dyn FnMut(&SpanId));

    /// The names of the spans `event` happened in, outermost first and
    /// joined by `/` (`provision/configure_ssh`), from the registry itself,
    /// so that spans `layer`'s filter left out are there too. `None` when
    /// the event is in no span. With a subscriber not built on a
    /// `tracing_subscriber::Registry`, or a scoped one the layer was not
    /// told of (a `Box<dyn Subscriber>` set with `with_default`), only the
    /// innermost span is named.
    fn unrecorded_scope(&self, layer: &KvpLayer, event: &Event<'_>) -> Option<String>;
}

/// A layer's [`Context`] as a [`SpanLookup`].
struct EventScope<'a, 'b, S>(&'a Context<'b, S>);

impl<S> SpanLookup for EventScope<'_, '_, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn event_span(&self, event: &Event<'_>) -> Option<SpanId> {
        self.0.event_span(event).map(|s| s.id())
    }

    fn for_each_in_scope(&self, event: &Event<'_>, f: &mut dyn FnMut(&SpanId)) {
        if let Some(scope) = self.0.event_scope(event) {
            for span in scope {
                f(&span.id());
            }
        }
    }

    fn unrecorded_scope(&self, layer: &KvpLayer, event: &Event<'_>) -> Option<String> {
        let ctx = self.0;
        let current = ctx.current_span();
        let id = if event.is_contextual() {
            current.id()?.clone()
        } else {
            event.parent()?.clone()
        };
        // The layer's own context hides the spans its filter left out; the
        // registry itself does not. It is reached through the dispatcher
        // the layer was registered with (kept weakly), or else through the
        // global default: tracing-core does not tell a layer inside a
        // `Box<dyn Subscriber>` or a `Vec` of layers which dispatcher it is
        // part of, but the dispatcher finds its registry through either. (A
        // scoped default cannot be reached from inside its own dispatch;
        // there, only the innermost span is named.)
        let path_in = |d: &Dispatch| {
            let span = d
                .downcast_ref::<tracing_subscriber::Registry>()?
                .span(&id)?;
            let names: Vec<&str> = span.scope().from_root().map(|s| s.name()).collect();
            Some(names.join("/"))
        };
        let path = match layer.registered.get().and_then(WeakDispatch::upgrade) {
            Some(d) => path_in(&d),
            None => tracing::dispatcher::get_default(path_in),
        };
        path.or_else(|| Some(current.metadata()?.name().to_owned()))
    }
}

impl KvpLayer {
    /// The KVP id of a new span's parent: the nearest ancestor this layer
    /// writes (its filter may have left the direct parent out).
    fn parent_of<S>(&self, attrs: &Attributes<'_>, id: &SpanId, ctx: &Context<'_, S>) -> Option<u64>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        // The registry's own rule for a new span's parent, without looking
        // the new span up.
        let direct = if attrs.is_root() {
            return None;
        } else if attrs.is_contextual() {
            ctx.current_span().id()?.clone()
        } else {
            attrs.parent()?.clone()
        };
        if let Some(kvp) = self.spans.with(&direct, |d| d.id) {
            return Some(kvp);
        }
        let parent = ctx.span(id)?.parent()?;
        self.spans.with(&parent.id(), |d| d.id)
    }

    /// Upserts the provisioning report an event carries in its
    /// `health_report` field. Reports are rare: formatted here, as text,
    /// scrubbed of secrets (a failure's reason is often an error message),
    /// and written as `<redacted>` if the deny list covers the field.
    fn report(&self, event: &Event<'_>, level: Level) {
        let mut report = ReportField::default();
        if self.redactor.is_denied(HEALTH_REPORT_FIELD) {
            report.0.push_str(REDACTED);
        } else {
            event.record(&mut report);
        }
        let report = self.redactor.scrub(&report.0);
        // A report made without a vm_id gets the one this layer writes.
        let unknown = format!("|vm_id={UNKNOWN_REPORT_VM_ID}|");
        let report = if report.contains(&unknown) {
            report.replacen(&unknown, &format!("|vm_id={}|", self.vm_id), 1)
        } else {
            report.into_owned()
        };
        self.sink
            .upsert(Some(level), PROVISIONING_REPORT_KEY, &report);
    }
}
