//! Records captured on the application's thread, rendered on the writer's.
//!
//! The caller's thread does only what cannot wait: it reads the clock, takes
//! an id, decides redaction, and copies each field's value as it is (a
//! number as 8 bytes, text as its bytes; a `Debug` or `Display` value must
//! be formatted here, because it is borrowed). The text of the record
//! (escaping, timestamps, ids, the key) is made by [`Renderer`] on the
//! writer thread, through [`kvp_sink::Render`], and is byte for byte what
//! formatting on the caller's thread would give.
//!
//! The captured form, private to this crate:
//!
//! ```text
//! header  kind u8 | level u8 | flags u8 | id u64 | [span or parent u64]
//!         | suppressed u64 | time | [end time]
//! time    seconds since 1970 i64 | nanoseconds u32
//! fields  (index u8 | tag u8 | payload)*
//! payload u64, i64, f64: 8 bytes; bool: 1 byte; text: length u32, bytes;
//!         redacted: nothing
//! ```
//!
//! Field names are not copied: the entry's context is the callsite's
//! `&'static Metadata`, which names field `index`.

use std::any::Any;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime};

use kvp_codec::Level;
use kvp_sink::{InlineBytes, Render};
use parking_lot::Mutex;
use smallvec::SmallVec;
use telemetry_redact::DenyList;
use tracing::Metadata;
use tracing::field::{Field, Visit};

use crate::fields::{push_field, push_redacted};
use crate::flags::FieldFlags;
use crate::ids::{IdFormat, Keys};
use crate::redact::Redactor;
use crate::stamp::Stamp;

/// What a captured record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Event = 0,
    SpanClose = 1,
    SpanOpen = 2,
}

const HAS_SPAN: u8 = 1;
const ERROR: u8 = 2;

const U64: u8 = 0;
const I64: u8 = 1;
const F64: u8 = 2;
const BOOL: u8 = 3;
const TEXT: u8 = 4;
const REDACTED: u8 = 5;

/// The longest header: kind, level, flags, id, span, suppressed, two times.
const HEADER_MAX: usize = 3 + 8 + 8 + 8 + 12 + 12;

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
}

impl Header {
    /// Appends the header to `out`: put together on the stack, where each
    /// part is a store, then copied in one go (one capacity check, where a
    /// copy a part costs six).
    #[inline]
    pub(crate) fn write<const N: usize>(&self, out: &mut InlineBytes<N>) {
        let flags =
            if self.span.is_some() { HAS_SPAN } else { 0 } | if self.error { ERROR } else { 0 };
        let mut buf = [0u8; HEADER_MAX];
        buf[..3].copy_from_slice(&[self.kind as u8, self.level.as_u8(), flags]);
        buf[3..11].copy_from_slice(&self.id.to_le_bytes());
        let mut at = 11;
        if let Some(span) = self.span {
            buf[at..at + 8].copy_from_slice(&span.to_le_bytes());
            at += 8;
        }
        buf[at..at + 8].copy_from_slice(&self.suppressed.to_le_bytes());
        buf[at + 8..at + 20].copy_from_slice(&self.time.to_bytes());
        at += 20;
        if let Some(end) = self.end {
            buf[at..at + 12].copy_from_slice(&end.to_bytes());
            at += 12;
        }
        out.extend_from_slice(&buf[..at]);
    }

    /// How many bytes [`Header::write`] writes.
    pub(crate) fn len(&self) -> usize {
        3 + 8 + 8 * usize::from(self.span.is_some()) + 8 + 12 + 12 * usize::from(self.end.is_some())
    }

    /// Fills in a span's close record, written with its end time unknown,
    /// with what closing the span tells: its status, the records of its
    /// callsite suppressed meanwhile, and its end. A header too short for
    /// that (which [`Header::write`] never makes) is left as it is.
    pub(crate) fn close(bytes: &mut [u8], error: bool, suppressed: u64, end: Stamp) {
        let Some(flags) = bytes.get_mut(2) else {
            return;
        };
        if error {
            *flags |= ERROR;
        }
        let at = if *flags & HAS_SPAN != 0 { 19 } else { 11 };
        if let Some(s) = bytes.get_mut(at..at + 8) {
            s.copy_from_slice(&suppressed.to_le_bytes());
        }
        if let Some(e) = bytes.get_mut(at + 20..at + 32) {
            e.copy_from_slice(&end.to_bytes());
        }
    }

    fn read(r: &mut Reader<'_>) -> Option<Header> {
        let kind = match r.u8()? {
            0 => Kind::Event,
            1 => Kind::SpanClose,
            2 => Kind::SpanOpen,
            _ => return None,
        };
        let level = Level::from_u8(r.u8()?)?;
        let flags = r.u8()?;
        let id = r.u64()?;
        let span = if flags & HAS_SPAN != 0 {
            Some(r.u64()?)
        } else {
            None
        };
        let suppressed = r.u64()?;
        let time = r.stamp()?;
        let end = if kind == Kind::SpanClose {
            Some(r.stamp()?)
        } else {
            None
        };
        Some(Header {
            kind,
            level,
            id,
            span,
            error: flags & ERROR != 0,
            suppressed,
            time,
            end,
        })
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
    fn stamp(&mut self) -> Option<Stamp> {
        Stamp::from_bytes(self.array()?)
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
    /// redaction; `false` when redacted.
    #[inline]
    fn head<const L: usize>(&mut self, field: &Field, tag: u8, payload: [u8; L]) -> bool {
        let index = field.index() as u8;
        if self.denied(field) {
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
        // Longer text is cut at 4 GiB, far past any record.
        let len = u32::try_from(value.len()).unwrap_or(u32::MAX);
        if self.head(field, TEXT, len.to_le_bytes()) {
            self.out
                .extend_from_slice(&value.as_bytes()[..len as usize]);
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
            let _ = Bytes(self.out).write_fmt(value);
            let len = u32::try_from(self.out.len() - at - 4).unwrap_or(u32::MAX);
            self.out.as_mut_slice()[at..at + 4].copy_from_slice(&len.to_le_bytes());
        }
    }
}

/// `fmt::Write` into a capture.
struct Bytes<'a, const N: usize>(&'a mut InlineBytes<N>);

impl<const N: usize> fmt::Write for Bytes<'_, N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
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
        self.formatted(field, format_args!("{}", ErrorChain(value)));
    }
}

