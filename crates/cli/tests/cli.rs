//! The real `jigi` binary, run as a user would.

use std::process::Command;

use jigi_common::Region;
use jigi_testkit::{NatsServer, sqlite_url};
use tokio_util::sync::CancellationToken;

fn jigi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jigi"))
}

#[test]
fn demo_imports_the_sample_and_prints_what_the_registry_holds() {
    let dir = tempfile::tempdir().unwrap();
    let output = jigi().arg("demo").arg("--data").arg(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("8 registered, 1 duplicates, 1 invalid"), "{stdout}");
    assert!(
        stdout.contains("has the same head of row 2"),
        "the duplicate names its line: {stdout}"
    );
    assert!(
        stdout.contains("household.members[0].birth_date"),
        "the invalid row names its field: {stdout}"
    );
    // Eight households in the table, one line each, names printed back.
    for head in ["Mariam Sangaré", "Seydou Diakité", "Kani Keïta", "Mamadou Koné"] {
        assert!(stdout.contains(head), "{head} printed: {stdout}");
    }
    assert!(!stdout.contains("Moussa Fofana"), "the invalid household is not listed");
    assert!(
        stdout.contains("stream JIGI_SIKASSO holds 8 events (0 still in the outbox)"),
        "{stdout}"
    );
    // The data stays in the folder it names.
    let runs: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let run = runs[0].as_ref().unwrap().path();
    assert!(run.join("registry-sikasso.db").exists());
    assert!(run.join("import-errors.csv").exists());
}

#[tokio::test]
async fn households_import_and_show_against_a_running_registry() {
    let nats = NatsServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let shutdown = CancellationToken::new();
    let running = jigi_registry::start(
        jigi_registry::Config::local(Region::Sikasso, &nats.url(), &sqlite_url(dir.path(), "registry")),
        shutdown.clone(),
    )
    .await
    .unwrap();
    let address = format!("http://{}", running.grpc_addr);
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/households-sample.csv");
    let file = dir.path().join("field.csv");
    std::fs::copy(&sample, &file).unwrap();

    let import = tokio::task::spawn_blocking({
        let (file, address) = (file.clone(), address.clone());
        move || {
            jigi()
                .args(["households", "import"])
                .arg(&file)
                .args(["--registry", &address])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&import.stdout);
    assert!(
        import.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&import.stderr)
    );
    assert!(
        stdout.contains("8 registered, 1 duplicates, 1 invalid, 0 lines unreadable"),
        "{stdout}"
    );
    let report = std::fs::read_to_string(dir.path().join("field.errors.csv")).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines[0], "line,outcome,field,message,household_id");
    assert!(lines[1].starts_with("32,duplicate,"), "{report}");
    assert!(
        lines[2].starts_with("33,invalid,household.members[0].birth_date,"),
        "{report}"
    );
    assert_eq!(lines.len(), 3);

    let id = running
        .registry
        .list(&Default::default())
        .await
        .unwrap()
        .households
        .into_iter()
        .next()
        .unwrap()
        .household_id;
    let show = tokio::task::spawn_blocking({
        let address = address.clone();
        move || {
            jigi()
                .args(["households", "show", &id, "--registry", &address])
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success());
    assert!(stdout.contains("Mariam Sangaré") && stdout.contains("head"), "{stdout}");

    // A service error is one line on stderr and a non-zero exit.
    let missing = tokio::task::spawn_blocking(move || {
        jigi()
            .args([
                "households",
                "show",
                "01900000-0000-7000-8000-000000000000",
                "--registry",
                &address,
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not found"), "{stderr}");
    shutdown.cancel();
    running.stopped().await;
}
