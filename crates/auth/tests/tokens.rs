//! Token verification against real signatures: what is accepted, and every
//! way a token can be wrong.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jigi_auth::token::{self, Expectations, TokenError};
use jigi_auth::{Grant, KeySet, LocalIssuer, Role, Scope};
use jigi_common::Region;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn claims() -> Value {
    json!({
        "sub": "awa.coulibaly", "aud": "jigi", "iss": "jigi-local",
        "exp": now() + 600, "nbf": now() - 5,
        "roles": ["field_agent", "offline_access"], "regions": ["sikasso"],
    })
}

fn check(issuer: &LocalIssuer, token: &str) -> Result<jigi_auth::Identity, TokenError> {
    token::verify(token, &issuer.key_set(), &Expectations::default(), now())
}

fn sign_eddsa(issuer: &LocalIssuer, claims: &Value) -> String {
    issuer.sign(&json!({"alg": "EdDSA", "typ": "JWT"}), claims)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

#[test]
fn an_eddsa_token_gives_the_identity_it_claims() {
    let issuer = LocalIssuer::generate();
    let mut grant = Grant::new(
        "moussa",
        &[Role::PaymentAgent],
        Scope::Regions(BTreeSet::from([Region::Sikasso, Region::Mopti])),
    );
    grant.agent_code = Some("ORANGE-SK".into());
    let identity = check(&issuer, &issuer.issue(&grant)).unwrap();
    assert_eq!(identity.subject, "moussa");
    assert_eq!(identity.roles, BTreeSet::from([Role::PaymentAgent]));
    assert!(identity.scope.covers(Region::Mopti) && !identity.scope.covers(Region::Gao));
    assert_eq!(identity.agent_code.as_deref(), Some("ORANGE-SK"));
    assert!(identity.token_id.is_some());

    // Roles the programme does not know (an identity provider's own) are dropped.
    let identity = check(&issuer, &sign_eddsa(&issuer, &claims())).unwrap();
    assert_eq!(identity.roles, BTreeSet::from([Role::FieldAgent]));
    // Keycloak's realm roles count too, and `national` is every region.
    let mut keycloak = claims();
    keycloak["roles"] = json!([]);
    keycloak["realm_access"] = json!({"roles": ["auditor"]});
    keycloak["regions"] = json!(["national"]);
    keycloak["aud"] = json!(["account", "jigi"]);
    let identity = check(&issuer, &sign_eddsa(&issuer, &keycloak)).unwrap();
    assert_eq!(identity.roles, BTreeSet::from([Role::Auditor]));
    assert_eq!(identity.scope, Scope::National);
}

#[test]
fn an_rs256_token_from_an_rsa_key_is_accepted() {
    let key = EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa-test-key.pem")).unwrap();
    let mut public = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
    public.common.key_id = Some("rsa-1".into());
    let keys = KeySet::parse(&json!({ "keys": [public] }).to_string()).unwrap();
    let sign = |header: Value| {
        let signed = format!("{}.{}", b64(&header), b64(&claims()));
        let signature = jsonwebtoken::crypto::sign(signed.as_bytes(), &key, Algorithm::RS256).unwrap();
        format!("{signed}.{signature}")
    };
    let identity = token::verify(
        &sign(json!({"alg": "RS256", "kid": "rsa-1"})),
        &keys,
        &Expectations::default(),
        now(),
    )
    .unwrap();
    assert_eq!(identity.subject, "awa.coulibaly");
    // The same signature presented as another algorithm is refused.
    let err = token::verify(
        &sign(json!({"alg": "RS384", "kid": "rsa-1"})),
        &keys,
        &Expectations::default(),
        now(),
    );
    assert_eq!(err, Err(TokenError::Algorithm("RS384".into())));
}

#[test]
fn alg_none_and_hmac_are_refused_whatever_they_claim() {
    let issuer = LocalIssuer::generate();
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    assert_eq!(check(&issuer, &none), Err(TokenError::Algorithm("none".into())));
    let none_upper = format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&claims()));
    assert_eq!(check(&issuer, &none_upper), Err(TokenError::Algorithm("None".into())));
    // HS256 keyed with the public key (the classic confusion attack).
    let public_x = issuer.key_set().to_json();
    let hmac_key = EncodingKey::from_secret(public_x.as_bytes()).unwrap();
    let signed = format!("{}.{}", b64(&json!({"alg": "HS256"})), b64(&claims()));
    let tag = jsonwebtoken::crypto::sign(signed.as_bytes(), &hmac_key, Algorithm::HS256).unwrap();
    let hs256 = format!("{signed}.{tag}");
    assert_eq!(check(&issuer, &hs256), Err(TokenError::Algorithm("HS256".into())));
}

#[test]
fn a_token_signed_by_another_key_or_altered_is_refused() {
    let issuer = LocalIssuer::generate();
    let stranger = LocalIssuer::generate();
    assert_eq!(
        check(&issuer, &sign_eddsa(&stranger, &claims())),
        Err(TokenError::BadSignature)
    );
    // The stranger's token names its own kid: no such key here.
    let grant = Grant::new("x", &[Role::Auditor], Scope::National);
    assert!(matches!(
        check(&issuer, &stranger.issue(&grant)),
        Err(TokenError::UnknownKey(Some(_)))
    ));

    // Claims swapped after signing: the signature no longer matches.
    let token = sign_eddsa(&issuer, &claims());
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut elevated = claims();
    elevated["regions"] = json!(["national"]);
    parts[1] = b64(&elevated);
    assert_eq!(check(&issuer, &parts.join(".")), Err(TokenError::BadSignature));
}

