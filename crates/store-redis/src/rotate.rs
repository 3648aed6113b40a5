//! `rotate` as a protocol of single-slot scripts, the same on a single server and on a
//! Redis Cluster (where `from`, `to` and the user's index live in different slots):
//! reserve `to`, take `from`, index `to` under the revocation rule, activate `to`. The
//! README ("Rotation and revocation") explains why it is linearizable.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::{Script, Value};
use session_core::{
    Timestamp,
    store::{Changeset, Record, RotateOutcome, StoreError, StoreKey},
};

use crate::RedisStore;
use crate::conn::{Conn, map_err};
use crate::layout::{self, MARKER_TTL};
use crate::scripts::{self, HELPERS, Rule};

/// Step 1, on `to`: reserves it unless a live session or a marker holds it. ARGV: 1 now,
/// 2 token, 3 began_at, 4 the `from` key, 5 TTL ms. Returns 1 reserved, 0 taken. The
/// `pending` hash is no session (load, apply, touch see nothing) and names its rotation.
const RESERVE: &str = r"
local k = KEYS[1]
if occupied(k, tonumber(ARGV[1])) then return 0 end
redis.call('DEL', k)
redis.call('HSET', k, 's', 'pending', 'x', ARGV[2], 'b', ARGV[3], 'f', ARGV[4])
redis.call('PEXPIRE', k, ARGV[5])
return 1
";

/// Step 2, on `from` (the linearization point against `delete`): if live and at the
/// expected version, returns every field and replaces the session with a `moved` note
/// (owner `o`, its authentication instant `a`, new key `m`) so a revocation that listed
/// `from` can still follow it. ARGV: 1 now, 2 expected version or '', 3 the `to` key,
/// 4 TTL ms. Returns {1, fields}, {0} missing, {2} conflict, {4} undecodable deadline.
const TAKE: &str = r"
local k = KEYS[1]
local meta = redis.call('HMGET', k, 's', 'e', 'v', 'u', 'a', 'c')
if meta[1] or not meta[2] then return {0} end
local e = tonumber(meta[2])
if not e then return {4} end
if e <= tonumber(ARGV[1]) then return {0} end
if ARGV[2] ~= '' and meta[3] ~= ARGV[2] then return {2} end
local fields = redis.call('HGETALL', k)
redis.call('DEL', k)
if meta[4] then
  redis.call('HSET', k, 's', 'moved', 'm', ARGV[3], 'o', meta[4], 'a', meta[5] or meta[6] or '0')
  redis.call('PEXPIRE', k, ARGV[4])
end
return {1, fields}
";

/// Step 4 (or an abort), on `to`: iff it is still this rotation's reservation (token
/// ARGV[1]), replaces it with the session (ARGV[2] = '1'; deadline ARGV[3], field/value
/// pairs from ARGV[4]) or drops it (ARGV[2] = '0'). Returns 1, or 0 when the reservation
/// is gone (a revocation deleted it, or it expired).
const SETTLE: &str = r"
local k = KEYS[1]
local meta = redis.call('HMGET', k, 's', 'x')
if meta[1] ~= 'pending' or meta[2] ~= ARGV[1] then return 0 end
redis.call('DEL', k)
if ARGV[2] == '1' then
  call_chunked('HSET', k, pairs_from(4, {}), 2000)
  redis.call('PEXPIREAT', k, ARGV[3])
end
return 1
";

static RESERVE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{HELPERS}{RESERVE}")));
static TAKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(TAKE));
static SETTLE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{HELPERS}{SETTLE}")));

/// What step 2 found under `from`.
enum Taken {
    Record(HashMap<Vec<u8>, Vec<u8>>),
    Missing,
    Conflict,
}

