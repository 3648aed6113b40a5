//! The synchronizer token: for apps that must also protect browsers that send neither
//! `Sec-Fetch-Site` nor `Origin`, a per-session secret the page embeds in its forms and
//! the handler checks.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::Session;
use crate::id::random_bytes;
use crate::{CsrfRefusal, SessionError};

/// The data key the token lives under (in the session's data, so it travels and expires
/// with the session, and a login's rotation keeps it).
const TOKEN_KEY: &str = "_csrf_token";

impl Session {
    /// This session's CSRF token (256 random bits, base64url), made and stored on first
    /// use: put it in a hidden form field and check it with
    /// [`verify_csrf_token`](Self::verify_csrf_token).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// let token = session.csrf_token().await?;
    /// assert_eq!(session.csrf_token().await?, token);
    /// session.verify_csrf_token(&token).await?;
    /// assert!(session.verify_csrf_token("forged").await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn csrf_token(&self) -> Result<String, SessionError> {
        if let Some(token) = self.get::<String>(TOKEN_KEY).await? {
            return Ok(token);
        }
        let token = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        self.insert(TOKEN_KEY, &token).await?;
        Ok(token)
    }

    /// Checks a token a form sent against this session's ([`csrf_token`](Self::csrf_token)),
    /// in constant time; a missing or different one is
    /// [`SessionError::CsrfRefused`] (403).
    pub async fn verify_csrf_token(&self, sent: &str) -> Result<(), SessionError> {
        let stored = self.get::<String>(TOKEN_KEY).await?;
        let matches =
            stored.is_some_and(|stored| constant_time_eq(stored.as_bytes(), sent.as_bytes()));
        if matches {
            Ok(())
        } else {
            Err(SessionError::CsrfRefused(CsrfRefusal::TokenMismatch))
        }
    }
}

/// Equality whose time depends on the lengths only, not on where the bytes differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
