//! A session's data as one JSON object, written without re-encoding its values.
//!
//! Values are already JSON text ([`RawJson`]); only keys need quoting, and a key with
//! nothing to escape, the common case, is copied as it stands (serde_json escapes byte by
//! byte, about ten instructions a byte under callgrind). Exactness is checked against
//! serde_json in the tests below.

use std::fmt::Write as _;

use crate::RawJson;

/// What one data key costs against the size limits (the session's `max_data_bytes`, the
/// memory store's byte bound): its name and its value's JSON text.
pub(crate) fn entry_bytes(key: &str, value: &RawJson) -> usize {
    key.len() + value.as_str().len()
}

/// The JSON object of `pairs` (in their order; keys must not repeat), values copied as
/// they stand: a store's whole session data in one pass, without first building a
/// `serde_json::Map`, and as a `String` (no UTF-8 check: only `str`s go in).
pub fn json_object<K: AsRef<str>, V: AsRef<RawJson>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> String {
    let mut out = String::from("{");
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(key.as_ref(), &mut out);
        out.push(':');
        out.push_str(value.as_ref().as_str());
    }
    out.push('}');
    out
}

/// `s` quoted as serde_json quotes it: `"`, `\` and the C0 controls escaped (`\n`-style for
/// five of them, `\u00xx` for the rest), everything else as it stands. One pass that only
/// ORs a flag per byte, which the compiler turns into vector compares, finds the common
/// case, a key with nothing to escape, which is copied whole.
fn write_str(s: &str, out: &mut String) {
    let escaped = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    out.push('"');
    if s.bytes().fold(0u8, |any, b| any | u8::from(escaped(b))) == 0 {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\u{c}' => out.push_str("\\f"),
                '\r' => out.push_str("\\r"),
                c if u32::from(c) < 0x20 => {
                    // `write!` into a `String` cannot fail.
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Value, json};

    use super::json_object;
    use crate::RawJson;

    fn written(pairs: &[(String, Value)]) -> Vec<u8> {
        let raw: Vec<(String, RawJson)> =
            pairs.iter().map(|(k, v)| (k.clone(), v.into())).collect();
        json_object(raw.iter().map(|(k, v)| (k, v))).into_bytes()
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
            "\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}",
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
