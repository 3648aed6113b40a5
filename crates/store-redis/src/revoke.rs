//! `delete_sessions_of` as a revocation: record it on the user's slot and list the index
//! in one step, then fence every listed key on its own slot, following rotations that
//! moved a revoked session away meanwhile. The README ("Rotation and revocation")
//! explains why writes in flight cannot outlive it.

use std::sync::LazyLock;

use redis::{Script, Value};
use session_core::{
    Timestamp,
    store::{REVOCATION_HORIZON, StoreError, StoreKey},
};

use crate::RedisStore;
use crate::conn::{Conn, bounded, map_err};
use crate::index::keys_of;
use crate::layout::{self, MARKER_TTL};
use crate::rotate::millis;

/// Records the revocation `"<ARGV[1] ms> <ARGV[2] kept key or ''>"` in KEYS[2] for
/// ARGV[3] ms and returns every member of the index KEYS[1] (same slot), atomically: an
/// index entry is either added before (and listed here) or refused by the rule.
const REVOKE: &str = r"
redis.call('SET', KEYS[2], ARGV[1] .. ' ' .. ARGV[2], 'PX', ARGV[3])
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// Fences one key for a revocation. ARGV: 1 user, 2 now, 3 revocation instant, 4 kept key
/// or '', 5 mode 'i' (listed in the index) / 'f' (followed from a `moved` note), 6 in mode
/// 'f' the key followed from, 7 marker TTL ms. Returns:
///  {1} / {2}: deleted a live / expired session of the user;
///  {3}: deleted a rotation's reservation (mode 'i': when the revocation rule refuses
///       that rotation; mode 'f': when it is the rotation of the followed key);
///  {4, key}: a `moved` note of a session of the user signed in before the revocation;
///       follow it to `key`;
///  {0}: nothing of the user's; in mode 'i' a fence `z:<user>` is left (in the session
///       hash, or in a `fenced` marker when the key is missing) so a create or apply in
///       flight that would bind the user is refused as the rule says.
const FENCE: &str = r"
local k = KEYS[1]
local user, now, at = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local index_mode = ARGV[5] == 'i'
local m = redis.call('HMGET', k, 's', 'e', 'u', 'b', 'f', 'm', 'o', 'a')
local state = m[1]
if state == 'pending' then
  local kill
  if index_mode then
    kill = (tonumber(m[4]) or 0) < at and m[5] ~= ARGV[4]
  else
    kill = m[5] == ARGV[6]
  end
  if kill then
    redis.call('DEL', k)
    return {3}
  end
  return {0}
end
if state == 'moved' then
  if m[7] == user and (tonumber(m[8]) or 0) < at then return {4, m[6]} end
  return {0}
end
if not state and m[2] then
  if m[3] == user then
    redis.call('DEL', k)
    local e = tonumber(m[2])
    if e and e > now then return {1} end
    return {2}
  end
  if index_mode then redis.call('HSET', k, 'z:' .. user, ARGV[3]) end
  return {0}
end
if index_mode and (state == 'fenced' or redis.call('EXISTS', k) == 0) then
  redis.call('HSET', k, 's', 'fenced', 'z:' .. user, ARGV[3])
  redis.call('PEXPIRE', k, ARGV[7])
end
return {0}
";

static REVOKE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(REVOKE));
static FENCE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(FENCE));

/// How many listed keys one bounded batch of a revocation fences.
pub(crate) const REVOKE_BATCH: usize = 1_000;

/// Longest chain of rotations followed from one listed key (each hop is a rotation that
/// completed while this revocation ran).
const MAX_HOPS: usize = 16;

/// What [`FENCE`] did to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fenced {
    Nothing,
    Deleted { live: bool },
    Reservation,
    Moved(StoreKey),
}

/// One revocation: who, when, and the session it keeps.
#[derive(Clone, Copy)]
pub(crate) struct Revocation<'a> {
    user: &'a str,
    at: Timestamp,
    except: Option<&'a StoreKey>,
}

impl RedisStore {
    /// `delete_sessions_of`: see the module documentation. Returns how many live sessions
    /// went (a session caught mid-rotation counts once).
    ///
    /// Phase 1 is one script; phase 2 runs in batches of [`REVOKE_BATCH`] listed keys,
    /// each bounded by the operation timeout on its own, so a user with very many
    /// sessions is signed out completely however long the whole takes.
    pub(crate) async fn revoke_user_sessions(
        &self,
        user: &str,
        except: Option<&StoreKey>,
    ) -> Result<u64, StoreError> {
        let (revocation, listed) = bounded(self.limit, self.revoke(user, except)).await?;
        let mut count = 0;
        for batch in listed.chunks(REVOKE_BATCH) {
            count += bounded(self.limit, self.fence_listed(revocation, batch.to_vec())).await?;
        }
        Ok(count)
    }

