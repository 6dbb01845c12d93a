//! No generated secret survives scrubbing in any of the shapes the crate
//! promises, clean text comes back unchanged and unallocated, and no input
//! makes the scrubber panic.

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use proptest::prelude::*;
use telemetry_redact::{DENY_LIST, DenyList, REDACTED, scrub};

/// A secret: long and random enough not to occur in the template around it.
fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9]{12,32}"
}

/// A denied name in one of the spellings people use.
fn denied_name() -> impl Strategy<Value = String> {
    (prop::sample::select(DENY_LIST), 0..4u8).prop_map(|(name, style)| match style {
        0 => name.to_owned(),
        1 => name.to_uppercase(),
        // camelCase: `api_key` -> `apiKey`
        2 => {
            let mut out = String::new();
            let mut upper = false;
            for c in name.chars() {
                if c == '_' || c == '-' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => format!("db_{name}"),
    })
}

#[derive(Debug)]
#[allow(dead_code)]
struct Login {
    user: &'static str,
    password: String,
    retries: u32,
}

proptest! {
    #[test]
    fn a_denied_pair_loses_its_value(name in denied_name(), s in secret(), shape in 0..5u8) {
        let text = match shape {
            0 => format!("login with {name}={s} for azureuser"),
            1 => format!("{name}: {s}"),
            2 => format!("{{\"{name}\":\"{s}\",\"user\":\"me\"}}"),
            3 => format!("{name}='{s}' and more"),
            _ => format!("({name}={s})"),
        };
        let out = scrub(&text);
        prop_assert!(!out.contains(&s), "{text:?} -> {out:?}");
        prop_assert!(out.contains(REDACTED));
    }

    #[test]
    fn a_debug_struct_member_loses_its_value(s in secret(), pretty in any::<bool>()) {
        let login = Login { user: "azureuser", password: s.clone(), retries: 3 };
        let text = if pretty { format!("{login:#?}") } else { format!("{login:?}") };
        let out = scrub(&text);
        prop_assert!(!out.contains(&s), "{out}");
        prop_assert!(out.contains("azureuser") && out.contains("retries: 3"), "{out}");
    }

    #[test]
    fn credentials_and_keys_lose_their_value(s in secret(), shape in 0..9u8) {
        let text = match shape {
            0 => format!("GET /x with Authorization: Bearer {s}"),
            1 => format!("curl -H 'Bearer {s}' https://x"),
            2 => format!("header: Basic Zm9v{s}=="),
            3 => format!("https://acct.blob.core.windows.net/c/b?sv=2024-01-01&sr=b&sig={s}%3D&se=2026"),
            4 => format!("DefaultEndpointsProtocol=https;AccountName=a;AccountKey={s}==;EndpointSuffix=core.windows.net"),
            5 => format!("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey={s}"),
            6 => format!("Server=tcp:db,1433;User ID=me;Password={s};Encrypt=true"),
            7 => format!("-----BEGIN RSA PRIVATE KEY-----\nMII{s}\nAQAB\n-----END RSA PRIVATE KEY-----"),
            _ => format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{s} (cut off)"),
        };
        let out = scrub(&text);
        prop_assert!(!out.contains(&s), "{text:?} -> {out:?}");
    }

    #[test]
    fn a_jwt_goes_whole(a in "[A-Za-z0-9_-]{8,40}", b in "[A-Za-z0-9_-]{8,40}", c in "[A-Za-z0-9_-]{8,40}") {
        let text = format!("id token eyJ{a}.{b}.{c} expired");
        let out = scrub(&text);
        for part in [&a, &b, &c] {
            prop_assert!(!out.contains(part.as_str()), "{out}");
        }
        prop_assert_eq!(out.as_ref(), format!("id token {REDACTED} expired"));
    }

    #[test]
    fn text_without_a_secret_is_borrowed(words in prop::collection::vec("[a-z]{1,10}", 0..20), n in any::<u32>()) {
        let text = format!("{} took {n} ms: ok", words.join(" "));
        // Only `ms` comes before the `:`; `bearer` and a long word after
        // it would be a credential.
        let list = DenyList::default();
        if !words.iter().any(|w| w == "bearer") {
            prop_assert!(matches!(list.scrub(&text), Cow::Borrowed(_)), "{text}");
        }
    }

    #[test]
    fn any_text_scrubs_without_panicking_and_twice_is_once(text in any::<String>()) {
        let once = scrub(&text).into_owned();
        prop_assert_eq!(scrub(&once).into_owned(), once);
    }

    #[test]
    fn shaped_noise_scrubs_without_panicking(text in "[a-zA-Z=:;&\"' ()\\[\\]{}\\\\.-]{0,60}") {
        let _ = scrub(&text);
    }
}
