//! Stored records in each backend's representation, decoded as `load` decodes them.
//! Whatever the bytes: no panic; and whatever decodes re-encodes to something that decodes
//! to the same value (the round-trip property), where the crate has an encoder.

use std::collections::HashMap;

use serde_json::Value;
use session_core::{
    Timestamp,
    store::{Data, Record, StoreKey},
};
use store_mongo::mongodb::bson::Document;

/// The "now" of every decode: records must expire after it to be live.
const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

/// A Redis session hash, written as lines `field=value` (split at the first `=`; a line
/// without one is a field with an empty value). Later lines win, as `HSET` would.
pub fn redis_record(data: &[u8]) {
    let fields: HashMap<Vec<u8>, Vec<u8>> = data
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == b'=') {
            Some(i) => (line[..i].to_vec(), line[i + 1..].to_vec()),
            None => (line.to_vec(), Vec::new()),
        })
        .collect();
    let Ok(Some(record)) = store_redis::fuzzing::decode_record(fields, NOW) else {
        return;
    };
    let encoded = store_redis::fuzzing::encode_record(&record, record.expires_at);
    let again = encoded
        .into_iter()
        .map(|(k, v)| (k.into_bytes(), v.into_bytes()))
        .collect();
    match store_redis::fuzzing::decode_record(again, NOW) {
        Ok(Some(back)) => assert_same_record(&back, &record, "redis"),
        other => panic!("a re-encoded record does not decode: {other:?}"),
    }
}

/// A MongoDB session document from raw BSON bytes.
pub fn mongo_record(data: &[u8]) {
    let Ok(doc) = Document::from_reader(data) else {
        return;
    };
    let Ok(record) = store_mongo::fuzzing::decode_record(&doc) else {
        return;
    };
    let key = StoreKey::parse(&"ab".repeat(32)).unwrap_or_else(|| panic!("fixed key refused"));
    let encoded = store_mongo::fuzzing::encode_record(&key, &record)
        .unwrap_or_else(|e| panic!("a decoded record does not re-encode: {e}"));
    let mut bytes = Vec::new();
    encoded
        .to_writer(&mut bytes)
        .unwrap_or_else(|e| panic!("a re-encoded document does not serialize: {e}"));
    let reread =
        Document::from_reader(bytes.as_slice()).unwrap_or_else(|e| panic!("BSON re-read: {e}"));
    match store_mongo::fuzzing::decode_record(&reread) {
        Ok(back) => assert_same_record(&back, &record, "mongo"),
        Err(e) => panic!("a re-encoded record does not decode: {e}"),
    }
}

/// The PostgreSQL `data` column (JSON, as sqlx hands it over) and its NUL escape.
pub fn postgres_data(data: &[u8]) {
    use store_postgres::fuzzing::{decode_data, encode_data, escape_str, unescape_str};

    // The escape on the input as a string: escaping is undone exactly, and a stored
    // string (which never holds NUL) that unescapes is exactly the escape of its result.
    let text = String::from_utf8_lossy(data).into_owned();
    let escaped = escape_str(&text).into_owned();
    assert!(!escaped.contains('\0'), "escape left a NUL");
    assert_eq!(
        unescape_str(escaped).ok().as_deref(),
        Some(text.as_str()),
        "unescape(escape(s)) != s"
    );
    if let Ok(plain) = unescape_str(text.clone()) {
        if !text.contains('\0') {
            assert_eq!(escape_str(&plain), text, "escape(unescape(s)) != s");
        }
    }

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(decoded) = decode_data(text) else {
        return;
    };
    let stored = encode_data(&decoded);
    let parsed: Value =
        serde_json::from_str(&stored).unwrap_or_else(|e| panic!("encoded data is not JSON: {e}"));
    assert!(!has_nul(&parsed), "encoded data still holds a NUL");
    match decode_data(&stored) {
        Ok(back) => assert_same_data(&back, &decoded, "postgres"),
        Err(e) => panic!("re-encoded data does not decode: {e}"),
    }
}

/// Whether any string or key in `value` holds a NUL.
fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The SQLite `data` column (JSON text; sqlx only hands over UTF-8).
pub fn sqlite_data(data: &[u8]) {
    use store_sqlite::fuzzing::{decode_data, encode_data};

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(decoded) = decode_data(text) else {
        return;
    };
    let stored = encode_data(&decoded).unwrap_or_else(|e| panic!("data does not re-encode: {e}"));
    match decode_data(&stored) {
        Ok(back) => assert_same_data(&back, &decoded, "sqlite"),
        Err(e) => panic!("re-encoded data does not decode: {e}"),
    }
}

/// `back == record`: floats included, exactly (serde_json's `float_roundtrip`, enabled in
/// the workspace after these targets found floats drifting by an ulp per save/load).
fn assert_same_record(back: &Record, record: &Record, store: &str) {
    assert_eq!(back, record, "{store} round trip changed the record");
}

/// `back == data`, exactly.
fn assert_same_data(back: &Data, data: &Data, store: &str) {
    assert_eq!(back, data, "{store} round trip changed the data");
}
