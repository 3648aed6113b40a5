//! The storage layout: key names, hash field names, and the record codec.
//!
//! A session is one hash: single-letter metadata fields and the whole data in one field,
//! packed as `<key bytes>:<key><value bytes>:<value JSON>` per key, so a load parses a
//! dozen reply elements whatever the number of keys. The data field's name is in `w`: a
//! write puts its result in a fresh field with a plain `HSET` and the write script only
//! points `w` at it, so the data never passes through Lua, whose every argument and reply
//! Redis copies into the interpreter (7 µs of server CPU for a 4.4 KB value on Redis 7.0).
//! Hashes of the store's first layout keep each key in a field `d:<key>` and have no `w`; `load`
//! reads them, and the first write of such a session moves its keys (see `scripts`).
//! A hash with a `s` field is not a session but a marker of the rotation and revocation
//! protocols (see the README); `load` treats it as no session, and so a hash with neither
//! `e` nor `c`.

use redis::{Cmd, Pipeline, ToRedisArgs, Value};
use session_core::{
    SessionSummary, Timestamp,
    store::{Data, RawJson, Record, StoreError, StoreKey},
};
use sha2::{Digest, Sha256};

/// The name of the field that holds the packed data (see [`pack`]).
pub(crate) const LIVE: &str = "w";
/// Every data field's name starts with this; a fresh hash's is [`FRESH_DATA`], a write's
/// is [`staged_field`]. Fields of this shape that `w` does not name are the leftovers of
/// writes that failed between their two commands, and are ignored.
pub(crate) const DATA_PREFIX: u8 = b'D';
/// The data field of a hash written whole (`create`, a rotation's new key).
pub(crate) const FRESH_DATA: &str = "D0";
/// Prefix of a data field in the store's first layout, one field per key.
pub(crate) const LEGACY_DATA: &str = "d:";
/// Version (decimal u64), bumped by every `apply`.
pub(crate) const VERSION: &str = "v";
/// `created_at`, ms since the epoch.
pub(crate) const CREATED: &str = "c";
/// `expires_at`, ms since the epoch; mirrors the key's `PEXPIREAT`.
pub(crate) const EXPIRES: &str = "e";
/// The user, raw bytes; absent when the session has none.
pub(crate) const USER: &str = "u";
/// "1" when the cookie is persistent, else "0".
pub(crate) const PERSISTENT: &str = "p";
/// Index horizon: the score under which this key sits in its user's index. Absent when
/// the session has no user. Invariant: `i >= e` whenever `u` is set.
pub(crate) const HORIZON: &str = "i";
/// `authenticated_at`, ms since the epoch; absent when `None` (and in hashes written
/// before the field existed).
pub(crate) const AUTHENTICATED: &str = "a";
/// `last_seen`, ms since the epoch; absent in hashes written before it existed (read as
/// `created_at`).
pub(crate) const LAST_SEEN: &str = "l";
/// The application's label; absent when the session has none.
pub(crate) const LABEL: &str = "n";
/// Prefix of a revocation fence, `z:<user>` = the revocation instant (ms): written into a
/// hash by `delete_sessions_of` so a write in flight cannot bind that user afterwards.
pub(crate) const FENCE: &str = "z:";
/// Marks a hash that is not a session: `pending` (a rotation's reserved new key),
/// `moved` (a rotated-away old key) or `fenced` (a revocation fence on a missing key).
pub(crate) const STATE: &str = "s";

/// How long the protocol markers live: a rotation's `pending` reservation, a `moved` note
/// and a `fenced` key. Longer than any operation (each is bounded by
/// `Timeouts::operation`, seconds) with a wide margin for commands delivered late.
pub(crate) const MARKER_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// Key names under one prefix.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    prefix: String,
    /// Whether the prefix holds a Redis Cluster hash tag (then every key shares its slot).
    tagged: bool,
}

impl Keys {
    pub(crate) fn new(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        Self {
            tagged: has_hash_tag(&prefix),
            prefix,
        }
    }

