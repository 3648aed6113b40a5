//! How PostgreSQL stores sessions, for the shared code of `store-sql`: escaped `jsonb` in
//! `data`, escaped user ids, and which SQLSTATEs mean "unavailable".

use std::borrow::Cow;

use session_core::store::{Data, StoreError};
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgQueryResult, PgRow};
use sqlx::types::Json;
use sqlx::{Postgres, Row};
use store_sql::Dialect;

use crate::codec::{JsonbText, decode_data, encode_data, escape_str, unescape_str};

/// SQLSTATEs (besides class 08, connection exceptions) that mean the server cannot serve
/// us right now: too many connections, admin/crash shutdown, starting up.
const UNAVAILABLE_STATES: &[&str] = &["53300", "57P01", "57P02", "57P03"];

/// The PostgreSQL [`Dialect`].
pub(crate) struct PgDialect;

impl Dialect for PgDialect {
    type Db = Postgres;
    type Data = JsonbText;

    const BATCH_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
    const KEY_AMONG: (&'static str, &'static str) = ("key = ANY(ARRAY(", "))");

    fn is_unavailable(e: &dyn DatabaseError) -> bool {
        let state = e.code().unwrap_or_default();
        state.starts_with("08") || UNAVAILABLE_STATES.contains(&&*state)
    }

    fn rows_affected(done: &PgQueryResult) -> u64 {
        done.rows_affected()
    }

    fn encode_data(data: &Data) -> Result<JsonbText, StoreError> {
        Ok(encode_data(data))
    }

    fn decode_data(row: &PgRow) -> Result<Data, StoreError> {
        let Json(data): Json<Data> = row.try_get("data").map_err(Self::map_error)?;
        decode_data(data)
    }

    fn encode_text(s: &str) -> Cow<'_, str> {
        escape_str(s)
    }

    fn decode_text(s: String) -> Result<String, StoreError> {
        unescape_str(s)
    }
}
