//! The request harness shared by the manager tests: each request is `start` → handler →
//! `finish`, against a call-counting wrapper of the real memory store.
#![allow(dead_code)] // each test binary uses a different subset

use session_core::test_suite::ProbeStore;
use session_core::{
    Key, MemoryStore, Session, SessionConfig, SessionConfigBuilder, SessionManager,
    adapter::{HeaderPatch, ResponseInfo, SaveFailure},
};

pub struct Harness {
    pub store: ProbeStore<MemoryStore>,
    pub manager: SessionManager,
    pub key: Key,
}

pub fn harness(configure: impl FnOnce(SessionConfigBuilder) -> SessionConfigBuilder) -> Harness {
    let key = Key::generate();
    let store = ProbeStore::new(MemoryStore::default());
    let config = configure(SessionConfig::builder([key.clone()]).secure(false))
        .build()
        .expect("config");
    Harness {
        manager: SessionManager::new(store.clone(), config),
        store,
        key,
    }
}

pub const OK: u16 = 200;

impl Harness {
    /// One request: the handler runs on the session, then the manager finishes it.
    pub async fn request(
        &self,
        cookie: Option<&str>,
        status: u16,
        handler: impl AsyncFnOnce(Session),
    ) -> Result<HeaderPatch, SaveFailure> {
        let header = cookie.map(|c| format!("other=1; sid={c}"));
        let session = self.manager.start(header.iter().map(|h| h.as_bytes()));
        handler(session.clone()).await;
        let info = ResponseInfo::status(status);
        self.manager.finish(&session, info).await
    }

    /// Two concurrent requests carrying the same cookie.
    pub fn two_requests(&self, cookie: &str) -> (Session, Session) {
        let header = format!("sid={cookie}");
        (
            self.manager.start([header.as_bytes()]),
            self.manager.start([header.as_bytes()]),
        )
    }

    /// Finishes a request that answered 200.
    pub async fn finish_ok(&self, session: &Session) -> Result<HeaderPatch, SaveFailure> {
        let info = ResponseInfo::status(OK);
        self.manager.finish(session, info).await
    }

    /// A stored session holding `n = 1`; returns its cookie value.
    pub async fn logged_cookie(&self) -> String {
        let patch = self
            .request(None, OK, async |s| s.insert("n", 1).await.expect("insert"))
            .await
            .expect("finish");
        cookie_value(&patch).expect("a new modified session sets a cookie")
    }
}

pub fn cookie_value(patch: &HeaderPatch) -> Option<String> {
    let header = patch.set_cookie()?;
    let value = header.strip_prefix("sid=")?.split(';').next()?;
    Some(value.to_owned())
}
