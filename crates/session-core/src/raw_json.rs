//! One session value as the JSON text it was stored or encoded as.
//!
//! A request typically reads one or two keys of a session and writes one, yet every key
//! travels through the store on a load and, for stores that keep a session as one value,
//! on a write. Keeping values as validated text means an untouched key costs one scan
//! when it is loaded and one copy when it is written back: no `serde_json::Value` tree is
//! built, re-encoded and dropped for it (under callgrind about a third of a Redis write
//! request on a 20-key session). A handler's typed read decodes straight from the text.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

/// One session value: valid JSON text, decoded only when a handler reads it.
///
/// Two values are equal when their texts are, or else when they decode to equal JSON
/// (`{"a":1}` equals `{"a": 1}`, as a database may reformat what it stores). Serialized,
/// it is the value it decodes to; deserialized from serde_json, its text is checked but
/// not decoded.
///
/// ```
/// use session_core::store::RawJson;
///
/// let value = RawJson::encode(&vec!["book", "pen"])?;
/// assert_eq!(value.as_str(), r#"["book","pen"]"#);
/// assert_eq!(value.decode::<Vec<String>>()?, ["book", "pen"]);
/// assert_eq!(RawJson::parse("[\"book\", \"pen\"]".into())?, value);
/// assert!(RawJson::parse("{not json".into()).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone)]
pub struct RawJson(Box<str>);

impl RawJson {
    /// `value` encoded as compact JSON.
    pub fn encode<T: Serialize + ?Sized>(value: &T) -> serde_json::Result<Self> {
        serde_json::to_string(value).map(|text| Self(text.into()))
    }

    /// `text` checked to be one JSON value (surrounding whitespace is dropped); the error
    /// says where it is not.
    pub fn parse(text: String) -> serde_json::Result<Self> {
        if is_plain_scalar(&text) {
            return Ok(Self(text.into()));
        }
        RawValue::from_string(text).map(|raw| Self(raw.into()))
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value decoded as `T`.
    pub fn decode<T: DeserializeOwned>(&self) -> serde_json::Result<T> {
        serde_json::from_str(&self.0)
    }

    /// The value as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        // The text was validated on the way in, so it decodes; `Null` is unreachable.
        self.decode().unwrap_or(Value::Null)
    }

    /// How deeply arrays and objects nest: 0 for a scalar, 1 for a flat array or object.
    pub(crate) fn depth(&self) -> usize {
        let (mut depth, mut deepest) = (0usize, 0usize);
        let mut in_string = false;
        let mut escaped = false;
        for &b in self.as_str().as_bytes() {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }
}

/// Whether `text` is, as it stands, a JSON string without escapes or a plain integer:
/// most session values, checked in one pass that the compiler vectorises (under callgrind
/// a fifth of serde_json's cost on a 200-byte string). Anything else goes through
/// serde_json.
fn is_plain_scalar(text: &str) -> bool {
    match text.as_bytes() {
        [b'"', inner @ .., b'"'] => {
            inner.iter().fold(0u8, |any, &b| {
                any | u8::from((b < 0x20) | (b == b'"') | (b == b'\\'))
            }) == 0
        }
        [b'-', digits @ ..] | digits => match digits {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] => rest.len() < 18 && rest.iter().all(u8::is_ascii_digit),
            _ => false,
        },
    }
}

impl From<&Value> for RawJson {
    fn from(value: &Value) -> Self {
        // Display writes a `Value` as compact JSON and cannot fail.
        Self(value.to_string().into())
    }
}

impl AsRef<RawJson> for RawJson {
    fn as_ref(&self) -> &RawJson {
        self
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> Self {
        Self::from(&value)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() || self.to_value() == other.to_value()
    }
}

impl Eq for RawJson {}

impl PartialEq<Value> for RawJson {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// As the value it decodes to (stores that write JSON copy [`RawJson::as_str`] instead).
impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// From serde_json, the value's text, validated but not decoded.
impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(deserializer).map(|raw| Self(raw.into()))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::RawJson;

    #[test]
    fn depth_counts_nesting_outside_strings() {
        for (value, depth) in [
            (json!(1), 0),
            (json!("[[[{{"), 0),
            (json!("\\\"[["), 0),
            (json!([]), 1),
            (json!({"a": [1, {"b": "]]]"}]}), 3),
            (json!([[[[]]], [[]]]), 4),
        ] {
            assert_eq!(RawJson::from(&value).depth(), depth, "{value}");
        }
    }

    #[test]
    fn equality_looks_through_formatting() {
        let compact = RawJson::from(json!({"a": [1, 2]}));
        let spaced = RawJson::parse(r#" { "a" : [1, 2] } "#.into()).expect("valid");
        assert_eq!(compact, spaced);
        assert_ne!(compact, RawJson::from(json!({"a": [2, 1]})));
        assert_eq!(compact, json!({"a": [1, 2]}));
    }

    #[test]
    fn the_fast_path_accepts_exactly_what_serde_json_does() {
        let cases = [
            "\"\"",
            "\"plain text\"",
            "\"é ✓\"",
            "\"a\\\"b\"",
            "\"tab\there\"",
            "\"\\\"",
            "\"\\u00e9\"",
            "\"",
            "\"\"\"",
            "0",
            "-0",
            "7",
            "-12",
            "123456789012345678",
            "1234567890123456789",
            "01",
            "-",
            "1.5",
            "1e3",
            "+1",
            "",
            " 1",
            "true",
            "null",
            "[1]",
            "{}",
        ];
        for text in cases {
            let ours = RawJson::parse(text.to_owned()).map(|v| v.as_str().to_owned());
            let serde = serde_json::from_str::<Box<serde_json::value::RawValue>>(text)
                .map(|v| v.get().to_owned());
            assert_eq!(ours.ok(), serde.ok(), "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parse_agrees_with_serde_json(text in "\"?[a-z0-9\\\\\"\t .-]{0,12}\"?") {
            let ours = RawJson::parse(text.clone()).map(|v| v.as_str().to_owned());
            let serde = serde_json::from_str::<Box<serde_json::value::RawValue>>(&text)
                .map(|v| v.get().to_owned());
            proptest::prop_assert_eq!(ours.ok(), serde.ok());
        }
    }

    #[test]
    fn round_trips_through_serde_json_unchanged() {
        let text = r#"[{"z":1,"a":[true,null]}, "s"]"#;
        let back: Vec<RawJson> = serde_json::from_str(text).expect("decodes");
        assert_eq!(back[0].as_str(), r#"{"z":1,"a":[true,null]}"#);
        assert_eq!(back[1].as_str(), r#""s""#);
        let again = serde_json::to_value(&back).expect("encodes");
        assert_eq!(again, serde_json::json!([{"a": [true, null], "z": 1}, "s"]));
    }
}
