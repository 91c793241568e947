//! The verifier as services run it: keys from a file, read again when a
//! token names a key it does not know, verified tokens remembered until
//! they expire.

use std::path::Path;
use std::time::{Duration, Instant};

use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Scope, TokenError, Verifier};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// The public keys of `issuers`, as one JWKS document.
fn jwks(issuers: &[&LocalIssuer]) -> String {
    let keys: Vec<Value> = issuers
        .iter()
        .flat_map(|issuer| {
            let set: Value = serde_json::from_str(&issuer.key_set().to_json()).unwrap();
            set["keys"].as_array().unwrap().clone()
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

/// Replaces the file whole, as a deployment would (never half written).
fn write(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

#[tokio::test]
async fn a_key_taken_out_of_the_key_file_stops_being_accepted_once_the_file_is_read_again() {
    let old = LocalIssuer::generate();
    let new = LocalIssuer::generate();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    write(&path, &jwks(&[&old, &new]));
    let shutdown = CancellationToken::new();
    let verifier = Verifier::start(KeySource::File(path.clone()), Expectations::default(), shutdown.clone())
        .await
        .unwrap();
    let grant = Grant::new("kadi", &[Role::Auditor], Scope::National);
    let old_token = old.issue(&grant);
    assert!(verifier.verify(&old_token).is_ok());
    assert!(verifier.verify(&old_token).is_ok(), "again, from the cache");

    // The old key is retired; a token naming a key the verifier does not
    // know makes it read the file again, at once.
    write(&path, &jwks(&[&new]));
    let stranger = LocalIssuer::generate().issue(&grant);
    assert!(matches!(
        verifier.verify(&stranger),
        Err(TokenError::UnknownKey(Some(_)))
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match verifier.verify(&old_token) {
            Err(TokenError::UnknownKey(Some(_))) => break,
            Ok(_) if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(20)).await,
            other => panic!("the retired key's token is still answered with {other:?}"),
        }
    }
    assert!(verifier.verify(&new.issue(&grant)).is_ok());
    shutdown.cancel();
}

#[tokio::test]
async fn a_verified_token_is_refused_once_it_expires() {
    let issuer = LocalIssuer::generate();
    let expect = Expectations {
        leeway_seconds: 0,
        ..Expectations::default()
    };
    let verifier = Verifier::start(KeySource::Fixed(issuer.key_set()), expect, CancellationToken::new())
        .await
        .unwrap();
    let token = issuer.issue(&Grant {
        lifetime: Duration::from_secs(2),
        ..Grant::new("moussa", &[Role::FieldAgent], Scope::National)
    });
    assert!(verifier.verify(&token).is_ok());
    assert!(verifier.verify(&token).is_ok());
    tokio::time::sleep(Duration::from_millis(3100)).await;
    assert_eq!(verifier.verify(&token), Err(TokenError::Expired));
}