#[test]
fn time_audience_and_issuer_are_enforced() {
    let issuer = LocalIssuer::generate();
    let with = |key: &str, value: Value| {
        let mut c = claims();
        c[key] = value;
        sign_eddsa(&issuer, &c)
    };
    assert_eq!(
        check(&issuer, &with("exp", json!(now() - 3600))),
        Err(TokenError::Expired)
    );
    // Within the minute of leeway, a just-expired token still passes (clocks differ).
    assert!(check(&issuer, &with("exp", json!(now() - 10))).is_ok());
    assert_eq!(
        check(&issuer, &with("nbf", json!(now() + 3600))),
        Err(TokenError::NotYetValid)
    );
    assert!(matches!(
        check(&issuer, &with("exp", Value::Null)),
        Err(TokenError::Claims(_))
    ));
    assert_eq!(
        check(&issuer, &with("aud", json!("account"))),
        Err(TokenError::Audience)
    );
    assert_eq!(check(&issuer, &with("aud", Value::Null)), Err(TokenError::Audience));
    let expect = Expectations {
        issuer: Some("https://id.jigi.ml/realms/jigi".into()),
        ..Expectations::default()
    };
    let token = sign_eddsa(&issuer, &claims());
    assert_eq!(
        token::verify(&token, &issuer.key_set(), &expect, now()),
        Err(TokenError::Issuer)
    );
    // An issuer to insist on makes `iss` required.
    assert_eq!(
        token::verify(&with("iss", Value::Null), &issuer.key_set(), &expect, now()),
        Err(TokenError::Issuer)
    );
    let mut right_issuer = claims();
    right_issuer["iss"] = json!("https://id.jigi.ml/realms/jigi");
    assert!(token::verify(&sign_eddsa(&issuer, &right_issuer), &issuer.key_set(), &expect, now()).is_ok());
    assert!(matches!(
        check(&issuer, &with("sub", json!(""))),
        Err(TokenError::Claims(_))
    ));
    assert!(matches!(
        check(&issuer, &with("regions", json!(["atlantis"]))),
        Err(TokenError::Claims(_))
    ));
}

#[test]
fn malformed_tokens_are_refused_without_panicking() {
    let issuer = LocalIssuer::generate();
    for junk in [
        "",
        ".",
        "..",
        "a.b.c",
        "a.b.c.d",
        "e30.e30.",
        "😀.😀.😀",
        &"A".repeat(20_000),
    ] {
        assert!(check(&issuer, junk).is_err(), "{junk:.40}");
    }
    assert_eq!(check(&issuer, &"A".repeat(20_000)), Err(TokenError::TooLarge));
    let crit = issuer.sign(&json!({"alg": "EdDSA", "crit": ["exp"]}), &claims());
    assert!(matches!(check(&issuer, &crit), Err(TokenError::Malformed(_))));
}

#[test]
fn an_openssl_ed25519_key_signs_tokens_the_services_accept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ed25519-openssl.pem"),
        &path,
    )
    .unwrap();
    let issuer = LocalIssuer::load_or_create(&path).unwrap();
    let token = issuer.issue(&Grant::new("a", &[Role::Auditor], Scope::National));
    assert!(check(&issuer, &token).is_ok());
}

#[test]
fn keys_written_before_keep_their_key_id() {
    // ed25519-ring.pem was written by the earlier, ring-based `jigi token`
    // (PKCS#8 v2, with the public key, which OpenSSL does not read);
    // ed25519-openssl.pem by `openssl genpkey` (v1). The key IDs are those the
    // earlier version gave them, so key sets handed out then still match.
    for (fixture, kid, x) in [
        (
            "ed25519-ring.pem",
            "jigi-local-007e13c0d8deaf26",
            "17tyrfNj5tuA5pQMcxnzMu1LSKvc2QXSAoQgHXTc_54",
        ),
        (
            "ed25519-openssl.pem",
            "jigi-local-4038fb6240a9c398",
            "qkaqUtb8u1fwFwJPRjdlElVPU_IYRXdsB-bnujezwA4",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pem");
        std::fs::copy(
            format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR")),
            &path,
        )
        .unwrap();
        let issuer = LocalIssuer::load_or_create(&path).unwrap();
        let jwks: Value = serde_json::from_str(&issuer.key_set().to_json()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], kid, "{fixture}");
        assert_eq!(jwks["keys"][0]["x"], x, "{fixture}");
        let token = issuer.issue(&Grant::new("a", &[Role::Auditor], Scope::National));
        assert!(check(&issuer, &token).is_ok(), "{fixture}");
    }
}

proptest::proptest! {
    /// Whatever arrives as a bearer token, verification answers without panicking.
    #[test]
    fn random_tokens_never_panic(token in ".{0,300}", header in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let issuer = LocalIssuer::generate();
        let _ = check(&issuer, &token);
        let crafted = format!("{}.{}.{}", URL_SAFE_NO_PAD.encode(&header), b64(&claims()), URL_SAFE_NO_PAD.encode(&header));
        proptest::prop_assert!(check(&issuer, &crafted).is_err());
    }
}
