//! The one-shot, resumable migration out of a connect-* layout into a native one, once the
//! Node app is gone: every live session is copied to the native store under the SHA-256 of
//! its id, with its data, user, creation time and deadline. Afterwards the manager runs
//! with [`SidKeying::Hashed`](crate::SidKeying::Hashed) (`express_compatible(secrets,
//! SidKeying::Hashed)`): the `connect.sid` cookies keep working, and ids are hashed at rest
//! again.
//!
//! Resumable because it is idempotent: a session already copied is `AlreadyExists` in the
//! native store and is skipped; an interrupted run is simply run again. The source is left
//! as it is unless `delete_source` is set (then each session is deleted once copied, so a
//! second run only sees what is left).

use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinSet;

use crate::express::{ConnectLayout, ExpressStore};
use crate::{CreateOutcome, SessionStore, StoreError, StoreKey};

/// A connect-* store whose sessions can be listed (for the migration).
#[async_trait]
pub trait ExpressSource: SessionStore {
    /// One page of the session ids stored (live or expired), starting at `cursor` (`None`:
    /// the beginning), and the cursor of the next page (`None`: the end).
    async fn list_sids(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError>;
}

#[async_trait]
impl<L: ConnectLayout> ExpressSource for ExpressStore<L> {
    async fn list_sids(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        self.layout().list(cursor, page).await
    }
}

/// What a migration run did, session by session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// Ids listed in the source.
    pub seen: u64,
    /// Copied into the native store by this run.
    pub copied: u64,
    /// Already in the native store (an earlier, interrupted run copied them).
    pub already: u64,
    /// Expired or deleted before they could be read: nothing to move.
    pub gone: u64,
    /// Records that cannot be read (left in the source, logged).
    pub corrupt: u64,
    /// Deleted from the source after copying (`delete_source`).
    pub deleted: u64,
}

/// How a migration run behaves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MigrationOptions {
    /// Delete each session from the source once it is copied.
    pub delete_source: bool,
    /// Stop after the page on which this many ids were seen (a run in slices; the next
    /// run resumes).
    pub stop_after: Option<u64>,
}

/// How many sessions are moved at once.
const IN_FLIGHT: usize = 16;

enum Moved {
    Copied,
    Already,
    Gone,
    Corrupt,
}

async fn move_one(
    from: &dyn ExpressSource,
    to: &dyn SessionStore,
    sid: &str,
    delete_source: bool,
) -> MoveResult {
    let plain = StoreKey::plain_sid(sid);
    let mut record = match from.load(&plain).await {
        Ok(Some(record)) => record,
        Ok(None) => return Ok((Moved::Gone, false)),
        Err(StoreError::Corrupt(why)) => {
            tracing::warn!(%why, "migration: a connect-* record cannot be read; left in place");
            return Ok((Moved::Corrupt, false));
        }
        Err(e) => return Err(e),
    };
    // Native versions start at 1; a session only Node wrote has none.
    record.version = record.version.max(1);
    let moved = match to.create(&StoreKey::hashed_sid(sid), &record).await? {
        CreateOutcome::Created => Moved::Copied,
        CreateOutcome::AlreadyExists => Moved::Already,
        // Its user was revoked in the native store meanwhile: it must not come back.
        CreateOutcome::Revoked => Moved::Gone,
    };
    if delete_source {
        from.delete(&plain).await?;
    }
    Ok((moved, delete_source))
}

/// Copies every live session of `from` into `to` under its hashed key (see the module
/// docs); `progress` is called after each page. Stops at the first store failure (run it
/// again to resume).
pub async fn migrate_to_native(
    from: Arc<dyn ExpressSource>,
    to: Arc<dyn SessionStore>,
    options: MigrationOptions,
    mut progress: impl FnMut(&MigrationReport) + Send,
) -> Result<MigrationReport, StoreError> {
    let delete_source = options.delete_source;
    let mut report = MigrationReport::default();
    let mut cursor = None;
    loop {
        let (sids, next) = from.list_sids(cursor.take(), 500).await?;
        report.seen += u64::try_from(sids.len()).unwrap_or(u64::MAX);
        let mut tasks = JoinSet::new();
        for sid in sids {
            while tasks.len() >= IN_FLIGHT {
                tally(&mut report, tasks.join_next().await)?;
            }
            let (from, to) = (from.clone(), to.clone());
            tasks.spawn(async move { move_one(&*from, &*to, &sid, delete_source).await });
        }
        while let Some(done) = tasks.join_next().await {
            tally(&mut report, Some(done))?;
        }
        progress(&report);
        if options.stop_after.is_some_and(|max| report.seen >= max) {
            return Ok(report);
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(report),
        }
    }
}

/// What one session's move ended with: how it moved and whether the source was deleted.
type MoveResult = Result<(Moved, bool), StoreError>;

fn tally(
    report: &mut MigrationReport,
    done: Option<Result<MoveResult, tokio::task::JoinError>>,
) -> Result<(), StoreError> {
    let Some(done) = done else { return Ok(()) };
    let (moved, deleted) = done.map_err(StoreError::backend)??;
    match moved {
        Moved::Copied => report.copied += 1,
        Moved::Already => report.already += 1,
        Moved::Gone => report.gone += 1,
        Moved::Corrupt => report.corrupt += 1,
    }
    report.deleted += u64::from(deleted);
    Ok(())
}
