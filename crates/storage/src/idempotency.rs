//! Idempotent commands: a client sends a request ID with every command that
//! must not happen twice. The first answer is stored with a fingerprint of
//! the request, in the same transaction as the change it made; a retry with
//! the same ID and the same content gets that answer back, a reuse of the ID
//! with other content is refused.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::migrate::Migration;

/// Tables of the idempotency store.
pub const MIGRATIONS: &[Migration] = &[Migration {
    component: "idempotency",
    version: 1,
    name: "idempotent requests",
    sqlite: "CREATE TABLE idempotent_requests (
        scope TEXT NOT NULL,
        request_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response BLOB NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (scope, request_id)
    )",
    postgres: "CREATE TABLE idempotent_requests (
        scope TEXT NOT NULL,
        request_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        response BYTEA NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (scope, request_id)
    )",
}];

/// A client's request ID: 1 to 64 printable ASCII characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

/// Why a request ID was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestIdError {
    #[error("request_id is required")]
    Missing,
    #[error("request_id must be at most 64 printable ASCII characters without spaces")]
    Malformed,
}

impl RequestId {
    pub fn parse(text: &str) -> Result<RequestId, RequestIdError> {
        if text.is_empty() {
            return Err(RequestIdError::Missing);
        }
        if text.len() > 64 || !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(RequestIdError::Malformed);
        }
        Ok(RequestId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A fingerprint of a request's content (SHA-256 of its encoding).
pub fn fingerprint(encoded_request: &[u8]) -> String {
    hex::encode(Sha256::digest(encoded_request))
}

/// What the store knows of a request ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Never seen: carry out the command and [`remember`] its answer.
    New,
    /// Seen with the same content: return this stored answer.
    Same(Vec<u8>),
    /// Seen with other content: refuse.
    Conflict,
}

/// Looks up a request ID within a scope (usually the RPC's name).
pub async fn lookup(
    conn: &mut AnyConnection,
    scope: &str,
    request_id: &RequestId,
    fingerprint: &str,
) -> Result<Prior, sqlx::Error> {
    let row: Option<(String, Vec<u8>)> =
        sqlx::query_as("SELECT fingerprint, response FROM idempotent_requests WHERE scope = $1 AND request_id = $2")
            .bind(scope)
            .bind(request_id.as_str())
            .fetch_optional(conn)
            .await?;
    Ok(match row {
        None => Prior::New,
        Some((stored, response)) if stored == fingerprint => Prior::Same(response),
        Some(_) => Prior::Conflict,
    })
}

/// Stores the answer to a request, in the transaction that made its change.
pub async fn remember(
    conn: &mut AnyConnection,
    scope: &str,
    request_id: &RequestId,
    fingerprint: &str,
    response: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO idempotent_requests (scope, request_id, fingerprint, response, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(scope)
    .bind(request_id.as_str())
    .bind(fingerprint)
    .bind(response)
    .bind(crate::timestamp::now())
    .execute(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Database;

    #[test]
    fn request_ids_are_short_printable_ascii() {
        assert!(RequestId::parse("import-2018-10-01/row-7").is_ok());
        assert_eq!(RequestId::parse(""), Err(RequestIdError::Missing));
        assert_eq!(RequestId::parse("with space"), Err(RequestIdError::Malformed));
        assert_eq!(RequestId::parse(&"x".repeat(65)), Err(RequestIdError::Malformed));
        assert_eq!(RequestId::parse("é"), Err(RequestIdError::Malformed));
    }

    #[tokio::test]
    async fn same_content_replays_other_content_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&format!("sqlite://{}", dir.path().join("i.db").display()), MIGRATIONS)
            .await
            .unwrap();
        let id = RequestId::parse("r-1").unwrap();
        let first = fingerprint(b"pay household 1");
        let mut tx = db.begin_write().await.unwrap();
        assert_eq!(lookup(&mut tx, "pay", &id, &first).await.unwrap(), Prior::New);
        remember(&mut tx, "pay", &id, &first, b"answer").await.unwrap();
        tx.commit().await.unwrap();

        let mut conn = db.pool().acquire().await.unwrap();
        assert_eq!(
            lookup(&mut conn, "pay", &id, &first).await.unwrap(),
            Prior::Same(b"answer".to_vec())
        );
        let other = fingerprint(b"pay household 2");
        assert_eq!(lookup(&mut conn, "pay", &id, &other).await.unwrap(), Prior::Conflict);
        // The same ID in another scope is another request.
        assert_eq!(lookup(&mut conn, "enrol", &id, &other).await.unwrap(), Prior::New);
    }
}
