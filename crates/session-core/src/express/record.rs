//! The record express-session stores: the application's fields at the top level beside a
//! `cookie` object, and how a [`Record`] and a [`Changeset`] map onto it.
//!
//! ```json
//! {"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T21:32:16.403Z","httpOnly":true,"path":"/"},
//!  "user":"carol","count":7,
//!  "rustSession":{"createdAt":1796157229862,"version":3}}
//! ```
//!
//! - Data keys are the top-level fields other than `cookie`, the user field and
//!   `rustSession`; the user field (`user` unless configured) is [`Record::user`] when it
//!   holds a string.
//! - `rustSession` keeps what express-session has no place for: `createdAt` (our absolute
//!   timeout), `authenticatedAt` with the user it dates, `lastSeen` and `label` (a Rust
//!   write dates the first; touches are `EXPIRE` only), and `version` (bumped by Rust
//!   writes only: a Node write keeps the field as it found it). express-session preserves
//!   unknown top-level fields on re-save, so it survives Node writes; a Node
//!   `regenerate()` drops it, and the next Rust load dates the session from then.
//! - `persistent` is `cookie.originalMaxAge` being a number, as for express-session.
//! - The deadline is not read from `cookie.expires` (it is stale after any touch): it is
//!   the store's own (TTL, `expire` column, `expires` field), passed in by the layout.
//!
//! Reading is tolerant: a missing or `null` `cookie`, missing or `null` optional cookie
//! fields, `expires` as a string or a number, extra fields anywhere (kept on write), any
//! key order. What cannot be read (not a JSON object, a `cookie` that is neither an object
//! nor `null`) is [`StoreError::Corrupt`], never a panic.
//!
//! Writing refuses ([`StoreError::Encode`]) what express-session would silently lose: data
//! keys it reserves or drops (`cookie`, the user field, `rustSession`, `id`, `req`, `save`,
//! `touch`, …, every `Object.prototype` name) and integers beyond ±2^53 (JavaScript numbers).

use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::{Changeset, Data, RawJson, Record, SameSite, SessionConfig, StoreError, Timestamp};

/// The top-level field that holds what only the Rust side needs.
pub const META_FIELD: &str = "rustSession";

