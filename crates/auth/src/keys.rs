//! Public keys from a JSON Web Key Set (RFC 7517), and signature checks.
//!
//! Only the two algorithms the programme accepts are understood: EdDSA over
//! Ed25519 keys (`kty: OKP`, `crv: Ed25519`) and RS256 over RSA keys of 2048
//! bits or more. A key is bound to its algorithm by its type, so a token
//! cannot choose how it is checked (no `alg: none`, no HMAC keyed with a
//! public key).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

/// A signing algorithm Jigi accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    EdDsa,
    Rs256,
}

impl Algorithm {
    /// From a token header's `alg`; anything else is refused.
    pub fn from_header(alg: &str) -> Option<Algorithm> {
        match alg {
            "EdDSA" => Some(Algorithm::EdDsa),
            "RS256" => Some(Algorithm::Rs256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Rs256 => "RS256",
        }
    }
}

/// One verification key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The key ID tokens name in their header (`kid`), if the set gives one.
    pub kid: Option<String>,
    material: Material,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Ed25519(Vec<u8>),
    Rsa { n: Vec<u8>, e: Vec<u8> },
}

impl PublicKey {
    /// An Ed25519 public key (32 bytes).
    pub fn ed25519(kid: Option<String>, public: Vec<u8>) -> PublicKey {
        PublicKey {
            kid,
            material: Material::Ed25519(public),
        }
    }

    /// An RSA public key from its modulus and exponent (big-endian).
    pub fn rsa(kid: Option<String>, n: Vec<u8>, e: Vec<u8>) -> PublicKey {
        PublicKey {
            kid,
            material: Material::Rsa { n, e },
        }
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        match self.material {
            Material::Ed25519(_) => Algorithm::EdDsa,
            Material::Rsa { .. } => Algorithm::Rs256,
        }
    }

    /// Whether `signature` signs `message` under this key.
    pub fn verifies(&self, message: &[u8], signature_bytes: &[u8]) -> bool {
        match &self.material {
            Material::Ed25519(public) => UnparsedPublicKey::new(&signature::ED25519, public)
                .verify(message, signature_bytes)
                .is_ok(),
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature_bytes)
                .is_ok(),
        }
    }

    /// The key as a JWK (public parts only).
    pub fn to_jwk(&self) -> serde_json::Value {
        let mut jwk = match &self.material {
            Material::Ed25519(public) => serde_json::json!({
                "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig",
                "x": URL_SAFE_NO_PAD.encode(public),
            }),
            Material::Rsa { n, e } => serde_json::json!({
                "kty": "RSA", "alg": "RS256", "use": "sig",
                "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
            }),
        };
        if let Some(kid) = &self.kid {
            jwk["kid"] = serde_json::Value::String(kid.clone());
        }
        jwk
    }
}

/// The keys tokens may be signed with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<PublicKey>,
}

/// Why a JWKS document was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("not a JSON Web Key Set: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the key set holds no Ed25519 or RSA signing key")]
    Empty,
}

#[derive(Deserialize)]
struct Document {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    usage: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    x: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

impl KeySet {
    pub fn new(keys: Vec<PublicKey>) -> KeySet {
        KeySet { keys }
    }

    /// Parses a JWKS document. Keys of other types or uses (encryption keys,
    /// EC keys an identity provider also publishes) are skipped, not errors.
    pub fn parse(json: &str) -> Result<KeySet, KeySetError> {
        let document: Document = serde_json::from_str(json)?;
        let keys: Vec<PublicKey> = document.keys.into_iter().filter_map(Jwk::into_key).collect();
        if keys.is_empty() {
            return Err(KeySetError::Empty);
        }
        Ok(KeySet { keys })
    }

    /// The key for a token signed with `alg`, naming `kid` (or not).
    ///
    /// Without a `kid` the set must hold exactly one key of the algorithm:
    /// guessing among several would let an old key sign for a new one.
    pub fn find(&self, alg: Algorithm, kid: Option<&str>) -> Option<&PublicKey> {
        let mut candidates = self.keys.iter().filter(|key| key.algorithm() == alg);
        match kid {
            Some(kid) => candidates.find(|key| key.kid.as_deref() == Some(kid)),
            None => {
                let first = candidates.next()?;
                candidates.next().is_none().then_some(first)
            }
        }
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The set as a JWKS document.
    pub fn to_json(&self) -> String {
        let keys: Vec<serde_json::Value> = self.keys.iter().map(PublicKey::to_jwk).collect();
        serde_json::to_string_pretty(&serde_json::json!({ "keys": keys })).expect("JSON values serialize")
    }
}

impl Jwk {
    fn into_key(self) -> Option<PublicKey> {
        if self.usage.as_deref().is_some_and(|usage| usage != "sig") {
            return None;
        }
        let decode = |value: Option<String>| value.and_then(|text| URL_SAFE_NO_PAD.decode(text).ok());
        let material = match (self.kty.as_str(), self.crv.as_deref()) {
            ("OKP", Some("Ed25519")) if self.alg.as_deref().is_none_or(|alg| alg == "EdDSA") => {
                let public = decode(self.x)?;
                (public.len() == 32).then_some(Material::Ed25519(public))?
            }
            ("RSA", _) if self.alg.as_deref().is_none_or(|alg| alg == "RS256") => Material::Rsa {
                n: decode(self.n)?,
                e: decode(self.e)?,
            },
            _ => return None,
        };
        Some(PublicKey {
            kid: self.kid,
            material,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_other_types_and_uses_are_skipped() {
        let json = r#"{"keys":[
            {"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"ec"},
            {"kty":"OKP","crv":"Ed25519","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"enc"},
            {"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"sig"}
        ]}"#;
        let set = KeySet::parse(json).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.find(Algorithm::EdDsa, Some("sig")).is_some());
        assert!(set.find(Algorithm::EdDsa, Some("enc")).is_none());
        assert!(set.find(Algorithm::Rs256, None).is_none());
    }

    #[test]
    fn a_set_without_usable_keys_is_refused() {
        assert!(matches!(KeySet::parse(r#"{"keys":[]}"#), Err(KeySetError::Empty)));
        assert!(matches!(KeySet::parse("{}"), Err(KeySetError::Json(_))));
        // An Ed25519 key of the wrong length is not a key.
        assert!(KeySet::parse(r#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}"#).is_err());
    }

    #[test]
    fn without_a_kid_only_a_single_candidate_is_used() {
        let a = PublicKey::ed25519(Some("a".into()), vec![1; 32]);
        let b = PublicKey::ed25519(Some("b".into()), vec![2; 32]);
        assert_eq!(KeySet::new(vec![a.clone()]).find(Algorithm::EdDsa, None), Some(&a));
        assert_eq!(
            KeySet::new(vec![a.clone(), b.clone()]).find(Algorithm::EdDsa, None),
            None
        );
        assert_eq!(
            KeySet::new(vec![a, b.clone()]).find(Algorithm::EdDsa, Some("b")),
            Some(&b)
        );
    }

    #[test]
    fn a_set_round_trips_through_json() {
        let set = KeySet::new(vec![PublicKey::ed25519(Some("k1".into()), vec![7; 32])]);
        assert_eq!(KeySet::parse(&set.to_json()).unwrap(), set);
    }
}
