//! Public keys from a JSON Web Key Set (RFC 7517).
//!
//! Only the two algorithms the programme accepts are kept: EdDSA over
//! Ed25519 keys (`kty: OKP`, `crv: Ed25519`) and RS256 over RSA keys of 2048
//! to 8192 bits. A key is bound to its algorithm by its type, so a token
//! cannot choose how it is checked (no `alg: none`, no HMAC keyed with a
//! public key). Reading JWKs and checking signatures is `jsonwebtoken`'s.

use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{DecodingKey, DecodingKeyKind};

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

    /// As `jsonwebtoken` names it.
    pub(crate) fn jwt(self) -> jsonwebtoken::Algorithm {
        match self {
            Algorithm::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Algorithm::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

/// One verification key.
#[derive(Debug, Clone)]
pub struct PublicKey {
    algorithm: Algorithm,
    /// The public parts only, as [`KeySet::to_json`] writes them.
    jwk: Jwk,
    decoding: DecodingKey,
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        // The JWK holds the kid, the algorithm and the key material.
        self.jwk == other.jwk
    }
}

impl Eq for PublicKey {}

impl PublicKey {
    /// An Ed25519 public key (32 bytes); `None` for anything else.
    pub fn ed25519(kid: Option<String>, public: &[u8]) -> Option<PublicKey> {
        let key = DecodingKey::from_ed_der(public);
        let mut jwk = Jwk::from_decoding_key(&key, Some(jsonwebtoken::Algorithm::EdDSA)).ok()?;
        jwk.common.key_id = kid;
        PublicKey::from_jwk(jwk)
    }

    /// A key of the set, if Jigi can use it: a signing key (`use` absent or
    /// `sig`) of one of the two types, whose `alg`, if given, is its type's.
    fn from_jwk(jwk: Jwk) -> Option<PublicKey> {
        let common = &jwk.common;
        if common
            .public_key_use
            .as_ref()
            .is_some_and(|usage| *usage != PublicKeyUse::Signature)
        {
            return None;
        }
        let algorithm = match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => Algorithm::EdDsa,
            AlgorithmParameters::RSA(_) => Algorithm::Rs256,
            _ => return None,
        };
        if common
            .key_algorithm
            .is_some_and(|alg| alg != KeyAlgorithm::from(algorithm.jwt()))
        {
            return None;
        }
        let decoding = DecodingKey::from_jwk(&jwk).ok()?;
        let usable = match decoding.kind() {
            // jsonwebtoken reads the first 32 bytes of an Ed25519 key: the
            // length is checked here, once.
            DecodingKeyKind::SecretOrDer(public) => algorithm == Algorithm::EdDsa && public.len() == 32,
            DecodingKeyKind::RsaModulusExponent { n, e } => (2048..=8192).contains(&bit_length(n)) && !e.is_empty(),
        };
        if !usable {
            return None;
        }
        // Kept as its public parts only, with what Jigi relies on spelt out.
        let jwk = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(algorithm.jwt().into()),
                key_id: common.key_id.clone(),
                ..CommonParameters::default()
            },
            algorithm: jwk.algorithm,
        };
        Some(PublicKey {
            algorithm,
            jwk,
            decoding,
        })
    }

    /// The key ID tokens name in their header (`kid`), if the set gives one.
    pub fn kid(&self) -> Option<&str> {
        self.jwk.common.key_id.as_deref()
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key as `jsonwebtoken` checks signatures with it.
    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.decoding
    }
}

/// The number of bits of a big-endian number.
fn bit_length(bytes: &[u8]) -> usize {
    let Some(first) = bytes.iter().position(|&byte| byte != 0) else {
        return 0;
    };
    (bytes.len() - first) * 8 - bytes[first].leading_zeros() as usize
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

impl KeySet {
    pub fn new(keys: Vec<PublicKey>) -> KeySet {
        KeySet { keys }
    }

    /// Parses a JWKS document. Keys of other types or uses (encryption keys,
    /// EC keys an identity provider also publishes) are skipped, not errors.
    pub fn parse(json: &str) -> Result<KeySet, KeySetError> {
        let document: JwkSet = serde_json::from_str(json)?;
        let keys: Vec<PublicKey> = document.keys.into_iter().filter_map(PublicKey::from_jwk).collect();
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
            Some(kid) => candidates.find(|key| key.kid() == Some(kid)),
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
        let document = JwkSet {
            keys: self.keys.iter().map(|key| key.jwk.clone()).collect(),
        };
        serde_json::to_string_pretty(&document).expect("JWKs serialize")
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
        // Nor is an RSA key under 2048 bits, or an Ed25519 key claiming another algorithm.
        let rsa = |modulus_bytes: usize| {
            let n = URL_SAFE_NO_PAD.encode(vec![0xff; modulus_bytes]);
            KeySet::parse(&format!(r#"{{"keys":[{{"kty":"RSA","n":"{n}","e":"AQAB"}}]}}"#))
        };
        assert!(rsa(128).is_err());
        assert!(rsa(256).is_ok());
        assert!(
            KeySet::parse(
                r#"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"RS256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#
            )
            .is_err()
        );
    }

    #[test]
    fn without_a_kid_only_a_single_candidate_is_used() {
        let a = PublicKey::ed25519(Some("a".into()), &[1; 32]).unwrap();
        let b = PublicKey::ed25519(Some("b".into()), &[2; 32]).unwrap();
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
        let set = KeySet::new(vec![PublicKey::ed25519(Some("k1".into()), &[7; 32]).unwrap()]);
        assert_eq!(KeySet::parse(&set.to_json()).unwrap(), set);
    }
}
