//! What an account page needs of [`Session`]: this device's label, the user's other
//! sessions page by page, and signing one of them, or all of them, out.

use super::Session;
use crate::{
    MAX_LABEL_BYTES, PageRequest, SessionError, SessionHandle, SessionPage, SessionSummary,
};

impl Session {
    /// Labels this session for the account page ("Firefox on Linux", parsed by the
    /// application from the user agent: the library parses no user agent and stores no
    /// address unless the application puts one here). Saved with the request's other
    /// changes; at most [`MAX_LABEL_BYTES`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_label("Firefox on Linux").await?;
    /// assert_eq!(session.label().await?.as_deref(), Some("Firefox on Linux"));
    /// assert!(session.set_label("x".repeat(201)).await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn set_label(&self, label: impl Into<String>) -> Result<(), SessionError> {
        let label = label.into();
        if label.len() > MAX_LABEL_BYTES {
            return Err(SessionError::LabelTooLong {
                len: label.len(),
                limit: MAX_LABEL_BYTES,
            });
        }
        let mut state = self.loaded().await?;
        let unchanged = match &state.pending.label {
            Some(pending) => pending.as_deref() == Some(label.as_str()),
            None => state.current.as_ref().and_then(|c| c.label.as_deref()) == Some(&label),
        };
        if !unchanged {
            state.pending.label = Some(Some(label));
        }
        Ok(())
    }

    /// This session's label, as set by [`set_label`](Self::set_label).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// assert_eq!(session.label().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn label(&self) -> Result<Option<String>, SessionError> {
        let state = self.loaded().await?;
        Ok(match &state.pending.label {
            Some(pending) => pending.clone(),
            None => state.current.as_ref().and_then(|c| c.label.clone()),
        })
    }

    /// The public handle of the stored session this request continues (`None` for a new
    /// one): compare it with [`SessionSummary::handle`] to mark "this device" in a list.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// assert_eq!(session.handle().await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn handle(&self) -> Result<Option<SessionHandle>, SessionError> {
        Ok(self.store_key().await?.as_ref().map(SessionHandle::of))
    }

    /// The newest live sessions of this session's user (at most
    /// [`crate::MAX_SESSIONS_PER_PAGE`]; [`sessions_page`](Self::sessions_page) pages on).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// // The session is stored when the request ends, so none is listed yet.
    /// assert!(session.sessions_of_user().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn sessions_of_user(&self) -> Result<Vec<SessionSummary>, SessionError> {
        Ok(self.sessions_page(&PageRequest::default()).await?.sessions)
    }

    /// One page of the live sessions of this session's user, newest first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// let page = session.sessions_page(&session_core::PageRequest::first(10)).await?;
    /// assert!(page.sessions.is_empty() && page.next.is_none());
    /// # Ok(()) }
    /// ```
    pub async fn sessions_page(&self, page: &PageRequest) -> Result<SessionPage, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        Ok(self.inner.shared.store.sessions_of(&user, page).await?)
    }

    /// Signs out the one session named by `handle` ("sign out this device"), if it is a
    /// session of this session's user; returns whether one went. A handle of another
    /// user's session is refused (`false`, nothing deleted). Takes effect immediately.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// let someone_elses = session_core::SessionHandle::of(&session_core::store::StoreKey::random());
    /// assert!(!session.revoke_session(&someone_elses).await?);
    /// # Ok(()) }
    /// ```
    pub async fn revoke_session(&self, handle: &SessionHandle) -> Result<bool, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        let Some(key) = handle.store_key() else {
            return Ok(false);
        };
        Ok(self
            .inner
            .shared
            .store
            .delete_session_of(&user, &key)
            .await?)
    }

    /// Deletes every other session of this session's user ("sign out everywhere else");
    /// returns how many went. Takes effect immediately.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.set_user("alice").await?;
    /// let signed_out = session.revoke_other_sessions().await?;
    /// assert_eq!(signed_out, 0);
    /// # Ok(()) }
    /// ```
    pub async fn revoke_other_sessions(&self) -> Result<u64, SessionError> {
        let user = self.user().await?.ok_or(SessionError::NoUser)?;
        let current = self.store_key().await?;
        Ok(self
            .inner
            .shared
            .store
            .delete_sessions_of(&user, current.as_ref())
            .await?)
    }
}
