//! The common write without a script: one `MULTI`/`EXEC` of plain hash commands.
//!
//! Most writes change data keys inside `touch_after` and nothing else: no principal, no
//! deadline move, no strict version, no `clear`. Such a write needs none of the write
//! script's decisions (index horizon, revocation fence, version compare), only "apply to
//! the live session, never resurrect a gone one". Redis runs a Lua script at several
//! times the cost of the commands inside it (`INFO commandstats` on Redis 7.0: the write
//! script 14–15 µs of server CPU per call, this transaction 5.5–6), so this path sends
//!
//! ```text
//! MULTI
//! HGET k e              -- the deadline as the transaction sees it: the verdict
//! HINCRBY k v 1         -- the new version
//! HDEL k <removed>      -- only when something is removed
//! HSET k <set> l <began_at> [p <persistent>] [n <label>]
//! PEXPIRE k 300000 NX   -- a TTL only where there was none
//! EXEC
//! ```
//!
//! as one round trip. A transaction cannot branch, so when the session is gone (deleted,
//! revoked, rotated away, expired) the commands still run: they leave a hash without `e`
//! and `c` (or add fields to a protocol marker), which [`layout::decode_record`] reads as
//! no session, which no script treats as a live one, and which expires within
//! [`MARKER_TTL`] (`NX` leaves a marker's own TTL alone, and a live session always has
//! one). The `HGET` reply says which case it was: no `e` (or a passed one) is `Missing`.

use redis::Value;
use session_core::{
    Timestamp,
    store::{Changeset, StoreError},
};

use crate::conn::{Conn, map_err};
use crate::layout::{self, EXPIRES, LABEL, LAST_SEEN, MARKER_TTL, PERSISTENT, VERSION, data_field};
use crate::scripts::{Write, WriteReply};

/// Whether `write` can take the plain path: an `apply` that moves neither the deadline nor
/// the principal, compares no version and clears nothing.
pub(crate) fn eligible(write: &Write<'_>) -> bool {
    let c = write.changes;
    write.bump && write.expected.is_none() && c.keeps_deadline && c.user.is_none() && !c.cleared
}

/// Runs an [`eligible`] write on `hash` as one transaction.
pub(crate) async fn write(
    conn: &mut Conn,
    hash: &str,
    changes: &Changeset,
    now: Timestamp,
) -> Result<WriteReply, StoreError> {
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("HGET").arg(hash).arg(EXPIRES);
    pipe.cmd("HINCRBY").arg(hash).arg(VERSION).arg(1);
    let drops_label = matches!(changes.label, Some(None));
    if !changes.removed.is_empty() || drops_label {
        let del = pipe.cmd("HDEL").arg(hash);
        for key in &changes.removed {
            del.arg(data_field(key));
        }
        if drops_label {
            del.arg(LABEL);
        }
    }
    let set = pipe.cmd("HSET").arg(hash);
    layout::encode_data(changes.set.iter(), set)?;
    set.arg(LAST_SEEN).arg(changes.began_at.as_millis());
    if let Some(persistent) = changes.persistent {
        set.arg(PERSISTENT).arg(layout::flag(persistent));
    }
    if let Some(Some(label)) = &changes.label {
        set.arg(LABEL).arg(label.as_str());
    }
    pipe.cmd("PEXPIRE")
        .arg(hash)
        .arg(u64::try_from(MARKER_TTL.as_millis()).unwrap_or(u64::MAX))
        .arg("NX");
    // Every reply, errors included, so a garbled version is `Corrupt` like the script's.
    pipe.ignore_errors();
    let reply: Vec<Value> = pipe.query_async(conn).await.map_err(map_err)?;
    verdict(&reply, now)
}

/// The outcome from the replies: `HGET e` and `HINCRBY v 1` decide, the writes after them
/// must not have failed.
fn verdict(reply: &[Value], now: Timestamp) -> Result<WriteReply, StoreError> {
    let corrupt = |field: &str| {
        StoreError::Corrupt(format!("redis session hash: field {field} is not a number"))
    };
    let [deadline, version, writes @ ..] = reply else {
        return Err(StoreError::backend(format!(
            "unexpected reply from the write transaction: {reply:?}"
        )));
    };
    // A failed write (or a failed `HGET`: the key is not a hash, the node went read-only)
    // is the error a plain command would have been.
    for value in std::iter::once(deadline).chain(writes) {
        if let Value::ServerError(e) = value {
            return Err(map_err(e.clone().into()));
        }
    }
    let deadline = match deadline {
        Value::Nil => return Ok(WriteReply::Missing),
        other => layout::int_of(other).ok_or_else(|| corrupt(EXPIRES))?,
    };
    if deadline <= now.as_millis() {
        return Ok(WriteReply::Missing);
    }
    layout::int_of(version)
        .and_then(|v| u64::try_from(v).ok())
        .map(WriteReply::Applied)
        .ok_or_else(|| corrupt(VERSION))
}
