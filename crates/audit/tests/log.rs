//! The audit log on a real SQLite database: appends chain, the table refuses
//! edits, and an edit made anyway (triggers dropped) is found.

use jigi_audit::{AuditLog, Record};
use jigi_storage::Database;

fn record(index: usize) -> Record {
    Record {
        recorded_at: jigi_storage::timestamp::now_utc(),
        subject: format!("agent-{index}"),
        roles: "field_agent".into(),
        scope: "sikasso".into(),
        service_area: "sikasso".into(),
        method: "/jigi.registry.v1.RegistryService/RegisterHousehold".into(),
        request_id: format!("r-{index}"),
        trace_id: String::new(),
        outcome: "OK".into(),
    }
}

async fn database(dir: &std::path::Path) -> Database {
    let url = format!("sqlite://{}", dir.join("audit.db").display());
    Database::open(&url, jigi_audit::MIGRATIONS).await.unwrap()
}

#[tokio::test]
async fn concurrent_appends_form_one_chain_that_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let log = AuditLog::open(db.clone()).await.unwrap();
    let appends = (0..300).map(|i| {
        let log = log.clone();
        tokio::spawn(async move { log.append(record(i)).await.unwrap() })
    });
    let mut sequences: Vec<i64> = futures_join(appends).await;
    sequences.sort();
    assert_eq!(sequences, (1..=300).collect::<Vec<i64>>());
    let verdict = log.verify().await.unwrap();
    assert_eq!((verdict.checked, verdict.broken), (300, None));

    // A new writer (a restarted service) continues the same chain.
    drop(log);
    let log = AuditLog::open(db.clone()).await.unwrap();
    assert_eq!(log.append(record(300)).await.unwrap(), 301);
    assert_eq!(log.verify().await.unwrap().broken, None);
    assert_eq!(log.list(299, 10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_table_refuses_edits_and_an_edit_forced_through_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let log = AuditLog::open(db.clone()).await.unwrap();
    for i in 0..5 {
        log.append(record(i)).await.unwrap();
    }
    let refused = sqlx::query("UPDATE audit_log SET outcome = 'OK' WHERE sequence = 3")
        .execute(db.pool())
        .await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    assert!(sqlx::query("DELETE FROM audit_log").execute(db.pool()).await.is_err());

    // Someone with the owner's rights drops the trigger and edits entry 3.
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET subject = 'someone-else' WHERE sequence = 3")
        .execute(db.pool())
        .await
        .unwrap();
    let verdict = log.verify().await.unwrap();
    let broken = verdict.broken.expect("the edit is detected");
    assert_eq!(broken.sequence, 3);
    assert_eq!(verdict.checked, 2);

    // Removing an entry instead shows as a gap.
    sqlx::query("DROP TRIGGER audit_log_no_delete")
        .execute(db.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET subject = 'agent-2' WHERE sequence = 3")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        log.verify().await.unwrap().broken,
        None,
        "restoring the entry restores the chain"
    );
    sqlx::query("DELETE FROM audit_log WHERE sequence = 2")
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(log.verify().await.unwrap().broken.unwrap().sequence, 2);
}

async fn futures_join(handles: impl Iterator<Item = tokio::task::JoinHandle<i64>>) -> Vec<i64> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
