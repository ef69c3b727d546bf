//! What validating an identity provider's bearer JWT costs a request: a token seen for the first time (the
//! signature, RS256 and ES256, and the claims) and one seen before (its SHA-256 and a map lookup).

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use warden_registry::identity::{IdentityConfig, Verifier};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(warden_testdata::path(&format!("identity/{name}"))).unwrap()
}

fn token(key: &EncodingKey, alg: Algorithm, kid: &str, issuer: &str) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = serde_json::json!({"iss": issuer, "sub": "u-1001", "aud": "warden", "exp": now + 3600,
        "iat": now, "name": "Vera Validator", "groups": ["mrm-validators", "staff"]});
    jsonwebtoken::encode(&Header { kid: Some(kid.into()), ..Header::new(alg) }, &claims, key).unwrap()
}

fn identity(c: &mut Criterion) {
    let issuer = "https://login.example-bank.com/realms/staff";
    let config =
        IdentityConfig::parse(&format!("[oidc]\nissuer = \"{issuer}\"\nclient_id = \"warden\"\n")).unwrap().oidc;
    let verifier = Verifier::new(config);
    let jwk = |name: &str| serde_json::from_slice::<serde_json::Value>(&fixture(name)).unwrap();
    let set: JwkSet = serde_json::from_value(
        serde_json::json!({"keys": [jwk("rsa-test-key.jwk.json"), jwk("ec-test-key.jwk.json")]}),
    )
    .unwrap();
    assert_eq!(verifier.load_keys(&set), 2);
    let rsa =
        token(&EncodingKey::from_rsa_pem(&fixture("rsa-test-key.pem")).unwrap(), Algorithm::RS256, "rsa-1", issuer);
    let ec = token(&EncodingKey::from_ec_pem(&fixture("ec-test-key.pem")).unwrap(), Algorithm::ES256, "ec-1", issuer);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;

    let mut group = c.benchmark_group("identity");
    for (name, token) in [("RS256", &rsa), ("ES256", &ec)] {
        group.bench_function(format!("first sight {name}"), |b| {
            b.iter(|| runtime.block_on(verifier.verify_uncached(token, now)).unwrap())
        });
        runtime.block_on(verifier.verify(token, now)).unwrap();
        group.bench_function(format!("seen before {name}"), |b| {
            b.iter(|| runtime.block_on(verifier.verify(token, now)).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, identity);
criterion_main!(benches);
