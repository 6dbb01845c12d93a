//! Secrets inside free text: messages, string and `Debug` or `Display`
//! values, reports, panic messages.
//!
//! Replaced with [`REDACTED`]:
//!
//! | shape | example | what goes |
//! |---|---|---|
//! | `name=value`, `name: value`, `"name":"value"` with a denied name | `password=hunter2`, `Creds { token: "abc" }`, `{"apiKey":"abc"}` | the value (inside its quotes when quoted) |
//! | an HTTP auth scheme and its credentials | `Bearer eyJ..`, `Basic dXNlcjpwYXNz` | the credentials |
//! | SAS query parameters | `?sv=2024-01-01&sig=abc%3D` | the `sig` value (a `name=value` pair) |
//! | connection strings | `AccountKey=abc==;`, `SharedAccessKey=..`, `Password=..;` | the value (`name=value` pairs) |
//! | PEM private keys | `-----BEGIN RSA PRIVATE KEY-----` .. `-----END ..-----` | the body between the markers |
//! | JWTs | `eyJhbGciOi...` with its dots | the whole token |
//!
//! An unquoted value after `=` ends at white space or one of
//! `& ; , " ' ) } ] | < >`; after `:` it runs to the end of the line or one
//! of `, ; } ] ) & |`, so `Authorization: Bearer abc` loses the whole
//! credential. A bracketed part (`Some("a, b")`, `[..]`) is taken whole,
//! across lines, so that `Debug` text stays balanced. Text without any of
//! these shapes is not changed and not copied.
//!
//! Not replaced, whatever the name: a value that is `true`, `false` or a
//! number (`password_authentication: false`, `token_count=3`), which
//! carries no credential; and a value that is itself a struct or a map
//! (`PasswordProvisioners { .. }`, `{ .. }`), whose own fields are looked
//! at by their names instead.

use std::borrow::Cow;

use crate::names::DenyList;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Scrubs `text` with the built-in deny list; see [`DenyList::scrub`].
///
/// ```
/// let s = telemetry_redact::scrub("login with password=hunter2 for azureuser");
/// assert_eq!(s, "login with password=<redacted> for azureuser");
/// ```
pub fn scrub(text: &str) -> Cow<'_, str> {
    DenyList::default().scrub(text)
}

impl DenyList {
    /// `text` with every secret this module describes replaced by
    /// [`REDACTED`]; borrowed, with nothing allocated, when there is none.
    ///
    /// ```
    /// use telemetry_redact::DenyList;
    ///
    /// let list = DenyList::default();
    /// assert_eq!(
    ///     list.scrub("GET https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig=abc%3D&se=x failed"),
    ///     "GET https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sig=<redacted>&se=x failed",
    /// );
    /// assert_eq!(list.scrub(r#"Creds { user: "me", password: "hunter2" }"#),
    ///            r#"Creds { user: "me", password: "<redacted>" }"#);
    /// assert!(matches!(list.scrub("nothing to see"), std::borrow::Cow::Borrowed(_)));
    /// ```
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut s = Scrubber {
            list: self,
            text,
            bytes: text.as_bytes(),
            out: None,
            copied: 0,
        };
        s.run();
        match s.out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[s.copied..]);
                Cow::Owned(out)
            }
        }
    }
}

struct Scrubber<'a, 'l> {
    list: &'l DenyList,
    text: &'a str,
    bytes: &'a [u8],
    /// The scrubbed text so far, once there is a first secret.
    out: Option<String>,
    /// `text[..copied]` is in `out` (or needs no copy).
    copied: usize,
}

/// Characters of a field name in free text.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Characters of a base64url segment (JWTs).
fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

/// Characters of an HTTP `token68` credential.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `true`, `false` or a number: a value no credential hides in.
fn is_plain_scalar(value: &str) -> bool {
    value == "true"
        || value == "false"
        || (!value.is_empty()
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
            && value.parse::<f64>().is_ok())
}

/// Credentials shorter than this after `Bearer` or `Basic` are taken for
/// prose ("bearer token").
const MIN_CREDENTIAL: usize = 8;

impl Scrubber<'_, '_> {
    fn run(&mut self) {
        let mut i = 0;
        while i < self.bytes.len() {
            let next = match self.bytes[i] {
                b'=' | b':' => self.pair(i),
                b'-' => self.pem(i),
                b'e' => self.jwt(i),
                b'b' | b'B' => self.auth_scheme(i),
                _ => None,
            };
            i = next.unwrap_or(i + 1);
        }
    }

