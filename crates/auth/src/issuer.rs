//! Issuing tokens from a local Ed25519 key, for `jigi token`, the local
//! stack and tests. In production an OpenID Connect provider issues them
//! (see the README); the services only ever see its public keys.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use jsonwebtoken::{EncodingKey, Header};
use rand::TryRngCore as _;
use sha2::{Digest as _, Sha256};

use crate::keys::{KeySet, PublicKey};
use crate::{Role, Scope};

/// The issuer name of locally issued tokens.
pub const LOCAL_ISSUER: &str = "jigi-local";

/// A signing key kept in a PEM file (PKCS#8).
pub struct LocalIssuer {
    key: EncodingKey,
    public: [u8; 32],
    kid: String,
}

/// Why the local key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IssuerError {
    #[error("cannot read or write the key file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a PEM-encoded PKCS#8 Ed25519 private key")]
    NotAKey { path: PathBuf },
}

/// What a token says.
#[derive(Debug, Clone)]
pub struct Grant {
    pub subject: String,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub agent_code: Option<String>,
    /// How long the token lives.
    pub lifetime: Duration,
}

impl Grant {
    /// A grant of `roles` in `scope` for an hour.
    pub fn new(subject: &str, roles: &[Role], scope: Scope) -> Grant {
        Grant {
            subject: subject.to_owned(),
            roles: roles.to_vec(),
            scope,
            agent_code: None,
            lifetime: Duration::from_secs(3600),
        }
    }
}

impl LocalIssuer {
    /// A fresh key, kept in memory only.
    pub fn generate() -> LocalIssuer {
        LocalIssuer::new(&new_key())
    }

    /// The key in `path`, created (readable by its owner only) if missing.
    /// OpenSSL's keys (`openssl genpkey -algorithm ed25519`) are read as well.
    pub fn load_or_create(path: &Path) -> Result<LocalIssuer, IssuerError> {
        let io = |source| IssuerError::Io {
            path: path.to_owned(),
            source,
        };
        if !path.exists() {
            let pem = new_key()
                .to_pkcs8_pem(LineEnding::LF)
                .expect("an Ed25519 key encodes as PKCS#8");
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io)?;
            }
            write_private(path, &pem).map_err(io)?;
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        let key = SigningKey::from_pkcs8_pem(&text).map_err(|_| IssuerError::NotAKey { path: path.to_owned() })?;
        Ok(LocalIssuer::new(&key))
    }

    fn new(key: &SigningKey) -> LocalIssuer {
        let public = key.verifying_key().to_bytes();
        // The key ID is derived from the public key, so it is stable across
        // restarts and different for a new key.
        let kid = format!("jigi-local-{}", hex_prefix(&Sha256::digest(public)));
        let der = key.to_pkcs8_der().expect("an Ed25519 key encodes as PKCS#8");
        LocalIssuer {
            key: EncodingKey::from_ed_der(der.as_bytes()),
            public,
            kid,
        }
    }

    /// The public key set services verify this issuer's tokens with.
    pub fn key_set(&self) -> KeySet {
        let key = PublicKey::ed25519(Some(self.kid.clone()), &self.public).expect("an Ed25519 public key");
        KeySet::new(vec![key])
    }

    /// A signed token for `grant`, valid from now.
    pub fn issue(&self, grant: &Grant) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let regions: Vec<String> = match &grant.scope {
            Scope::National => vec![crate::NATIONAL.to_owned()],
            Scope::Regions(regions) => regions.iter().map(|r| r.slug().to_owned()).collect(),
        };
        let mut claims = serde_json::json!({
            "iss": LOCAL_ISSUER,
            "aud": crate::AUDIENCE,
            "sub": grant.subject,
            "iat": now,
            "nbf": now,
            "exp": now + grant.lifetime.as_secs(),
            "jti": uuid::Uuid::new_v4().to_string(),
            "roles": grant.roles.iter().map(|r| r.name()).collect::<Vec<_>>(),
            "regions": regions,
        });
        if let Some(code) = &grant.agent_code {
            claims["agent_code"] = serde_json::Value::String(code.clone());
        }
        let header = Header {
            kid: Some(self.kid.clone()),
            ..Header::new(jsonwebtoken::Algorithm::EdDSA)
        };
        jsonwebtoken::encode(&header, &claims, &self.key).expect("an Ed25519 key signs")
    }

    /// Signs any header and claims as they are: for tools and for tests that
    /// need tokens a well-behaved issuer would never make.
    pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), &self.key, jsonwebtoken::Algorithm::EdDSA)
            .expect("an Ed25519 key signs");
        format!("{signed}.{signature}")
    }
}

/// A new Ed25519 key from the operating system's randomness. jsonwebtoken
/// makes no keys; ed25519-dalek, which it signs with, does.
fn new_key() -> SigningKey {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand::rngs::OsRng
        .try_fill_bytes(seed.as_mut())
        .expect("the system has randomness");
    SigningKey::from_bytes(&seed)
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth/local-key.pem");
        let first = LocalIssuer::load_or_create(&path).unwrap();
        let again = LocalIssuer::load_or_create(&path).unwrap();
        assert_eq!(first.key_set(), again.key_set());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "only the owner may read the private key");
        }
        assert_ne!(LocalIssuer::generate().key_set(), first.key_set());
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap();
        assert!(matches!(
            LocalIssuer::load_or_create(&path),
            Err(IssuerError::NotAKey { .. })
        ));
    }
}
