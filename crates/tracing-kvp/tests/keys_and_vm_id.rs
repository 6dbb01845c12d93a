//! Keys stay within the limits whatever the names and prefixes; the VM id is
//! read from DMI with the Gen1 byte swap.

#![allow(clippy::unwrap_used)]

mod common;

use kvp_codec::{KeyParts, Limits};
use tracing_kvp::{BuildError, KvpLayer, detect_vm_id_in};
use tracing_subscriber::prelude::*;

#[test]
fn absurd_names_and_prefixes_give_keys_within_limits() {
    let pool = common::pool();
    let prefix = format!("p{}", "é".repeat(60));
    let layer = KvpLayer::builder(prefix.clone())
        .vm_id("vm|with\0bad")
        .filter("trace")
        .build(pool.sink.clone())
        .unwrap();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let long_name = tracing::info_span!(target: "t", "an|absurdly|long|span|name|repeated|many|times|over|and|over|again|to|exceed|any|sensible|limit|an|absurdly|long|span|name|repeated|many|times|over|and|over|again|to|exceed|any|sensible|limit|日本語日本語日本語日本語日本語日本語日本語日本語");
        let _e = long_name.enter();
        tracing::info!(target: "😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀", payload = %"z".repeat(3000));
    });
    assert!(pool.guard.flush(std::time::Duration::from_secs(5)));
    let raw = std::fs::read(&pool.path).unwrap();
    let mut n = 0;
    for r in kvp_codec::decode_strict(&raw) {
        let r = r.unwrap();
        assert!(Limits::SAFE.key_fits(r.key), "{}", r.key);
        let parts = KeyParts::parse(r.key).unwrap_or_else(|| panic!("layout: {}", r.key));
        assert_eq!(parts.prefix, prefix);
        assert_eq!(parts.vm_id, "vm_with_bad");
        assert!(parts.id.contains('-'), "the id is whole: {}", parts.id);
        n += 1;
    }
    assert_eq!(n, 4, "3 chunks of the event and the span");
    assert_eq!(pool.guard.stats().dropped(), 0);
}

#[test]
fn unusable_prefixes_are_refused() {
    let pool = common::pool();
    for (prefix, reason) in [
        ("", "it is empty"),
        ("a|b", "it contains `|`, the key separator"),
        ("a\nb", "it contains a control character"),
    ] {
        let err = KvpLayer::builder(prefix)
            .vm_id("vm")
            .build_unfiltered(pool.sink.clone())
            .unwrap_err();
        assert_eq!(
            err,
            BuildError::InvalidPrefix {
                prefix: prefix.into(),
                reason
            }
        );
    }
    let err = KvpLayer::builder("p".repeat(300))
        .vm_id("vm")
        .build_unfiltered(pool.sink.clone())
        .unwrap_err();
    assert!(
        err.to_string().contains("no room in the key for a name"),
        "{err}"
    );
}

fn fake_root(uuid: &str, efi: Option<&str>) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("sys/class/dmi/id")).unwrap();
    std::fs::write(root.path().join("sys/class/dmi/id/product_uuid"), uuid).unwrap();
    if let Some(path) = efi {
        std::fs::create_dir_all(root.path().join(path)).unwrap();
    }
    root
}

#[test]
fn vm_id_gen2_is_lowercased_as_is() {
    for efi in ["sys/firmware/efi", "dev/efi"] {
        let root = fake_root("12345678-9ABC-DEF0-1234-56789ABCDEF0\n", Some(efi));
        assert_eq!(
            detect_vm_id_in(root.path()).as_deref(),
            Some("12345678-9abc-def0-1234-56789abcdef0")
        );
    }
}

#[test]
fn vm_id_gen1_swaps_the_first_three_fields() {
    let root = fake_root("12345678-9ABC-DEF0-1234-56789ABCDEF0\n", None);
    assert_eq!(
        detect_vm_id_in(root.path()).as_deref(),
        Some("78563412-bc9a-f0de-1234-56789abcdef0")
    );
}

#[test]
fn vm_id_missing_or_malformed_is_none() {
    let root = tempfile::tempdir().unwrap();
    assert_eq!(detect_vm_id_in(root.path()), None);
    let root = fake_root("not-a-uuid", Some("dev/efi"));
    assert_eq!(detect_vm_id_in(root.path()), None);
}
