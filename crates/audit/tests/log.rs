//! The audit log on a real SQLite database: appends chain, the table refuses
//! edits, and an edit made anyway (triggers dropped) is found.

use jigi_audit::{AuditLog, Caller, Record};
use jigi_storage::{Call, Database, StorageError, params};

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
    let log = AuditLog::attach(db.clone()).unwrap();
    let appends = (0..300).map(|i| {
        let log = log.clone();
        tokio::spawn(async move { log.append(record(i)).await.unwrap() })
    });
    let mut sequences: Vec<i64> = futures_join(appends).await;
    sequences.sort();
    assert_eq!(sequences, (1..=300).collect::<Vec<i64>>());
    let verdict = log.verify().await.unwrap();
    assert_eq!((verdict.checked, verdict.broken), (300, None));

    // A restarted service continues the same chain.
    db.close().await;
    let db = database(dir.path()).await;
    let log = AuditLog::attach(db.clone()).unwrap();
    assert_eq!(log.append(record(300)).await.unwrap(), 301);
    assert_eq!(log.verify().await.unwrap().broken, None);
    assert_eq!(log.list(299, 10).await.unwrap().len(), 3);
}

#[tokio::test]
async fn the_table_refuses_edits_and_an_edit_forced_through_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path()).await;
    let log = AuditLog::attach(db.clone()).unwrap();
    for i in 0..5 {
        log.append(record(i)).await.unwrap();
    }
    let refused = exec(&db, "UPDATE audit_log SET outcome = 'OK' WHERE sequence = 3").await;
    assert!(refused.unwrap_err().to_string().contains("append-only"));
    assert!(exec(&db, "DELETE FROM audit_log").await.is_err());

    // Someone with the owner's rights drops the trigger and edits entry 3.
    exec(&db, "DROP TRIGGER audit_log_no_update").await.unwrap();
    exec(&db, "UPDATE audit_log SET subject = 'someone-else' WHERE sequence = 3")
        .await
        .unwrap();
    let verdict = log.verify().await.unwrap();
    let broken = verdict.broken.expect("the edit is detected");
    assert_eq!(broken.sequence, 3);
    assert_eq!(verdict.checked, 2);

    // Removing an entry instead shows as a gap.
    exec(&db, "DROP TRIGGER audit_log_no_delete").await.unwrap();
    exec(&db, "UPDATE audit_log SET subject = 'agent-2' WHERE sequence = 3")
        .await
        .unwrap();
    assert_eq!(
        log.verify().await.unwrap().broken,
        None,
        "restoring the entry restores the chain"
    );
    exec(&db, "DELETE FROM audit_log WHERE sequence = 2").await.unwrap();
    assert_eq!(log.verify().await.unwrap().broken.unwrap().sequence, 2);
}

async fn exec(db: &Database, sql: &'static str) -> Result<u64, StorageError> {
    db.write(move |conn| conn.execute(sql, params![])).await
}

#[tokio::test]
async fn a_calls_entry_is_written_with_its_command_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(
        &format!("sqlite://{}", dir.path().join("audit.db").display()),
        &[
            jigi_audit::MIGRATIONS,
            &[jigi_storage::Migration::portable(
                "demo",
                1,
                "t",
                "CREATE TABLE paid (id BIGINT PRIMARY KEY)",
            )],
        ]
        .concat(),
    )
    .await
    .unwrap();
    let log = AuditLog::attach(db.clone()).unwrap();
    let caller = |request_id: &str| {
        Call::new(Caller {
            subject: "m.coulibaly".into(),
            roles: "payment_approver".into(),
            scope: "sikasso".into(),
            service_area: "sikasso".into(),
            method: "/jigi.payments.v1.PaymentsService/ApprovePaymentCycle".into(),
            request_id: request_id.into(),
            trace_id: String::new(),
        })
    };
    let pay = |id: i64| {
        let db = db.clone();
        async move {
            db.write(move |conn| conn.execute("INSERT INTO paid (id) VALUES ($1)", params![id]))
                .await
        }
    };
    caller("r-1").scope(pay(1)).await.unwrap();
    // The same ID again: the command fails, its entry says so, nothing paid twice.
    let err = caller("r-2").scope(pay(1)).await.unwrap_err();
    assert!(matches!(err, StorageError::UniqueViolation(_)), "{err:?}");
    let entries = log.list(1, 10).await.unwrap();
    let outcomes: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.record.request_id.as_str(), e.record.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, [("r-1", "OK"), ("r-2", "INTERNAL")]);
    assert_eq!(log.verify().await.unwrap().broken, None);
}

async fn futures_join(handles: impl Iterator<Item = tokio::task::JoinHandle<i64>>) -> Vec<i64> {
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}
