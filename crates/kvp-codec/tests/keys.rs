//! Every key a producer of this workspace makes goes through `KeyLayout`
//! (the `tracing` layer's records, the sink's cap marker through the
//! facade, the metric exporter's series), and parses back through
//! `KeyParts` into what went in, after sanitising: `|` and NUL are `_`, an
//! empty part is `_`, and only the name may be shortened.

#![allow(clippy::unwrap_used)]

use kvp_codec::{KeyLayout, KeyParts, Level, Limits, split_chunk_suffix, write_key_part};
use proptest::prelude::*;

/// A key part: often hostile (`|`, NUL, `=`, newlines), sometimes empty,
/// sometimes not ASCII.
fn part(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            3 => proptest::char::range('a', 'z'),
            1 => Just('|'),
            1 => Just('\0'),
            1 => Just('='),
            1 => Just('\n'),
            1 => Just(' '),
            1 => proptest::char::range('\u{80}', '\u{10ffff}'),
        ],
        0..max,
    )
    .prop_map(|c| c.into_iter().collect())
}

/// The ids producers write: the layer's events and spans, a span's open
/// record, a metric series, the cap marker.
fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<u64>(), any::<u64>())
            .prop_map(|(t, n)| format!("{:012x}-{n:x}", t & 0xffff_ffff_ffff)),
        (any::<u64>(), any::<u64>())
            .prop_map(|(t, n)| format!("{:012x}-{n:x}-open", t & 0xffff_ffff_ffff)),
        any::<u64>().prop_map(|h| format!("{h:016x}-m")),
        Just("dropped-m".to_owned()),
    ]
}

fn sanitised(part: &str) -> String {
    let mut out = String::new();
    write_key_part(&mut out, part).unwrap();
    out
}

fn level() -> impl Strategy<Value = Level> {
    prop::sample::select(Level::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_key_parses_back_into_its_parts(
        prefix in part(20),
        vm_id in part(40),
        name in part(300),
        level in level(),
        id in id(),
        max_chunks in 1usize..200,
    ) {
        let Ok(layout) = KeyLayout::new(String::new(), &prefix, &vm_id, &Limits::SAFE, max_chunks, 34) else {
            // Only a head that leaves no room for a name is refused.
            prop_assert!(sanitised(&prefix).len() + sanitised(&vm_id).len() > 100);
            return Ok(());
        };
        let mut key = String::new();
        layout.write(&mut key, level, &name, &id).unwrap();
        let parts = KeyParts::parse(&key);
        prop_assert!(parts.is_some(), "{key:?}");
        let parts = parts.unwrap();
        prop_assert_eq!(parts.prefix, sanitised(&prefix));
        prop_assert_eq!(parts.vm_id, sanitised(&vm_id));
        prop_assert_eq!(parts.level, level);
        prop_assert_eq!(parts.id, id.as_str());
        prop_assert_eq!(parts.chunk, None);
        // The name is the sanitised name, or the start of it.
        let whole = sanitised(&name);
        prop_assert!(whole.starts_with(parts.name), "{:?} is not a start of {:?}", parts.name, whole);
        // The last chunk's key fits as well, and reads back as that chunk.
        let last = format!("{key}|{}", max_chunks - 1);
        prop_assert!(Limits::SAFE.key_fits(&last), "{last:?}");
        prop_assert_eq!(split_chunk_suffix(&last), (key.as_str(), Some((max_chunks - 1) as u32)));
    }
}
