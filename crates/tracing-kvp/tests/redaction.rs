//! Secrets never leave the process: every default deny-list name is
//! redacted in events, span fields and late-recorded fields, whatever form
//! its text takes, and the value is never even formatted. A number or a
//! bool is not a secret, whatever its name; an allow-list keeps a team's
//! known non-secrets.

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

/// One event per default name and text form: `&str`, `%`, `?`.
macro_rules! every_form {
    ($name:tt) => {{
        tracing::info!($name = SECRET, "str");
        tracing::info!($name = %SECRET, "display");
        tracing::info!($name = ?SECRET, "debug");
        tracing::info!($name = ?Untouchable, "never formatted");
        tracing::info!($name = %Untouchable, "never formatted");
    }};
}

#[test]
fn every_default_name_is_redacted_in_events() {
    let (records, raw) = run(|| {
        // One spelling of each family of the deny list, and the names a
        // hostile pass found leaking before names were normalised.
        every_form!(password);
        every_form!(passwd);
        every_form!(pwd);
        every_form!(pass);
        every_form!(passphrase);
        every_form!(client_secret);
        every_form!(access_token);
        every_form!(refreshToken);
        every_form!(sas_token);
        every_form!(apiKey);
        every_form!(AccountKey);
        every_form!(accessKey);
        every_form!(privateKey);
        every_form!(ssh_key);
        every_form!("x-api-key");
        every_form!(credential);
        every_form!(creds);
        every_form!(authorization);
        every_form!(auth);
        every_form!(bearer);
        every_form!(cookie);
        every_form!("Set-Cookie");
        every_form!(session_id);
        every_form!(connection_string);
        every_form!(connstr);
        every_form!(sig);
        every_form!(signature);
        tracing::info!(DB_Password = SECRET, "mixed case");
    });
    assert_eq!(records.len(), 27 * 5 + 1);
    for (_, value) in &records {
        assert!(value.contains("=<redacted>"), "{value}");
    }
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        !raw.contains(SECRET) && !raw.contains("hunter2"),
        "the secret is nowhere in the file"
    );
}

#[derive(Debug)]
#[allow(dead_code)]
struct Login {
    user: &'static str,
    password: &'static str,
}

/// A failure whose message carries a SAS URL, as storage errors do.
#[derive(Debug)]
struct UploadFailed;

impl fmt::Display for UploadFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "PUT https://acct.blob.core.windows.net/logs/a?sv=2024-01-01&sr=b&sig=SAS-SIG-hunter2%3D failed",
        )
    }
}

impl std::error::Error for UploadFailed {}

#[test]
fn secrets_inside_text_are_scrubbed_everywhere() {
    let (records, raw) = run(|| {
        let span = tracing::info_span!("upload", target = tracing::field::Empty);
        let _e = span.enter();
        tracing::info!("login with password={} for azureuser", "MSG-hunter2");
        tracing::error!(
            error = &UploadFailed as &(dyn std::error::Error + 'static),
            "upload"
        );
        tracing::info!(
            url = "https://acct.blob.core.windows.net/c?sv=2024-01-01&sig=URL-hunter2",
            "fetch"
        );
        tracing::info!(login = ?Login { user: "azureuser", password: "DEBUG-hunter2" }, "debug");
        tracing::info!(
            header = "Authorization: Bearer BEARER-hunter2-abcdefgh",
            conn = "AccountName=a;AccountKey=KEY-hunter2==;EndpointSuffix=x",
            "headers"
        );
        span.record("target", "token=LATE-hunter2");
        tracing::info!(
            health_report = "result=error|reason=mount failed: password=REPORT-hunter2|agent=a",
            "report"
        );
    });
    let raw = String::from_utf8_lossy(&raw);
    assert!(!raw.contains("hunter2"), "{records:#?}");
    let all: String = records
        .iter()
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for kept in [
        "login with password=<redacted> for azureuser",
        "sig=<redacted>",
        "password: \\\"<redacted>\\\"",
        "Authorization: <redacted>",
        "AccountKey=<redacted>;",
        "target=\"token=<redacted>\"",
        "reason=mount failed: password=<redacted>|agent=a",
    ] {
        assert!(all.contains(kept), "{kept:?} in {all}");
    }
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
            card_pin = "1234",
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
                    access_token=424242 credential=<redacted> ssh_private_key=<redacted> \
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
    assert!(!raw.contains("hunter2"));
}

/// A callsite made at run time, as a scripting bridge or a plugin host
/// makes them: its metadata and field names are leaked `'static` data.
struct RuntimeCallsite {
    meta: std::sync::OnceLock<&'static tracing::Metadata<'static>>,
}

impl tracing::callsite::Callsite for RuntimeCallsite {
    fn set_interest(&self, _: tracing::subscriber::Interest) {}
    fn metadata(&self) -> &tracing::Metadata<'_> {
        self.meta.get().expect("set before registration")
    }
}