impl RedisStore {
    /// `rotate`: see the module documentation.
    pub(crate) async fn rotate_session(
        &self,
        from: &StoreKey,
        to: &StoreKey,
        changes: &Changeset,
        expected: Option<u64>,
    ) -> Result<RotateOutcome, StoreError> {
        let rotation = Rotation::new(self, from, to, changes, expected);
        if let Some(done) = rotation.reserve().await? {
            return Ok(done);
        }
        let record = match rotation.take().await? {
            Ok(record) => record,
            Err(done) => return Ok(done),
        };
        let horizon = match rotation.index(&record).await? {
            Ok(horizon) => horizon,
            Err(done) => return Ok(done),
        };
        rotation.activate(&record, horizon).await
    }

    /// The version of the live session under `key`, if any (a plain read, used only to
    /// order outcomes on rare paths).
    pub(crate) async fn probe(
        &self,
        key: &StoreKey,
        now: Timestamp,
    ) -> Result<Option<u64>, StoreError> {
        let mut conn = self.conn.clone();
        let (state, expires, version): (Option<Vec<u8>>, Option<i64>, Option<u64>) =
            redis::cmd("HMGET")
                .arg(self.keys.session(key))
                .arg(layout::STATE)
                .arg(layout::EXPIRES)
                .arg(layout::VERSION)
                .query_async(&mut conn)
                .await
                .map_err(map_err)?;
        let live = state.is_none() && expires.is_some_and(|e| e > now.as_millis());
        Ok(if live { version } else { None })
    }
}

/// One rotation in progress; each method is one step (one round trip), and a step that
/// ends the rotation returns its outcome after dropping the reservation.
pub(crate) struct Rotation<'a> {
    store: &'a RedisStore,
    from: &'a StoreKey,
    to: &'a StoreKey,
    changes: &'a Changeset,
    expected: Option<u64>,
    now: Timestamp,
    token: StoreKey,
    to_hash: String,
}

impl<'a> Rotation<'a> {
    pub(crate) fn new(
        store: &'a RedisStore,
        from: &'a StoreKey,
        to: &'a StoreKey,
        changes: &'a Changeset,
        expected: Option<u64>,
    ) -> Self {
        Self {
            store,
            from,
            to,
            changes,
            expected,
            now: Timestamp::now(),
            token: StoreKey::random(),
            to_hash: store.keys.session(to),
        }
    }

    /// Step 1: reserves `to`; `Some(outcome)` when it is taken.
    pub(crate) async fn reserve(&self) -> Result<Option<RotateOutcome>, StoreError> {
        let mut conn = self.store.conn.clone();
        let reserved: i64 = RESERVE_SCRIPT
            .key(&self.to_hash)
            .arg(self.now.as_millis())
            .arg(self.token.as_str())
            .arg(self.changes.began_at.as_millis())
            .arg(self.from.as_str())
            .arg(millis(MARKER_TTL))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        if reserved == 1 {
            return Ok(None);
        }
        // Order the outcomes as the reference store does: a dead `from` or a stale
        // version comes before a taken `to`.
        Ok(Some(match self.store.probe(self.from, self.now).await? {
            None => RotateOutcome::Missing,
            Some(v) if self.expected.is_some_and(|e| e != v) => RotateOutcome::Conflict,
            Some(_) => RotateOutcome::KeyTaken,
        }))
    }

    /// Step 2: takes `from` (leaving a `moved` note) and applies the changes.
    pub(crate) async fn take(&self) -> Result<Result<Record, RotateOutcome>, StoreError> {
        let mut conn = self.store.conn.clone();
        let hash = self.store.keys.session(self.from);
        let fields = match take(&mut conn, &hash, self.to, self.expected, self.now).await {
            Ok(Taken::Record(fields)) => fields,
            Ok(Taken::Missing) => return self.abort(RotateOutcome::Missing).await.map(Err),
            Ok(Taken::Conflict) => return self.abort(RotateOutcome::Conflict).await.map(Err),
            Err(e) => return self.abort(RotateOutcome::Missing).await.and(Err(e)),
        };
        match layout::decode_record(fields, self.now) {
            Ok(Some(mut record)) => {
                record.apply(self.changes);
                Ok(Ok(record))
            }
            Ok(None) => self.abort(RotateOutcome::Missing).await.map(Err),
            Err(e) => self.abort(RotateOutcome::Missing).await.and(Err(e)),
        }
    }

