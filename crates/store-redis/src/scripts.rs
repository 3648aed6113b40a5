//! The Lua scripts of single-session operations and of the index. Each touches one key
//! (or a user's index and revocation record, which share a slot), so each runs atomically
//! on the node that owns that slot, standalone or cluster alike. The rotation and
//! revocation protocols keep their scripts in `rotate.rs` and `revoke.rs`.

use std::sync::LazyLock;

use redis::{Cmd, ErrorKind, FromRedisValue, RedisResult, Script, ServerErrorKind, Value};
use session_core::{
    Timestamp,
    store::{Changeset, Record, StoreError, StoreKey},
};

use crate::conn::{Conn, map_err};
use crate::layout::{self, flag};

/// Helpers: `call_chunked` runs `cmd k <items>` in chunks (Lua's `unpack` has a stack
/// limit, and a session may have thousands of keys); `pairs_from` collects ARGV[pos],
/// ARGV[pos+1], ... as a flat field/value list; `occupied` says whether `k` holds a live
/// or undecodable session or a rotation marker (`pending`, `moved`) at `now`.
pub(crate) const HELPERS: &str = r"
local function call_chunked(cmd, k, items, step)
  for i = 1, #items, step do
    redis.call(cmd, k, unpack(items, i, math.min(i + step - 1, #items)))
  end
end
local function pairs_from(pos, into)
  while pos < #ARGV do
    into[#into + 1] = ARGV[pos]
    into[#into + 1] = ARGV[pos + 1]
    pos = pos + 2
  end
  return into
end
local function occupied(k, now)
  if redis.call('EXISTS', k) == 0 then return false end
  local meta = redis.call('HMGET', k, 's', 'e')
  if meta[1] then return meta[1] == 'pending' or meta[1] == 'moved' end
  local e = tonumber(meta[2])
  return not e or e > now
end
";

/// `create`. ARGV: 1 now, 2 deadline, 3 the record's user or '', 4 its
/// `authenticated_at` (else `created_at`), then field/value pairs. Returns 1 (created),
/// 0 (a live or undecodable hash, or a rotation marker, is there) or 2 (a revocation fence
/// of that user is later than ARGV[4]). Inlined rather than built on [`HELPERS`]: a fresh
/// key (every login) costs one `EXISTS`, the `HSET` and the `PEXPIREAT`, and no closures.
const CREATE: &str = r"
local k = KEYS[1]
if redis.call('EXISTS', k) == 1 then
  local meta = redis.call('HMGET', k, 's', 'e')
  if meta[1] then
    if meta[1] == 'pending' or meta[1] == 'moved' then return 0 end
  else
    local e = tonumber(meta[2])
    if not e or e > tonumber(ARGV[1]) then return 0 end
  end
  if ARGV[3] ~= '' then
    local fence = tonumber(redis.call('HGET', k, 'z:' .. ARGV[3]))
    if fence and fence > tonumber(ARGV[4]) then return 2 end
  end
  redis.call('DEL', k)
end
for i = 5, #ARGV, 2000 do
  redis.call('HSET', k, unpack(ARGV, i, math.min(i + 1999, #ARGV)))
end
redis.call('PEXPIREAT', k, ARGV[2])
return 1
";

/// The data half of a write, shared by [`WRITE`] and [`DATA_WRITE`]. The caller runs the
/// script in one `MULTI` after `HSET k <staged> <result>`: the writer's packed result
/// (see `layout::pack`) in a field of its own, `staged` (`layout::staged_field`). With
/// the loaded version still stored, that result stands and the script just points `w` at
/// it: neither the data nor the result ever becomes a Lua string. Otherwise another write
/// landed in between (or the writer loaded nothing), and the changes are merged into the
/// stored data key by key, so no concurrent writer of other keys loses its keys.
///
/// `data_after(k, v, live, staged, p)` makes `staged` hold the data after the write and
/// returns true, or false when the stored data is not packed data. `v` and `live` are the
/// stored version and `w` (nil in a hash of the store's first layout, whose `d:<key>` fields
/// it moves into the result). ARGV from `p`: the version the writer loaded or '',
/// cleared '1'/'0', the count of removed keys, those keys, then the set keys up to the
/// end (their values are in `staged`). `refuse(k, staged, reply)` drops the staged field
/// (which also drops a hash the staging `HSET` created) and returns `reply`.
const DATA_HELPERS: &str = r"
local function counted(s, pos)
  local digits = string.match(s, '^%d+:', pos)
  if not digits then return nil end
  local from = pos + #digits
  local to = from + tonumber(string.sub(digits, 1, -2)) - 1
  if to > #s then return nil end
  return string.sub(s, from, to), to + 1
end
local function unpack_into(s, t)
  local pos = 1
  while pos <= #s do
    local key, value
    key, pos = counted(s, pos)
    if not key then return false end
    value, pos = counted(s, pos)
    if not value then return false end
    t[key] = value
  end
  return true
end
local function legacy_into(k, t)
  local all = redis.call('HGETALL', k)
  local stale = {}
  for i = 1, #all, 2 do
    if string.sub(all[i], 1, 2) == 'd:' then
      stale[#stale + 1] = all[i]
      if t then t[string.sub(all[i], 3)] = all[i + 1] end
    end
  end
  for i = 1, #stale, 4000 do
    redis.call('HDEL', k, unpack(stale, i, math.min(i + 3999, #stale)))
  end
end
local function data_after(k, v, live, staged, p)
  if live and ARGV[p] ~= '' and ARGV[p] == v then return true end
  local t = {}
  if ARGV[p + 1] == '1' then
    if not live then legacy_into(k, nil) end
  elseif live then
    local stored = redis.call('HGET', k, live)
    if not stored or not unpack_into(stored, t) then return false end
  else
    legacy_into(k, t)
  end
  local removed = tonumber(ARGV[p + 2])
  for i = p + 3, p + 2 + removed do t[ARGV[i]] = nil end
  if p + 3 + removed <= #ARGV then
    local mine = {}
    if not unpack_into(redis.call('HGET', k, staged) or '', mine) then return false end
    for i = p + 3 + removed, #ARGV do t[ARGV[i]] = mine[ARGV[i]] end
  end
  local parts = {}
  for key, value in pairs(t) do
    parts[#parts + 1] = #key .. ':' .. key .. #value .. ':' .. value
  end
  redis.call('HSET', k, staged, table.concat(parts))
  return true
end
local function refuse(k, staged, reply)
  if staged then redis.call('HDEL', k, staged) end
  return reply
end
";

/// `apply` and `touch`. ARGV:
///  1 now, 2 new deadline, 3 expected version or '', 4 bump version '1'/'0',
///  5 data written '1'/'0', 6 user op 'k' keep / 'n' none / 's' set, 7 new user,
///  8 persistent '' / '0' / '1', 9 index written '1'/'0', 10 its user, 11 its horizon,
///  12 began_at, 13 authenticated_at: '' keep / '-' remove / ms,
///  14 label: '' keep / '-' remove / '=' followed by the label,
///  then, when data is written, 15 the staged field and the data section of
///  [`DATA_HELPERS`] from 16.
/// Returns {1, version} applied, {0} missing (or: binding user ARGV[7] while a revocation
/// fence of that user is later than began_at), {2} conflict, {3, user} index entry for
/// `user` must first reach the new deadline, {4} undecodable deadline, {5} undecodable
/// version, {7} undecodable data. The common case is three commands inside the server:
/// HMGET, HSET, PEXPIREAT (an `HDEL` when a field goes). Each `redis.call` costs the
/// server about as much as a command from a client, so this script builds one `HSET`.
const WRITE: &str = r"
local k = KEYS[1]
local staged = ARGV[5] == '1' and ARGV[15]
local meta = redis.call('HMGET', k, 'e', 'v', 'u', 'i', 'w')
local e = meta[1]
if not e then return refuse(k, staged, {0}) end
e = tonumber(e)
if not e then return refuse(k, staged, {4}) end
local deadline = tonumber(ARGV[2])
if e <= tonumber(ARGV[1]) then return refuse(k, staged, {0}) end
local v = meta[2]
if ARGV[3] ~= '' and v ~= ARGV[3] then return refuse(k, staged, {2}) end
local op = ARGV[6]
if op == 's' then
  local fence = tonumber(redis.call('HGET', k, 'z:' .. ARGV[7]))
  if fence and fence > tonumber(ARGV[12]) then return refuse(k, staged, {0}) end
end
local current = meta[3]
local user = current
if op == 'n' then user = false elseif op == 's' then user = ARGV[7] end
local horizon = false
if user then
  if user == current then horizon = meta[4] end
  if ARGV[9] == '1' and ARGV[10] == user then
    if not horizon or tonumber(ARGV[11]) > (tonumber(horizon) or 0) then horizon = ARGV[11] end
  end
  if not horizon or deadline > (tonumber(horizon) or 0) then
    return refuse(k, staged, {3, user})
  end
end
local bump = ARGV[4] == '1'
local stored_v = v
if bump then
  v = tonumber(v or 0)
  if not v then return refuse(k, staged, {5}) end
  v = v + 1
end
if staged and not data_after(k, stored_v, meta[5], staged, 16) then
  return refuse(k, staged, {7})
end
local gone = {}
if not user and current then gone[1] = 'u'; gone[2] = 'i' end
if ARGV[13] == '-' then gone[#gone + 1] = 'a' end
if ARGV[14] == '-' then gone[#gone + 1] = 'n' end
if staged and meta[5] then gone[#gone + 1] = meta[5] end
if #gone > 0 then redis.call('HDEL', k, unpack(gone)) end
-- The manager keeps the deadline for a touch_after window: then neither field nor TTL moves.
local moved = ARGV[2] ~= meta[1]
local set = {'l', ARGV[12]}
if moved then set[#set + 1] = 'e'; set[#set + 1] = ARGV[2] end
if user then
  set[#set + 1] = 'u'; set[#set + 1] = user; set[#set + 1] = 'i'; set[#set + 1] = horizon
end
if ARGV[8] ~= '' then set[#set + 1] = 'p'; set[#set + 1] = ARGV[8] end
if ARGV[13] ~= '' and ARGV[13] ~= '-' then set[#set + 1] = 'a'; set[#set + 1] = ARGV[13] end
if string.sub(ARGV[14], 1, 1) == '=' then
  set[#set + 1] = 'n'; set[#set + 1] = string.sub(ARGV[14], 2)
end
if bump then set[#set + 1] = 'v'; set[#set + 1] = string.format('%d', v) end
if staged then set[#set + 1] = 'w'; set[#set + 1] = staged end
redis.call('HSET', k, unpack(set))
if moved then redis.call('PEXPIREAT', k, ARGV[2]) end
return {1, v}
";

/// The common `apply`: data changes inside `touch_after`, with neither a new principal nor
/// a strict version, so none of [`WRITE`]'s decisions (index horizon, revocation fence,
/// version compare, deadline) apply; only "write the data, never resurrect a gone
/// session". ARGV: 1 now, 2 the staged field, 3 began_at, 4 persistent '' / '0' / '1',
/// 5 label as in [`WRITE`], then the data section of [`DATA_HELPERS`] from 6. Returns as
/// [`WRITE`] does. Two commands inside the server, HMGET and HSET, and the `HDEL` of the
/// data field it replaces.
const DATA_WRITE: &str = r"
local k, staged = KEYS[1], ARGV[2]
local m = redis.call('HMGET', k, 'e', 'v', 'w')
if not m[1] then return refuse(k, staged, {0}) end
local e = tonumber(m[1])
if not e then return refuse(k, staged, {4}) end
if e <= tonumber(ARGV[1]) then return refuse(k, staged, {0}) end
local v = tonumber(m[2] or 0)
if not v then return refuse(k, staged, {5}) end
if not data_after(k, m[2], m[3], staged, 6) then return refuse(k, staged, {7}) end
v = v + 1
local set = {'w', staged, 'v', string.format('%d', v), 'l', ARGV[3]}
if ARGV[4] ~= '' then set[#set + 1] = 'p'; set[#set + 1] = ARGV[4] end
if string.sub(ARGV[5], 1, 1) == '=' then
  set[#set + 1] = 'n'; set[#set + 1] = string.sub(ARGV[5], 2)
end
redis.call('HSET', k, unpack(set))
local gone = {}
if m[3] then gone[1] = m[3] end
if ARGV[5] == '-' then gone[#gone + 1] = 'n' end
if #gone > 0 then redis.call('HDEL', k, unpack(gone)) end
return {1, v}
";

/// `delete`: removes the session, but leaves a `moved` note (the key was rotated away
/// already; a revocation that listed it must still be able to follow it; it expires).
const DELETE: &str = r"
if redis.call('HGET', KEYS[1], 's') == 'moved' then return 0 end
return redis.call('DEL', KEYS[1])
";

/// Adds member ARGV[3] with score ARGV[2] (its horizon) to the index KEYS[1] (`GT`: a
/// concurrent writer's later horizon is never lowered) and, when ARGV[7] (its
/// `created_at`) is not '', to the by-creation set KEYS[3]; drops members whose horizon is
/// before ARGV[1] (now) from both, and lets both expire with the index's last member.
/// With ARGV[4] = '1' it first applies the revocation rule against KEYS[2] (same slot):
/// refused, adding nothing, when the user was revoked after ARGV[5] unless the revocation
/// kept ARGV[6] ('' = no exception). Returns 1 added, 0 refused, 2 undecodable revocation.
const INDEX_ADD: &str = r"
local k = KEYS[1]
if ARGV[4] == '1' then
  local rev = redis.call('GET', KEYS[2])
  if rev then
    local at, kept = string.match(rev, '^(%-?%d+) (.*)$')
    at = tonumber(at)
    if not at then return 2 end
    if at > tonumber(ARGV[5]) and (ARGV[6] == '' or kept ~= ARGV[6]) then return 0 end
  end
end
redis.call('ZADD', k, 'GT', ARGV[2], ARGV[3])
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[3], 'NX', ARGV[7], ARGV[3]) end
local lapsed = redis.call('ZRANGEBYSCORE', k, '-inf', '(' .. ARGV[1])
for i = 1, #lapsed, 1000 do
  redis.call('ZREM', KEYS[3], unpack(lapsed, i, math.min(i + 999, #lapsed)))
end
redis.call('ZREMRANGEBYSCORE', k, '-inf', '(' .. ARGV[1])
local top = redis.call('ZRANGE', k, -1, -1, 'WITHSCORES')
if top[2] then
  redis.call('PEXPIREAT', k, top[2])
  if redis.call('EXISTS', KEYS[3]) == 1 then redis.call('PEXPIREAT', KEYS[3], top[2]) end
end
return 1
";

/// `EVALSHA` of `script` on `key`, as one [`Cmd`] the caller appends ARGV to, for the
/// calls on a request's path (create, the write script, rotation's settle); the rare
/// ones (delete, index, revocation, listing) keep redis-rs's `ScriptInvocation`, which
/// recovers from NOSCRIPT the same way. Here every argument goes straight into the
/// command's one buffer, where a `ScriptInvocation` keeps each in a `Vec` of its own and
/// then copies them all into its command (about 40 allocations of a login's 276,
/// callgrind on `layer_cost --child probe-redis-ours e`).
pub(crate) fn evalsha(script: &Script, key: &str) -> Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(1).arg(key);
    cmd
}

/// Runs a command from [`evalsha`]; when the server does not know the script (first use,
/// a restart, `SCRIPT FLUSH`, a failover to a replica that never saw it), loads it and
/// runs the command once more, as `ScriptInvocation::invoke_async` does.
pub(crate) async fn invoke<T: FromRedisValue>(
    conn: &mut Conn,
    script: &Script,
    cmd: &Cmd,
) -> RedisResult<T> {
    match cmd.query_async(conn).await {
        Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
            script.load_async(conn).await?;
            cmd.query_async(conn).await
        }
        reply => reply,
    }
}

static CREATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(CREATE));
static WRITE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{DATA_HELPERS}{WRITE}")));
static DATA_WRITE_SCRIPT: LazyLock<Script> =
    LazyLock::new(|| Script::new(&format!("{DATA_HELPERS}{DATA_WRITE}")));
static INDEX_ADD_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(INDEX_ADD));
static DELETE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(DELETE));

/// Deletes the session hash (not a `moved` note).
pub(crate) async fn delete(conn: &mut Conn, hash: &str) -> Result<(), StoreError> {
    DELETE_SCRIPT
        .key(hash)
        .invoke_async::<i64>(conn)
        .await
        .map(drop)
        .map_err(map_err)
}

/// What the write script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WriteReply {
    /// Written; the record's version now (unchanged for a touch).
    Applied(u64),
    /// No live hash.
    Missing,
    /// The expected version differs.
    Conflict,
    /// Nothing written: this user's index entry must first be extended to the deadline.
    NeedIndex(String),
}

/// What one write does: an `apply` (bumps the version) or a `touch` (deadline only).
pub(crate) struct Write<'a> {
    pub(crate) changes: &'a Changeset,
    pub(crate) expected: Option<u64>,
    pub(crate) bump: bool,
}

/// What the create script decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CreateReply {
    /// Written.
    Created,
    /// A live (or undecodable) hash or a rotation marker holds the key.
    Exists,
    /// A revocation fence of the record's user is later than its authentication.
    Fenced,
}

/// The instant the revocation rule compares for a new record: `authenticated_at`, else
/// `created_at`.
pub(crate) fn signed_in_at(record: &Record) -> Timestamp {
    record.authenticated_at.unwrap_or(record.created_at)
}

/// Creates the hash unless a live one (or a fence of the record's user) is there.
pub(crate) async fn create(
    conn: &mut Conn,
    hash: &str,
    record: &Record,
    horizon: Timestamp,
    now: Timestamp,
) -> Result<CreateReply, StoreError> {
    let mut call = evalsha(&CREATE_SCRIPT, hash);
    call.arg(now.as_millis())
        .arg(record.expires_at.as_millis())
        .arg(record.user.as_deref().unwrap_or(""))
        .arg(signed_in_at(record).as_millis());
    layout::encode_record(record, horizon, &mut call);
    match invoke::<i64>(conn, &CREATE_SCRIPT, &call)
        .await
        .map_err(map_err)?
    {
        1 => Ok(CreateReply::Created),
        2 => Ok(CreateReply::Fenced),
        _ => Ok(CreateReply::Exists),
    }
}

/// Runs the write script; `indexed` names the index entry (user, horizon) the caller has
/// just written, if any.
pub(crate) async fn write(
    conn: &mut Conn,
    hash: &str,
    write: &Write<'_>,
    indexed: Option<&(String, Timestamp)>,
    now: Timestamp,
) -> Result<WriteReply, StoreError> {
    let changes = write.changes;
    let writes_data = changes.writes_data();
    let mut call = evalsha(&WRITE_SCRIPT, hash);
    call.arg(now.as_millis())
        .arg(changes.expires_at.as_millis())
        .arg(write.expected.map(|v| v.to_string()).unwrap_or_default())
        .arg(flag(write.bump))
        .arg(flag(writes_data));
    match &changes.user {
        None => call.arg("k").arg(""),
        Some(None) => call.arg("n").arg(""),
        Some(Some(user)) => call.arg("s").arg(user.as_str()),
    };
    call.arg(changes.persistent.map_or("", flag));
    match indexed {
        Some((user, horizon)) => call.arg("1").arg(user.as_str()).arg(horizon.as_millis()),
        None => call.arg("0").arg("").arg(0),
    };
    call.arg(changes.began_at.as_millis());
    match (&changes.user, changes.authenticated_at) {
        (None, _) => call.arg(""),
        (Some(Some(_)), Some(at)) => call.arg(at.as_millis()),
        (Some(_), _) => call.arg("-"),
    };
    label_arg(&mut call, changes);
    if !writes_data {
        let reply: Vec<Value> = invoke(conn, &WRITE_SCRIPT, &call).await.map_err(map_err)?;
        return parse_write_reply(&reply);
    }
    let staged = layout::staged_field();
    call.arg(staged.as_str());
    data_args(&mut call, changes);
    staged_write(conn, &WRITE_SCRIPT, hash, &staged, changes, call).await
}

/// Whether [`data_write`] can take `write`: an `apply` of data changes that moves neither
/// the deadline nor the principal and compares no version.
pub(crate) fn data_only(write: &Write<'_>) -> bool {
    let c = write.changes;
    write.bump
        && write.expected.is_none()
        && c.keeps_deadline
        && c.user.is_none()
        && c.writes_data()
}

/// Runs a [`data_only`] write with the lean [`DATA_WRITE`] script.
pub(crate) async fn data_write(
    conn: &mut Conn,
    hash: &str,
    changes: &Changeset,
    now: Timestamp,
) -> Result<WriteReply, StoreError> {
    let staged = layout::staged_field();
    let mut call = evalsha(&DATA_WRITE_SCRIPT, hash);
    call.arg(now.as_millis())
        .arg(staged.as_str())
        .arg(changes.began_at.as_millis())
        .arg(changes.persistent.map_or("", flag));
    label_arg(&mut call, changes);
    data_args(&mut call, changes);
    staged_write(conn, &DATA_WRITE_SCRIPT, hash, &staged, changes, call).await
}

/// `MULTI`, `HSET hash <staged> <packed result>`, the script call, `EXEC`: one round trip
/// in which the data travels as a plain command's argument. A server that lost the script
/// answers the whole transaction with NOSCRIPT for the call; it is then loaded and the
/// transaction sent again (the staging `HSET` only repeats itself).
async fn staged_write(
    conn: &mut Conn,
    script: &Script,
    hash: &str,
    staged: &str,
    changes: &Changeset,
    call: Cmd,
) -> Result<WriteReply, StoreError> {
    let mut packed = Vec::new();
    match &changes.base {
        Some(base) => layout::pack(base.unchanged.iter().chain(&changes.set), &mut packed),
        None => layout::pack(changes.set.iter(), &mut packed),
    }
    let mut pipe = redis::pipe();
    pipe.atomic()
        .cmd("HSET")
        .arg(hash)
        .arg(staged)
        .arg(packed.as_slice());
    pipe.add_command(call);
    // Every reply, errors included, so each is seen where it arose.
    pipe.ignore_errors();
    for attempt in 0..2 {
        let replies: Vec<Value> = pipe.query_async(conn).await.map_err(map_err)?;
        let [staging, reply] = replies.as_slice() else {
            return Err(StoreError::backend(format!(
                "unexpected reply from the write transaction: {replies:?}"
            )));
        };
        if let Value::ServerError(e) = staging {
            return Err(map_err(e.clone().into()));
        }
        match reply {
            Value::ServerError(e)
                if attempt == 0 && e.kind() == Some(ServerErrorKind::NoScript) =>
            {
                script.load_async(conn).await.map_err(map_err)?;
            }
            Value::ServerError(e) => return Err(map_err(e.clone().into())),
            Value::Array(items) => return parse_write_reply(items),
            other => return parse_write_reply(std::slice::from_ref(other)),
        }
    }
    Err(StoreError::backend(
        "the write script stayed unknown after SCRIPT LOAD",
    ))
}

/// The label argument: '' keep, '-' remove, '=' and the new label.
fn label_arg(call: &mut Cmd, changes: &Changeset) {
    match &changes.label {
        None => call.arg(""),
        Some(None) => call.arg("-"),
        Some(Some(label)) => call.arg(["=", label.as_str()].concat()),
    };
}

/// The data section [`DATA_HELPERS`] reads: the loaded version, `cleared`, the removed
/// and the set keys (the values travel packed in the staged field).
fn data_args(call: &mut Cmd, changes: &Changeset) {
    match &changes.base {
        Some(base) => call.arg(base.version),
        None => call.arg(""),
    };
    call.arg(flag(changes.cleared)).arg(changes.removed.len());
    for key in changes.removed.iter().chain(changes.set.keys()) {
        call.arg(key.as_str());
    }
}

fn parse_write_reply(reply: &[Value]) -> Result<WriteReply, StoreError> {
    let unexpected =
        || StoreError::backend(format!("unexpected reply from the write script: {reply:?}"));
    let code = reply
        .first()
        .and_then(layout::int_of)
        .ok_or_else(unexpected)?;
    match (code, reply.get(1)) {
        (0, _) => Ok(WriteReply::Missing),
        (1, Some(v)) => layout::int_of(v)
            .and_then(|v| u64::try_from(v).ok())
            .map(WriteReply::Applied)
            .ok_or_else(|| {
                StoreError::Corrupt("redis session hash: field v is not a number".into())
            }),
        (2, _) => Ok(WriteReply::Conflict),
        (3, Some(Value::BulkString(user))) => String::from_utf8(user.clone())
            .map(WriteReply::NeedIndex)
            .map_err(|_| StoreError::Corrupt("redis session hash: field u is not UTF-8".into())),
        (4, _) => Err(StoreError::Corrupt(
            "redis session hash: field e is not a number".into(),
        )),
        (5, _) => Err(StoreError::Corrupt(
            "redis session hash: field v is not a number".into(),
        )),
        (7, _) => Err(StoreError::Corrupt(
            "redis session hash: the data field is not packed data".into(),
        )),
        _ => Err(unexpected()),
    }
}

/// The revocation rule as the index script checks it: refused when the user was revoked
/// after `since`, unless the revocation kept `kept` (`None`: no exception, as for `create`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule<'a> {
    pub(crate) since: Timestamp,
    pub(crate) kept: Option<&'a StoreKey>,
}

/// Puts `key` into the index `index` with score `horizon` (and, when its `created_at` is
/// known, into `by_creation`), pruning lapsed entries; with a `rule`, first checks it
/// against the user's revocation `revocation` (same slot).
/// Returns whether the entry was added (`false`: the rule refused).
pub(crate) async fn index_add(
    conn: &mut Conn,
    (index, revocation, by_creation): (&str, &str, &str),
    (key, created_at): (&StoreKey, Option<Timestamp>),
    horizon: Timestamp,
    rule: Option<Rule<'_>>,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut call = INDEX_ADD_SCRIPT.key(index);
    call.key(revocation)
        .key(by_creation)
        .arg(now.as_millis())
        .arg(horizon.as_millis())
        .arg(key.as_str());
    match rule {
        Some(rule) => call
            .arg("1")
            .arg(rule.since.as_millis())
            .arg(rule.kept.map_or("", StoreKey::as_str)),
        None => call.arg("0").arg(0).arg(""),
    };
    call.arg(
        created_at
            .map(|c| c.as_millis().to_string())
            .unwrap_or_default(),
    );
    match call.invoke_async::<i64>(conn).await.map_err(map_err)? {
        1 => Ok(true),
        0 => Ok(false),
        _ => Err(StoreError::Corrupt(
            "redis revocation record is not \"<ms> <kept key>\"".into(),
        )),
    }
}
