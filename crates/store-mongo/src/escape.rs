//! Reversible escaping of session data keys into BSON field names.
//!
//! MongoDB field names cannot contain NUL (they are C strings), a `.` is read as a path
//! separator by update operators, a leading `$` is read as an operator, and an empty name
//! cannot be addressed as `data.`. Instead of rejecting such keys, each of `%`, `.`, `$`
//! and NUL is written as `%` plus two uppercase hex digits (`%25`, `%2E`, `%24`, `%00`),
//! and the empty key is written as a lone `%`. Every other character is kept as it is, so
//! ordinary keys stay readable in the shell. Because a literal `%` is always escaped, the
//! encoding is unambiguous: a `%` is either the whole name or starts a `%XX` escape.

/// The field name under which `key` is stored inside `data`. Never empty and never
/// contains `.`, `$` or NUL.
pub fn escape_key(key: &str) -> String {
    if key.is_empty() {
        return "%".to_owned();
    }
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        match c {
            '%' => out.push_str("%25"),
            '.' => out.push_str("%2E"),
            '$' => out.push_str("%24"),
            '\0' => out.push_str("%00"),
            c => out.push(c),
        }
    }
    out
}

/// The key stored under field name `name`, or `None` when `name` is not something
/// [`escape_key`] produces (empty, a raw `.`/`$`/NUL, or a malformed escape).
pub fn unescape_key(name: &str) -> Option<String> {
    if name == "%" {
        return Some(String::new());
    }
    if name.is_empty() || name.contains(['.', '$', '\0']) {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        out.push(match rest.get(pos + 1..pos + 3)? {
            "25" => '%',
            "2E" => '.',
            "24" => '$',
            "00" => '\0',
            _ => return None,
        });
        rest = &rest[pos + 3..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const AWKWARD: &[&str] = &[
        "",
        ".",
        "$",
        "%",
        "%25",
        "a.b.c",
        "$set",
        "nul\0key",
        "ключ🔑",
        " ",
        "data",
        "_id",
        "a%2Eb",
        "100%",
        "%%",
        "$.%\0",
    ];

    #[test]
    fn awkward_keys_round_trip_and_are_valid_field_names() {
        for key in AWKWARD {
            let name = escape_key(key);
            assert!(!name.is_empty(), "{key:?}");
            assert!(!name.contains(['.', '$', '\0']), "{key:?} -> {name:?}");
            assert_eq!(unescape_key(&name).as_deref(), Some(*key), "{key:?}");
        }
    }

    #[test]
    fn known_encodings() {
        assert_eq!(escape_key(""), "%");
        assert_eq!(escape_key("a.b$c%d\0"), "a%2Eb%24c%25d%00");
        assert_eq!(escape_key("plain-key_1"), "plain-key_1");
    }

    #[test]
    fn names_escape_key_cannot_produce_are_refused() {
        for bad in [
            "", "%2", "%zz", "a%", "%2e", "%41", "x%%", "a.b", "$x", "n\0",
        ] {
            assert_eq!(unescape_key(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn any_key_round_trips(key in any::<String>()) {
            let name = escape_key(&key);
            prop_assert!(!name.is_empty());
            prop_assert!(!name.contains(['.', '$', '\0']));
            prop_assert_eq!(unescape_key(&name), Some(key));
        }
    }
}
