//! The data accessors of [`Session`]: typed reads and writes, read-modify-write, and
//! flash messages. Every write is checked (size, nesting) before it changes anything.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::json_text::entry_bytes;
use super::{Session, State};
use crate::{RawJson, SessionError};

/// The deepest nesting of arrays and objects a session value may have. Deeper values are
/// refused at [`Session::insert`]: JSON parsers of the backends stop at 128 levels (some
/// sooner), so a deeper value would be written and then fail to load on every request.
pub const MAX_VALUE_DEPTH: usize = 64;

/// Where flash messages live among the data keys.
const FLASH_PREFIX: &str = "_flash:";

impl Session {
    /// The value under `key`, deserialized; `None` when absent.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("theme", "dark").await?;
    /// let theme: Option<String> = session.get("theme").await?;
    /// assert_eq!(theme.as_deref(), Some("dark"));
    /// # Ok(()) }
    /// ```
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let state = self.loaded().await?;
        state.data.get(key).map(|v| typed(key, v)).transpose()
    }

    /// The raw JSON value under `key`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("n", 3).await?;
    /// assert_eq!(session.get_value("n").await?, Some(serde_json::json!(3)));
    /// # Ok(()) }
    /// ```
    pub async fn get_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        Ok(self.loaded().await?.data.get(key).map(RawJson::to_value))
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// assert!(!session.contains_key("cart").await?);
    /// session.insert("cart", ["book"]).await?;
    /// assert!(session.contains_key("cart").await?);
    /// # Ok(()) }
    /// ```
    pub async fn contains_key(&self, key: &str) -> Result<bool, SessionError> {
        Ok(self.loaded().await?.data.contains_key(key))
    }

    /// Stores `value` under `key`. Fails, changing nothing, with [`SessionError::TooLarge`]
    /// when the session would exceed the configured size, and with
    /// [`SessionError::TooDeep`] when the value nests deeper than [`MAX_VALUE_DEPTH`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("cart", vec!["book", "pen"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        let value = encoded(key, &value)?;
        let mut state = self.loaded().await?;
        self.put(&mut state, key, value)
    }

    /// Read-modify-write of one key within this request: `f` gets the current value (or
    /// `None`) and returns the new one, which is stored and returned. Across concurrent
    /// requests the key is last-writer-wins, or a conflict in strict mode.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// let visits = session.update("visits", |n: Option<u32>| n.unwrap_or(0) + 1).await?;
    /// assert_eq!(visits, 1);
    /// # Ok(()) }
    /// ```
    pub async fn update<T, F>(&self, key: &str, f: F) -> Result<T, SessionError>
    where
        T: Serialize + DeserializeOwned,
        F: FnOnce(Option<T>) -> T,
    {
        let mut state = self.loaded().await?;
        let current = state.data.get(key).map(|v| typed(key, v)).transpose()?;
        let next = f(current);
        let value = encoded(key, &next)?;
        self.put(&mut state, key, value)?;
        Ok(next)
    }

    /// Removes `key`, returning its value deserialized (`None` when absent). The key is
    /// removed even when its value does not deserialize as `T` (the error says so).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("step", 2).await?;
    /// assert_eq!(session.remove::<u8>("step").await?, Some(2));
    /// assert_eq!(session.remove::<u8>("step").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn remove<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, SessionError> {
        let old = self.remove_raw(key).await?;
        old.map(|v| typed(key, &v)).transpose()
    }

    /// Removes `key`, returning its raw JSON value.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("draft", "hello").await?;
    /// assert_eq!(session.remove_value("draft").await?, Some("hello".into()));
    /// # Ok(()) }
    /// ```
    pub async fn remove_value(&self, key: &str) -> Result<Option<Value>, SessionError> {
        Ok(self.remove_raw(key).await?.as_ref().map(RawJson::to_value))
    }

    async fn remove_raw(&self, key: &str) -> Result<Option<RawJson>, SessionError> {
        let mut state = self.loaded().await?;
        let total = data_bytes(&mut state);
        let old = state.data.remove(key);
        if let Some(value) = &old {
            state.data_bytes = Some(total - entry_bytes(key, value));
            state.pending.set.remove(key);
            state.pending.removed.insert(key.to_owned());
        }
        Ok(old)
    }

    /// Removes every key (the user and the session itself stay).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("a", 1).await?;
    /// session.clear().await?;
    /// assert!(session.keys().await?.is_empty());
    /// # Ok(()) }
    /// ```
    pub async fn clear(&self) -> Result<(), SessionError> {
        self.loaded().await?.clear_data();
        Ok(())
    }

    /// The data keys present (flash messages included, under `_flash:`).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.insert("b", 2).await?;
    /// session.insert("a", 1).await?;
    /// assert_eq!(session.keys().await?, ["a", "b"]);
    /// # Ok(()) }
    /// ```
    pub async fn keys(&self) -> Result<Vec<String>, SessionError> {
        Ok(self.loaded().await?.data.keys().cloned().collect())
    }

    /// Leaves a message for the next request that reads it with
    /// [`take_flash`](Self::take_flash) ("Saved!", a form error): written once, read once,
    /// removed by the read. A second flash under the same key replaces the first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// session.flash("notice", "Password changed").await?;
    /// // … on the next request:
    /// let notice: Option<String> = session.take_flash("notice").await?;
    /// assert_eq!(notice.as_deref(), Some("Password changed"));
    /// assert_eq!(session.take_flash::<String>("notice").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn flash<T: Serialize>(&self, key: &str, value: T) -> Result<(), SessionError> {
        self.insert(&flash_key(key), value).await
    }

    /// Reads and removes the flash message under `key`; `None` when there is none.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), session_core::SessionError> {
    /// # let session = session_core::Session::for_docs();
    /// assert_eq!(session.take_flash::<String>("error").await?, None);
    /// # Ok(()) }
    /// ```
    pub async fn take_flash<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, SessionError> {
        self.remove(&flash_key(key)).await
    }

    /// Checks `value` against the limits and writes it into the request's state.
    fn put(&self, state: &mut State, key: &str, value: RawJson) -> Result<(), SessionError> {
        let depth = value.depth();
        if depth > MAX_VALUE_DEPTH {
            return Err(SessionError::TooDeep {
                key: key.to_owned(),
                depth,
                limit: MAX_VALUE_DEPTH,
            });
        }
        let limit = self.inner.shared.config.max_data_bytes;
        let total = data_bytes(state);
        let replaced = state.data.get(key).map_or(0, |old| entry_bytes(key, old));
        let new_total = total - replaced + entry_bytes(key, &value);
        if new_total > limit {
            return Err(SessionError::TooLarge {
                size: new_total,
                limit,
            });
        }
        state.data_bytes = Some(new_total);
        state.pending.removed.remove(key);
        state.pending.set.insert(key.to_owned());
        state.data.insert(key.to_owned(), value);
        Ok(())
    }
}

fn flash_key(key: &str) -> String {
    format!("{FLASH_PREFIX}{key}")
}

fn typed<T: DeserializeOwned>(key: &str, value: &RawJson) -> Result<T, SessionError> {
    value.decode().map_err(|source| SessionError::Value {
        key: key.to_owned(),
        source,
    })
}

fn encoded<T: Serialize>(key: &str, value: &T) -> Result<RawJson, SessionError> {
    RawJson::encode(value).map_err(|source| SessionError::Value {
        key: key.to_owned(),
        source,
    })
}

/// The encoded size of the data, summed over every key on the first call of a request.
fn data_bytes(state: &mut State) -> usize {
    let data = &state.data;
    *state
        .data_bytes
        .get_or_insert_with(|| data.iter().map(|(k, v)| entry_bytes(k, v)).sum())
}