/// A registered event callsite with one field named `field`.
fn runtime_callsite(field: &'static str) -> &'static tracing::Metadata<'static> {
    let callsite: &'static RuntimeCallsite = Box::leak(Box::new(RuntimeCallsite {
        meta: std::sync::OnceLock::new(),
    }));
    let names: &'static [&'static str] = Box::leak(Box::new([field]));
    let meta: &'static tracing::Metadata<'static> = Box::leak(Box::new(tracing::Metadata::new(
        "runtime event",
        "runtime",
        tracing::Level::INFO,
        None,
        None,
        None,
        tracing::field::FieldSet::new(names, tracing::callsite::Identifier(callsite)),
        tracing::metadata::Kind::EVENT,
    )));
    let _ = callsite.meta.set(meta);
    tracing::callsite::register(callsite);
    meta
}

fn emit(meta: &'static tracing::Metadata<'static>, value: &str) {
    let field = meta.fields().iter().next().expect("one field");
    let values = [(&field, Some(&value as &dyn tracing::Value))];
    tracing::Event::dispatch(meta, &meta.fields().value_set(&values));
}

/// `pass` and `password` at one address: the first four bytes of one
/// leaked string. Whichever the thread sees first, the other gets its own
/// answer: `password` is redacted, `pass` is not (a custom list that
/// denies only `password`).
#[test]
fn field_names_sharing_an_address_do_not_share_a_redaction_answer() {
    let password: &'static str = Box::leak("password".to_owned().into_boxed_str());
    let pass: &'static str = &password[..4];
    assert_eq!(pass.as_ptr(), password.as_ptr());
    let (short, long) = (runtime_callsite(pass), runtime_callsite(password));
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .deny_list(["password"])
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        emit(short, "visible");
        emit(long, "RUNTIME-hunter2");
        emit(short, "visible");
    });
    let records = pool.flush();
    let values: Vec<&str> = records
        .iter()
        .map(|(_, v)| v.split_once(' ').map_or("", |(_, f)| f))
        .collect();
    assert_eq!(
        values,
        ["pass=visible", "password=<redacted>", "pass=visible"]
    );
    assert!(!String::from_utf8_lossy(&std::fs::read(&pool.path).unwrap()).contains("hunter2"));
    // Every entry of the shared list is denied by name.
    assert!(
        DEFAULT_DENY_LIST
            .iter()
            .all(|n| tracing_kvp::denied_by_default(n))
    );
}

/// A number or a bool carries no credential: it is written whatever its
/// name (`configure_sshd_password_authentication: false`).
#[test]
fn numbers_and_bools_are_not_redacted_whatever_their_name() {
    let (records, _) = run(|| {
        tracing::info!(
            configure_sshd_password_authentication = false,
            token_count = 3u64,
            password_attempts = -1i64,
            secret_ratio = 0.5,
            "typed"
        );
    });
    assert!(
        records[0].1.ends_with(
            "configure_sshd_password_authentication=false token_count=3 \
             password_attempts=-1 secret_ratio=0.5"
        ),
        "{}",
        records[0].1
    );
}

/// Names on the allow-list are written as they are; the rest of the list
/// still holds. Scrubbing keeps `Debug` text balanced: a struct under a
/// secret-looking name keeps its type and braces, its own secret fields
/// are redacted.
#[test]
fn the_allow_list_and_balanced_debug_text() {
    #[derive(Debug)]
    #[allow(dead_code)]
    struct PasswordProvisioners {
        backends: Vec<&'static str>,
        password: &'static str,
    }
    #[derive(Debug)]
    #[allow(dead_code)]
    struct Config {
        password_provisioners: PasswordProvisioners,
        ssh: bool,
    }
    let pool = common::pool();
    let layer = KvpLayer::builder("agent")
        .vm_id("vm")
        .filter("info")
        .allow_fields(["session_kind"])
        .build(pool.sink.clone())
        .unwrap();
    let config = Config {
        password_provisioners: PasswordProvisioners {
            backends: vec!["passwd"],
            password: "hunter2",
        },
        ssh: true,
    };
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        tracing::info!(session_kind = "interactive", session_id = "s-1", "allowed");
        tracing::info!(config = ?config, "compact");
        tracing::info!(config = %format!("{config:#?}"), "pretty");
    });
    let records = pool.flush();
    assert!(
        records[0]
            .1
            .ends_with("session_kind=interactive session_id=<redacted>"),
        "{}",
        records[0].1
    );
    for (_, value) in &records[1..] {
        assert!(!value.contains("hunter2"), "{value}");
        assert!(value.contains("PasswordProvisioners {"), "{value}");
        for (open, close) in [('{', '}'), ('[', ']'), ('(', ')')] {
            assert_eq!(
                value.matches(open).count(),
                value.matches(close).count(),
                "{open}{close} balanced in {value}"
            );
        }
    }
}