    /// Phase 1, on the user's slot: records the revocation and lists the index.
    pub(crate) async fn revoke<'a>(
        &self,
        user: &'a str,
        except: Option<&'a StoreKey>,
    ) -> Result<(Revocation<'a>, Vec<StoreKey>), StoreError> {
        let revocation = Revocation {
            user,
            at: Timestamp::now(),
            except,
        };
        let mut conn = self.conn.clone();
        let members: Vec<Vec<u8>> = REVOKE_SCRIPT
            .key(self.keys.user_index(user))
            .key(self.keys.revocation(user))
            .arg(revocation.at.as_millis())
            .arg(except.map_or("", StoreKey::as_str))
            .arg(millis(REVOCATION_HORIZON))
            .invoke_async(&mut conn)
            .await
            .map_err(map_err)?;
        let listed = keys_of(&members)
            .into_iter()
            .filter(|k| Some(k) != except)
            .collect();
        Ok((revocation, listed))
    }

    /// Phase 2: fences every listed key, follows `moved` notes, and drops what went from
    /// the index; returns how many live sessions went.
    pub(crate) async fn fence_listed(
        &self,
        revocation: Revocation<'_>,
        listed: Vec<StoreKey>,
    ) -> Result<u64, StoreError> {
        let except = revocation.except;
        let mut gone = Vec::new();
        let mut count = 0;
        let mut follow = Vec::new();
        let fenced = self
            .per_key(listed, |conn, key| {
                fence(conn, self.keys.session(&key), revocation, None)
            })
            .await?;
        for (key, outcome) in fenced {
            match outcome {
                Fenced::Nothing => continue,
                Fenced::Deleted { live } => count += u64::from(live),
                Fenced::Reservation => {}
                Fenced::Moved(next) => follow.push((next, key.clone())),
            }
            gone.push(key);
        }
        for _ in 0..MAX_HOPS {
            if follow.is_empty() {
                break;
            }
            let hops = std::mem::take(&mut follow)
                .into_iter()
                .filter(|(next, _)| Some(next) != except)
                .collect();
            let fenced = self
                .per_key(hops, |conn, (next, from)| {
                    fence(conn, self.keys.session(&next), revocation, Some(from))
                })
                .await?;
            for ((key, _), outcome) in fenced {
                match outcome {
                    Fenced::Nothing => continue,
                    Fenced::Deleted { live } => count += u64::from(live),
                    Fenced::Reservation => count += 1,
                    Fenced::Moved(next) => follow.push((next, key.clone())),
                }
                gone.push(key);
            }
        }
        if !follow.is_empty() {
            return Err(StoreError::backend(
                "a revoked session kept being rotated while the revocation followed it",
            ));
        }
        if !gone.is_empty() {
            let gone: Vec<&str> = gone.iter().map(StoreKey::as_str).collect();
            self.unindex(revocation.user, &gone).await?;
        }
        Ok(count)
    }
}

/// Runs [`FENCE`] on one session hash; `followed_from` selects mode 'f'.
async fn fence(
    mut conn: Conn,
    hash: String,
    revocation: Revocation<'_>,
    followed_from: Option<StoreKey>,
) -> Result<Fenced, StoreError> {
    let now = Timestamp::now();
    let reply: Vec<Value> = FENCE_SCRIPT
        .key(hash)
        .arg(revocation.user)
        .arg(now.as_millis())
        .arg(revocation.at.as_millis())
        .arg(revocation.except.map_or("", StoreKey::as_str))
        .arg(if followed_from.is_some() { "f" } else { "i" })
        .arg(followed_from.as_ref().map_or("", StoreKey::as_str))
        .arg(millis(MARKER_TTL))
        .invoke_async(&mut conn)
        .await
        .map_err(map_err)?;
    let unexpected = || StoreError::backend(format!("unexpected reply from FENCE: {reply:?}"));
    match (reply.first().and_then(layout::int_of), reply.get(1)) {
        (Some(0), _) => Ok(Fenced::Nothing),
        (Some(1), _) => Ok(Fenced::Deleted { live: true }),
        (Some(2), _) => Ok(Fenced::Deleted { live: false }),
        (Some(3), _) => Ok(Fenced::Reservation),
        (Some(4), Some(Value::BulkString(next))) => std::str::from_utf8(next)
            .ok()
            .and_then(StoreKey::parse)
            .map(Fenced::Moved)
            .ok_or_else(|| StoreError::Corrupt("redis moved note: field m is not a key".into())),
        _ => Err(unexpected()),
    }
}
