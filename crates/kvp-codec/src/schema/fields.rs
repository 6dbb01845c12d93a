//! Fields as `name=value` text, and back.
//!
//! The escaping rule, which [`parse_fields`] inverts exactly:
//!
//! - Fields are separated by one space: `name=value name=value`.
//! - A value is written **bare** when it is non-empty and every character is
//!   an ASCII letter, digit or one of `. _ - + : / @ ,`. Numbers, booleans,
//!   ids and paths stay readable.
//! - Any other value is **quoted**: `"..."`, with `\"`, `\\`, `\n`, `\r`,
//!   `\t` escaped and other control characters as `\u{XX}`. Non-ASCII text
//!   is kept as it is (the pool is UTF-8).
//! - Field names come from the source code and are written as they are.
//! - One exception: a redacted value is written bare as `<redacted>`
//!   (no space in it, so it parses back as the value `<redacted>`).

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write};

use super::REDACTED;

/// Whether a byte may appear in a bare value.
const fn is_bare_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+' | b':' | b'/' | b'@' | b',')
}

/// Whether a value can be written without quotes.
fn is_bare(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(is_bare_byte)
}

/// Whether a byte must be escaped inside quotes: `"`, `\` and ASCII control
/// characters. (C1 controls are two-byte characters and are found by the
/// slow path.)
const fn needs_escape(b: u8) -> bool {
    matches!(b, b'"' | b'\\') || b < 0x20 || b == 0x7f || b == 0xc2
}

/// Appends ` name=value` (no leading space when `out` is empty), escaping the
/// value by the rule above.
///
/// ```
/// let mut out = String::new();
/// kvp_codec::schema::push_field(&mut out, "n", "42");
/// kvp_codec::schema::push_field(&mut out, "msg", "a \"b\"");
/// assert_eq!(out, r#"n=42 msg="a \"b\"""#);
/// ```
pub fn push_field(out: &mut String, name: &str, value: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(name);
    out.push('=');
    push_value(out, value);
}

/// Appends ` name=<redacted>`: the marker is written bare (it has no
/// space, so [`parse_fields`] reads it back as the value `<redacted>`).
///
/// ```
/// let mut out = String::from("user=azureuser");
/// kvp_codec::schema::push_redacted(&mut out, "password");
/// assert_eq!(out, "user=azureuser password=<redacted>");
/// ```
pub fn push_redacted(out: &mut String, name: &str) {
    if !out.is_empty() {
        out.push(' ');
    }
    out.push_str(name);
    out.push('=');
    out.push_str(REDACTED);
}

/// Appends one value, escaped by the rule above (bare or quoted).
pub fn push_value(out: &mut String, value: &str) {
    if is_bare(value) {
        out.push_str(value);
        return;
    }
    out.push('"');
    // Copy runs of bytes that need no escape in one go; most text is one run.
    let mut rest = value;
    while let Some(at) = rest.bytes().position(needs_escape) {
        out.push_str(&rest[..at]);
        let c = rest[at..]
            .chars()
            .next()
            .expect("`at` is a char boundary: escapes start with ASCII or 0xc2");
        push_escaped(out, c);
        rest = &rest[at + c.len_utf8()..];
    }
    out.push_str(rest);
    out.push('"');
}

/// Appends one character of a quoted value, escaped if it must be.
fn push_escaped(out: &mut String, c: char) {
    {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}

/// A field text that cannot be parsed back, with the byte offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseFieldsError {
    /// Byte offset of the problem.
    pub offset: usize,
    /// What was expected there.
    pub expected: &'static str,
}

impl fmt::Display for ParseFieldsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bad field text at byte {}: expected {}",
            self.offset, self.expected
        )
    }
}

impl core::error::Error for ParseFieldsError {}

/// Parses `name=value name=value ...` back into pairs, undoing the escaping.
///
/// ```
/// let fields = kvp_codec::schema::parse_fields(r#"time=2026-01-01T00:00:00.000Z message="hello \"you\"" n=3"#)?;
/// assert_eq!(fields[1], ("message".to_string(), "hello \"you\"".to_string()));
/// # Ok::<(), kvp_codec::schema::ParseFieldsError>(())
/// ```
pub fn parse_fields(text: &str) -> Result<Vec<(String, String)>, ParseFieldsError> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < text.len() {
        let eq = text[at..].find('=').ok_or(ParseFieldsError {
            offset: at,
            expected: "`=` after a field name",
        })? + at;
        let name = text[at..eq].to_owned();
        at = eq + 1;
        let mut value = String::new();
        if bytes.get(at) == Some(&b'"') {
            at += 1;
            let mut chars = text[at..].char_indices();
            loop {
                let Some((i, c)) = chars.next() else {
                    return Err(ParseFieldsError {
                        offset: text.len(),
                        expected: "a closing `\"`",
                    });
                };
                match c {
                    '"' => {
                        at += i + 1;
                        break;
                    }
                    '\\' => {
                        let bad = ParseFieldsError {
                            offset: at + i,
                            expected: "an escape: \\\" \\\\ \\n \\r \\t \\u{..}",
                        };
                        match chars.next().map(|(_, c)| c) {
                            Some('"') => value.push('"'),
                            Some('\\') => value.push('\\'),
                            Some('n') => value.push('\n'),
                            Some('r') => value.push('\r'),
                            Some('t') => value.push('\t'),
                            Some('u') => {
                                let rest = &text[at + i + 2..];
                                let close = rest
                                    .find('}')
                                    .filter(|_| rest.starts_with('{'))
                                    .ok_or(bad.clone())?;
                                let c = u32::from_str_radix(&rest[1..close], 16)
                                    .ok()
                                    .and_then(char::from_u32)
                                    .ok_or(bad)?;
                                value.push(c);
                                for _ in 0..=close {
                                    chars.next();
                                }
                            }
                            _ => return Err(bad),
                        }
                    }
                    c => value.push(c),
                }
            }
        } else {
            let end = text[at..].find(' ').map_or(text.len(), |e| e + at);
            value.push_str(&text[at..end]);
            at = end;
        }
        out.push((name, value));
        match bytes.get(at) {
            None => break,
            Some(b' ') => at += 1,
            Some(_) => {
                return Err(ParseFieldsError {
                    offset: at,
                    expected: "a space between fields",
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn fields_round_trip(pairs in proptest::collection::vec(("[a-z_.]{1,12}", any::<String>()), 0..6)) {
            let mut text = String::new();
            for (n, v) in &pairs {
                push_field(&mut text, n, v);
            }
            let parsed = parse_fields(&text).unwrap();
            prop_assert_eq!(parsed, pairs);
        }

        #[test]
        fn parsing_never_panics(text in any::<String>()) {
            let _ = parse_fields(&text);
        }
    }

    #[test]
    fn bare_and_quoted() {
        let mut s = String::new();
        push_field(&mut s, "n", "42");
        push_field(&mut s, "path", "/var/lib/hyperv");
        push_field(&mut s, "msg", "a b");
        push_field(&mut s, "empty", "");
        push_field(&mut s, "ctl", "x\u{7}y\n");
        assert_eq!(
            s,
            r#"n=42 path=/var/lib/hyperv msg="a b" empty="" ctl="x\u{7}y\n""#
        );
    }
}
