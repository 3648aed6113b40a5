//! The Express-compatible store logic (`ExpressStore`) over an in-process layout that
//! behaves like a connect-* backend (a string per sid, compare-and-set on the exact
//! text), so the generic part is checked without a server. The real layouts run the same
//! cases in their own crates.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;
use session_core::express::{ConnectLayout, ExpressFormat, ExpressStore, Stored};
use session_core::{Timestamp, store::StoreError};

/// sid → (JSON text, deadline).
#[derive(Default)]
struct TextLayout(Mutex<HashMap<String, (String, Timestamp)>>);

impl TextLayout {
    fn live(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Timestamp)>> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Timestamp::now();
        map.retain(|_, (_, deadline)| *deadline > now);
        map
    }
}

fn text(session: &Value) -> Result<String, StoreError> {
    serde_json::to_string(session).map_err(|e| StoreError::Encode(e.to_string()))
}

#[async_trait]
impl ConnectLayout for TextLayout {
    type Token = String;

    async fn read(&self, sid: &str) -> Result<Option<Stored<String>>, StoreError> {
        let Some((raw, deadline)) = self.live().get(sid).cloned() else {
            return Ok(None);
        };
        let session = serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(Some(Stored {
            session,
            deadline,
            token: raw,
        }))
    }

    async fn insert(
        &self,
        sid: &str,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let raw = text(session)?;
        let mut map = self.live();
        if map.contains_key(sid) {
            return Ok(false);
        }
        map.insert(sid.to_owned(), (raw, deadline));
        Ok(true)
    }

    async fn replace(
        &self,
        sid: &str,
        token: &String,
        session: &Value,
        deadline: Timestamp,
    ) -> Result<bool, StoreError> {
        let raw = text(session)?;
        let mut map = self.live();
        match map.get_mut(sid) {
            Some(entry) if &entry.0 == token => {
                *entry = (raw, deadline);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, sid: &str, token: &String) -> Result<bool, StoreError> {
        let mut map = self.live();
        if map.get(sid).is_some_and(|(raw, _)| raw == token) {
            map.remove(sid);
            return Ok(true);
        }
        Ok(false)
    }

    async fn expire(&self, sid: &str, deadline: Timestamp) -> Result<bool, StoreError> {
        Ok(self.live().get_mut(sid).map(|e| e.1 = deadline).is_some())
    }

    async fn delete(&self, sid: &str) -> Result<(), StoreError> {
        self.live().remove(sid);
        Ok(())
    }

    async fn prune(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    async fn list(
        &self,
        cursor: Option<String>,
        page: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let mut sids: Vec<String> = self.live().keys().cloned().collect();
        sids.sort();
        let start = cursor.map_or(0, |c| sids.partition_point(|s| *s <= c));
        let taken: Vec<String> = sids.into_iter().skip(start).take(page).collect();
        let next = (taken.len() == page)
            .then(|| taken.last().cloned())
            .flatten();
        Ok((taken, next))
    }
}

async fn make() -> ExpressStore<TextLayout> {
    ExpressStore::new(TextLayout::default(), ExpressFormat::default())
}

session_core::express_conformance_tests!(make());

/// The migration moves every live session to the native store under its hashed key, and
/// a second run (resuming an interrupted one) copies nothing twice.
#[tokio::test]
async fn migration_is_complete_and_resumable() {
    use std::sync::Arc;

    use session_core::express::{MigrationOptions, migrate_to_native};
    use session_core::{
        MemoryStore,
        store::{SessionStore, StoreKey},
    };

    let from = Arc::new(make().await);
    let mut records = Vec::new();
    for i in 0..1200 {
        let mut record = session_core::store::Record::new(
            Timestamp::now(),
            Timestamp::now().add(std::time::Duration::from_secs(600)),
            i % 2 == 0,
        );
        record.data.insert("i".into(), serde_json::json!(i).into());
        let sid = format!("sid-{i:05}");
        let created = from
            .create(&StoreKey::plain_sid(&sid), &record)
            .await
            .expect("create");
        assert_eq!(created, session_core::store::CreateOutcome::Created);
        records.push((sid, record));
    }
    let to: Arc<dyn SessionStore> = Arc::new(MemoryStore::default());
    let first = migrate_to_native(
        from.clone(),
        to.clone(),
        MigrationOptions::default(),
        |_| {},
    )
    .await
    .expect("migrate");
    assert_eq!((first.seen, first.copied, first.already), (1200, 1200, 0));
    for (sid, record) in &records {
        let moved = to
            .load(&StoreKey::hashed_sid(sid))
            .await
            .expect("load")
            .expect("moved");
        assert_eq!(moved.data, record.data);
        assert_eq!(
            (moved.expires_at, moved.persistent),
            (record.expires_at, record.persistent)
        );
    }
    let again = migrate_to_native(
        from.clone(),
        to,
        MigrationOptions {
            delete_source: true,
            stop_after: None,
        },
        |_| {},
    )
    .await
    .expect("resume");
    assert_eq!(
        (again.copied, again.already, again.deleted),
        (0, 1200, 1200)
    );
    assert!(
        from.load(&StoreKey::plain_sid("sid-00000"))
            .await
            .expect("load")
            .is_none()
    );
}
