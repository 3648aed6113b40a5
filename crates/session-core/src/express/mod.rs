//! Express-compatible mode: share sessions with an Express app (express-session with
//! connect-redis, connect-pg-simple or connect-mongo) during a migration, one route at a
//! time, behind one load balancer, without logging anyone out. Opt-in; off by default.
//!
//! Three parts, each explicit in the types:
//!
//! - **Cookie**: [`SessionConfig::express_builder`](crate::SessionConfig::express_builder)
//!   (or [`express_compatible`](crate::SessionConfigBuilder::express_compatible)) makes the
//!   codec speak express-session's `connect.sid=s:<sid>.<sig>` with its secret list. Ids it
//!   reads or mints carry a [`SidKeying`](crate::SidKeying): the store key is the plain id
//!   beside a connect-* layout, its SHA-256 on the native layout after migration.
//! - **Record**: [`ExpressFormat`] maps a [`Record`](crate::Record) onto the JSON
//!   express-session stores (user data at the top level beside `cookie`), tolerantly.
//! - **Layout**: [`ExpressStore`] over a [`ConnectLayout`], which each store crate
//!   implements next to its native layout (`store-redis`: connect-redis, `store-postgres`:
//!   connect-pg-simple, `store-mongo`: connect-mongo).
//!
//! # What this mode gives up (compared with the native layouts)
//!
//! | | native | Express-compatible |
//! |---|---|---|
//! | ids at rest | SHA-256 of the id: a leaked database holds no live session | **the plain id**: whoever reads the store can hijack every session in it |
//! | cookie | 256-bit id, HMAC under a derived 256-bit key, name bound in; or sealed | express-session's: 192-bit id, HMAC-SHA256 under the secret string as given |
//! | concurrent writes of different keys | all survive, one atomic round trip | all survive **among Rust writers** (read + compare-and-set, retried); a **Node write is whole-record, last writer wins**: it drops Rust writes that landed during its request |
//! | strict conflict policy | every writer | Rust writers only (Node does not bump `version`) |
//! | per-user index (`sessions_of`, "log out everywhere", revocation) | yes | **none**: these fail with [`Unsupported`] |
//! | rotation racing a logout | atomic | insert new, then delete old if unchanged, else undo: same outcome, two steps |
//! | absolute timeout | from `created_at` | ours, from `rustSession.createdAt`; for a session Node created, from the first Rust request that saw it (Node itself enforces none) |
//! | expiry | the store's, per record | the store's, as connect-* set it: `cookie.expires`, else the store's TTL |
//!
//! Once the Node app is switched off, move the sessions to the native layout with the
//! migration (`cargo run -p example-support --bin migrate-express`, see the examples'
//! README) and switch to [`SidKeying::Hashed`](crate::SidKeying::Hashed): the cookies keep
//! working, and ids are hashed at rest again.

pub(crate) mod cookie;
mod migrate;
mod record;
mod store;

pub use cookie::ExpressSecrets;
pub use migrate::{ExpressSource, MigrationOptions, MigrationReport, migrate_to_native};
pub use record::{ExpressFormat, META_FIELD};
pub use store::{ConnectLayout, ExpressStore, MAX_CAS_ATTEMPTS, Stored, Unsupported};

/// A session object as the JSON text connect-* stores keep (a string for connect-redis,
/// connect-pg-simple's `json` column and connect-mongo's `session` field alike).
pub fn session_text(session: &serde_json::Value) -> Result<String, crate::store::StoreError> {
    serde_json::to_string(session).map_err(|e| crate::store::StoreError::Encode(e.to_string()))
}

/// `Date#toISOString()` of `at`, as express-session writes `cookie.expires`.
pub fn iso_8601(at: crate::Timestamp) -> String {
    record::iso_8601(at)
}