    /// Step 3: puts `to` into its user's index under the revocation rule; returns the
    /// index horizon, or `Missing` when the rule refuses.
    pub(crate) async fn index(
        &self,
        record: &Record,
    ) -> Result<Result<Timestamp, RotateOutcome>, StoreError> {
        let Some(user) = &record.user else {
            return Ok(Ok(layout::horizon(record.expires_at, self.now)));
        };
        let rule = Rule {
            since: self.changes.began_at,
            kept: Some(self.from),
        };
        match self
            .store
            .index(
                user,
                (self.to, Some(record.created_at)),
                record.expires_at,
                Some(rule),
            )
            .await?
        {
            Some((_, horizon)) => Ok(Ok(horizon)),
            None => self.abort(RotateOutcome::Missing).await.map(Err),
        }
    }

    /// Step 4: replaces the reservation with the session; `Missing` if it is gone.
    pub(crate) async fn activate(
        &self,
        record: &Record,
        horizon: Timestamp,
    ) -> Result<RotateOutcome, StoreError> {
        let mut call = scripts::evalsha(&SETTLE_SCRIPT, &self.to_hash);
        call.arg(self.token.as_str())
            .arg("1")
            .arg(record.expires_at.as_millis());
        layout::encode_record(record, horizon, &mut call);
        let mut conn = self.store.conn.clone();
        let done: i64 = scripts::invoke(&mut conn, &SETTLE_SCRIPT, &call)
            .await
            .map_err(map_err)?;
        Ok(if done == 1 {
            RotateOutcome::Rotated(record.version)
        } else {
            RotateOutcome::Missing
        })
    }

    /// Drops the reservation and reports `outcome`.
    async fn abort(&self, outcome: RotateOutcome) -> Result<RotateOutcome, StoreError> {
        let mut conn = self.store.conn.clone();
        SETTLE_SCRIPT
            .key(&self.to_hash)
            .arg(self.token.as_str())
            .arg("0")
            .arg(0)
            .invoke_async::<i64>(&mut conn)
            .await
            .map_err(map_err)?;
        Ok(outcome)
    }
}

/// Step 2: runs [`TAKE`] on `from`'s hash.
async fn take(
    conn: &mut Conn,
    hash: &str,
    to: &StoreKey,
    expected: Option<u64>,
    now: Timestamp,
) -> Result<Taken, StoreError> {
    let reply: Vec<Value> = TAKE_SCRIPT
        .key(hash)
        .arg(now.as_millis())
        .arg(expected.map(|v| v.to_string()).unwrap_or_default())
        .arg(to.as_str())
        .arg(millis(MARKER_TTL))
        .invoke_async(conn)
        .await
        .map_err(map_err)?;
    let unexpected = || StoreError::backend(format!("unexpected reply from TAKE: {reply:?}"));
    match (reply.first().and_then(layout::int_of), reply.get(1)) {
        (Some(0), _) => Ok(Taken::Missing),
        (Some(2), _) => Ok(Taken::Conflict),
        (Some(4), _) => Err(StoreError::Corrupt(
            "redis session hash: field e is not a number".into(),
        )),
        (Some(1), Some(Value::Array(flat))) => {
            let mut fields = HashMap::with_capacity(flat.len() / 2);
            for pair in flat.chunks(2) {
                match pair {
                    [Value::BulkString(f), Value::BulkString(v)] => {
                        fields.insert(f.clone(), v.clone());
                    }
                    _ => return Err(unexpected()),
                }
            }
            Ok(Taken::Record(fields))
        }
        _ => Err(unexpected()),
    }
}

/// A duration in whole milliseconds, for `PEXPIRE`.
pub(crate) fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