    /// Replaces `text[start..end]`; returns `end`.
    fn replace(&mut self, start: usize, end: usize) -> usize {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.text.len() + REDACTED.len()));
        out.push_str(&self.text[self.copied..start]);
        out.push_str(REDACTED);
        self.copied = end;
        end
    }

    /// Whether byte `i` starts a word: the start of the text, or after a
    /// byte that is not a letter or digit.
    fn at_word_start(&self, i: usize) -> bool {
        i == 0 || !self.bytes[i - 1].is_ascii_alphanumeric()
    }

    fn starts_with_ignore_case(&self, i: usize, what: &str) -> bool {
        self.bytes
            .get(i..i + what.len())
            .is_some_and(|s| s.eq_ignore_ascii_case(what.as_bytes()))
    }

    /// A `name=value`, `name: value` or `"name":"value"` pair whose name is
    /// denied, at separator `i`; returns where to go on.
    fn pair(&mut self, i: usize) -> Option<usize> {
        let sep = self.bytes[i];
        if sep == b':' && self.bytes.get(i + 1..i + 3) == Some(b"//") {
            return None; // a URL's scheme
        }
        let name = self.name_before(i)?;
        if !self.list.is_denied(name) {
            return None;
        }
        let mut start = i + 1;
        while start < self.bytes.len()
            && matches!(self.bytes[start], b' ' | b'\t')
            && start - i <= 4
        {
            start += 1;
        }
        let quote = *self.bytes.get(start)?;
        if quote == b'"' || quote == b'\'' {
            let end = self.closing_quote(start + 1, quote);
            if end == start + 1 {
                return None; // empty
            }
            let after = self.replace(start + 1, end);
            return Some(after.min(self.bytes.len()));
        }
        if self.opens_a_struct(start) {
            // Its fields are scrubbed by their own names as the scan goes
            // on; replacing it whole would drop its type and its brace.
            return None;
        }
        let mut end = self.unquoted_end(start, sep);
        // `authorization=Bearer abc`: the scheme and its credentials.
        let value = &self.text[start..end];
        if is_plain_scalar(value.trim_end()) {
            return Some(end);
        }
        let schemes = [
            "bearer",
            "basic",
            "digest",
            "negotiate",
            "token",
            "sharedaccesssignature",
        ];
        if schemes.iter().any(|s| value.eq_ignore_ascii_case(s))
            && self.bytes.get(end) == Some(&b' ')
        {
            end = self.unquoted_end(end + 1, sep);
        }
        while end > start && self.bytes[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        if end == start {
            return None;
        }
        Some(self.replace(start, end))
    }

    /// Whether the value at `start` is a struct or a map: `{`, or a type's
    /// name and then `{` (`PasswordProvisioners {`).
    fn opens_a_struct(&self, start: usize) -> bool {
        let mut j = start;
        while j < self.bytes.len()
            && (self.bytes[j].is_ascii_alphanumeric() || matches!(self.bytes[j], b'_' | b':'))
        {
            j += 1;
        }
        while j < self.bytes.len() && self.bytes[j] == b' ' {
            j += 1;
        }
        self.bytes.get(j) == Some(&b'{')
    }

    /// The field name that ends just before separator `i`, quoted or not.
    fn name_before(&self, i: usize) -> Option<&str> {
        let mut end = i;
        let quoted = end > 0 && matches!(self.bytes[end - 1], b'"' | b'\'');
        if quoted {
            end -= 1;
        }
        let mut start = end;
        while start > self.copied && is_name_byte(self.bytes[start - 1]) {
            start -= 1;
        }
        if quoted && (start == 0 || self.bytes[start - 1] != self.bytes[end]) {
            return None;
        }
        (start < end).then(|| &self.text[start..end])
    }

    /// The index of the quote that closes a quoted value starting at
    /// `from`, past backslash escapes; the end of the text when none does.
    fn closing_quote(&self, from: usize, quote: u8) -> usize {
        let mut j = from;
        while j < self.bytes.len() {
            match self.bytes[j] {
                b'\\' => j += 2,
                b if b == quote => return j,
                _ => j += 1,
            }
        }
        self.bytes.len()
    }

    /// Where an unquoted value starting at `start` ends; a bracketed or
    /// quoted part inside it (`Some("a, b")`) is taken whole.
    fn unquoted_end(&self, start: usize, sep: u8) -> usize {
        let mut j = start;
        let mut depth = 0usize;
        while j < self.bytes.len() {
            let b = self.bytes[j];
            match b {
                b'(' | b'[' | b'{' => {
                    depth += 1;
                    j += 1;
                    continue;
                }
                b')' | b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    j += 1;
                    continue;
                }
                b'"' | b'\'' if depth > 0 || sep == b':' => {
                    j = self.closing_quote(j + 1, b) + 1;
                    continue;
                }
                _ if depth > 0 => {
                    j += 1;
                    continue;
                }
                _ => {}
            }
            let stop = match sep {
                b'=' => {
                    b.is_ascii_whitespace()
                        || matches!(
                            b,
                            b'&' | b';'
                                | b','
                                | b'"'
                                | b'\''
                                | b')'
                                | b'}'
                                | b']'
                                | b'|'
                                | b'<'
                                | b'>'
                        )
                }
                _ => matches!(
                    b,
                    b'\n' | b'\r' | b',' | b';' | b'}' | b']' | b')' | b'&' | b'|'
                ),
            };
            if stop {
                return j;
            }
            j += 1;
        }
        self.bytes.len()
    }

    /// A PEM private-key block at `i`: its body goes, its markers stay.
    fn pem(&mut self, i: usize) -> Option<usize> {
        const BEGIN: &str = "-----BEGIN ";
        const DASHES: &str = "-----";
        if !self.text[i..].starts_with(BEGIN) {
            return None;
        }
        let label_start = i + BEGIN.len();
        let label_len = self.text[label_start..].find(DASHES)?;
        let label = &self.text[label_start..label_start + label_len];
        if !label.contains("PRIVATE KEY") || label.contains('\n') {
            return None;
        }
        let body = label_start + label_len + DASHES.len();
        let end = self.text[body..]
            .find("-----END ")
            .map_or(self.bytes.len(), |at| body + at);
        if end == body {
            return None;
        }
        Some(self.replace(body, end))
    }

    /// A JWT at `i`: `eyJ` and base64url segments joined by dots.
    fn jwt(&mut self, i: usize) -> Option<usize> {
        if !self.text[i..].starts_with("eyJ") || (i > 0 && is_b64url(self.bytes[i - 1])) {
            return None;
        }
        let segment = |from: usize| {
            let mut j = from;
            while j < self.bytes.len() && is_b64url(self.bytes[j]) {
                j += 1;
            }
            j
        };
        let first = segment(i);
        if self.bytes.get(first) != Some(&b'.') {
            return None;
        }
        let second = segment(first + 1);
        if second == first + 1 {
            return None;
        }
        let end = if self.bytes.get(second) == Some(&b'.') {
            segment(second + 1)
        } else {
            second
        };
        Some(self.replace(i, end))
    }

    /// `Bearer <credentials>` or `Basic <base64>` at `i`.
    fn auth_scheme(&mut self, i: usize) -> Option<usize> {
        if !self.at_word_start(i) {
            return None;
        }
        let basic = if self.starts_with_ignore_case(i, "bearer ") {
            false
        } else if self.starts_with_ignore_case(i, "basic ") {
            true
        } else {
            return None;
        };
        let mut start = i + if basic { 6 } else { 7 };
        while self.bytes.get(start) == Some(&b' ') {
            start += 1;
        }
        let mut end = start;
        while end < self.bytes.len() && is_token68(self.bytes[end]) {
            end += 1;
        }
        let credential = &self.bytes[start..end];
        if credential.len() < MIN_CREDENTIAL {
            return None;
        }
        // `Basic` is also a word: take only what looks like base64 (a
        // digit, `+`, `/`, `=`, or mixed case after the first letter).
        if basic {
            let looks_encoded = credential
                .iter()
                .any(|b| b.is_ascii_digit() || matches!(b, b'+' | b'/' | b'='))
                || (credential[1..].iter().any(u8::is_ascii_uppercase)
                    && credential.iter().any(u8::is_ascii_lowercase));
            if !looks_encoded {
                return None;
            }
        }
        Some(self.replace(start, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> String {
        scrub(text).into_owned()
    }

    #[test]
    fn pairs_by_name() {
        assert_eq!(s("password=hunter2"), "password=<redacted>");
        assert_eq!(s("a=1 apiKey=xyz b=2"), "a=1 apiKey=<redacted> b=2");
        assert_eq!(s("token: abc, next"), "token: <redacted>, next");
        assert_eq!(
            s(r#"{"apiKey":"k1","user":"me"}"#),
            r#"{"apiKey":"<redacted>","user":"me"}"#
        );
        assert_eq!(
            s(r#"{"pin": 1234, "pwd": "x\"y"}"#),
            r#"{"pin": 1234, "pwd": "<redacted>"}"#
        );
        assert_eq!(
            s("Creds { token: Some(\"a,b\") }"),
            "Creds { token: <redacted> }"
        );
        assert_eq!(s("session_id='s1'"), "session_id='<redacted>'");
        assert_eq!(s("user=me path=/x"), "user=me path=/x");
    }

    #[test]
    fn connection_strings_and_sas() {
        assert_eq!(
            s(
                "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=ab+c/d==;EndpointSuffix=core.windows.net"
            ),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=<redacted>;EndpointSuffix=core.windows.net"
        );
        assert_eq!(
            s("Endpoint=sb://x/;SharedAccessKeyName=root;SharedAccessKey=k=="),
            "Endpoint=sb://x/;SharedAccessKeyName=<redacted>;SharedAccessKey=<redacted>"
        );
        assert_eq!(s("Server=db;Password=p;"), "Server=db;Password=<redacted>;");
        assert_eq!(
            s("https://a.blob.core.windows.net/c?sv=2024&sr=b&sig=Zm9v%2B&se=1"),
            "https://a.blob.core.windows.net/c?sv=2024&sr=b&sig=<redacted>&se=1"
        );
    }

    #[test]
    fn auth_schemes() {
        assert_eq!(
            s("Authorization: Bearer abc.def-ghi"),
            "Authorization: <redacted>"
        );
        assert_eq!(
            s("sent bearer abcdefgh12345 to"),
            "sent bearer <redacted> to"
        );
        assert_eq!(s("header Basic dXNlcjpwYXNz"), "header Basic <redacted>");
        assert_eq!(
            s("authorization=Bearer abcdefghij x"),
            "authorization=<redacted> x"
        );
        // Prose stays.
        assert_eq!(s("a basic configuration"), "a basic configuration");
        assert_eq!(s("the bearer token"), "the bearer token");
    }

    #[test]
    fn pem_and_jwt() {
        let pem = "key: \n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAA\n-----END RSA PRIVATE KEY-----\nok";
        assert_eq!(
            s(pem),
            "key: \n-----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY-----\nok"
        );
        assert_eq!(
            s("cut -----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl"),
            "cut -----BEGIN OPENSSH PRIVATE KEY-----<redacted>"
        );
        assert_eq!(
            s("-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"),
            "-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"
        );
        assert_eq!(
            s("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln done"),
            "jwt <redacted> done"
        );
        assert_eq!(s("keyJab.c"), "keyJab.c");
    }

    #[test]
    fn bools_and_numbers_are_not_secrets() {
        let text = "Config { configure_sshd_password_authentication: false, token_count: 3 }";
        assert!(matches!(scrub(text), Cow::Borrowed(_)), "{}", s(text));
        assert_eq!(
            s("password=1234 token=-2.5e3"),
            "password=1234 token=-2.5e3"
        );
        assert_eq!(s("password=1234abc"), "password=<redacted>");
        assert_eq!(s("token=truely"), "token=<redacted>");
    }

    #[test]
    fn debug_text_stays_balanced() {
        assert_eq!(
            s(
                "Config { password_provisioners: PasswordProvisioners { backends: [Passwd], password: \"p\" }, ok: 1 }"
            ),
            "Config { password_provisioners: PasswordProvisioners { backends: [Passwd], password: \"<redacted>\" }, ok: 1 }"
        );
        let pretty = "Config {\n    password_provisioners: PasswordProvisioners {\n        backends: [\n            Passwd,\n        ],\n    },\n    token: Some(\n        \"abc\",\n    ),\n}";
        let out = s(pretty);
        assert!(!out.contains("abc"), "{out}");
        assert!(out.contains("PasswordProvisioners {"), "{out}");
        for (open, close) in [('{', '}'), ('[', ']'), ('(', ')')] {
            assert_eq!(
                out.matches(open).count(),
                out.matches(close).count(),
                "{open}{close} balanced in {out}"
            );
        }
    }

    #[test]
    fn clean_text_is_borrowed() {
        for text in [
            "",
            "plain",
            "sshd -t: exit status 255",
            "http://x:80/a?b=c",
            "a=b=c",
        ] {
            assert!(matches!(scrub(text), Cow::Borrowed(_)), "{text}");
        }
    }
}
