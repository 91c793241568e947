//! Tests run with access control on, as deployed: a throw-away signing key
//! whose key set the services under test trust, and a token for whoever a
//! test calls as.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jigi_auth::{Expectations, Grant, KeySource, LocalIssuer, Role, Scope};
use jigi_common::Region;
use jigi_server::ServeConfig;
use jigi_server::serving::AccessSettings;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A test's identity provider.
#[derive(Clone)]
pub struct TestAccess {
    issuer: Arc<LocalIssuer>,
    jwks: PathBuf,
}

impl TestAccess {
    /// A fresh key; its key set is written in `dir`.
    pub fn new(dir: &Path) -> TestAccess {
        let issuer = LocalIssuer::generate();
        let jwks = dir.join("test-jwks.json");
        std::fs::write(&jwks, issuer.key_set().to_json()).expect("write the test key set");
        TestAccess {
            issuer: Arc::new(issuer),
            jwks,
        }
    }

    /// How a service under test checks tokens: against this key.
    pub fn serve_config(&self) -> ServeConfig {
        ServeConfig {
            access: AccessSettings::Tokens {
                keys: KeySource::File(self.jwks.clone()),
                expect: Expectations::default(),
            },
            ..ServeConfig::local()
        }
    }

    /// How a service process under test checks tokens: its environment.
    pub fn process_env(&self) -> Vec<(&'static str, String)> {
        vec![("JIGI_AUTH_JWKS_FILE", self.jwks.display().to_string())]
    }

    /// A token of `subject` holding `roles` in `region`.
    pub fn token(&self, subject: &str, roles: &[Role], region: Region) -> String {
        self.issue(Grant::new(subject, roles, Scope::Regions(BTreeSet::from([region]))))
    }

    /// A token of `subject` holding `roles` nationally.
    pub fn national_token(&self, subject: &str, roles: &[Role]) -> String {
        self.issue(Grant::new(subject, roles, Scope::National))
    }

    /// A payment agent's token, naming their agent code.
    pub fn agent_token(&self, subject: &str, region: Region, agent_code: &str) -> String {
        let mut grant = Grant::new(subject, &[Role::PaymentAgent], Scope::Regions(BTreeSet::from([region])));
        grant.agent_code = Some(agent_code.to_owned());
        self.issue(grant)
    }

    /// Any grant, as the test needs it.
    pub fn issue(&self, grant: Grant) -> String {
        self.issuer.issue(&grant)
    }
}

/// Sends `authorization: Bearer <token>` with every call.
#[derive(Clone)]
pub struct Bearer(MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Bearer {
        Bearer(format!("Bearer {token}").parse().expect("tokens are ASCII"))
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("authorization", self.0.clone());
        Ok(request)
    }
}

/// A channel whose calls carry a token; generated clients take it with
/// `…Client::new(channel)`.
pub type AuthedChannel = InterceptedService<Channel, Bearer>;

/// A channel to `addr` whose calls carry `token`.
pub async fn connect_as(addr: SocketAddr, token: &str) -> AuthedChannel {
    InterceptedService::new(crate::connect_channel(addr).await, Bearer::new(token))
}
