//! The escape that lets NUL through, and session data as `jsonb`.
//!
//! PostgreSQL rejects U+0000 in `text` and in `jsonb` strings and keys. Every string that
//! reaches the database (data keys, string values at any depth, user ids) is therefore
//! escaped reversibly with the private-use character U+E000 as escape:
//! U+0000 → U+E000 `0`, U+E000 → U+E000 U+E000. Strings without either character, which is
//! nearly all of them, are stored unchanged.

use std::borrow::Cow;

use serde_json::{Map, Value};
use session_core::store::{Data, StoreError};
use sqlx::types::Json;

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

/// Session data (or a changeset's `set`) as an escaped `jsonb` object.
pub(crate) fn encode_data<'a>(
    data: impl IntoIterator<Item = (&'a String, &'a Value)>,
) -> Json<Value> {
    Json(Value::Object(escape_members(data)))
}

/// Session data read back from the `data` column: an escaped JSON object, else corrupt.
pub(crate) fn decode_data(data: Value) -> Result<Data, StoreError> {
    let Value::Object(members) = data else {
        return Err(StoreError::Corrupt("data is not a JSON object".into()));
    };
    members
        .into_iter()
        .map(|(k, v)| Ok((unescape_str(k)?, unescape_value(v)?)))
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
    fn dangling_escapes_are_corrupt() {
        for bad in ["\u{E000}", "\u{E000}x"] {
            assert!(matches!(
                unescape_str(bad.into()),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
