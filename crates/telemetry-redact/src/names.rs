//! Which field names are secrets.
//!
//! A name is normalised before it is matched: ASCII case is ignored, and it
//! is cut into words at `_`, `-`, `.`, spaces and other punctuation, and at
//! camelCase boundaries (`apiKey`, `APIKey` and `api-key` are the words
//! `api key`). An entry of the deny list matches in one of two ways:
//!
//! - an entry of five letters or more (`password`, `api_key`, `token`)
//!   matches anywhere in the name's words joined together, so that
//!   `db_password`, `x-api-key`, `AccessToken` and `apikey` all match;
//! - a shorter entry (`pwd`, `pass`, `auth`, `sig`) matches a whole word
//!   only, so that `pass` redacts `db_pass` but not `passenger`, and `auth`
//!   redacts `auth_header` but not `author`.

use std::sync::{Arc, OnceLock};

/// The built-in deny list, by family. Field names that match an entry (see
/// the module rules) are secrets.
pub const DENY_LIST: &[&str] = &[
    // passwords
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    // secrets
    "secret",
    "client_secret",
    // tokens
    "token",
    "access_token",
    "refresh_token",
    "id_token",
    "sas_token",
    // keys
    "api_key",
    "account_key",
    "access_key",
    "private_key",
    "ssh_key",
    "x-api-key",
    // credentials
    "credential",
    "credentials",
    "creds",
    // authorization
    "authorization",
    "auth",
    "bearer",
    // cookies
    "cookie",
    "set-cookie",
    // sessions
    "session",
    "session_id",
    // connection strings
    "connection_string",
    "connstr",
    // signatures
    "sig",
    "signature",
];

/// Entries shorter than this match whole words only.
const WORD_ONLY_BELOW: usize = 5;

/// Names up to this long are normalised on the stack.
const STACK_NAME: usize = 128;

/// A deny list of field names, matched by the rules of this module. Cheap
/// to clone.
///
/// ```
/// use telemetry_redact::DenyList;
///
/// let list = DenyList::default();
/// for secret in ["apiKey", "x-api-key", "AccountKey", "db_pass", "Set-Cookie", "sig"] {
///     assert!(list.is_denied(secret), "{secret}");
/// }
/// for plain in ["passenger", "author", "route", "key", "signal"] {
///     assert!(!list.is_denied(plain), "{plain}");
/// }
/// ```
#[derive(Clone, Debug)]
pub struct DenyList(Arc<Entries>);

#[derive(Debug, Default)]
struct Entries {
    /// Normalised entries matched anywhere in the joined name.
    fragments: Vec<Box<[u8]>>,
    /// Normalised short entries matched as whole words.
    words: Vec<Box<[u8]>>,
    /// Normalised names that are never secrets, whatever the entries say.
    allowed: Vec<Box<[u8]>>,
}

impl Default for DenyList {
    /// The built-in [`DENY_LIST`].
    fn default() -> Self {
        static DEFAULT: OnceLock<DenyList> = OnceLock::new();
        DEFAULT.get_or_init(|| DenyList::new(DENY_LIST)).clone()
    }
}

impl DenyList {
    /// A list of exactly `entries`, each normalised as names are (`API-Key`
    /// is the entry `apikey`). An empty list denies nothing.
    pub fn new<S: AsRef<str>>(entries: impl IntoIterator<Item = S>) -> Self {
        let mut e = Entries::default();
        for entry in entries {
            let joined = normalise_entry(entry.as_ref());
            if joined.is_empty() {
                continue;
            }
            let list = if joined.len() < WORD_ONLY_BELOW {
                &mut e.words
            } else {
                &mut e.fragments
            };
            if !list.contains(&joined) {
                list.push(joined);
            }
        }
        DenyList(Arc::new(e))
    }

    /// This list, with `names` never denied: a team's known non-secrets
    /// that an entry would match (`password_policy`, `token_count`). Names
    /// are normalised as entries are and compared whole, so allowing
    /// `password_policy` does not allow `password`.
    ///
    /// ```
    /// use telemetry_redact::DenyList;
    ///
    /// let list = DenyList::default().allowing(["password_provisioners", "tokenizer"]);
    /// assert!(!list.is_denied("passwordProvisioners"));
    /// assert!(!list.is_denied("tokenizer"));
    /// assert!(list.is_denied("password"));
    /// assert!(list.is_denied("password_provisioners_secret"), "whole names only");
    /// ```
    pub fn allowing<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) -> Self {
        let mut allowed = self.0.allowed.clone();
        for name in names {
            let joined = normalise_entry(name.as_ref());
            if !joined.is_empty() && !allowed.contains(&joined) {
                allowed.push(joined);
            }
        }
        DenyList(Arc::new(Entries {
            fragments: self.0.fragments.clone(),
            words: self.0.words.clone(),
            allowed,
        }))
    }

    /// Whether the list is empty (denies nothing).
    pub fn is_empty(&self) -> bool {
        self.0.fragments.is_empty() && self.0.words.is_empty()
    }

    /// Whether a field named `name` holds a secret. Allocates nothing for
    /// names up to 128 bytes.
    pub fn is_denied(&self, name: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        with_normalised(name, |joined, words| {
            if self.0.allowed.iter().any(|a| **a == *joined) {
                return false;
            }
            self.0.fragments.iter().any(|f| contains(joined, f))
                || words.iter().any(|&(start, end)| {
                    let word = &joined[start..end];
                    self.0.words.iter().any(|w| **w == *word)
                })
        })
    }
}

