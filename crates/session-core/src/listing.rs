//! The per-user index as an account page reads it: one summary per session, a public
//! handle to name a session in a URL, and bounded pages, newest first.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::{StoreKey, Timestamp};

/// The most sessions one [`crate::SessionStore::sessions_of`] call returns, on every store.
/// A user with more sees them over several pages ([`SessionPage::next`]).
pub const MAX_SESSIONS_PER_PAGE: usize = 100;

/// The longest label ([`crate::Session::set_label`]) a session may carry, in bytes.
pub const MAX_LABEL_BYTES: usize = 200;

/// A public, non-secret name for one stored session, for URLs and forms ("sign out this
/// device").
///
/// It is the session's [`StoreKey`] re-encoded (unpadded base64url of its 32 digest
/// bytes), never the cookie's id: the store key is the SHA-256 of the id, so a handle
/// cannot be turned back into a cookie, and stores need no extra index to find the
/// session it names. A handle alone grants nothing: revoking by handle checks that the
/// session belongs to the signed-in user.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionHandle(String);

impl SessionHandle {
    /// The handle of the session stored under `key`.
    pub fn of(key: &StoreKey) -> Self {
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            let pair = &key.as_str()[2 * i..2 * i + 2];
            // A StoreKey is 64 lowercase hex digits by construction.
            *byte = u8::from_str_radix(pair, 16).unwrap_or_default();
        }
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Parses a handle from a URL or form; `None` unless it is exactly a handle.
    pub fn parse(text: &str) -> Option<Self> {
        let key = Self(text.to_owned()).store_key()?;
        Some(Self::of(&key))
    }

    /// The text form (43 characters of base64url).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The store key this handle names; `None` for text that is not a handle.
    pub fn store_key(&self) -> Option<StoreKey> {
        if self.0.len() != 43 {
            return None;
        }
        let mut bytes = [0u8; 32];
        match URL_SAFE_NO_PAD.decode_slice(&self.0, &mut bytes) {
            Ok(32) => {}
            _ => return None,
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        StoreKey::parse(&hex)
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionHandle({})", self.0)
    }
}

/// One entry of the per-user index: what an "active sessions" page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSummary {
    /// The session's store key (compare with [`crate::Session::store_key`] to spot the
    /// current one). Pages and URLs show [`SessionSummary::handle`] instead.
    pub key: StoreKey,
    /// When it was created.
    pub created_at: Timestamp,
    /// Its idle deadline.
    pub expires_at: Timestamp,
    /// When a request last saved or touched it.
    pub last_seen: Timestamp,
    /// When its user signed in (`None` in records written before it was kept).
    pub authenticated_at: Option<Timestamp>,
    /// The application's label for it ([`crate::Session::set_label`]).
    pub label: Option<String>,
}

impl SessionSummary {
    /// The public handle naming this session in URLs.
    pub fn handle(&self) -> SessionHandle {
        SessionHandle::of(&self.key)
    }

    /// Its place in the listing order (newest first: `created_at`, then key, descending).
    pub fn cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.created_at,
            key: self.key.clone(),
        }
    }
}

/// Where a page starts: after (older than) this session in the listing order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PageCursor {
    /// The last listed session's `created_at`.
    pub created_at: Timestamp,
    /// The last listed session's key (ties of `created_at`).
    pub key: StoreKey,
}

/// Which page of a user's sessions to list: at most `limit` (capped by
/// [`MAX_SESSIONS_PER_PAGE`]), newest first, starting after `before` if given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    limit: usize,
    before: Option<PageCursor>,
}

impl Default for PageRequest {
    /// The first [`MAX_SESSIONS_PER_PAGE`] sessions.
    fn default() -> Self {
        Self::first(MAX_SESSIONS_PER_PAGE)
    }
}

impl PageRequest {
    /// The newest `limit` sessions (`limit` clamped to `1..=MAX_SESSIONS_PER_PAGE`).
    pub fn first(limit: usize) -> Self {
        Self {
            limit: limit.clamp(1, MAX_SESSIONS_PER_PAGE),
            before: None,
        }
    }

    /// The `limit` sessions that follow `cursor` in the listing order.
    pub fn after(cursor: PageCursor, limit: usize) -> Self {
        Self {
            before: Some(cursor),
            ..Self::first(limit)
        }
    }

    /// How many sessions the page holds at most.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The cursor the page starts after, if any.
    pub fn before(&self) -> Option<&PageCursor> {
        self.before.as_ref()
    }

    /// Whether `summary` comes after the cursor (is on this page or a later one).
    pub fn admits(&self, summary: &SessionSummary) -> bool {
        self.before
            .as_ref()
            .is_none_or(|cursor| summary.cursor() < *cursor)
    }

    /// The page made of `candidates`: those the cursor admits, newest first, at most
    /// `limit`; `next` is set when a candidate was left over. For stores that fetch
    /// `limit + 1` rows (or filter in memory).
    pub fn page_of(&self, mut candidates: Vec<SessionSummary>) -> SessionPage {
        candidates.retain(|s| self.admits(s));
        candidates.sort_by_key(|s| std::cmp::Reverse(s.cursor()));
        let more = candidates.len() > self.limit;
        candidates.truncate(self.limit);
        let next = match candidates.last() {
            Some(last) if more => Some(Self::after(last.cursor(), self.limit)),
            _ => None,
        };
        SessionPage {
            sessions: candidates,
            next,
        }
    }
}

/// One page of a user's live sessions, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionPage {
    /// The sessions, at most the request's limit.
    pub sessions: Vec<SessionSummary>,
    /// The request for the following page, when there are more sessions.
    pub next: Option<PageRequest>,
}

impl SessionPage {
    /// The sessions of this page.
    pub fn into_sessions(self) -> Vec<SessionSummary> {
        self.sessions
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_round_trip_to_their_key_and_refuse_other_text() {
        let key = StoreKey::random();
        let handle = SessionHandle::of(&key);
        assert_eq!(handle.as_str().len(), 43);
        assert_eq!(handle.store_key(), Some(key.clone()));
        assert_eq!(SessionHandle::parse(handle.as_str()), Some(handle));
        for bad in ["", "x", &"A".repeat(44), &"!".repeat(43), key.as_str()] {
            assert_eq!(SessionHandle::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_are_newest_first_and_chain() {
        let summaries: Vec<SessionSummary> = (0..5)
            .map(|i| SessionSummary {
                key: StoreKey::random(),
                created_at: Timestamp::from_millis(i),
                expires_at: Timestamp::from_millis(100),
                last_seen: Timestamp::from_millis(i),
                authenticated_at: None,
                label: None,
            })
            .collect();
        let first = PageRequest::first(2).page_of(summaries.clone());
        let created: Vec<i64> = first
            .sessions
            .iter()
            .map(|s| s.created_at.as_millis())
            .collect();
        assert_eq!(created, [4, 3]);
        let second = first.next.expect("more").page_of(summaries.clone());
        let created: Vec<i64> = second
            .sessions
            .iter()
            .map(|s| s.created_at.as_millis())
            .collect();
        assert_eq!(created, [2, 1]);
        let third = second.next.expect("more").page_of(summaries);
        assert_eq!(third.sessions.len(), 1);
        assert_eq!(third.next, None);
    }
}
