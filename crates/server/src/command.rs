//! How a command ends when it does not succeed, the same in every service,
//! and the status a client sees for each way.
//!
//! Services' application layers return [`CommandError`]; they never build
//! gRPC statuses. The API layer turns it into a [`Status`] with
//! `?`/[`From`], and the write path records its [`CommandFailure::outcome`]
//! in the audit log.

use jigi_common::FieldError;
use jigi_common::id::{Id, Names};
use jigi_storage::idempotency::{RequestId, RequestKey, RequestReused};
use jigi_storage::{CommandFailure, StorageError};
use tonic::Status;

use crate::status;

/// Why a command was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The request itself is wrong: every offending field is named.
    #[error("invalid request: {}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// What the request names does not exist.
    #[error("{kind} {id} not found")]
    NotFound { kind: &'static str, id: String },
    /// A rule forbids it now; `kind` is a short machine-readable reason
    /// (`NOT_ELIGIBLE`, `CYCLE_NOT_APPROVED`…), `subject` what it is about.
    #[error("{message}")]
    Refused {
        kind: &'static str,
        subject: String,
        message: String,
    },
    /// It would make something that already exists (a duplicate household,
    /// a second payment).
    #[error("{message}")]
    Exists {
        kind: &'static str,
        id: String,
        message: String,
    },
    /// The request ID was used before for another request.
    #[error("request_id {0} was already used for a different request")]
    RequestReused(String),
    /// The database failed; [`StorageError::is_transient`] says whether a
    /// retry can succeed.
    #[error(transparent)]
    Storage(StorageError),
}

fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| format!("{} {}", e.field, e.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl CommandError {
    /// A single invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> CommandError {
        CommandError::Invalid(vec![FieldError::new(field, description)])
    }

    pub fn not_found(kind: &'static str, id: impl Into<String>) -> CommandError {
        CommandError::NotFound { kind, id: id.into() }
    }

    pub fn refused(kind: &'static str, subject: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError::Refused {
            kind,
            subject: subject.into(),
            message: message.into(),
        }
    }

    pub fn exists(kind: &'static str, id: impl Into<String>, message: impl Into<String>) -> CommandError {
        CommandError::Exists {
            kind,
            id: id.into(),
            message: message.into(),
        }
    }
}

impl From<StorageError> for CommandError {
    fn from(err: StorageError) -> Self {
        match err {
            // The database's uniqueness rules back up the services' own
            // checks: two writers racing end here rather than in a double.
            StorageError::UniqueViolation(_) => CommandError::Exists {
                kind: "record",
                id: String::new(),
                message: "the same record was written at the same moment by another request; nothing was changed"
                    .into(),
            },
            other => CommandError::Storage(other),
        }
    }
}

impl From<RequestReused> for CommandError {
    fn from(err: RequestReused) -> Self {
        CommandError::RequestReused(err.0.to_string())
    }
}

impl From<Vec<FieldError>> for CommandError {
    fn from(errors: Vec<FieldError>) -> Self {
        CommandError::Invalid(errors)
    }
}

impl CommandFailure for CommandError {
    fn outcome(&self) -> &'static str {
        match self {
            CommandError::Invalid(_) => "INVALID_ARGUMENT",
            CommandError::NotFound { .. } => "NOT_FOUND",
            CommandError::Refused { .. } => "FAILED_PRECONDITION",
            CommandError::Exists { .. } | CommandError::RequestReused(_) => "ALREADY_EXISTS",
            CommandError::Storage(err) => err.outcome(),
        }
    }
}

impl From<CommandError> for Status {
    fn from(err: CommandError) -> Status {
        match err {
            CommandError::Invalid(errors) => status::invalid_argument(&errors),
            CommandError::NotFound { kind, id } => status::not_found(kind, &id),
            CommandError::Refused { kind, subject, message } => status::failed_precondition(kind, &subject, message),
            CommandError::Exists { kind, id, message } => status::already_exists(kind, &id, message),
            CommandError::RequestReused(request_id) => status::already_exists(
                "request",
                &request_id,
                format!("request_id {request_id} was already used with different content; use a new request_id"),
            ),
            CommandError::Storage(err) => status::storage(&err),
        }
    }
}

/// What makes a command happen once: its scope (usually its RPC), the
/// client's request ID — required, as a tablet retrying over a poor link
/// must not register, pay or move flour twice — and the request's content
/// without the ID, so an ID reused for other content is refused. A missing
/// or malformed ID is an invalid `request_id`.
pub fn request_key(scope: &'static str, request_id: &str, content: &[u8]) -> Result<RequestKey, CommandError> {
    let request_id =
        RequestId::parse(request_id).map_err(|err| CommandError::invalid("request_id", err.to_string()))?;
    Ok(RequestKey::new(scope, request_id, content))
}

/// An ID (a household's, a person's, a cycle's) from a request's `field`,
/// or that field named invalid.
pub fn parse_id<K: Names>(field: &'static str, text: &str) -> Result<Id<K>, CommandError> {
    Id::parse(text).map_err(|err| CommandError::invalid(field, err.to_string()))
}

/// An API answer remembered under its request ID (see
/// [`jigi_storage::idempotency`]) as its protobuf encoding, and given back,
/// byte for byte, to a retry. The API layer hands an application command a
/// function that makes it from the command's domain outcome, so the
/// application layer never sees the wire format.
pub struct WireAnswer<M>(pub M);

impl<M: prost::Message + Default> jigi_storage::idempotency::Remembered for WireAnswer<M> {
    fn to_stored(&self) -> Vec<u8> {
        self.0.encode_to_vec()
    }

    fn from_stored(bytes: &[u8]) -> Result<Self, StorageError> {
        M::decode(bytes)
            .map(WireAnswer)
            .map_err(|err| StorageError::Decode(format!("stored answer: {err}")))
    }
}