/// Whether `name` is a secret under the built-in [`DENY_LIST`].
///
/// ```
/// assert!(telemetry_redact::is_secret_name("connection_string"));
/// assert!(!telemetry_redact::is_secret_name("user"));
/// ```
pub fn is_secret_name(name: &str) -> bool {
    DenyList::default().is_denied(name)
}

/// `entry` lower-cased with everything but letters and digits removed.
fn normalise_entry(entry: &str) -> Box<[u8]> {
    entry
        .bytes()
        .filter(|b| b.is_ascii_alphanumeric() || !b.is_ascii())
        .map(|b| b.to_ascii_lowercase())
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.len() <= haystack.len() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `f` with `name`'s letters and digits lower-cased and joined, and
/// the ranges of its words in that text.
fn with_normalised<R>(name: &str, f: impl FnOnce(&[u8], &[(usize, usize)]) -> R) -> R {
    let bytes = name.as_bytes();
    if bytes.len() <= STACK_NAME {
        let mut joined = [0u8; STACK_NAME];
        let mut words = [(0usize, 0usize); STACK_NAME];
        let (n, w) = split(bytes, &mut joined, &mut words);
        f(&joined[..n], &words[..w])
    } else {
        let mut joined = vec![0u8; bytes.len()];
        let mut words = vec![(0usize, 0usize); bytes.len()];
        let (n, w) = split(bytes, &mut joined, &mut words);
        f(&joined[..n], &words[..w])
    }
}

/// Writes `name`'s word characters, lower-cased, into `joined` and the
/// range of each word into `words`; returns how many of each. Both buffers
/// are at least as long as `name`.
fn split(name: &[u8], joined: &mut [u8], words: &mut [(usize, usize)]) -> (usize, usize) {
    let (mut n, mut w) = (0, 0);
    let mut start = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || !b.is_ascii();
    for (i, &b) in name.iter().enumerate() {
        if !is_word(b) {
            if n > start {
                words[w] = (start, n);
                w += 1;
            }
            start = n;
            continue;
        }
        if b.is_ascii_uppercase() && i > 0 && n > start {
            let prev = name[i - 1];
            let next_lower = name.get(i + 1).is_some_and(u8::is_ascii_lowercase);
            let camel = prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower);
            if camel {
                words[w] = (start, n);
                w += 1;
                start = n;
            }
        }
        joined[n] = b.to_ascii_lowercase();
        n += 1;
    }
    if n > start {
        words[w] = (start, n);
        w += 1;
    }
    (n, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(name: &str) -> Vec<String> {
        with_normalised(name, |joined, words| {
            words
                .iter()
                .map(|&(s, e)| String::from_utf8_lossy(&joined[s..e]).into_owned())
                .collect()
        })
    }

    #[test]
    fn names_split_at_separators_and_camel_case() {
        assert_eq!(words("apiKey"), ["api", "key"]);
        assert_eq!(words("APIKey"), ["api", "key"]);
        assert_eq!(words("x-api-key"), ["x", "api", "key"]);
        assert_eq!(words("client.secret_ID"), ["client", "secret", "id"]);
        assert_eq!(words("XMLHttpRequest"), ["xml", "http", "request"]);
        assert_eq!(words("sha256Sum"), ["sha256", "sum"]);
        assert_eq!(words("__"), Vec::<String>::new());
    }

    #[test]
    fn every_family_of_the_brief() {
        let list = DenyList::default();
        for name in [
            "password",
            "Passwd",
            "pwd",
            "pass",
            "passphrase",
            "secret",
            "client_secret",
            "clientSecret",
            "token",
            "access_token",
            "refreshToken",
            "id_token",
            "sas_token",
            "api_key",
            "apiKey",
            "ApiKey",
            "apikey",
            "account_key",
            "AccountKey",
            "access_key",
            "accessKey",
            "private_key",
            "privateKey",
            "ssh_key",
            "x-api-key",
            "X-API-KEY",
            "credential",
            "credentials",
            "creds",
            "authorization",
            "Authorization",
            "auth",
            "bearer",
            "cookie",
            "set-cookie",
            "Set-Cookie",
            "session",
            "session_id",
            "sessionId",
            "connection_string",
            "connectionString",
            "connstr",
            "sig",
            "signature",
            "db_password",
            "DB_PASS",
            "user.pwd",
            "SharedAccessKey",
        ] {
            assert!(list.is_denied(name), "{name}");
        }
        for name in [
            "user",
            "path",
            "route",
            "passenger",
            "compass",
            "author",
            "key",
            "signal",
            "design",
            "message",
            "vm_id",
            "",
            "status",
        ] {
            assert!(!list.is_denied(name), "{name}");
        }
    }

    #[test]
    fn a_custom_list_replaces_the_built_in_one() {
        let list = DenyList::new(["tenant-id", "pin"]);
        assert!(list.is_denied("TenantId"));
        assert!(list.is_denied("card_pin"));
        assert!(!list.is_denied("pinned"));
        assert!(!list.is_denied("password"));
        assert!(DenyList::new(Vec::<String>::new()).is_empty());
        assert!(!DenyList::new(["", "--"]).is_denied("password"));
    }

    #[test]
    fn long_names_are_matched_whole() {
        let name = format!("{}_password", "x".repeat(300));
        assert!(DenyList::default().is_denied(&name));
    }
}
