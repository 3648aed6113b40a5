//! The escape that lets NUL through, and session data as `jsonb`.
//!
//! PostgreSQL rejects U+0000 in `text` and in `jsonb` strings and keys. Every string that
//! reaches the database (data keys, string values at any depth, user ids) is therefore
//! escaped reversibly with the private-use character U+E000 as escape:
//! U+0000 → U+E000 `0`, U+E000 → U+E000 U+E000. Strings without either character, which is
//! nearly all of them, are stored unchanged.

use std::borrow::Cow;

use serde_json::{Map, Value};
use session_core::store::{Data, RawJson, StoreError, json_object};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::types::Json;
use sqlx::{Encode, Postgres, Type};

const ESC: char = '\u{E000}';

/// `s` with NUL and the escape character escaped.
pub(crate) fn escape_str(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESC]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.extend([ESC, '0']),
            ESC => out.extend([ESC, ESC]),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The inverse of [`escape_str`]; a dangling or unknown escape means corrupt data.
pub(crate) fn unescape_str(s: String) -> Result<String, StoreError> {
    if !s.contains(ESC) {
        return Ok(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != ESC {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('0') => out.push('\0'),
            Some(ESC) => out.push(ESC),
            _ => {
                return Err(StoreError::Corrupt(
                    "invalid escape in stored string".into(),
                ));
            }
        }
    }
    Ok(out)
}

fn escape_value(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(escape_str(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(escape_value).collect()),
        Value::Object(map) => Value::Object(escape_members(map)),
        other => other.clone(),
    }
}

fn escape_members<'a>(
    members: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Map<String, Value> {
    members
        .into_iter()
        .map(|(k, v)| (escape_str(k).into_owned(), escape_value(v)))
        .collect()
}

/// The inverse of `escape_value`.
pub(crate) fn unescape_value(value: Value) -> Result<Value, StoreError> {
    Ok(match value {
        Value::String(s) => Value::String(unescape_str(s)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(unescape_value)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| Ok((unescape_str(k)?, unescape_value(v)?)))
                .collect::<Result<_, StoreError>>()?,
        ),
        other => other,
    })
}

/// A value as stored: escaped, through a decode only when it holds a NUL escape or the
/// escape character (the text check can be fooled by `\\u0000`, never missed).
fn escape_raw(value: &RawJson) -> Cow<'_, RawJson> {
    let text = value.as_str();
    if !text.contains("\\u0000") && !text.contains(ESC) {
        return Cow::Borrowed(value);
    }
    Cow::Owned(RawJson::from(escape_value(&value.to_value())))
}

/// The inverse of [`escape_raw`], and the compact form of what PostgreSQL hands back:
/// `jsonb` output puts a space after every `,` and `:`, and the data limits count the
/// compact encoding, as every other store keeps it.
fn unescape_raw(value: RawJson) -> Result<RawJson, StoreError> {
    let text = value.as_str();
    let nested = matches!(text.as_bytes().first(), Some(b'[' | b'{')) && text.contains(' ');
    if !nested && !text.contains(ESC) {
        return Ok(value);
    }
    Ok(RawJson::from(unescape_value(value.to_value())?))
}

/// The `data` column's object as JSON text, bound as `jsonb` without a re-encode.
#[derive(Debug)]
pub(crate) struct JsonbText(pub(crate) String);

impl Type<Postgres> for JsonbText {
    fn type_info() -> PgTypeInfo {
        <Json<()> as Type<Postgres>>::type_info()
    }
}

impl Encode<'_, Postgres> for JsonbText {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // jsonb's binary format: a version byte, then the text.
        buf.push(1);
        buf.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }
}

/// Session data (or a changeset's `set`) as an escaped `jsonb` object, values copied as
/// they stand.
pub(crate) fn encode_data(data: &Data) -> JsonbText {
    JsonbText(json_object(
        data.iter().map(|(k, v)| (escape_str(k), escape_raw(v))),
    ))
}

/// Session data read back from the `data` column (already checked to be a JSON object
/// of JSON values), escapes undone.
pub(crate) fn decode_data(data: Data) -> Result<Data, StoreError> {
    data.into_iter()
        .map(|(k, v)| Ok((unescape_str(k)?, unescape_raw(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn escaping_round_trips_and_removes_nul() {
        for s in [
            "",
            "plain",
            "a\0b",
            "\u{E000}",
            "\u{E000}0",
            "\0\u{E000}\0",
            "x\u{E000}\u{E000}",
        ] {
            let escaped = escape_str(s);
            assert!(!escaped.contains('\0'), "{s:?}");
            assert_eq!(unescape_str(escaped.into_owned()).expect("valid"), s);
        }
        assert!(matches!(escape_str("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn values_round_trip_at_any_depth() {
        let value = json!({"k\0": ["a\0", {"\u{E000}": "\0"}], "n": u64::MAX});
        let escaped = escape_value(&value);
        assert!(!escaped.to_string().contains("\\u0000"));
        assert_eq!(unescape_value(escaped).expect("valid"), value);
    }

    #[test]
    fn data_round_trips_escaped_and_comes_back_compact() {
        let mut data = Data::new();
        data.insert("k\0".into(), json!(["a\0", {"\u{E000}": "\0"}]).into());
        data.insert("plain".into(), json!("\\u0000 is not a NUL").into());
        data.insert("n".into(), json!(u64::MAX).into());
        data.insert("cart".into(), json!([1, {"b": "c d"}]).into());
        let JsonbText(stored) = encode_data(&data);
        let parsed: Value = serde_json::from_str(&stored).expect("stored JSON");
        assert!(
            !format!("{parsed:?}").contains("\\0"),
            "a NUL is stored: {parsed:?}"
        );
        // As PostgreSQL prints jsonb: a space after every `,` and `:`.
        let printed = serde_json::to_string_pretty(&parsed).expect("prints");
        let back = decode_data(serde_json::from_str(&printed).expect("an object")).expect("valid");
        assert_eq!(back, data);
        for (key, value) in &back {
            assert_eq!(value.as_str(), data[key].as_str(), "{key:?} is not compact");
        }
    }

    #[test]
    fn dangling_escapes_are_corrupt() {
        for bad in ["\u{E000}", "\u{E000}x"] {
            assert!(matches!(
                unescape_str(bad.into()),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