    /// Whether [`revocation`](Self::revocation) keys share their index's cluster slot:
    /// true unless the prefix contains `}` without a non-empty hash tag before it.
    pub(crate) fn cluster_safe(&self) -> bool {
        self.tagged || !self.prefix.contains('}')
    }

    /// The user's latest revocation (a string `"<ms> <kept key>"`), in the same cluster
    /// slot as [`user_index`](Self::user_index): `{<index>}:revoked`, whose hash tag is
    /// the whole index name (or `<index>:revoked` when the prefix carries a tag itself).
    pub(crate) fn revocation(&self, user: &str) -> String {
        let index = self.user_index(user);
        if self.tagged {
            format!("{index}:revoked")
        } else {
            format!("{{{index}}}:revoked")
        }
    }

    /// The user's sessions by `created_at` (a sorted set of store keys, the members of
    /// [`user_index`](Self::user_index) scored by creation instead of horizon), for the
    /// newest-first listing; in the index's slot, like [`revocation`](Self::revocation).
    pub(crate) fn created(&self, user: &str) -> String {
        let index = self.user_index(user);
        if self.tagged {
            format!("{index}:created")
        } else {
            format!("{{{index}}}:created")
        }
    }

    /// The session hash: `<prefix><64 hex digits>`.
    pub(crate) fn session(&self, key: &StoreKey) -> String {
        // Once per store call: two copies beat the formatting machinery's ~700 instructions.
        let mut name = String::with_capacity(self.prefix.len() + key.as_str().len());
        name.push_str(&self.prefix);
        name.push_str(key.as_str());
        name
    }

    /// The user's index (a sorted set): `<prefix>user:<hex SHA-256 of the user>`, so any
    /// user name (braces, colons, NUL, unicode) gives a fixed-shape key with no hash tag.
    pub(crate) fn user_index(&self, user: &str) -> String {
        use std::fmt::Write as _;
        let digest = Sha256::digest(user.as_bytes());
        let mut name = String::with_capacity(self.prefix.len() + 5 + 64);
        name.push_str(&self.prefix);
        name.push_str("user:");
        for b in digest {
            // Writing to a String cannot fail.
            let _ = write!(name, "{b:02x}");
        }
        name
    }
}

