//! Idempotent commands: a client sends a request ID with every command that
//! must not happen twice. The first answer is stored with a fingerprint of
//! the request, in the same transaction as the change it made; a retry with
//! the same ID and the same content gets that answer back, a reuse of the ID
//! with other content is refused.
//!
//! Every service uses it the same way: the API layer makes a
//! [`RequestKey`] from the request (its ID, and a fingerprint of its content
//! without the ID), and the command runs inside [`once`].

use sha2::{Digest, Sha256};

use crate::conn::Conn;
use crate::error::StorageError;
use crate::migrate::Migration;
use crate::params;

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

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What makes a command idempotent: which command (`scope`, usually the
/// RPC's name), the client's ID, and a fingerprint of the content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestKey {
    pub scope: &'static str,
    pub request_id: RequestId,
    fingerprint: String,
}

impl RequestKey {
    /// `content` is the request's encoding without its ID, so a retry with
    /// the same content has the same fingerprint.
    pub fn new(scope: &'static str, request_id: RequestId, content: &[u8]) -> RequestKey {
        RequestKey {
            scope,
            request_id,
            fingerprint: hex::encode(Sha256::digest([scope.as_bytes(), b"\0", content].concat())),
        }
    }
}

/// A request ID used again with other content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("request_id {0} was already used for a different request")]
pub struct RequestReused(pub RequestId);

/// An answer that can be stored and given back to a retry.
pub trait Remembered: Sized {
    fn to_stored(&self) -> Vec<u8>;
    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError>;
}

impl Remembered for String {
    fn to_stored(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError> {
        String::from_utf8(bytes.to_vec()).map_err(|err| StorageError::Decode(format!("stored answer: {err}")))
    }
}

impl Remembered for Vec<u8> {
    fn to_stored(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError> {
        Ok(bytes.to_vec())
    }
}

/// [`once`], also saying whether this call ran `command` (`false`: a retry
/// answered from the store), for counters that must not count a retry.
pub fn once_ran<T, E>(
    conn: &mut Conn,
    key: &RequestKey,
    command: impl FnOnce(&mut Conn) -> Result<T, E>,
) -> Result<(T, bool), E>
where
    T: Remembered,
    E: From<StorageError> + From<RequestReused>,
{
    let mut ran = false;
    let answer = once(conn, key, |conn| {
        ran = true;
        command(conn)
    })?;
    Ok((answer, ran))
}

/// Runs `command` once per request key: a retry of the same request gets
/// the stored answer without running it again; the same ID with other
/// content is refused. The answer is stored in the command's transaction.
pub fn once<T, E>(conn: &mut Conn, key: &RequestKey, command: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
where
    T: Remembered,
    E: From<StorageError> + From<RequestReused>,
{
    let stored: Option<(String, Vec<u8>)> = conn
        .query_opt(
            "SELECT fingerprint, response FROM idempotent_requests WHERE scope = $1 AND request_id = $2",
            params![key.scope, key.request_id.as_str()],
        )?
        .map(|row| Ok::<_, StorageError>((row.get(0)?, row.get(1)?)))
        .transpose()?;
    match stored {
        Some((fingerprint, answer)) if fingerprint == key.fingerprint => Ok(T::from_stored(&answer)?),
        Some(_) => Err(E::from(RequestReused(key.request_id.clone()))),
        None => {
            let answer = command(conn)?;
            conn.pipeline(
                "INSERT INTO idempotent_requests (scope, request_id, fingerprint, response, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
                params![
                    key.scope,
                    key.request_id.as_str(),
                    key.fingerprint,
                    answer.to_stored(),
                    crate::timestamp::now()
                ],
            )?;
            Ok(answer)
        }
    }
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

    #[derive(Debug, thiserror::Error)]
    enum Failure {
        #[error(transparent)]
        Storage(#[from] StorageError),
        #[error(transparent)]
        Reused(#[from] RequestReused),
    }

    impl crate::CommandFailure for Failure {
        fn outcome(&self) -> &'static str {
            "FAILED"
        }
    }

    #[tokio::test]
    async fn same_content_replays_other_content_conflicts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(&format!("sqlite://{}", dir.path().join("i.db").display()), MIGRATIONS)
            .await
            .unwrap();
        let runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let pay = |content: &'static [u8], scope: &'static str| {
            let key = RequestKey::new(scope, RequestId::parse("r-1").unwrap(), content);
            let runs = runs.clone();
            let db = db.clone();
            async move {
                db.write(move |conn| {
                    once(conn, &key, |_| {
                        let run = runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        Ok::<_, Failure>(format!("answer {run}"))
                    })
                })
                .await
            }
        };
        assert_eq!(pay(b"pay household 1", "pay").await.unwrap(), "answer 0");
        assert_eq!(pay(b"pay household 1", "pay").await.unwrap(), "answer 0");
        assert!(matches!(pay(b"pay household 2", "pay").await, Err(Failure::Reused(_))));
        // The same ID in another scope is another request.
        assert_eq!(pay(b"pay household 2", "enrol").await.unwrap(), "answer 1");
        assert_eq!(runs.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
