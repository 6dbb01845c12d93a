//! Records captured on the application's thread, rendered on the writer's.
//!
//! The caller's thread does only what cannot wait: it reads the clock, takes
//! an id, decides redaction, and copies each field's value as it is (a
//! number as 8 bytes, text as its bytes; a `Debug` or `Display` value must
//! be formatted here, because it is borrowed). The result is a [`Captured`]:
//! a typed [`Header`] and the fields' bytes. The sink carries it to the
//! writer thread ([`kvp_sink::Capture`]), where [`RenderContext`] makes the
//! record's text (escaping, timestamps, ids, the key), byte for byte what
//! formatting on the caller's thread would give.
//!
//! The fields' bytes, private to this crate:
//!
//! ```text
//! fields  (index u8 | tag u8 | payload)*
//! payload u64, i64, f64: 8 bytes; bool: 1 byte; text: length u32, bytes;
//!         redacted: nothing
//! ```
//!
//! Field names are not copied: the capture keeps the callsite's
//! `&'static Metadata`, which names field `index`.

use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

use kvp_codec::Level;
use kvp_sink::{Capture, RenderError};
use smallvec::SmallVec;
use telemetry_redact::DenyList;
use tracing::Metadata;
use tracing::field::{Field, Visit};

use crate::flags::FieldFlags;
use crate::ids::{IdFormat, Keys};
use crate::inline::InlineBytes;
use crate::redact::Redactor;
use crate::stamp::Stamp;
use kvp_codec::schema::{OPEN_SUFFIX, field, push_field, push_redacted, status};

/// What a captured record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Event = 0,
    SpanClose = 1,
    SpanOpen = 2,
}

const U64: u8 = 0;
const I64: u8 = 1;
const F64: u8 = 2;
const BOOL: u8 = 3;
const TEXT: u8 = 4;
const REDACTED: u8 = 5;

/// The fixed part of a captured record.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) kind: Kind,
    pub(crate) level: Level,
    /// The record's id (an event's) or the span's.
    pub(crate) id: u64,
    /// The enclosing span of an event, the parent of a span.
    pub(crate) span: Option<u64>,
    /// A span's error status.
    pub(crate) error: bool,
    pub(crate) suppressed: u64,
    /// An event's time, a span's start.
    pub(crate) time: Stamp,
    /// A closed span's end.
    pub(crate) end: Option<Stamp>,
    /// How a span closed by the process's end ended it
    /// ([`EndedBy::NotEnded`] for every other record).
    pub(crate) ended_by: EndedBy,
}

/// What ended a span that was still open when the process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum EndedBy {
    /// The span closed, or the record is not a span's.
    NotEnded = 0,
    /// `std::process::exit`.
    Exit = 1,
    /// SIGTERM.
    Sigterm = 2,
    /// SIGINT.
    Sigint = 3,
    /// Another signal.
    Signal = 4,
}

impl EndedBy {
    /// The value of the `ended_by=` field.
    fn name(self) -> &'static str {
        match self {
            EndedBy::NotEnded => "",
            EndedBy::Exit => "exit",
            EndedBy::Sigterm => "SIGTERM",
            EndedBy::Sigint => "SIGINT",
            EndedBy::Signal => "signal",
        }
    }
}

/// Reads a capture; every read is checked, so a malformed capture gives
/// `None`, never a panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.array()?))
    }
    fn text(&mut self) -> Option<&'a str> {
        let len = u32::from_le_bytes(self.array()?) as usize;
        std::str::from_utf8(self.take(len)?).ok()
    }
}

/// Copies field values into a capture, redacting denied names: straight
/// into the entry that carries an event to the writer, or into a span's
/// fields until it closes.
pub(crate) struct CaptureFields<'a, const N: usize> {
    pub(crate) out: &'a mut InlineBytes<N>,
    pub(crate) redactor: &'a Redactor,
    /// The flags of the fields' callsite, under `redactor`.
    pub(crate) flags: FieldFlags,
    /// An `error` field, or an `Error` value, was seen.
    pub(crate) error: bool,
    /// How many more bytes of text may be kept: past what the writer could
    /// ever write of one value, text is cut here, so that a huge field
    /// costs the queue no more than a record's worth (the writer then cuts
    /// the value and marks it `…[truncated]`).
    pub(crate) left: usize,
}