/// Whether `key` has a Redis Cluster hash tag: a `{` with a `}` after it and at least
/// one character between the first `{` and the first `}` that follows it.
pub(crate) fn has_hash_tag(key: &str) -> bool {
    key.find('{')
        .and_then(|open| key[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

/// How far ahead of a deadline the per-user index entry reaches: twice the remaining
/// lifetime, so a rolling session refreshes its index entry about once per idle timeout
/// rather than on every write.
pub(crate) fn horizon(deadline: Timestamp, now: Timestamp) -> Timestamp {
    deadline.add(now.until(deadline))
}

/// Where [`encode_record`] puts a hash's fields: a command's arguments, or pairs.
pub(crate) trait FieldSink {
    /// Appends one field and its value.
    fn field(&mut self, name: &str, value: impl ToRedisArgs);
}

/// Straight into the command's one argument buffer: no allocation per field.
impl FieldSink for Cmd {
    fn field(&mut self, name: &str, value: impl ToRedisArgs) {
        self.arg(name).arg(value);
    }
}

/// Into the pipeline's last command, the same way.
impl FieldSink for Pipeline {
    fn field(&mut self, name: &str, value: impl ToRedisArgs) {
        self.arg(name).arg(value);
    }
}

/// As text pairs, for the fuzz targets.
impl FieldSink for Vec<(String, String)> {
    fn field(&mut self, name: &str, value: impl ToRedisArgs) {
        let text = value.to_redis_args().concat();
        self.push((name.to_owned(), String::from_utf8_lossy(&text).into_owned()));
    }
}

/// Every field of a fresh hash for `record`, into `out`; `horizon` is the score its
/// user's index entry was written with (ignored without a user); the data packed into
/// [`FRESH_DATA`].
pub(crate) fn encode_record(record: &Record, horizon: Timestamp, out: &mut impl FieldSink) {
    out.field(VERSION, record.version);
    out.field(CREATED, record.created_at.as_millis());
    out.field(EXPIRES, record.expires_at.as_millis());
    out.field(PERSISTENT, flag(record.persistent));
    if let Some(at) = record.authenticated_at {
        out.field(AUTHENTICATED, at.as_millis());
    }
    out.field(LAST_SEEN, record.last_seen.as_millis());
    if let Some(label) = &record.label {
        out.field(LABEL, label.as_str());
    }
    if let Some(user) = &record.user {
        out.field(USER, user.as_str());
        out.field(HORIZON, horizon.as_millis());
    }
    let mut packed = Vec::new();
    pack(record.data.iter(), &mut packed);
    out.field(LIVE, FRESH_DATA);
    out.field(FRESH_DATA, packed.as_slice());
}

/// A data field name no other write uses: `D`, this process's random tag, a counter.
/// Concurrent writers of one session each stage their result under their own name.
pub(crate) fn staged_field() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static TAG: std::sync::LazyLock<StoreKey> = std::sync::LazyLock::new(StoreKey::random);
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(n);
    let mut name = String::with_capacity(17 + digits.len());
    name.push(char::from(DATA_PREFIX));
    name.push_str(&TAG.as_str()[..16]);
    name.push_str(digits);
    name
}

/// Appends `<key bytes>:<key><value bytes>:<value JSON>` for every pair to `out`: a format
/// the write script's Lua can split with `string.find` (keys may hold any byte, JSON text
/// any character but a raw control one) and the load can split without a JSON scanner.
pub(crate) fn pack<'a>(pairs: impl Iterator<Item = (&'a String, &'a RawJson)>, out: &mut Vec<u8>) {
    let mut digits = itoa::Buffer::new();
    for (key, value) in pairs {
        let text = value.as_str().as_bytes();
        out.extend_from_slice(digits.format(key.len()).as_bytes());
        out.push(b':');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(digits.format(text.len()).as_bytes());
        out.push(b':');
        out.extend_from_slice(text);
    }
}

/// The pairs of a [`pack`]ed value, into `data` (a key seen twice keeps its last value).
/// The whole field is checked to be UTF-8 once, so that each value is validated as JSON
/// from `str` (serde_json then skips its own check of every string it meets); values are
/// kept as that text.
pub(crate) fn unpack(packed: &[u8], data: &mut Data) -> Result<(), StoreError> {
    let mut packed =
        std::str::from_utf8(packed).map_err(|_| corrupt("the data field is not UTF-8"))?;
    while !packed.is_empty() {
        let (key, rest) = split_counted_str(packed)?;
        let (value, rest) = split_counted_str(rest)?;
        let value = RawJson::parse(value.to_owned())
            .map_err(|e| corrupt(&format!("a data value is not JSON: {e}")))?;
        data.insert(key.to_owned(), value);
        packed = rest;
    }
    Ok(())
}

/// [`split_counted`] of text: a count that does not end on a character boundary is
/// corrupt data, never a panic.
fn split_counted_str(text: &str) -> Result<(&str, &str), StoreError> {
    let (head, tail) = split_counted(text.as_bytes())?;
    let start = text.len() - tail.len() - head.len();
    let end = start + head.len();
    match (text.get(start..end), text.get(end..)) {
        (Some(head), Some(tail)) => Ok((head, tail)),
        _ => Err(corrupt("a packed count splits a character")),
    }
}

/// `<n>:<n bytes>` at the start of `bytes`: those bytes and what follows them.
fn split_counted(bytes: &[u8]) -> Result<(&[u8], &[u8]), StoreError> {
    let broken = || corrupt("the data field is not packed data");
    let mut len: usize = 0;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' if i < 12 => len = len * 10 + usize::from(b - b'0'),
            b':' if i > 0 => {
                let rest = &bytes[i + 1..];
                return if rest.len() < len {
                    Err(broken())
                } else {
                    Ok(rest.split_at(len))
                };
            }
            _ => break,
        }
    }
    Err(broken())
}

