//! The indexes of both collections, created idempotently by [`crate::MongoStore::migrate`].

use std::time::Duration;

use mongodb::Collection;
use mongodb::IndexModel;
use mongodb::bson::{Document, doc};
use mongodb::options::IndexOptions;
use session_core::store::{REVOCATION_HORIZON, StoreError};

use crate::codec::field;
use crate::error::store_error;
use crate::revoke::rfield;

/// Creates, on the sessions collection, the TTL index on `expires_at` (the server deletes a
/// document once its deadline passes; `expireAfterSeconds: 0`), the TTL index on
/// `pending_until` (an abandoned rotation's placeholder goes the same way), the per-user
/// index on `user` and the listing's on `(user, created_at, _id)`, and a sparse index on `binds.u` (a revocation finds the binding
/// intents of its user without a scan); on the revocations collection, the TTL index on
/// `at` that forgets a revocation after [`REVOCATION_HORIZON`]. Creating an index that
/// already exists with the same definition is a no-op on the server.
pub async fn create_indexes(
    sessions: &Collection<Document>,
    revocations: &Collection<Document>,
) -> Result<(), StoreError> {
    let session_indexes = [
        ttl(field::EXPIRES_AT, "expires_at_ttl", Duration::ZERO),
        ttl(field::PENDING_UNTIL, "pending_until_ttl", Duration::ZERO),
        IndexModel::builder()
            .keys(doc! { field::USER: 1 })
            .options(IndexOptions::builder().name("user".to_owned()).build())
            .build(),
        // The newest-first listing of one user's sessions walks this one (issue 12; made
        // by `migrate` on existing collections as well).
        IndexModel::builder()
            .keys(doc! { field::USER: 1, field::CREATED_AT: -1, field::ID: -1 })
            .options(
                IndexOptions::builder()
                    .name("user_created".to_owned())
                    .build(),
            )
            .build(),
        IndexModel::builder()
            .keys(doc! { format!("{}.{}", field::BINDS, field::BIND_USER): 1 })
            .options(
                IndexOptions::builder()
                    .name("binds_user".to_owned())
                    .sparse(true)
                    .build(),
            )
            .build(),
    ];
    sessions
        .create_indexes(session_indexes)
        .await
        .map_err(store_error)?;
    revocations
        .create_index(ttl(rfield::AT, "at_ttl", REVOCATION_HORIZON))
        .await
        .map(drop)
        .map_err(store_error)
}

fn ttl(field: &str, name: &str, after: Duration) -> IndexModel {
    IndexModel::builder()
        .keys(doc! { field: 1 })
        .options(
            IndexOptions::builder()
                .name(name.to_owned())
                .expire_after(after)
                .build(),
        )
        .build()
}
