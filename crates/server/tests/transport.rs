//! A service's API over TLS with tokens checked against an identity
//! provider's key set fetched over HTTP: the keys are cached, so a service
//! restarted while the provider is unreachable still accepts tokens; and a
//! rotated key file is picked up when a token names the new key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Scope, ServiceArea};
use jigi_common::Region;
use jigi_proto::audit::VerifyAuditChainRequest;
use jigi_proto::audit::audit_service_client::AuditServiceClient;
use jigi_server::serving::{AccessSettings, TlsFiles};
use jigi_server::{GrpcServer, Metrics, ServeConfig};
use jigi_storage::Database;
use jigi_testkit::ServerTls;
use tokio_util::sync::CancellationToken;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

/// Serves `jwks` at `http://127.0.0.1:<port>/certs` until `stop`.
async fn identity_provider(jwks: String, stop: CancellationToken) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/certs", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/certs", axum::routing::get(move || async move { jwks }));
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
            .unwrap();
    });
    url
}

/// A server with only the built-in APIs (audit, health), serving as `config` says.
async fn serve(config: &ServeConfig, dir: &Path, shutdown: &CancellationToken) -> SocketAddr {
    let url = format!("sqlite://{}", dir.join("service.db").display());
    let database = Database::open(&url, jigi_audit::MIGRATIONS).await.unwrap();
    let server = GrpcServer::new(
        Metrics::new("test"),
        ServiceArea::Region(Region::Sikasso),
        config,
        jigi_audit::AuditLog::attach(database).unwrap(),
        shutdown,
    )
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = shutdown.clone();
    tokio::spawn(async move { server.serve(listener, shutdown).await.unwrap() });
    addr
}

fn tls_endpoint(addr: SocketAddr, ca: &Path) -> tonic::transport::Endpoint {
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(std::fs::read(ca).unwrap()))
        .domain_name("localhost");
    Channel::from_shared(format!("https://localhost:{}", addr.port()))
        .unwrap()
        .tls_config(tls)
        .unwrap()
}

async fn verify_chain(channel: &Channel, token: Option<&str>) -> Result<(), tonic::Status> {
    let mut request = tonic::Request::new(VerifyAuditChainRequest {});
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    AuditServiceClient::new(channel.clone())
        .verify_audit_chain(request)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn tls_and_tokens_from_a_providers_url_survive_the_provider_going_away() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ServerTls::generate(dir.path(), "jigi");
    let issuer = LocalIssuer::generate();
    let provider = CancellationToken::new();
    let url = identity_provider(issuer.key_set().to_json(), provider.clone()).await;
    let cache = dir.path().join("jwks-cache.json");
    let config = ServeConfig {
        access: AccessSettings::Tokens {
            keys: KeySource::Url {
                url: url.clone(),
                cache_file: Some(cache.clone()),
            },
            expect: Expectations::default(),
        },
        tls: Some(TlsFiles {
            cert: pki.cert.clone(),
            key: pki.key.clone(),
        }),
        ..ServeConfig::local()
    };
    let auditor = issuer.issue(&Grant::new("kadi", &[Role::Auditor], Scope::National));

    let shutdown = CancellationToken::new();
    let addr = serve(&config, dir.path(), &shutdown).await;
    // Plaintext gets no answer: the API speaks TLS only.
    if let Ok(plain) = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await {
        assert!(
            verify_chain(&plain, Some(&auditor)).await.is_err(),
            "a plaintext call was answered"
        );
    }
    // A client that does not trust the server's CA does not get through.
    let other = ServerTls::generate(&dir.path().join("other"), "other");
    let untrusted = tls_endpoint(addr, &other.ca).connect().await;
    assert!(untrusted.is_err(), "a certificate from an unknown CA is refused");

    let channel = tls_endpoint(addr, &pki.ca).connect().await.expect("connects over TLS");
    assert_eq!(
        verify_chain(&channel, None).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    verify_chain(&channel, Some(&auditor))
        .await
        .expect("the auditor's token is accepted");
    assert!(cache.exists(), "the key set is kept for outages");
    shutdown.cancel();

    // The provider goes away; the service restarts and still accepts tokens.
    provider.cancel();
    let shutdown = CancellationToken::new();
    let addr = serve(&config, dir.path(), &shutdown).await;
    let channel = tls_endpoint(addr, &pki.ca).connect().await.unwrap();
    verify_chain(&channel, Some(&auditor))
        .await
        .expect("keys from the cache while the provider is unreachable");
    shutdown.cancel();

    // Without a cache, nothing is accepted until the provider answers.
    let no_cache = ServeConfig {
        access: AccessSettings::Tokens {
            keys: KeySource::Url { url, cache_file: None },
            expect: Expectations::default(),
        },
        ..config.clone()
    };
    let other_dir = dir.path().join("no-cache");
    std::fs::create_dir_all(&other_dir).unwrap();
    let shutdown = CancellationToken::new();
    let addr = serve(&no_cache, &other_dir, &shutdown).await;
    let channel = tls_endpoint(addr, &pki.ca).connect().await.unwrap();
    let status = verify_chain(&channel, Some(&auditor)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert!(status.message().contains("not available"), "{}", status.message());
    shutdown.cancel();
}

#[tokio::test]
async fn a_rotated_key_file_is_picked_up_when_a_token_names_the_new_key() {
    let dir = tempfile::tempdir().unwrap();
    let old = LocalIssuer::generate();
    let new = LocalIssuer::generate();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, old.key_set().to_json()).unwrap();
    let config = ServeConfig {
        access: AccessSettings::Tokens {
            keys: KeySource::File(jwks.clone()),
            expect: Expectations::default(),
        },
        ..ServeConfig::local()
    };
    let shutdown = CancellationToken::new();
    let addr = serve(&config, dir.path(), &shutdown).await;
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let grant = Grant::new("kadi", &[Role::Auditor], Scope::National);
    verify_chain(&channel, Some(&old.issue(&grant))).await.unwrap();
    let rotated = new.issue(&grant);

    // The provider publishes the new key beside the old one (as providers
    // do before signing with it). The first token naming the new key asks
    // for an early refresh, so it is accepted without waiting five minutes
    // for the next round.
    let mut keys: serde_json::Value = serde_json::from_str(&old.key_set().to_json()).unwrap();
    let added: serde_json::Value = serde_json::from_str(&new.key_set().to_json()).unwrap();
    keys["keys"]
        .as_array_mut()
        .unwrap()
        .extend(added["keys"].as_array().unwrap().iter().cloned());
    std::fs::write(&jwks, keys.to_string()).unwrap();
    jigi_testkit::eventually(Duration::from_secs(10), "the rotated key to be accepted", || {
        let (channel, rotated) = (channel.clone(), rotated.clone());
        async move { verify_chain(&channel, Some(&rotated)).await.ok() }
    })
    .await;
    verify_chain(&channel, Some(&old.issue(&grant)))
        .await
        .expect("the old key still verifies");
    let stranger = LocalIssuer::generate().issue(&grant);
    assert_eq!(
        verify_chain(&channel, Some(&stranger)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    shutdown.cancel();
}