/// An error and its sources: `outer: inner: root`.
struct ErrorChain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Appends the fields of a capture as ` name=value` text, text values
/// scrubbed of the secrets `deny` finds in them.
fn render_fields(
    meta: &Metadata<'static>,
    r: &mut Reader<'_>,
    deny: &DenyList,
    out: &mut String,
) -> Option<()> {
    let names: SmallVec<[&'static str; 32]> = meta.fields().iter().map(|f| f.name()).collect();
    while !r.0.is_empty() {
        let name = *names.get(usize::from(r.u8()?))?;
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

/// Turns this layer's captures into records, on the writer thread.
pub(crate) struct Renderer {
    pub(crate) key: Keys,
    pub(crate) ids: IdFormat,
    /// The layer's deny list, to scrub text values with.
    deny: DenyList,
    /// The RFC 3339 text of one second, reused while records fall in it.
    second: Mutex<(u64, String)>,
}

impl Renderer {
    pub(crate) fn new(key: Keys, ids: IdFormat, deny: DenyList) -> Self {
        Renderer {
            key,
            ids,
            deny,
            second: Mutex::new((u64::MAX, String::with_capacity(24))),
        }
    }

    fn render_parts(
        &self,
        meta: &Metadata<'static>,
        bytes: &[u8],
        key: &mut String,
        value: &mut String,
    ) -> Option<()> {
        let mut r = Reader(bytes);
        let h = Header::read(&mut r)?;
        let mut second = self.second.lock();
        let second = &mut *second;
        let (name, id, related_label) = match h.kind {
            Kind::Event => {
                write_time(second, value, "time", h.time.system_time()?);
                (meta.target(), self.ids.format(h.id), " span=")
            }
            Kind::SpanClose | Kind::SpanOpen => {
                write_time(second, value, "start", h.time.system_time()?);
                let mut id = self.ids.format(h.id);
                match h.end {
                    Some(end) => {
                        write_time(second, value, "end", end.system_time()?);
                        push_duration(value, end.since(h.time));
                        value.push_str(if h.error {
                            " status=error"
                        } else {
                            " status=ok"
                        });
                    }
                    None => {
                        value.push_str(" status=open");
                        // An id has room for the suffix: at most 29 + 5 of
                        // its 40 bytes (`MAX_ID_LEN`, which the key layout
                        // leaves room for).
                        let _ = id.write_str("-open");
                    }
                }
                (meta.name(), id, " parent=")
            }
        };
        // An event's span, a span's parent.
        if let Some(related) = h.span {
            value.push_str(related_label);
            value.push_str(self.ids.format(related).as_str());
        }
        if h.suppressed > 0 {
            let _ = write!(value, " suppressed={}", h.suppressed);
        }
        render_fields(meta, &mut r, &self.deny, value)?;
        key.clear();
        self.key.write(key, h.level, name, id.as_str()).ok()?;
        Some(())
    }
}

impl Render for Renderer {
    fn render(
        &self,
        context: &'static (dyn Any + Send + Sync),
        bytes: &[u8],
        key: &mut String,
        value: &mut String,
    ) {
        let rendered = context
            .downcast_ref::<Metadata<'static>>()
            .and_then(|meta| self.render_parts(meta, bytes, key, value));
        if rendered.is_none() {
            // The writer drops a record with an empty key, and counts it.
            key.clear();
        }
    }
}

/// Appends ` duration_ms=<ms>.<3 digits>` from whole microseconds: float
/// formatting with a precision costs more than the rest of the record.
fn push_duration(out: &mut String, d: Duration) {
    let us = d.as_micros();
    out.push_str(" duration_ms=");
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
    push_thousandths(out, since.subsec_millis() as u16);
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    /// A close record written at open and patched at close reads back as
    /// if it had been written at close, with a parent and without.
    #[test]
    fn a_patched_close_header_reads_back_whole() {
        let start = Stamp::of(SystemTime::UNIX_EPOCH + Duration::new(1_795_000_000, 5));
        let end = Stamp::of(SystemTime::UNIX_EPOCH + Duration::new(1_795_000_002, 7));
        for span in [None, Some(0xfeed)] {
            let open = Header {
                kind: Kind::SpanClose,
                level: Level::Info,
                id: 42,
                span,
                error: false,
                suppressed: 0,
                time: start,
                end: Some(start),
            };
            let mut out = InlineBytes::<128>::new();
            open.write(&mut out);
            assert_eq!(out.len(), open.len());
            out.extend_from_slice(b"fields");
            Header::close(out.as_mut_slice(), true, 3, end);
            let mut r = Reader(out.as_slice());
            let read = Header::read(&mut r).expect("a header");
            assert_eq!(
                (
                    read.id,
                    read.span,
                    read.error,
                    read.suppressed,
                    read.time,
                    read.end
                ),
                (42, span, true, 3, start, Some(end))
            );
            assert_eq!(r.0, b"fields");
        }
    }
}