/// "1" or "0".
pub(crate) fn flag(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

/// A hash's fields and values, as `HGETALL` returns them.
pub(crate) type HashFields = Vec<(Vec<u8>, Vec<u8>)>;

/// The field/value pairs of an `HGETALL` reply (a flat array in RESP2, a map in RESP3),
/// moved out of the reply: a `HashMap` would hash every field name and copy nothing less.
pub(crate) fn hash_fields(reply: Value) -> Result<HashFields, StoreError> {
    let bytes = |v: Value| match v {
        Value::BulkString(b) => Ok(b),
        other => Err(corrupt(&format!("HGETALL returned {other:?}"))),
    };
    match reply {
        Value::Nil => Ok(Vec::new()),
        Value::Array(items) if items.len() % 2 == 0 => {
            let mut items = items.into_iter();
            let mut pairs = Vec::with_capacity(items.len() / 2);
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                pairs.push((bytes(field)?, bytes(value)?));
            }
            Ok(pairs)
        }
        Value::Map(entries) => entries
            .into_iter()
            .map(|(field, value)| Ok((bytes(field)?, bytes(value)?)))
            .collect(),
        other => Err(corrupt(&format!("HGETALL returned {other:?}"))),
    }
}

/// Rebuilds a record from a hash's fields: `None` for no hash, a protocol marker or an
/// expired session (checked before any data field is parsed).
pub(crate) fn decode_record(
    fields: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>,
    now: Timestamp,
) -> Result<Option<Record>, StoreError> {
    let mut meta: [Option<Vec<u8>>; 8] = Default::default();
    let [
        version,
        created,
        expires,
        persistent,
        user,
        authenticated,
        seen,
        label,
    ] = &mut meta;
    let (mut stored, mut live, mut legacy) = (Vec::new(), None, Vec::new());
    let (mut any, mut marker, mut unknown) = (false, false, false);
    for (field, value) in fields {
        any = true;
        let slot = match field.as_slice() {
            [DATA_PREFIX, ..] => {
                stored.push((field, value));
                continue;
            }
            f if f == LIVE.as_bytes() => {
                live = Some(value);
                continue;
            }
            f if f.starts_with(LEGACY_DATA.as_bytes()) => {
                legacy.push((field, value));
                continue;
            }
            f if f == STATE.as_bytes() => {
                marker = true;
                continue;
            }
            f if f == VERSION.as_bytes() => &mut *version,
            f if f == CREATED.as_bytes() => &mut *created,
            f if f == EXPIRES.as_bytes() => &mut *expires,
            f if f == PERSISTENT.as_bytes() => &mut *persistent,
            f if f == USER.as_bytes() => &mut *user,
            f if f == AUTHENTICATED.as_bytes() => &mut *authenticated,
            f if f == LAST_SEEN.as_bytes() => &mut *seen,
            f if f == LABEL.as_bytes() => &mut *label,
            f if f == HORIZON.as_bytes() || f.starts_with(FENCE.as_bytes()) => continue,
            _ => {
                unknown = true;
                continue;
            }
        };
        *slot = Some(value);
    }
    // Neither deadline nor creation time: the leftovers of the first layout's script-free
    // write where its session had just gone, which expire on their own.
    if !any || marker || (expires.is_none() && created.is_none()) {
        return Ok(None);
    }
    let expires_at = timestamp(expires.as_ref(), EXPIRES)?;
    if expires_at <= now {
        return Ok(None);
    }
    if unknown {
        return Err(corrupt("unknown metadata field"));
    }
    let created_at = timestamp(created.as_ref(), CREATED)?;
    let mut record = Record {
        data: Data::new(),
        created_at,
        expires_at,
        user: user
            .as_ref()
            .map(|u| text(u, USER).map(str::to_owned))
            .transpose()?,
        authenticated_at: authenticated
            .as_ref()
            .map(|at| timestamp(Some(at), AUTHENTICATED))
            .transpose()?,
        persistent: match required(persistent.as_ref(), PERSISTENT)? {
            "1" => true,
            "0" => false,
            _ => return Err(corrupt("field p is not 0 or 1")),
        },
        version: number(version.as_ref(), VERSION)?,
        last_seen: match seen {
            Some(at) => timestamp(Some(at), LAST_SEEN)?,
            None => created_at,
        },
        label: label
            .as_ref()
            .map(|l| text(l, LABEL).map(str::to_owned))
            .transpose()?,
    };
    if let Some(live) = live {
        let (_, packed) = stored
            .iter()
            .find(|(field, _)| *field == live)
            .ok_or_else(|| corrupt("field w names no data field"))?;
        unpack(packed, &mut record.data)?;
    }
    for (field, value) in legacy {
        let mut key = String::from_utf8(field).map_err(|_| corrupt("a field name is not UTF-8"))?;
        // In place: the reply's buffer becomes the key (ASCII prefix, so a char boundary).
        key.drain(..LEGACY_DATA.len());
        let value = String::from_utf8(value)
            .map_err(|_| corrupt("a data field is not UTF-8"))
            .and_then(|text| {
                RawJson::parse(text).map_err(|e| corrupt(&format!("a data field is not JSON: {e}")))
            })?;
        record.data.insert(key, value);
    }
    Ok(Some(record))
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("redis session hash: {what}"))
}

