//! `serde_json`'s compact encoding of a value: its length without encoding it, and a
//! writer of it that copies plain strings whole.
//!
//! The data limit counts encoded bytes, and the first write of a request sums them over
//! every stored key: through `serde_json::to_writer` that re-encodes the whole session
//! (about a tenth of an app's instructions per write on a 20-key session, under
//! callgrind); this walk only scans string bytes. Exactness is checked against
//! `serde_json::to_vec` in the tests below.
//!
//! [`write_json`] is for stores that encode a whole session per write: serde_json escapes
//! a string byte by byte (about ten instructions a byte under callgrind), where a string
//! with nothing to escape, the common case, can be copied as it stands.

use std::io::Write;

use serde_json::Value;

/// What one data key costs against the size limits (the session's `max_data_bytes`, the
/// memory store's byte bound): its name and its value's JSON.
pub(crate) fn entry_bytes(key: &str, value: &Value) -> usize {
    key.len() + json_len(value)
}

/// `serde_json::to_vec(value).len()`.
pub(crate) fn json_len(value: &Value) -> usize {
    match value {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => number_len(n),
        Value::String(s) => string_len(s),
        Value::Array(items) => {
            2 + items.len().saturating_sub(1) + items.iter().map(json_len).sum::<usize>()
        }
        Value::Object(map) => {
            let members: usize = map
                .iter()
                .map(|(k, v)| string_len(k) + 1 + json_len(v))
                .sum();
            2 + map.len().saturating_sub(1) + members
        }
    }
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

/// Appends `serde_json::to_vec(value)` to `out`: the same bytes, with every string that
/// needs no escape copied whole after a sixteen-bytes-at-a-time scan.
pub fn write_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(item, out);
            }
            out.push(b']');
        }
        Value::Object(map) => write_json_object(map, out),
        // Null, booleans and numbers into a `Vec` cannot fail.
        scalar => drop(serde_json::to_writer(&mut *out, scalar)),
    }
}

/// Appends the JSON object of `pairs` (in their order; keys must not repeat), as
/// [`write_json`] writes values: a store's whole session data in one pass, without first
/// building a `serde_json::Map`.
pub fn write_json_object<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    for (i, (key, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(key, out);
        out.push(b':');
        write_json(value, out);
    }
    out.push(b'}');
}

/// A JSON string: quoted as it stands when no byte needs an escape, else by serde_json.
fn write_str(s: &str, out: &mut Vec<u8>) {
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

/// Numbers are rare and short: counted through serde_json's own formatting.
fn number_len(n: &serde_json::Number) -> usize {
    struct Counter(usize);
    impl Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a number to an infallible sink cannot fail.
    let _ = serde_json::to_writer(&mut counter, n);
    counter.0
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::{json_len, write_json, write_json_object};

    fn encoded(value: &Value) -> usize {
        serde_json::to_vec(value).expect("encodes").len()
    }

    fn written(value: &Value) -> Vec<u8> {
        let mut out = b"before".to_vec();
        write_json(value, &mut out);
        out.split_off(6)
    }

    #[test]
    fn matches_serde_json_on_edge_cases() {
        let cases = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-17),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(1e300),
            json!(-2.5e-8),
            json!(0.1),
            json!(""),
            json!("plain"),
            json!("quote \" backslash \\ slash /"),
            json!("\u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f}"),
            json!("é ✓ 𝄞"),
            json!([]),
            json!([1]),
            json!([1, "two", [3, [4]], {"five": null}]),
            json!({}),
            json!({"k": "v"}),
            json!({"a\nb": {"c": [true, false, null]}, "": 0}),
        ];
        for value in cases {
            assert_eq!(json_len(&value), encoded(&value), "{value}");
            assert_eq!(
                written(&value),
                serde_json::to_vec(&value).expect("encodes")
            );
        }
        // Every special byte at every offset of two thirty-two-byte blocks and the
        // remainder, and none at all.
        for special in ['"', '\\', '\n', '\u{1}', '\u{1f}', ' ', 'é'] {
            for at in 0..70 {
                let text = format!("{}{special}{}", "a".repeat(at), "b".repeat(70 - at));
                let value = json!(text);
                assert_eq!(json_len(&value), encoded(&value), "{value}");
                assert_eq!(
                    written(&value),
                    serde_json::to_vec(&value).expect("encodes")
                );
            }
        }
    }

    fn values() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn matches_serde_json_on_any_value(value in values()) {
            prop_assert_eq!(json_len(&value), encoded(&value));
            prop_assert_eq!(written(&value), serde_json::to_vec(&value).expect("encodes"));
            if let Value::Object(map) = &value {
                let mut out = Vec::new();
                write_json_object(map, &mut out);
                prop_assert_eq!(out, serde_json::to_vec(&value).expect("encodes"));
            }
        }
    }
}
