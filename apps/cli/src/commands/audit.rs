//! `jigi audit`: checking a service's audit log.

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recomputes the hash chain of a service's audit log, read straight
    /// from its database, and says where it breaks (exit code 1 if it does).
    ///
    /// Example: jigi audit verify --database sqlite://jigi-data/payments-sikasso.db
    Verify {
        /// The service's database URL (sqlite://… or postgres://…).
        #[arg(long, env = "JIGI_DATABASE_URL")]
        database: String,
    },
}

pub async fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { database } => {
            if let Some(path) = database
                .strip_prefix("sqlite://")
                .map(|rest| rest.split('?').next().unwrap_or(rest))
                && !std::path::Path::new(path).exists()
            {
                anyhow::bail!("no database at {path}");
            }
            // Opening applies no migration the log lacks: the audit table
            // must already be there, or this is not a service's database.
            let db = jigi_storage::Database::open(&database, &[])
                .await
                .map_err(|err| anyhow::anyhow!("cannot open {database}: {err}"))?;
            let verdict = jigi_audit::verify(&db)
                .await
                .map_err(|err| anyhow::anyhow!("cannot read the audit log of {database}: {err}"))?;
            db.close().await;
            match verdict.broken {
                None => {
                    println!(
                        "intact: {} entries, head hash {} (note it down: a later truncation shows as a missing head)",
                        verdict.checked, verdict.head_hash
                    );
                    Ok(())
                }
                Some(broken) => anyhow::bail!(
                    "BROKEN at entry {}: {} ({} entries before it verify)",
                    broken.sequence,
                    broken.problem,
                    verdict.checked
                ),
            }
        }
    }
}