// Takes the field's name, not a message: every load reads five fields, and an error text
// is built only on failure.
fn text<'a>(bytes: &'a [u8], field: &str) -> Result<&'a str, StoreError> {
    std::str::from_utf8(bytes).map_err(|_| corrupt(&format!("field {field} is not UTF-8")))
}

fn required<'a>(value: Option<&'a Vec<u8>>, field: &str) -> Result<&'a str, StoreError> {
    let value = value.ok_or_else(|| corrupt(&format!("field {field} is missing")))?;
    text(value, field)
}

fn number<T: std::str::FromStr>(value: Option<&Vec<u8>>, field: &str) -> Result<T, StoreError> {
    required(value, field)?
        .parse()
        .map_err(|_| corrupt(&format!("field {field} is not a number")))
}

fn timestamp(value: Option<&Vec<u8>>, field: &str) -> Result<Timestamp, StoreError> {
    number(value, field).map(Timestamp::from_millis)
}

/// The integer in a script reply element (Lua numbers arrive as integers, `HGET` results
/// as bulk strings).
pub(crate) fn int_of(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(*n),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        _ => None,
    }
}

/// The fields an index entry's summary is read from, in `HMGET` order: state, user,
/// created, expires, last seen, authenticated, label.
pub(crate) const SUMMARY_FIELDS: [&str; 7] = [
    STATE,
    USER,
    CREATED,
    EXPIRES,
    LAST_SEEN,
    AUTHENTICATED,
    LABEL,
];

/// The reply of `HMGET` with [`SUMMARY_FIELDS`].
pub(crate) type SummaryFields = [Option<Vec<u8>>; 7];

/// The summary of `key` from its [`SUMMARY_FIELDS`], if it is a live session of `user`
/// at `now` (a missing hash, a marker or another user's session is `None`).
pub(crate) fn summary_of(
    key: StoreKey,
    fields: &SummaryFields,
    user: &str,
    now: Timestamp,
) -> Result<Option<SessionSummary>, StoreError> {
    let [state, owner, created, expires, seen, authenticated, label] = fields;
    if state.is_some() || owner.as_deref() != Some(user.as_bytes()) {
        return Ok(None);
    }
    let expires_at = timestamp(expires.as_ref(), EXPIRES)?;
    if expires_at <= now {
        return Ok(None);
    }
    let created_at = timestamp(created.as_ref(), CREATED)?;
    Ok(Some(SessionSummary {
        key,
        created_at,
        expires_at,
        last_seen: match seen {
            Some(at) => timestamp(Some(at), LAST_SEEN)?,
            None => created_at,
        },
        authenticated_at: authenticated
            .as_ref()
            .map(|at| timestamp(Some(at), AUTHENTICATED))
            .transpose()?,
        label: label
            .as_ref()
            .map(|l| text(l, LABEL).map(str::to_owned))
            .transpose()?,
    }))
}
