//! What can go wrong in the storage layer, sorted by what a caller can do
//! about it: retry later ([`StorageError::is_transient`]), tell the client
//! the record already exists, or report an internal fault.

/// A failure of the storage layer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StorageError {
    #[error("unsupported database URL {0:?}: expected sqlite://… or postgres://…")]
    UnsupportedUrl(String),
    #[error("migration {component} v{version} was changed after it was applied (checksum differs)")]
    MigrationChanged { component: String, version: i64 },
    #[error("database has migration {component} v{version}, newer than this build knows")]
    MigrationTooNew { component: String, version: i64 },
    /// The disk (or the database's quota) is full. Nothing was written;
    /// writes succeed again as soon as space is freed.
    #[error("the database's disk is full: {0}")]
    Full(String),
    /// Another process holds the database, or a deadlock was broken: retry.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The database cannot be reached or was closed: retry later.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness rule of the schema refused the write.
    #[error("a unique key already exists: {0}")]
    UniqueViolation(String),
    /// A stored value is not what the code reads it as.
    #[error("cannot read a stored value: {0}")]
    Decode(String),
    /// Any other failure of a statement.
    #[error("{0}")]
    Sql(String),
}

impl StorageError {
    /// Whether trying again later can succeed without anyone changing anything.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StorageError::Full(_) | StorageError::Busy(_) | StorageError::Unavailable(_)
        )
    }

    /// The short name of the failure's kind, for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            StorageError::UnsupportedUrl(_) => "unsupported_url",
            StorageError::MigrationChanged { .. } | StorageError::MigrationTooNew { .. } => "migration",
            StorageError::Full(_) => "disk_full",
            StorageError::Busy(_) => "busy",
            StorageError::Unavailable(_) => "unavailable",
            StorageError::UniqueViolation(_) => "unique_violation",
            StorageError::Decode(_) => "decode",
            StorageError::Sql(_) => "sql",
        }
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(err: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        let text = err.to_string();
        match err.sqlite_error() {
            Some(failure) => match failure.code {
                ErrorCode::DiskFull => StorageError::Full(text),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => StorageError::Busy(text),
                ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::NoLargeFileSupport => {
                    // An I/O failure writing the WAL is how a full disk
                    // shows on some filesystems; both pass when space returns.
                    if failure.extended_code == rusqlite::ffi::SQLITE_IOERR_WRITE
                        || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_FSYNC
                        || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_TRUNCATE
                    {
                        StorageError::Full(text)
                    } else {
                        StorageError::Unavailable(text)
                    }
                }
                ErrorCode::ConstraintViolation
                    if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                        || failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
                {
                    StorageError::UniqueViolation(text)
                }
                _ => StorageError::Sql(text),
            },
            None => match err {
                rusqlite::Error::FromSqlConversionFailure(..)
                | rusqlite::Error::IntegralValueOutOfRange(..)
                | rusqlite::Error::InvalidColumnType(..) => StorageError::Decode(text),
                _ => StorageError::Sql(text),
            },
        }
    }
}

impl From<tokio_postgres::Error> for StorageError {
    fn from(err: tokio_postgres::Error) -> Self {
        use tokio_postgres::error::SqlState;
        let text = match err.as_db_error() {
            Some(db) => format!("{}: {}", db.code().code(), db.message()),
            None => err.to_string(),
        };
        if err.is_closed() {
            return StorageError::Unavailable(text);
        }
        match err.code() {
            Some(code) if *code == SqlState::DISK_FULL => StorageError::Full(text),
            Some(code)
                if *code == SqlState::T_R_SERIALIZATION_FAILURE
                    || *code == SqlState::T_R_DEADLOCK_DETECTED
                    || *code == SqlState::LOCK_NOT_AVAILABLE =>
            {
                StorageError::Busy(text)
            }
            Some(code)
                if *code == SqlState::ADMIN_SHUTDOWN
                    || *code == SqlState::TOO_MANY_CONNECTIONS
                    || *code == SqlState::INSUFFICIENT_RESOURCES
                    || *code == SqlState::OUT_OF_MEMORY
                    || *code == SqlState::CANNOT_CONNECT_NOW =>
            {
                StorageError::Unavailable(text)
            }
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => StorageError::UniqueViolation(text),
            Some(_) => StorageError::Sql(text),
            // No server code: the connection itself failed.
            None => StorageError::Unavailable(text),
        }
    }
}