impl<const N: usize> CaptureFields<'_, N> {
    /// Whether the field's name is denied and its value must not be looked
    /// at; notes an `error` field.
    #[inline]
    fn denied(&mut self, field: &Field) -> bool {
        match FieldFlags::bit(field.index()) {
            Some(bit) => {
                self.error |= self.flags.error & bit != 0;
                self.flags.denied & bit != 0
            }
            // Past tracing's 32 fields a callsite: not in the flags.
            None => self.redactor.is_denied(field.name()),
        }
    }

    /// Writes a field's index, its tag and `payload` (up to 8 bytes) in
    /// one copy (a copy a part costs a capacity check each), or the
    /// redaction; `false` when redacted. Only text is redacted: a number
    /// or a bool carries no credential, whatever its name.
    #[inline]
    fn head<const L: usize>(&mut self, field: &Field, tag: u8, payload: [u8; L]) -> bool {
        let index = field.index() as u8;
        let denied = self.denied(field);
        if denied && tag == TEXT {
            self.out.extend_from_slice(&[index, REDACTED]);
            return false;
        }
        let mut buf = [index, tag, 0, 0, 0, 0, 0, 0, 0, 0];
        buf[2..2 + L].copy_from_slice(&payload);
        self.out.extend_from_slice(&buf[..2 + L]);
        true
    }

    /// A text payload: its length, then its bytes.
    #[inline]
    fn text(&mut self, field: &Field, value: &str) {
        let value = cut_str(value, self.left);
        // `left` is far below 4 GiB, so the length fits.
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        if self.head(field, TEXT, len.to_le_bytes()) {
            self.out
                .extend_from_slice(&value.as_bytes()[..len as usize]);
            self.left -= len as usize;
        }
    }

    /// A value formatted as a text payload, its length filled in after.
    #[inline]
    fn formatted(&mut self, field: &Field, value: fmt::Arguments<'_>) {
        let at = self.out.len() + 2;
        if self.head(field, TEXT, [0; 4]) {
            // Writing into memory cannot fail; a Debug impl that fails
            // leaves what it wrote. (`io::Write` would panic on a failing
            // Debug impl: use `fmt`'s.)
            let mut bytes = Bytes {
                out: self.out,
                left: self.left,
            };
            let _ = bytes.write_fmt(value);
            self.left = bytes.left;
            let len = u32::try_from(self.out.len() - at - 4).unwrap_or(u32::MAX);
            self.out.as_mut_slice()[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// `fmt::Write` into a capture, keeping at most `left` more bytes.
struct Bytes<'a, const N: usize> {
    out: &'a mut InlineBytes<N>,
    left: usize,
}

impl<const N: usize> fmt::Write for Bytes<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let s = cut_str(s, self.left);
        self.out.extend_from_slice(s.as_bytes());
        self.left -= s.len();
        Ok(())
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut_str(s: &str, max: usize) -> &str {
    kvp_codec::prefix_within(s, max, usize::MAX)
}

impl<const N: usize> Visit for CaptureFields<'_, N> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.formatted(field, format_args!("{value:?}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.head(field, U64, value.to_le_bytes());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.head(field, I64, value.to_le_bytes());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.head(field, F64, value.to_bits().to_le_bytes());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.head(field, BOOL, [u8::from(value)]);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.error = true;
        self.formatted(field, format_args!("{}", kvp_sink::WithCauses(value)));
    }
}

/// The pseudo-field index of `in=`: the path of an event's spans that this
/// layer does not record (its filter left them out), so that a reader
/// still sees where the event happened. Callsites have at most 32 fields.
const SCOPE_INDEX: u8 = u8::MAX;

/// The name [`SCOPE_INDEX`] renders as.
const SCOPE_NAME: &str = "in";

/// Appends the `in=` pseudo-field (see [`SCOPE_INDEX`]) to a capture.
pub(crate) fn push_scope<const N: usize>(out: &mut InlineBytes<N>, path: &str) {
    let len = u32::try_from(path.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&[SCOPE_INDEX, TEXT]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&path.as_bytes()[..len as usize]);
}

