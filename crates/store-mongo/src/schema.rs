//! The collection's indexes, created idempotently by [`crate::MongoStore::migrate`].

use std::time::Duration;

use mongodb::Collection;
use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use session_core::StoreError;

use crate::codec::field;
use crate::error::store_error;

/// Creates the TTL index on `expires_at` (the server deletes a document once its deadline
/// passes; `expireAfterSeconds: 0`) and the per-user index on `user`. Creating an index
/// that already exists with the same definition is a no-op on the server.
pub async fn create_indexes(collection: &Collection<Document>) -> Result<(), StoreError> {
    let ttl = IndexModel::builder()
        .keys(doc! { field::EXPIRES_AT: 1 })
        .options(
            IndexOptions::builder()
                .name("expires_at_ttl".to_owned())
                .expire_after(Duration::ZERO)
                .build(),
        )
        .build();
    let by_user = IndexModel::builder()
        .keys(doc! { field::USER: 1 })
        .options(IndexOptions::builder().name("user".to_owned()).build())
        .build();
    collection
        .create_indexes([ttl, by_user])
        .await
        .map(drop)
        .map_err(store_error)
}