/// Names express-session drops from a session on re-save (`prop in this` on a `Session`).
const NODE_DROPS: [&str; 20] = [
    "id",
    "req",
    "touch",
    "resetMaxAge",
    "save",
    "reload",
    "destroy",
    "regenerate",
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

/// Largest integer a JavaScript number holds exactly.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// How sessions are laid out as express-session records: which top-level field is the
/// user, and the `cookie` object written for sessions the Rust side creates.
///
/// The cookie object matters to Node: express-session rebuilds `req.session.cookie` from
/// it, so its `path`, `httpOnly`, `secure`, `sameSite` and `domain` become Node's
/// `Set-Cookie` attributes for that session. Build it from the Rust side's configuration
/// with [`cookie_of`](Self::cookie_of) so both sides send the same cookie.
#[derive(Debug, Clone)]
pub struct ExpressFormat {
    user_field: String,
    cookie: Map<String, Value>,
}

impl Default for ExpressFormat {
    /// User field `user`; cookie `{"path": "/", "httpOnly": true}` (express-session's defaults).
    fn default() -> Self {
        let mut cookie = Map::new();
        cookie.insert("httpOnly".into(), Value::Bool(true));
        cookie.insert("path".into(), Value::String("/".into()));
        Self {
            user_field: "user".into(),
            cookie,
        }
    }
}

impl ExpressFormat {
    /// The top-level field that holds the signed-in user's name (`user` by default); what
    /// the Node app sets at sign-in (`req.session.user = name`).
    #[must_use]
    pub fn user_field(mut self, name: impl Into<String>) -> Self {
        self.user_field = name.into();
        self
    }

    /// The name of the user field.
    pub fn user_field_name(&self) -> &str {
        &self.user_field
    }

    /// New records get the cookie attributes of `config` (Path, HttpOnly, Secure, SameSite,
    /// Domain), so Node re-issues the cookie the Rust side issues.
    #[must_use]
    pub fn cookie_of(mut self, config: &SessionConfig) -> Self {
        let attrs = &config.cookie;
        let mut cookie = Map::new();
        cookie.insert("secure".into(), Value::Bool(attrs.secure));
        cookie.insert("httpOnly".into(), Value::Bool(attrs.http_only));
        if let Some(domain) = &attrs.domain {
            cookie.insert("domain".into(), Value::String(domain.clone()));
        }
        cookie.insert("path".into(), Value::String(attrs.path.clone()));
        let same_site = match attrs.same_site {
            SameSite::Strict => "strict",
            SameSite::Lax => "lax",
            SameSite::None => "none",
        };
        cookie.insert("sameSite".into(), Value::String(same_site.into()));
        if attrs.partitioned {
            cookie.insert("partitioned".into(), Value::Bool(true));
        }
        self.cookie = cookie;
        self
    }

    /// The record a stored session object holds, with `deadline` (the store's own expiry)
    /// as its `expires_at`; `now` dates sessions that carry no creation time (made by Node).
    pub fn decode(
        &self,
        session: &Value,
        deadline: Timestamp,
        now: Timestamp,
    ) -> Result<Record, StoreError> {
        let obj = session
            .as_object()
            .ok_or_else(|| StoreError::Corrupt("express session is not a JSON object".into()))?;
        let persistent = match obj.get("cookie") {
            None | Some(Value::Null) => false,
            Some(Value::Object(cookie)) => {
                cookie.get("originalMaxAge").is_some_and(Value::is_number)
            }
            Some(_) => {
                return Err(StoreError::Corrupt(
                    "express session's cookie is not an object".into(),
                ));
            }
        };
        let meta = obj.get(META_FIELD).and_then(Value::as_object);
        let meta_i64 = |name: &str| meta.and_then(|m| m.get(name)).and_then(Value::as_i64);
        let user = obj
            .get(&self.user_field)
            .and_then(Value::as_str)
            .map(str::to_owned);
        let authenticated_for = meta
            .and_then(|m| m.get("authenticatedUser"))
            .and_then(Value::as_str);
        // A sign-in time counts only for the user it dated (Node may have signed in
        // someone else since, keeping the field).
        let authenticated_at = meta_i64("authenticatedAt")
            .filter(|_| user.is_some() && authenticated_for == user.as_deref())
            .map(Timestamp::from_millis);
        let data: Data = obj
            .iter()
            .filter(|(k, _)| !self.is_metadata(obj, k))
            .map(|(k, v)| (k.clone(), RawJson::from(v)))
            .collect();
        let created_at = meta_i64("createdAt").map_or(now, Timestamp::from_millis);
        Ok(Record {
            data,
            created_at,
            last_seen: meta_i64("lastSeen").map_or(created_at, Timestamp::from_millis),
            label: meta
                .and_then(|m| m.get("label"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            expires_at: deadline,
            user,
            authenticated_at,
            persistent,
            version: meta
                .and_then(|m| m.get("version"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
        })
    }

    /// The session object for a new record.
    pub fn encode(&self, record: &Record, now: Timestamp) -> Result<Value, StoreError> {
        let mut obj = Map::new();
        for (key, value) in &record.data {
            let value = value.to_value();
            self.check_writable(key, &value)?;
            obj.insert(key.clone(), value);
        }
        let cookie = cookie_json(&self.cookie, record.persistent, record.expires_at, now);
        obj.insert("cookie".into(), Value::Object(cookie));
        let mut meta = Map::new();
        meta.insert("createdAt".into(), json!(record.created_at.as_millis()));
        meta.insert("version".into(), json!(record.version));
        meta.insert("lastSeen".into(), json!(record.last_seen.as_millis()));
        if let Some(label) = &record.label {
            meta.insert("label".into(), Value::String(label.clone()));
        }
        if let Some(user) = &record.user {
            obj.insert(self.user_field.clone(), Value::String(user.clone()));
            if let Some(at) = record.authenticated_at {
                meta.insert("authenticatedAt".into(), json!(at.as_millis()));
                meta.insert("authenticatedUser".into(), Value::String(user.clone()));
            }
        }
        obj.insert(META_FIELD.into(), Value::Object(meta));
        Ok(Value::Object(obj))
    }

    /// Applies `changes` to a stored session object, per key: fields the changeset does
    /// not name (the Node app's, too) stay as they are. Returns the new version.
    pub fn apply(
        &self,
        session: &mut Value,
        changes: &Changeset,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let set: Vec<(&String, Value)> = changes
            .set
            .iter()
            .map(|(key, value)| (key, value.to_value()))
            .collect();
        for (key, value) in &set {
            self.check_writable(key, value)?;
        }
        let persistent_before = self.decode(session, changes.expires_at, now)?.persistent;
        let Some(obj) = session.as_object_mut() else {
            return Err(StoreError::Corrupt(
                "express session is not a JSON object".into(),
            ));
        };
        if changes.cleared {
            let keep: Vec<String> = obj
                .keys()
                .filter(|k| self.is_metadata(obj, k))
                .cloned()
                .collect();
            obj.retain(|k, _| keep.contains(k));
        }
        for key in &changes.removed {
            if !self.is_metadata(obj, key) {
                obj.remove(key);
            }
        }
        for (key, value) in set {
            obj.insert(key.clone(), value);
        }
        let mut meta = match obj.remove(META_FIELD) {
            Some(Value::Object(meta)) => meta,
            _ => Map::new(),
        };
        match &changes.user {
            None => {}
            Some(Some(user)) => {
                obj.insert(self.user_field.clone(), Value::String(user.clone()));
                match changes.authenticated_at {
                    Some(at) => {
                        meta.insert("authenticatedAt".into(), json!(at.as_millis()));
                        meta.insert("authenticatedUser".into(), Value::String(user.clone()));
                    }
                    None => {
                        meta.remove("authenticatedAt");
                        meta.remove("authenticatedUser");
                    }
                }
            }
            Some(None) => {
                obj.remove(&self.user_field);
                meta.remove("authenticatedAt");
                meta.remove("authenticatedUser");
            }
        }
        let persistent = changes.persistent.unwrap_or(persistent_before);
        let base = match obj.get("cookie") {
            Some(Value::Object(cookie)) => cookie.clone(),
            _ => self.cookie.clone(),
        };
        let cookie = cookie_json(&base, persistent, changes.expires_at, now);
        obj.insert("cookie".into(), Value::Object(cookie));
        if !meta.contains_key("createdAt") {
            meta.insert("createdAt".into(), json!(now.as_millis()));
        }
        let version = meta.get("version").and_then(Value::as_u64).unwrap_or(0) + 1;
        meta.insert("version".into(), json!(version));
        meta.insert("lastSeen".into(), json!(changes.began_at.as_millis()));
        match &changes.label {
            None => {}
            Some(Some(label)) => {
                meta.insert("label".into(), Value::String(label.clone()));
            }
            Some(None) => {
                meta.remove("label");
            }
        }
        obj.insert(META_FIELD.into(), Value::Object(meta));
        Ok(version)
    }

    /// Whether top-level `key` of `obj` is not session data: the cookie, our metadata, or
    /// the user field holding a user.
    fn is_metadata(&self, obj: &Map<String, Value>, key: &str) -> bool {
        key == "cookie"
            || key == META_FIELD
            || (key == self.user_field && obj.get(key).is_some_and(Value::is_string))
    }

    fn check_writable(&self, key: &str, value: &Value) -> Result<(), StoreError> {
        if key == "cookie"
            || key == META_FIELD
            || key == self.user_field
            || NODE_DROPS.contains(&key)
        {
            return Err(StoreError::Encode(format!(
                "data key {key:?} is reserved in an express-session record \
                 (express-session would overwrite or drop it)"
            )));
        }
        if let Some(n) = unsafe_integer(value) {
            return Err(StoreError::Encode(format!(
                "data key {key:?} holds the integer {n}, beyond what a JavaScript number \
                 holds exactly (±2^53): express-session would round it"
            )));
        }
        Ok(())
    }
}

/// The first integer in `value` a JavaScript number cannot hold exactly.
fn unsafe_integer(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => {
            let unsafe_u = n.as_u64().is_some_and(|u| u > MAX_SAFE_INTEGER);
            let unsafe_i = n
                .as_i64()
                .is_some_and(|i| i.unsigned_abs() > MAX_SAFE_INTEGER);
            (unsafe_u || unsafe_i).then(|| n.to_string())
        }
        Value::Array(items) => items.iter().find_map(unsafe_integer),
        Value::Object(map) => map.values().find_map(unsafe_integer),
        _ => None,
    }
}

/// `base` with `originalMaxAge` and `expires` set as express-session's `Cookie` holds
/// them: a number of ms and an ISO date for a persistent cookie, `null`s otherwise.
fn cookie_json(
    base: &Map<String, Value>,
    persistent: bool,
    expires_at: Timestamp,
    now: Timestamp,
) -> Map<String, Value> {
    let mut cookie = base.clone();
    if persistent {
        let max_age = match cookie.get("originalMaxAge") {
            Some(n @ Value::Number(_)) => n.clone(),
            _ => json!(
                expires_at
                    .as_millis()
                    .saturating_sub(now.as_millis())
                    .max(0)
            ),
        };
        cookie.insert("originalMaxAge".into(), max_age);
        cookie.insert("expires".into(), Value::String(iso_8601(expires_at)));
    } else {
        cookie.insert("originalMaxAge".into(), Value::Null);
        cookie.insert("expires".into(), Value::Null);
    }
    cookie
}

/// `Date#toISOString()`: `2026-12-01T21:32:16.403Z`.
pub(super) fn iso_8601(at: Timestamp) -> String {
    let nanos = i128::from(at.as_millis()) * 1_000_000;
    let t = OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node_record() -> Value {
        serde_json::from_str(
            r#"{"cookie":{"originalMaxAge":3600000,"expires":"2026-12-01T21:32:16.403Z","httpOnly":true,"path":"/"},"user":"carol","n":7,"passport":{"x":1}}"#,
        )
        .expect("json")
    }

    #[test]
    fn reads_a_record_node_wrote() {
        let now = Timestamp::from_millis(1_000);
        let deadline = Timestamp::from_millis(5_000);
        let r = ExpressFormat::default()
            .decode(&node_record(), deadline, now)
            .expect("decodes");
        assert_eq!(r.user.as_deref(), Some("carol"));
        assert_eq!(r.data.get("n"), Some(&json!(7).into()));
        assert_eq!(r.data.get("passport"), Some(&json!({"x": 1}).into()));
        assert!(!r.data.contains_key("cookie") && !r.data.contains_key("user"));
        assert!(r.persistent);
        assert_eq!((r.created_at, r.expires_at, r.version), (now, deadline, 0));
        assert_eq!(r.authenticated_at, None);
    }

    #[test]
    fn tolerates_what_express_session_tolerates_and_refuses_the_rest() {
        let f = ExpressFormat::default();
        let t = Timestamp::from_millis(0);
        for ok in [
            r#"{"cookie":{}}"#,
            r#"{"cookie":null}"#,
            r#"{}"#,
            r#"{"cookie":{"originalMaxAge":null,"expires":1796160809597,"sameSite":null,"foo":1}}"#,
            r#"{"cookie":{"originalMaxAge":"3600000"},"user":5,"rustSession":"junk"}"#,
        ] {
            let v: Value = serde_json::from_str(ok).expect("json");
            assert!(f.decode(&v, t, t).is_ok(), "{ok}");
        }
        for bad in [r#""just a string""#, "[]", "null", r#"{"cookie":"x"}"#] {
            let v: Value = serde_json::from_str(bad).expect("json");
            assert!(
                matches!(f.decode(&v, t, t), Err(StoreError::Corrupt(_))),
                "{bad}"
            );
        }
        let numeric_user: Value = serde_json::from_str(r#"{"user":5}"#).expect("json");
        let r = f.decode(&numeric_user, t, t).expect("decodes");
        assert_eq!((r.user, r.data.get("user")), (None, Some(&json!(5).into())));
    }

    #[test]
    fn apply_is_per_key_and_keeps_foreign_fields() {
        let f = ExpressFormat::default();
        let now = Timestamp::from_millis(1_796_160_000_000);
        let mut session = node_record();
        let mut changes = Changeset::new(Timestamp::from_millis(now.as_millis() + 3_600_000));
        changes.set.insert("count".into(), json!(1).into());
        changes.removed.insert("n".into());
        changes.removed.insert("cookie".into());
        assert_eq!(f.apply(&mut session, &changes, now).expect("applies"), 1);
        assert_eq!(session["count"], json!(1));
        assert_eq!(session.get("n"), None);
        assert_eq!(session["passport"], json!({"x": 1}));
        assert_eq!(session["user"], json!("carol"));
        assert_eq!(session["cookie"]["originalMaxAge"], json!(3_600_000));
        assert_eq!(
            session["cookie"]["expires"],
            json!("2026-12-01T22:20:00.000Z")
        );
        assert_eq!(session["cookie"]["httpOnly"], json!(true));
        assert_eq!(session[META_FIELD]["createdAt"], json!(now.as_millis()));
        let mut logout = Changeset::new(changes.expires_at);
        logout.user = Some(None);
        logout.cleared = true;
        logout.persistent = Some(false);
        assert_eq!(f.apply(&mut session, &logout, now).expect("applies"), 2);
        assert_eq!(session.get("user"), None);
        assert_eq!(session.get("passport"), None);
        assert_eq!(session["cookie"]["expires"], Value::Null);
        assert_eq!(session["cookie"]["originalMaxAge"], Value::Null);
    }

    #[test]
    fn records_round_trip_and_sign_ins_stay_with_their_user() {
        let f = ExpressFormat::default();
        let now = Timestamp::from_millis(10_000);
        let mut record = Record::new(now, Timestamp::from_millis(20_000), true);
        record.user = Some("ada".into());
        record.authenticated_at = Some(now);
        record.version = 4;
        record.data.insert("cart".into(), json!([1, 2]).into());
        let mut v = f.encode(&record, now).expect("encodes");
        assert_eq!(
            f.decode(&v, record.expires_at, now).expect("decodes"),
            record
        );
        // Node signs someone else in without regenerating: ada's sign-in time is not theirs.
        v["user"] = json!("bob");
        assert_eq!(
            f.decode(&v, record.expires_at, now)
                .expect("decodes")
                .authenticated_at,
            None
        );
    }

    #[test]
    fn what_node_would_lose_is_refused() {
        let f = ExpressFormat::default();
        let now = Timestamp::from_millis(0);
        for (key, value) in [
            ("cookie", json!(1)),
            ("user", json!("x")),
            (META_FIELD, json!(1)),
            ("save", json!(1)),
            ("constructor", json!(1)),
            ("big", json!(u64::MAX)),
            ("nested", json!({"a": [i64::MIN]})),
        ] {
            let mut changes = Changeset::new(now);
            changes.set.insert(key.into(), value.into());
            let mut session = node_record();
            assert!(
                matches!(
                    f.apply(&mut session, &changes, now),
                    Err(StoreError::Encode(_))
                ),
                "{key}"
            );
        }
    }

    #[test]
    fn dates_are_written_as_node_writes_them() {
        assert_eq!(
            iso_8601(Timestamp::from_millis(1_796_160_809_597)),
            "2026-12-01T21:33:29.597Z"
        );
        assert_eq!(
            iso_8601(Timestamp::from_millis(0)),
            "1970-01-01T00:00:00.000Z"
        );
    }
}
