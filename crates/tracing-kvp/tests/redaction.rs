//! Secrets never leave the process: every default deny-list name is
//! redacted in events, span fields and late-recorded fields, whatever the
//! value's type, and the value is never even formatted.

#![allow(clippy::unwrap_used)]

mod common;

use std::fmt;

use tracing_kvp::{DEFAULT_DENY_LIST, KvpLayer};
use tracing_subscriber::prelude::*;

const SECRET: &str = "hunter2-SECRET-VALUE";

/// A value whose formatting would be a leak: it panics if asked.
struct Untouchable;

impl fmt::Debug for Untouchable {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("a redacted value was formatted");
    }
}

impl fmt::Display for Untouchable {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("a redacted value was formatted");
    }
}

fn run(f: impl FnOnce()) -> (Vec<(String, String)>, Vec<u8>) {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), f);
    let records = pool.flush();
    (records, std::fs::read(&pool.path).unwrap())
}

/// One event per default name and value form: `&str`, `%`, `?`, a number.
macro_rules! every_form {
    ($name:ident) => {{
        tracing::info!($name = SECRET, "str");
        tracing::info!($name = %SECRET, "display");
        tracing::info!($name = ?SECRET, "debug");
        tracing::info!($name = 424242u64, "number");
        tracing::info!($name = ?Untouchable, "never formatted");
        tracing::info!($name = %Untouchable, "never formatted");
    }};
}

#[test]
fn every_default_name_is_redacted_in_events() {
    let (records, raw) = run(|| {
        every_form!(password);
        every_form!(passwd);
        every_form!(client_secret);
        every_form!(access_token);
        every_form!(credential);
        every_form!(ssh_private_key);
        every_form!(api_key);
        every_form!(authorization);
        tracing::info!(DB_Password = SECRET, "mixed case");
    });
    assert_eq!(records.len(), 8 * 6 + 1);
    for (_, value) in &records {
        assert!(value.contains("=<redacted>"), "{value}");
        assert!(!value.contains("424242"), "{value}");
    }
    assert_eq!(DEFAULT_DENY_LIST.len(), 8);
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        !raw.contains(SECRET) && !raw.contains("hunter2"),
        "the secret is nowhere in the file"
    );
}

#[test]
fn span_fields_and_late_recorded_fields_are_redacted() {
    let (records, raw) = run(|| {
        let span = tracing::info_span!(
            "login",
            user = "azureuser",
            password = SECRET,
            token = ?Untouchable,
            api_key = tracing::field::Empty,
            authorization = tracing::field::Empty,
        );
        span.record("api_key", SECRET);
        span.record("authorization", tracing::field::display(Untouchable));
        let _e = span.enter();
        tracing::info!("inside");
    });
    let span = records.iter().find(|(k, _)| k.contains("|login|")).unwrap();
    assert_eq!(
        span.1.split_once("status=ok ").unwrap().1,
        "user=azureuser password=<redacted> token=<redacted> api_key=<redacted> authorization=<redacted>"
    );
    assert!(!String::from_utf8_lossy(&raw).contains("hunter2"));
    let fields = tracing_kvp::parse_fields(&span.1).unwrap();
    assert!(fields.contains(&("password".to_owned(), "<redacted>".to_owned())));
}

#[test]
fn the_list_can_be_extended_or_replaced() {
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .deny_list(["pin"])
        .also_deny(["cookie"])
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(
            card_pin = 1234,
            session_cookie = "c",
            password = "now-allowed",
            "x"
        );
    });
    let records = pool.flush();
    assert!(
        records[0]
            .1
            .ends_with("card_pin=<redacted> session_cookie=<redacted> password=now-allowed"),
        "{}",
        records[0].1
    );
}

/// Every default name, as a span field and as a field recorded later.
#[test]
fn every_default_name_is_redacted_in_span_fields_and_late_fields() {
    use tracing::field::Empty;
    let (records, raw) = run(|| {
        let at_open = tracing::info_span!(
            "at_open",
            password = SECRET,
            passwd = %SECRET,
            client_secret = ?SECRET,
            access_token = 424242u64,
            credential = ?Untouchable,
            ssh_private_key = %Untouchable,
            api_key = SECRET,
            authorization = SECRET,
        );
        let late = tracing::info_span!(
            "late",
            password = Empty,
            passwd = Empty,
            client_secret = Empty,
            access_token = Empty,
            credential = Empty,
            ssh_private_key = Empty,
            api_key = Empty,
            authorization = Empty,
        );
        late.record("password", SECRET);
        late.record("passwd", tracing::field::display(SECRET));
        late.record("client_secret", tracing::field::debug(SECRET));
        late.record("access_token", 424242u64);
        late.record("credential", tracing::field::debug(Untouchable));
        late.record("ssh_private_key", tracing::field::display(Untouchable));
        late.record("api_key", SECRET);
        late.record("authorization", SECRET);
        drop((at_open, late));
    });
    let expected = "password=<redacted> passwd=<redacted> client_secret=<redacted> \
                    access_token=<redacted> credential=<redacted> ssh_private_key=<redacted> \
                    api_key=<redacted> authorization=<redacted>";
    for name in ["|at_open|", "|late|"] {
        let span = records.iter().find(|(k, _)| k.contains(name)).unwrap();
        assert_eq!(
            span.1.split_once("status=ok ").unwrap().1,
            expected,
            "{name}"
        );
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("hunter2") && !raw.contains("424242"));
}
