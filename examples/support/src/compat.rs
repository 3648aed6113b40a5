//! `SESSION_COMPAT`: the examples' Express-compatible mode, beside a Node/Express app that
//! uses express-session (see examples/README.md, "Migrating from Express").
//!
//! | variable | meaning |
//! |---|---|
//! | `SESSION_COMPAT` | unset or `native`: the library's own cookie and layouts; `express`: express-session's `connect.sid` cookie and the connect-* layout of `SESSION_STORE`; `express-migrated`: the express cookie on the native layout, after `migrate-express` |
//! | `SESSION_SECRETS` | with `express*`: the Node app's `secret` list, comma-separated, newest first (required) |
//! | `SESSION_EXPRESS_PREFIX` | connect-redis `prefix` (default `sess:`) |
//! | `SESSION_EXPRESS_TABLE` | connect-pg-simple `[schemaName.]tableName` (default `session`) |
//! | `SESSION_EXPRESS_COLLECTION` | connect-mongo `collectionName` (default `sessions`), in the database of the URL |

use std::sync::Arc;
use std::time::Duration;

use session_core::express::{ExpressFormat, ExpressSource};
use session_core::{
    ExpressSecrets, SessionConfig,
    store::{SessionStore, StoreError},
};

use crate::{SettingsError, StoreUrl};

/// Which cookie and store layout the app speaks.
#[derive(Debug, Clone, Default)]
pub enum Compat {
    /// The library's own (the default).
    #[default]
    Native,
    /// Beside an Express app: its cookie, its secrets, its connect-* layout.
    Express(ExpressNames),
    /// After the migration: the Express cookie (so nobody is signed out), ids hashed on the
    /// native layout.
    ExpressMigrated,
}

/// Where the connect-* layouts keep their sessions (the Node side's store options).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpressNames {
    /// connect-redis `prefix`.
    pub redis_prefix: String,
    /// connect-pg-simple `schemaName`, if any.
    pub pg_schema: Option<String>,
    /// connect-pg-simple `tableName`.
    pub pg_table: String,
    /// connect-mongo `collectionName`.
    pub mongo_collection: String,
}

impl ExpressNames {
    /// `SESSION_EXPRESS_PREFIX`, `SESSION_EXPRESS_TABLE` and `SESSION_EXPRESS_COLLECTION`
    /// through `get`, with the connect-* defaults.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let table = get("SESSION_EXPRESS_TABLE").unwrap_or_else(|| "session".into());
        let (pg_schema, pg_table) = match table.split_once('.') {
            Some((schema, table)) => (Some(schema.to_owned()), table.to_owned()),
            None => (None, table),
        };
        Self {
            redis_prefix: get("SESSION_EXPRESS_PREFIX").unwrap_or_else(|| "sess:".into()),
            pg_schema,
            pg_table,
            mongo_collection: get("SESSION_EXPRESS_COLLECTION")
                .unwrap_or_else(|| "sessions".into()),
        }
    }
}

impl Compat {
    /// Reads `SESSION_COMPAT` and the names it needs through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mode = get("SESSION_COMPAT").map(|m| m.trim().to_ascii_lowercase());
        Ok(match mode.as_deref() {
            None | Some("native") => Self::Native,
            Some("express-migrated") => Self::ExpressMigrated,
            Some("express") => Self::Express(ExpressNames::from_lookup(&get)),
            Some(other) => {
                return Err(SettingsError::Invalid {
                    var: "SESSION_COMPAT",
                    why: format!("{other:?}: expected native, express or express-migrated"),
                });
            }
        })
    }

    /// Whether the cookie is express-session's.
    pub fn is_express(&self) -> bool {
        !matches!(self, Self::Native)
    }
}

/// `SESSION_SECRETS`, comma-separated (the secrets themselves never appear in a message).
pub fn parse_secrets(text: Option<String>) -> Result<ExpressSecrets, SettingsError> {
    let secrets: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    ExpressSecrets::new(secrets).map_err(|e| SettingsError::Invalid {
        var: "SESSION_SECRETS",
        why: format!(
            "{e}: SESSION_COMPAT=express needs the Node app's secret list, comma-separated"
        ),
    })
}

/// Opens the connect-* layout of `url` with `names`, its cookie objects built from `config`.
pub async fn connect_express(
    url: &StoreUrl,
    names: &ExpressNames,
    config: &SessionConfig,
    timeout: Option<Duration>,
) -> Result<Arc<dyn SessionStore>, StoreError> {
    let format = ExpressFormat::default().cookie_of(config);
    let store: Arc<dyn SessionStore> = open_express(url, names, format, timeout).await?;
    Ok(store)
}

/// [`connect_express`] with the record format given, as a listable source (for the
/// migration).
pub async fn open_express(
    url: &StoreUrl,
    names: &ExpressNames,
    #[allow(unused_variables)] format: ExpressFormat,
    #[allow(unused_variables)] timeout: Option<Duration>,
) -> Result<Arc<dyn ExpressSource>, StoreError> {
    match url {
        #[cfg(feature = "redis")]
        StoreUrl::Redis(_) | StoreUrl::RedisCluster(_) => {
            let native = crate::store::open_redis(url, timeout).await?;
            let layout =
                store_redis::ConnectRedisLayout::new(&native).with_prefix(&names.redis_prefix);
            Ok(Arc::new(store_redis::ConnectRedisStore::new(
                layout, format,
            )))
        }
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres(u) => {
            let pool = store_postgres::PostgresStore::connect(u)
                .await?
                .pool()
                .clone();
            let invalid = |e: store_postgres::InvalidIdentifier| StoreError::backend(e);
            let mut layout = store_postgres::ConnectPgLayout::new(pool)
                .with_table(&names.pg_table)
                .map_err(invalid)?;
            if let Some(schema) = &names.pg_schema {
                layout = layout.with_schema(schema).map_err(invalid)?;
            }
            if let Some(limit) = timeout {
                layout = layout.with_operation_timeout(limit);
            }
            layout.migrate().await?;
            let store = Arc::new(store_postgres::ConnectPgStore::new(layout, format));
            // connect-pg-simple prunes too; either side's sweep is enough.
            let sweep =
                |s: Arc<store_postgres::ConnectPgStore>| async move { s.delete_expired().await };
            drop(session_core::store::spawn_cleanup(
                Arc::downgrade(&store),
                crate::CLEANUP_EVERY,
                sweep,
            ));
            Ok(store)
        }
        #[cfg(feature = "mongo")]
        StoreUrl::Mongo(u) => {
            let database = crate::store::mongo_database(u).unwrap_or(store_mongo::DEFAULT_DATABASE);
            let native =
                store_mongo::MongoStore::connect(u, database, store_mongo::DEFAULT_COLLECTION)
                    .await?;
            let sessions = native
                .collection()
                .client()
                .database(database)
                .collection(&names.mongo_collection);
            let mut layout = store_mongo::ConnectMongoLayout::new(sessions);
            if let Some(limit) = timeout {
                layout = layout.with_operation_timeout(limit);
            }
            layout.migrate().await?;
            Ok(Arc::new(store_mongo::ConnectMongoStore::new(
                layout, format,
            )))
        }
        other => Err(StoreError::backend(format!(
            "SESSION_COMPAT=express shares a connect-redis, connect-pg-simple or connect-mongo \
             store: {} is none of them (or this build lacks its feature)",
            other.kind()
        ))),
    }
}
