//! What `apply` binds: JSON text for values, and JSON paths that address any key,
//! however awkward.

use session_core::store::{RawJson, StoreError, json_object};

/// One value as JSON text, for `json(?)`.
pub(crate) fn encode_value(value: &RawJson) -> String {
    value.as_str().to_owned()
}

/// Session data as the JSON text of the `data` column: values copied as they stand.
pub(crate) fn encode_data<'a>(
    pairs: impl IntoIterator<Item = (&'a String, &'a RawJson)>,
) -> String {
    json_object(pairs)
}

/// A JSON path (`$."…"`) naming the top-level member `key`.
///
/// SQLite ends a quoted path label at the first `"` and does not accept raw control
/// characters, but it decodes JSON escapes in labels that contain a backslash. So `"`,
/// `\` and every control character (NUL included) are written as `\uXXXX`, and every
/// other character as itself: any string, even `""` or `a.b.c`, names exactly one member.
pub(crate) fn json_path(key: &str) -> String {
    let mut path = String::with_capacity(key.len() + 5);
    path.push_str("$.\"");
    for c in key.chars() {
        if c == '"' || c == '\\' || c.is_control() {
            for unit in c.encode_utf16(&mut [0; 2]) {
                path.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            path.push(c);
        }
    }
    path.push('"');
    path
}

/// Session data read back from the JSON text of the `data` column; anything but a JSON
/// object is corrupt.
pub(crate) fn decode_data(text: &str) -> Result<session_core::store::Data, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("data is not a JSON object: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_quotes_backslashes_and_control_characters() {
        assert_eq!(json_path("a.b"), r#"$."a.b""#);
        assert_eq!(json_path(""), r#"$."""#);
        assert_eq!(json_path("a\"b\\c\0"), r#"$."a\u0022b\u005cc\u0000""#);
        assert_eq!(json_path("ключ🔑"), "$.\"ключ🔑\"");
    }
}