/// Appends the fields of a capture as ` name=value` text, text values
/// scrubbed of the secrets `deny` finds in them.
///
/// An event bridged from the `log` crate (`tracing-log`) carries the log
/// record's target, module, file and line as `log.*` fields: they are left
/// out, the target having named the record.
fn render_fields(
    meta: &Metadata<'static>,
    r: &mut Reader<'_>,
    deny: &DenyList,
    out: &mut String,
) -> Option<()> {
    let names: SmallVec<[&'static str; 32]> = meta.fields().iter().map(|f| f.name()).collect();
    while !r.0.is_empty() {
        let index = r.u8()?;
        let name = if index == SCOPE_INDEX {
            SCOPE_NAME
        } else {
            *names.get(usize::from(index))?
        };
        if name.starts_with("log.") {
            skip_payload(r)?;
            continue;
        }
        match r.u8()? {
            U64 => push_field(out, name, itoa::Buffer::new().format(r.u64()?)),
            I64 => push_field(out, name, itoa::Buffer::new().format(r.u64()? as i64)),
            // `ryu` writes what `Debug` writes (`1.5`, `2.0`, `1e20`, `NaN`,
            // `inf`), several times faster.
            F64 => push_field(
                out,
                name,
                ryu::Buffer::new().format(f64::from_bits(r.u64()?)),
            ),
            BOOL => push_field(out, name, if r.u8()? != 0 { "true" } else { "false" }),
            TEXT => push_field(out, name, &deny.scrub(r.text()?)),
            REDACTED => push_redacted(out, name),
            _ => return None,
        }
    }
    Some(())
}

/// Reads past one field's tag and payload.
fn skip_payload(r: &mut Reader<'_>) -> Option<()> {
    match r.u8()? {
        U64 | I64 | F64 => r.take(8).map(|_| ()),
        BOOL => r.take(1).map(|_| ()),
        TEXT => r.text().map(|_| ()),
        REDACTED => Some(()),
        _ => None,
    }
}

/// The target of an event bridged from the `log` crate: its `log.target`
/// field, which names the record instead of the bridge's own target.
fn log_target<'a>(meta: &Metadata<'static>, fields: &'a [u8]) -> Option<&'a str> {
    let index = meta.fields().field("log.target")?.index();
    let mut r = Reader(fields);
    while !r.0.is_empty() {
        let at = usize::from(r.u8()?);
        if at == index {
            return (r.u8()? == TEXT).then(|| r.text()).flatten();
        }
        skip_payload(&mut r)?;
    }
    None
}

/// Bytes of fields a capture keeps inline; more spill to the heap.
const FIELD_BYTES: usize = 144;

/// A capture's fields ([`CaptureFields`] writes them).
pub(crate) type FieldBytes = InlineBytes<FIELD_BYTES>;

/// A record as the caller's thread captured it: its header, typed, and its
/// fields' bytes. The sink carries it to the writer thread, which renders
/// it (see the module docs). A span's close record is captured when the
/// span opens and completed when it closes, by setting header fields.
pub struct Captured {
    /// The layer that captured it: its [`RenderContext`] in the writer's
    /// [`Renderers`].
    layer: u64,
    meta: &'static Metadata<'static>,
    pub(crate) header: Header,
    pub(crate) fields: FieldBytes,
}

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured")
            .field("header", &self.header)
            .field("callsite", &self.meta.name())
            .finish_non_exhaustive()
    }
}

impl Captured {
    pub(crate) fn new(layer: u64, meta: &'static Metadata<'static>, header: Header) -> Self {
        Captured {
            layer,
            meta,
            header,
            fields: FieldBytes::new(),
        }
    }

    /// The same record with another header and the same fields.
    pub(crate) fn with_header(&self, header: Header) -> Self {
        Captured {
            header,
            fields: self.fields.clone(),
            ..*self
        }
    }
}

impl Capture for Captured {
    type Renderer = Renderers;

    fn level(&self) -> Option<Level> {
        Some(self.header.level)
    }

    fn render(
        &self,
        renderers: &mut Renderers,
        key: &mut String,
        value: &mut String,
    ) -> Result<(), RenderError> {
        renderers
            .get(self.layer)
            .and_then(|ctx| ctx.render(self, key, value))
            .ok_or(RenderError)
    }

    fn heap_bytes(&self) -> usize {
        self.fields.heap_bytes()
    }
}

/// The writer thread's render contexts, one per layer that sends to it,
/// each set up by its layer ([`kvp_sink::Sink::configure_renderer`])
/// before the layer's first record, and kept while the writer runs (a
/// record may still be queued after its layer is gone).
#[derive(Default)]
pub struct Renderers {
    /// By layer; nearly always one.
    contexts: Vec<(u64, RenderContext)>,
}

impl Renderers {
    /// Adds `layer`'s context.
    pub(crate) fn add(&mut self, layer: u64, ctx: RenderContext) {
        self.contexts.push((layer, ctx));
    }

