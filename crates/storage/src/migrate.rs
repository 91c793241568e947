//! Versioned schema migrations.
//!
//! Each piece of shared code that owns tables (the outbox, the inbox, the
//! idempotency store) and each service brings its own numbered migrations
//! under its own component name, so they can evolve independently in one
//! database. Applied migrations are recorded with a checksum; changing an
//! applied migration, or running an older build on a newer database, is
//! refused at start rather than discovered later.

use sha2::{Digest, Sha256};

use crate::conn::{Backend, Conn};
use crate::error::StorageError;
use crate::params;

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Who owns the tables, e.g. `outbox` or `registry`.
    pub component: &'static str,
    /// 1, 2, 3… within the component; applied in this order.
    pub version: i64,
    /// A few words on what it does.
    pub name: &'static str,
    /// Statements for SQLite.
    pub sqlite: &'static str,
    /// Statements for PostgreSQL.
    pub postgres: &'static str,
}

impl Migration {
    /// A migration whose SQL is the same on both backends.
    pub const fn portable(component: &'static str, version: i64, name: &'static str, sql: &'static str) -> Migration {
        Migration {
            component,
            version,
            name,
            sqlite: sql,
            postgres: sql,
        }
    }

    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }

    fn checksum(&self, backend: Backend) -> String {
        hex::encode(Sha256::digest(self.sql(backend).as_bytes()))
    }
}

const CREATE_LEDGER: &str = "CREATE TABLE IF NOT EXISTS jigi_schema_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (component, version)
)";

/// Applies every migration not yet applied, each in its own transaction.
pub(crate) fn apply(conn: &mut Conn, migrations: &[Migration]) -> Result<(), StorageError> {
    conn.execute_batch(CREATE_LEDGER)?;
    let mut ordered = migrations.to_vec();
    ordered.sort_by_key(|m| (m.component, m.version));
    for migration in &ordered {
        conn.begin_write()?;
        match apply_one(conn, migration) {
            Ok(()) => conn.commit()?,
            Err(err) => {
                conn.rollback();
                return Err(err);
            }
        }
    }
    check_not_newer(conn, &ordered)
}

fn apply_one(conn: &mut Conn, migration: &Migration) -> Result<(), StorageError> {
    let backend = conn.backend();
    let checksum = migration.checksum(backend);
    let applied: Option<String> = conn.query_scalar_opt(
        "SELECT checksum FROM jigi_schema_migrations WHERE component = $1 AND version = $2",
        params![migration.component, migration.version],
    )?;
    match applied {
        Some(stored) if stored == checksum => return Ok(()),
        Some(_) => {
            return Err(StorageError::MigrationChanged {
                component: migration.component.to_owned(),
                version: migration.version,
            });
        }
        None => {}
    }
    tracing::info!(
        component = migration.component,
        version = migration.version,
        name = migration.name,
        "applying migration"
    );
    conn.execute_batch(migration.sql(backend))?;
    conn.execute(
        "INSERT INTO jigi_schema_migrations (component, version, name, checksum, applied_at) \
         VALUES ($1, $2, $3, $4, $5)",
        params![
            migration.component,
            migration.version,
            migration.name,
            checksum,
            crate::timestamp::now()
        ],
    )?;
    Ok(())
}

/// Refuses a database that a newer build has migrated further than this one knows.
fn check_not_newer(conn: &mut Conn, known: &[Migration]) -> Result<(), StorageError> {
    let rows = conn.query(
        "SELECT component, MAX(version) AS version FROM jigi_schema_migrations GROUP BY component",
        params![],
    )?;
    for row in rows {
        let component: String = row.get("component")?;
        let version: i64 = row.get("version")?;
        let known_max = known
            .iter()
            .filter(|m| m.component == component)
            .map(|m| m.version)
            .max();
        if known_max.is_some_and(|max| version > max) {
            return Err(StorageError::MigrationTooNew { component, version });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Migration = Migration::portable("demo", 1, "create", "CREATE TABLE demo (id BIGINT PRIMARY KEY)");
    const V2: Migration = Migration::portable("demo", 2, "add column", "ALTER TABLE demo ADD COLUMN note TEXT");

    use crate::Database;

    async fn open(path: &std::path::Path, migrations: &[Migration]) -> Result<Database, StorageError> {
        Database::open(&format!("sqlite://{}", path.display()), migrations).await
    }

    async fn count(db: &Database, sql: &'static str) -> i64 {
        db.read(move |conn| conn.query_scalar::<i64>(sql, params![]))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn applies_once_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        // Given out of order on purpose.
        let db = open(&path, &[V2, V1]).await.unwrap();
        db.write(|conn| conn.execute("INSERT INTO demo (id, note) VALUES (1, 'x')", params![]))
            .await
            .unwrap();
        db.close().await;
        // Re-opening applies nothing again (a second CREATE TABLE would fail).
        let db = open(&path, &[V1, V2]).await.unwrap();
        assert_eq!(count(&db, "SELECT COUNT(*) FROM jigi_schema_migrations").await, 2);
    }

    #[tokio::test]
    async fn refuses_an_edited_migration_and_an_older_build() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        open(&path, &[V1, V2]).await.unwrap().close().await;
        let edited = Migration::portable("demo", 1, "create", "CREATE TABLE demo (id BIGINT)");
        assert!(matches!(
            open(&path, &[edited, V2]).await,
            Err(StorageError::MigrationChanged { version: 1, .. })
        ));
        assert!(matches!(
            open(&path, &[V1]).await,
            Err(StorageError::MigrationTooNew { version: 2, .. })
        ));
    }

    #[tokio::test]
    async fn a_failing_migration_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let broken = Migration::portable(
            "demo",
            1,
            "broken",
            "CREATE TABLE demo (id BIGINT); SELECT * FROM missing_table",
        );
        assert!(open(&path, &[broken]).await.is_err());
        let db = open(&path, &[V1]).await.unwrap();
        assert_eq!(count(&db, "SELECT COUNT(*) FROM jigi_schema_migrations").await, 1);
    }
}
