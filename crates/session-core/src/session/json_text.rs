//! A session's data as one JSON object, written without re-encoding its values.
//!
//! Values are already JSON text ([`RawJson`]); only keys need quoting. serde_json escapes
//! a string byte by byte (about ten instructions a byte under callgrind), where a key
//! with nothing to escape, the common case, can be copied as it stands.

use crate::RawJson;

/// What one data key costs against the size limits (the session's `max_data_bytes`, the
/// memory store's byte bound): its name and its value's JSON text.
pub(crate) fn entry_bytes(key: &str, value: &RawJson) -> usize {
    key.len() + value.as_str().len()
}

/// A quoted string: `"`, `\` and the C0 controls are escaped (`\n`-style for five of
/// them, `\u00XX` for the rest); everything else is copied as UTF-8.
///
/// First one pass over the whole string that only ORs a flag per byte, which the compiler
/// turns into vector compares (under callgrind 1.2 instructions a byte on a 200-byte
/// string, against 2.1 for the block-by-block count below): a string without any escape,
/// the common case, stops there. A string with one is counted thirty-two bytes at a time,
/// and only its blocks holding an escape byte by byte.
fn string_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    let len = 2 + bytes.len();
    if bytes.iter().fold(0u8, |any, &b| any | u8::from(escaped(b))) == 0 {
        return len;
    }
    let mut blocks = bytes.chunks_exact(32);
    let mut extras = 0;
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | escaped(b)) {
            extras += block.iter().map(|&b| extra(b)).sum::<usize>();
        }
    }
    len + extras + blocks.remainder().iter().map(|&b| extra(b)).sum::<usize>()
}

/// Whether serde_json escapes byte `b`.
fn escaped(b: u8) -> bool {
    (b < 0x20) | (b == b'"') | (b == b'\\')
}

/// The bytes an escape adds to byte `b`.
fn extra(b: u8) -> usize {
    match b {
        b'"' | b'\\' | b'\x08' | b'\t' | b'\n' | b'\x0c' | b'\r' => 1,
        0..=0x1f => 5,
        _ => 0,
    }
}

/// Appends the JSON object of `pairs` (in their order; keys must not repeat), values
/// copied as they stand: a store's whole session data in one pass, without first building
/// a `serde_json::Map`.
pub fn write_json_object<K: AsRef<str>, V: AsRef<RawJson>>(
    pairs: impl IntoIterator<Item = (K, V)>,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key.as_ref(), out);
        out.push(b':');
        out.extend_from_slice(value.as_ref().as_str().as_bytes());
    }
    out.push(b'}');
}

/// A JSON string: quoted as it stands when no byte needs an escape, else by serde_json.
pub(crate) fn write_str(s: &str, out: &mut Vec<u8>) {
    if string_len(s) == s.len() + 2 {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string into a `Vec` cannot fail.
        drop(serde_json::to_writer(&mut *out, s));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::write_json_object;
    use crate::RawJson;

    fn written(pairs: &[(String, Value)]) -> Vec<u8> {
        let raw: Vec<(String, RawJson)> =
            pairs.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        let mut out = b"before".to_vec();
        write_json_object(raw.iter().map(|(k, v)| (k, v)), &mut out);
        out.split_off(6)
    }

    fn expected(pairs: &[(String, Value)]) -> Vec<u8> {
        let map: Map<String, Value> = pairs.iter().cloned().collect();
        serde_json::to_vec(&map).expect("encodes")
    }

    #[test]
    fn matches_serde_json_on_edge_case_keys() {
        let value = json!([1, "two", {"three": null}]);
        for key in [
            "",
            "plain",
            "quote \" backslash \\",
            "\u{0}\u{1}\t\n\u{1f}",
            "é ✓ 𝄞",
        ] {
            let pairs = [(key.to_owned(), value.clone())];
            assert_eq!(written(&pairs), expected(&pairs), "{key:?}");
        }
        // Every special byte at every offset of two thirty-two-byte blocks and the
        // remainder, and none at all.
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', 'é'] {
            for at in 0..70 {
                let key = format!("{}{special}{}", "a".repeat(at), "b".repeat(70 - at));
                let pairs = [(key, json!(true))];
                assert_eq!(written(&pairs), expected(&pairs));
            }
        }
        assert_eq!(written(&[]), b"{}");
        let two = [("a".to_owned(), json!(1)), ("b".to_owned(), json!("x"))];
        assert_eq!(written(&two), br#"{"a":1,"b":"x"}"#);
    }

    proptest! {
        #[test]
        fn matches_serde_json_on_any_keys(keys in prop::collection::btree_set(any::<String>(), 0..8)) {
            let pairs: Vec<(String, Value)> =
                keys.into_iter().enumerate().map(|(i, k)| (k, json!([i, "v"]))).collect();
            prop_assert_eq!(written(&pairs), expected(&pairs));
        }
    }
}