    fn get(&mut self, layer: u64) -> Option<&mut RenderContext> {
        self.contexts
            .iter_mut()
            .find_map(|(id, ctx)| (*id == layer).then_some(ctx))
    }
}

impl fmt::Debug for Renderers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renderers")
            .field("layers", &self.contexts.len())
            .finish()
    }
}

/// What rendering a layer's records needs, on the writer thread: the key
/// layout, the id format, the deny list for scrubbing text, and a cache of
/// the current second's text. The writer owns it ([`Renderers`]).
pub(crate) struct RenderContext {
    key: Keys,
    ids: IdFormat,
    /// The layer's deny list, to scrub text values with.
    deny: DenyList,
    /// The RFC 3339 text of one second, reused while records fall in it.
    second: (u64, String),
    /// The caller's hook for the name part of keys.
    key_name: Option<crate::KeyName>,
}

impl RenderContext {
    pub(crate) fn new(
        key: Keys,
        ids: IdFormat,
        deny: DenyList,
        key_name: Option<crate::KeyName>,
    ) -> Self {
        RenderContext {
            key,
            ids,
            deny,
            second: (u64::MAX, String::with_capacity(24)),
            key_name,
        }
    }

    fn render(&mut self, c: &Captured, key: &mut String, value: &mut String) -> Option<()> {
        let (h, meta) = (&c.header, c.meta);
        let second = &mut self.second;
        let (name, id, related_label) = match h.kind {
            Kind::Event => {
                write_time(second, value, field::TIME, h.time.system_time()?);
                let target = log_target(meta, c.fields.as_slice()).unwrap_or(meta.target());
                (target, self.ids.format(h.id), field::SPAN)
            }
            Kind::SpanClose | Kind::SpanOpen => {
                write_time(second, value, field::START, h.time.system_time()?);
                let mut id = self.ids.format(h.id);
                match h.end {
                    Some(end) => {
                        write_time(second, value, field::END, end.system_time()?);
                        push_duration(value, end.since(h.time));
                        push_label(value, field::STATUS);
                        value.push_str(if h.error { status::ERROR } else { status::OK });
                    }
                    None => {
                        push_label(value, field::STATUS);
                        value.push_str(status::OPEN);
                        // An id has room for the suffix: at most 29 + 5 of
                        // its 40 bytes (`MAX_ID_LEN`, which the key layout
                        // leaves room for).
                        let _ = id.write_str(OPEN_SUFFIX);
                    }
                }
                (meta.name(), id, field::PARENT)
            }
        };
        // An event's span, a span's parent.
        if let Some(related) = h.span {
            push_label(value, related_label);
            value.push_str(self.ids.format(related).as_str());
        }
        if h.suppressed > 0 {
            push_label(value, field::SUPPRESSED);
            value.push_str(itoa::Buffer::new().format(h.suppressed));
        }
        if h.ended_by != EndedBy::NotEnded {
            push_label(value, field::ENDED_BY);
            value.push_str(h.ended_by.name());
        }
        render_fields(meta, &mut Reader(c.fields.as_slice()), &self.deny, value)?;
        key.clear();
        let shaped = self.key_name.as_ref().and_then(|f| f(meta));
        let name = shaped.as_deref().unwrap_or(name);
        self.key.write(key, h.level, name, id.as_str()).ok()?;
        Some(())
    }
}

/// Appends ` name=`: the start of one more field, its value to follow.
fn push_label(out: &mut String, name: &str) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
}

/// Appends ` duration_ms=<ms>.<3 digits>` from whole microseconds: float
/// formatting with a precision costs more than the rest of the record.
fn push_duration(out: &mut String, d: Duration) {
    let us = d.as_micros();
    push_label(out, field::DURATION_MS);
    out.push_str(itoa::Buffer::new().format(us / 1000));
    push_thousandths(out, (us % 1000) as u16);
}

/// Appends `.` and `n` (below 1000) as three digits.
fn push_thousandths(out: &mut String, n: u16) {
    out.push('.');
    for digit in [n / 100, n / 10 % 10, n % 10] {
        out.push(char::from(b'0' + digit as u8));
    }
}

/// Appends ` name=<RFC 3339, UTC, milliseconds>`; `second` caches the text
/// of the last whole second formatted.
fn write_time(second: &mut (u64, String), out: &mut String, name: &str, time: SystemTime) {
    if out.is_empty() {
        out.push_str(name);
        out.push('=');
    } else {
        push_label(out, name);
    }
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
    push_thousandths(out, since.subsec_millis() as u16);
    out.push('Z');
}
