//! Tokens of the bank's identity provider (`warden serve --identity FILE`): a provider the test serves on
//! 127.0.0.1 (its discovery document and a key set the test can change, counting fetches), and JWTs the test
//! signs with the provider's keys, or forges.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::support::{self, Server};

/// An OpenID provider on 127.0.0.1 until the test ends: its discovery document, its key set (which the test
/// can change, counting fetches), and a token endpoint answering what the test sets (recording each form).
pub(crate) struct Provider {
    pub(crate) issuer: String,
    pub(crate) keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
    /// The token endpoint's next answer: status and body.
    pub(crate) token_answer: Arc<Mutex<(u16, Value)>>,
    /// Answers the token endpoint gives first, in order, before `token_answer`.
    pub(crate) token_queue: Arc<Mutex<std::collections::VecDeque<(u16, Value)>>>,
    /// The forms the token endpoint received, as sent.
    pub(crate) token_forms: Arc<Mutex<Vec<String>>>,
    /// The device authorization endpoint's answer.
    pub(crate) device_answer: Arc<Mutex<(u16, Value)>>,
    /// The forms it received.
    pub(crate) device_forms: Arc<Mutex<Vec<String>>>,
}

impl Provider {
    pub(crate) fn start(keys: Value) -> Provider {
        Provider::start_on(TcpListener::bind("127.0.0.1:0").unwrap(), keys)
    }

    pub(crate) fn start_on(listener: TcpListener, keys: Value) -> Provider {
        let issuer = format!("http://{}/realms/staff", listener.local_addr().unwrap());
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let token_answer = Arc::new(Mutex::new((500, json!({"error": "server_error"}))));
        let token_forms = Arc::new(Mutex::new(Vec::new()));
        let token_queue = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let device_answer = Arc::new(Mutex::new((400, json!({"error": "unauthorized_client"}))));
        let device_forms = Arc::new(Mutex::new(Vec::new()));
        let (served_keys, served_fetches, base) = (keys.clone(), fetches.clone(), issuer.clone());
        let (answer, forms, queue) = (token_answer.clone(), token_forms.clone(), token_queue.clone());
        let (device, device_seen) = (device_answer.clone(), device_forms.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request_line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                // The headers, up to the blank line, and the body they announce.
                let (mut line, mut length) = (String::new(), 0usize);
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut form = vec![0u8; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut form);
                let path = request_line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, body) = if path.ends_with("/.well-known/openid-configuration") {
                    (
                        200,
                        json!({"issuer": base, "jwks_uri": format!("{base}/protocol/openid-connect/certs"),
                        "authorization_endpoint": format!("{base}/auth"), "token_endpoint": format!("{base}/token"),
                        "end_session_endpoint": format!("{base}/logout"),
                        "device_authorization_endpoint": format!("{base}/device")}),
                    )
                } else if path.ends_with("/certs") {
                    served_fetches.fetch_add(1, Ordering::SeqCst);
                    (200, served_keys.lock().unwrap().clone())
                } else if path.ends_with("/token") {
                    forms.lock().unwrap().push(String::from_utf8_lossy(&form).into_owned());
                    let queued = queue.lock().unwrap().pop_front();
                    queued.unwrap_or_else(|| answer.lock().unwrap().clone())
                } else if path.ends_with("/device") {
                    device_seen.lock().unwrap().push(String::from_utf8_lossy(&form).into_owned());
                    device.lock().unwrap().clone()
                } else {
                    let _ =
                        stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
                    continue;
                };
                let body = body.to_string();
                let head = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        Provider { issuer, keys, fetches, token_answer, token_queue, token_forms, device_answer, device_forms }
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

/// An EC P-256 key made for the test: its signing key and its public JWK.
pub(crate) fn ec_key(kid: &str) -> (EncodingKey, Value) {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let point = pair.public_key_raw(); // 0x04 || x || y
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
        "x": b64(&point[1..33]), "y": b64(&point[33..65])});
    (EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap(), jwk)
}

/// The committed RSA test key (`warden-testdata/data/identity`) and its JWK (`kid` `rsa-1`).
fn rsa_key() -> (EncodingKey, Value, Vec<u8>) {
    let read = |name: &str| std::fs::read(warden_testdata::path(&format!("identity/{name}"))).unwrap();
    let jwk: Value = serde_json::from_slice(&read("rsa-test-key.jwk.json")).unwrap();
    (EncodingKey::from_rsa_pem(&read("rsa-test-key.pem")).unwrap(), jwk, read("rsa-test-key.pub.pem"))
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// Claims of a person of `issuer` for Warden's audience, valid for five minutes.
pub(crate) fn claims(issuer: &str, subject: &str, groups: &[&str]) -> Value {
    json!({"iss": issuer, "sub": subject, "aud": ["warden", "account"], "exp": now() + 300, "iat": now(),
        "name": format!("{subject} (test)"), "groups": groups})
}

pub(crate) fn sign(key: &EncodingKey, alg: Algorithm, kid: &str, claims: &Value) -> String {
    let header = Header { kid: Some(kid.into()), ..Header::new(alg) };
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// An identity file for `provider` with `extra` lines appended to `[oidc]`.
fn identity_file(dir: &std::path::Path, issuer: &str, extra: &str) -> std::path::PathBuf {
    let path = dir.join("identity.toml");
    let text = format!(
        "[oidc]\nissuer = \"{issuer}\"\nclient_id = \"warden\"\n{extra}\n[roles]\n\"mrm-validators\" = \"validator\"\n\
         \"retail-ds\" = [\"data-scientist\", \"viewer\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// GET `path` with `token`: the status and the body as JSON (`Null` when it is not).
fn get(server: &Server, token: &str, path: &str) -> (u16, Value) {
    call(server, token, "GET", path, &Value::Null)
}

#[test]
fn provider_tokens_are_validated_and_their_groups_grant_roles() {
    let dir = tempfile::tempdir().unwrap();
    let (ec, ec_jwk) = ec_key("ec-1");
    let (rsa, rsa_jwk, rsa_public_pem) = rsa_key();
    let provider = Provider::start(json!({"keys": [ec_jwk, rsa_jwk]}));
    let file = identity_file(dir.path(), &provider.issuer, "");
    let server = Server::start_with(&dir.path().join("data"), &["--identity", file.to_str().unwrap()]);
    assert_eq!(provider.fetches(), 1, "the keys are fetched once at start");

    // A validator signed in through the provider, with an ES256 token and with an RS256 one.
    let vera = claims(&provider.issuer, "u-1001", &["mrm-validators", "unrelated"]);
    for token in [sign(&ec, Algorithm::ES256, "ec-1", &vera), sign(&rsa, Algorithm::RS256, "rsa-1", &vera)] {
        let (status, me) = get(&server, &token, "/v1/whoami");
        assert_eq!(status, 200, "{me}");
        assert_eq!(me["name"], format!("{}|u-1001", provider.issuer));
        assert_eq!((me["roles"].clone(), me["via"].as_str()), (json!(["validator"]), Some("oidc")), "{me}");
        assert_eq!(me["display_name"], "u-1001 (test)");
        assert_eq!(get(&server, &token, "/v1/audit/events").0, 200, "a validator reads the audit trail");
        assert_eq!(get(&server, &token, "/v1/tokens").0, 403, "and nothing a validator may not");
    }
    // Several groups grant several roles.
    let both = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-7", &["retail-ds", "mrm-validators"]));
    let (_, me) = get(&server, &both, "/v1/whoami");
    assert_eq!(me["roles"], json!(["viewer", "data-scientist", "validator"]), "{me}");
    // Separation of duties compares the provider's subject: the person who registered a version cannot
    // approve it through another token of theirs; another validator can, and is recorded by subject.
    let out = server.cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "high"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let artifact = dir.path().join("linear.json");
    std::fs::write(&artifact, r#"{"intercept": -2, "coefficients": {"duration": 0.02}}"#).unwrap();
    support::register_german(&server, Some(&both), &artifact, "linear-json", &[]);
    let again = sign(&rsa, Algorithm::RS256, "rsa-1", &claims(&provider.issuer, "u-7", &["mrm-validators"]));
    let out = server.cli_as(Some(&again), &["approve", "credit", "1", "--comment", "looks fine"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("the registrant of a version can never approve it"),
        "{}",
        support::stderr(&out)
    );
    // A personal token tied to the same person is that person too: their approval through it is refused.
    let subject = format!("{}|u-7", provider.issuer);
    let out = server.cli(&["token", "create", "--name", "u7-cli", "--role", "validator", "--for", &subject]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let personal = support::stdout(&out).trim().to_owned();
    let (_, me) = get(&server, &personal, "/v1/whoami");
    assert_eq!((me["name"].as_str(), me["via"].as_str()), (Some(subject.as_str()), Some("token")), "{me}");
    let out = server.cli_as(Some(&personal), &["approve", "credit", "1", "--comment", "through my token"]);
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("the registrant of a version can never approve it"));
    // A token is tied only to a person of the configured provider.
    let out = server.cli(&["token", "create", "--name", "stray", "--role", "viewer", "--for", "https://other.idp|u-7"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("can be tied only to a person of"), "{}", support::stderr(&out));
    let vera_token = sign(&ec, Algorithm::ES256, "ec-1", &vera);
    let out = server.cli_as(Some(&vera_token), &["approve", "credit", "1", "--comment", "validated"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(
        support::stdout(&out).contains(&format!("{}|u-1001 approved credit version 1 as validator", provider.issuer))
    );

    // No mapped group: known to the provider, no access, and the answer says why.
    let outsider = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-9", &["canteen"]));
    let (status, body) = get(&server, &outsider, "/v1/models");
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("its groups (canteen) map to none"), "{body}");
    // The mapping is configuration: granting "canteen" a role in the file applies from the next request
    // (the file is looked at once a second); a file that no longer reads leaves the mapping in force.
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, format!("{text}\"canteen\" = \"viewer\"\n")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&server, &outsider, "/v1/models").0, 200, "the new mapping applies");
    std::fs::write(&file, format!("{text}\"canteen\" = \"wizard\"\n")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&server, &outsider, "/v1/models").0, 200, "a broken file changes nothing");
    std::fs::write(&file, &text).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(get(&server, &outsider, "/v1/models").0, 403, "and the mapping back applies");
    // Warden's own tokens still work (token_login is on by default).
    assert_eq!(get(&server, &server.admin_token(), "/v1/tokens").0, 200);

    // Forged tokens: each refused with 401 and the check that failed, never the token.
    let mut forged: Vec<(&str, String, &str)> = Vec::new();
    let (other, _) = ec_key("ec-1");
    forged.push(("wrong signature", sign(&other, Algorithm::ES256, "ec-1", &vera), "signature does not verify"));
    let mut c = vera.clone();
    c["iss"] = json!("http://127.0.0.1:1/realms/evil");
    forged.push((
        "wrong issuer",
        sign(&ec, Algorithm::ES256, "ec-1", &c),
        "issued by 'http://127.0.0.1:1/realms/evil'",
    ));
    let mut c = vera.clone();
    c["aud"] = json!("another-service");
    forged.push(("wrong audience", sign(&ec, Algorithm::ES256, "ec-1", &c), "audience does not include 'warden'"));
    let mut c = vera.clone();
    c["exp"] = json!(now() - 3600);
    forged.push(("expired", sign(&ec, Algorithm::ES256, "ec-1", &c), "expired at"));
    let mut c = vera.clone();
    c["nbf"] = json!(now() + 3600);
    forged.push(("not yet valid", sign(&ec, Algorithm::ES256, "ec-1", &c), "not valid before"));
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa-1"})), b64(&vera));
    forged.push(("alg none", none, "algorithm"));
    let hmac = EncodingKey::from_secret(&rsa_public_pem).unwrap();
    forged.push(("HS256 keyed with the public key", sign(&hmac, Algorithm::HS256, "rsa-1", &vera), "algorithm HS256"));
    forged.push(("ES256 header on the RSA key", sign(&ec, Algorithm::ES256, "rsa-1", &vera), "does not match its key"));
    forged.push(("unknown kid", sign(&ec, Algorithm::ES256, "nobody", &vera), "key 'nobody' is not among"));
    let unnamed = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &vera, &ec).unwrap();
    forged.push((
        "no kid, two keys published",
        unnamed,
        "names no key (kid), and the identity provider has more than one",
    ));
    let mut c = vera.clone();
    c["groups"] = json!("mrm-validators");
    forged.push(("groups not a list", sign(&ec, Algorithm::ES256, "ec-1", &c), "claim 'groups'"));
    let mut c = vera.clone();
    c.as_object_mut().unwrap().remove("sub");
    forged.push(("no subject", sign(&ec, Algorithm::ES256, "ec-1", &c), "claim 'sub'"));
    forged.push(("not a JWT", "eyJhbGciOi.garbage".into(), "not a well-formed JWT"));
    let mut c = vera.clone();
    c["nonce"] = json!("from-a-sign-in");
    forged.push(("an ID token as a bearer token", sign(&ec, Algorithm::ES256, "ec-1", &c), "is an ID token"));
    // Over the 16 KiB a token may take: refused before any part of it is decoded.
    let mut c = vera.clone();
    c["padding"] = json!("x".repeat(20 * 1024));
    forged.push(("oversized", sign(&ec, Algorithm::ES256, "ec-1", &c), "not a well-formed JWT"));
    for (what, token, reason) in &forged {
        let (status, body) = get(&server, token, "/v1/whoami");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(status, 401, "{what}: {body}");
        assert!(message.contains(reason), "{what}: '{message}' should name '{reason}'");
        assert!(!message.contains(&token[..token.len().min(20)]), "{what}: the message repeats the token");
    }
    // The keys were fetched at start, under ten seconds ago: the unknown kid made no fetch.
    assert_eq!(provider.fetches(), 1, "unknown keys do not make Warden hammer the provider");

    // The provider rotates in a new key: its first token makes Warden fetch the keys once (ten seconds after
    // the last fetch), and the old key keeps working while it is published.
    let (rotated, rotated_jwk) = ec_key("ec-2");
    provider.keys.lock().unwrap()["keys"].as_array_mut().unwrap().push(rotated_jwk);
    std::thread::sleep(std::time::Duration::from_secs(10));
    let fresh = sign(&rotated, Algorithm::ES256, "ec-2", &vera);
    assert_eq!(get(&server, &fresh, "/v1/whoami").0, 200);
    assert_eq!(get(&server, &fresh, "/v1/whoami").0, 200);
    assert_eq!(provider.fetches(), 2, "the new key was fetched once");
    let (status, _) = get(&server, &sign(&ec, Algorithm::ES256, "nobody-else", &vera), "/v1/whoami");
    assert_eq!((status, provider.fetches()), (401, 2), "and a made-up one right after makes no fetch");
    assert_eq!(get(&server, &sign(&ec, Algorithm::ES256, "ec-1", &vera), "/v1/whoami").0, 200);
}

#[test]
fn an_unreachable_provider_leaves_break_glass_tokens_and_switching_them_off_leaves_only_the_provider() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens there: Warden starts anyway and says why the provider's tokens are refused.
    let unused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let file = identity_file(dir.path(), &format!("http://{unused}/realms/staff"), "");
    let mut server = Server::start_with(&dir.path().join("data"), &["--identity", file.to_str().unwrap()]);
    assert_eq!(get(&server, &server.admin_token(), "/v1/tokens").0, 200, "break-glass tokens keep working");
    let (ec, _) = ec_key("ec-1");
    let token = sign(&ec, Algorithm::ES256, "ec-1", &claims(&format!("http://{unused}/realms/staff"), "u-1", &[]));
    let (status, body) = get(&server, &token, "/v1/whoami");
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("identity provider's keys are unavailable"), "{body}");
    server.kill();

    // token_login = false: Warden's own tokens are refused, the provider's accepted.
    let (ec, jwk) = ec_key("ec-1");
    let provider = Provider::start(json!({"keys": [jwk]}));
    let file = identity_file(dir.path(), &provider.issuer, "token_login = false");
    let server = Server::start_with(&dir.path().join("data"), &["--identity", file.to_str().unwrap()]);
    let (status, body) = get(&server, &server.admin_token(), "/v1/tokens");
    assert_eq!(status, 401, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("token_login = false"), "{body}");
    let vera = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-1", &["mrm-validators"]));
    assert_eq!(get(&server, &vera, "/v1/audit/events").0, 200);

    // A bad identity file stops `serve` with the place named.
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[oidc]\nissuer = \"https://idp.example\"\nclient_id = \"warden\"\n[roles]\n\"g\" = \"wizard\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(support::WARDEN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("other"))
        .arg("--identity")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = support::stderr(&out);
    assert!(err.contains("bad.toml") && err.contains("unknown role 'wizard'"), "{err}");
}

/// `method path` with `token` and a JSON body: the status and the body as JSON (`Null` when it is not).
fn call(server: &Server, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request =
            support::http_client().request(method.clone(), format!("{}{path}", server.url)).bearer_auth(token);
        if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// Scoped roles: every endpoint, called by a person holding `viewer` over the inventory and `data-scientist`
/// over models tagged `cards`, answers on a cards model as for both roles and on any other model as for a
/// viewer; a validator of retail credit's models sees and approves only those.
#[test]
fn scoped_roles_hold_on_the_models_their_scope_covers_and_nowhere_else() {
    use warden_api::access::{RULES, Rule};
    use warden_registry::auth::Role;

    let dir = tempfile::tempdir().unwrap();
    let (ec, jwk) = ec_key("ec-1");
    let provider = Provider::start(json!({"keys": [jwk]}));
    let file = dir.path().join("identity.toml");
    std::fs::write(
        &file,
        format!(
            "[oidc]\nissuer = \"{}\"\nclient_id = \"warden\"\n[roles]\n\"staff\" = \"viewer\"\n\
             [[scopes]]\ngroup = \"cards-ds\"\nrole = \"data-scientist\"\nmodels_tagged = \"cards\"\n\
             [[scopes]]\ngroup = \"retail-mrm\"\nrole = \"validator\"\nmodels_owned_by = \"retail-credit\"\n\
             [[scopes]]\ngroup = \"payments-mrm\"\nrole = \"validator\"\nmodels_in_business_line = \"payments\"\n\
             [[scopes]]\ngroup = \"cards-review\"\nrole = \"reviewer\"\nmodels_tagged = \"cards\"\n",
            provider.issuer
        ),
    )
    .unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--identity", file.to_str().unwrap()]);
    for (name, owner, tag, line) in [
        ("card-limit", "cards-team", "cards", "cards"),
        ("fraud", "fraud-team", "fraud", "payments"),
        ("retail-pd", "retail-credit", "retail", "retail"),
    ] {
        let out = server.cli(&[
            "model",
            "create",
            name,
            "--owner",
            owner,
            "--risk-tier",
            "high",
            "--tag",
            tag,
            "--business-line",
            line,
        ]);
        assert!(out.status.success(), "{}", support::stderr(&out));
    }
    let carla = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-carla", &["staff", "cards-ds"]));
    let (_, me) = get(&server, &carla, "/v1/whoami");
    assert_eq!(me["roles"], json!(["viewer"]), "{me}");
    assert_eq!(me["scopes"], json!(["data-scientist over models tagged 'cards'"]), "{me}");

    let holds = |roles: &[Role], rule: Rule| match rule {
        Rule::Public | Rule::AnyRole => true,
        Rule::Needs(p) | Rule::InScope(p) => roles.iter().any(|r| p.roles().contains(r)),
        Rule::NeedsOr(p, q) => roles.iter().any(|r| p.roles().contains(r) || q.roles().contains(r)),
    };
    let concrete = |route: &str, model: &str| {
        route
            .replace("{name}", model)
            .replace("{version}", "9")
            .replace("{alias}", "champion")
            .replace("{monitor}", "feature_drift")
            .replace("{id}", "999999")
            .replace("{index}", "999999")
            .replace("{request_id}", "r-1")
    };
    let mut checked = 0;
    for &(method, route, rule) in RULES {
        if rule == Rule::Public {
            continue;
        }
        let cases: Vec<(String, Vec<Role>)> = if route.contains("{name}") && route.starts_with("/v1/models/") {
            vec![
                (concrete(route, "card-limit"), vec![Role::Viewer, Role::DataScientist]),
                (concrete(route, "fraud"), vec![Role::Viewer]),
                (concrete(route, "no-such-model"), vec![Role::Viewer]),
            ]
        } else if matches!(rule, Rule::InScope(_)) {
            vec![(concrete(route, "x"), vec![Role::Viewer, Role::DataScientist])]
        } else {
            vec![(concrete(route, "x"), vec![Role::Viewer])]
        };
        for (path, roles) in cases {
            let (status, body) = call(&server, &carla, method, &path, &json!({}));
            let allowed = holds(&roles, rule);
            assert_eq!(status != 403, allowed, "{method} {path} as carla ({roles:?}): {status} {body}");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} calls");

    // What the issue's examples promise, through the CLI: carla registers and creates only cards models.
    let artifact = dir.path().join("linear.json");
    std::fs::write(&artifact, r#"{"intercept": -2, "coefficients": {"duration": 0.02}}"#).unwrap();
    let register =
        |model: &str| support::register_german_as(&server, Some(&carla), model, &artifact, "linear-json", &[]);
    assert!(register("card-limit").status.success());
    let out = register("fraud");
    assert_eq!(out.status.code(), Some(1), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("role 'viewer' may not do this"), "{}", support::stderr(&out));
    let create = |tag: &str| {
        let body =
            json!({"name": format!("new-{tag}"), "owner": "o", "risk_tier": "low", "use_case": "u", "tags": [tag]});
        call(&server, &carla, "POST", "/v1/models", &body)
    };
    assert_eq!(create("cards").0, 201);
    let (status, body) = create("fraud");
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("would fall outside your scopes"), "{body}");

    // A reviewer of cards models reviews their decisions (this one has none: 404), never a fraud model's (403).
    let rhea = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-rhea", &["cards-review"]));
    let review = |model: &str| json!({"model": model, "action": "confirm", "reason_code": "other"});
    let (status, body) = call(&server, &rhea, "POST", "/v1/decisions/r-1/review", &review("card-limit"));
    assert_eq!(status, 404, "{body}");
    let (status, body) = call(&server, &rhea, "POST", "/v1/decisions/r-1/review", &review("fraud"));
    assert_eq!(status, 403, "{body}");

    // A validator of retail credit's models: sees only those, and cannot approve a fraud model.
    let rita = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-rita", &["retail-mrm"]));
    let (status, models) = get(&server, &rita, "/v1/models");
    assert_eq!(status, 200, "{models}");
    let names: Vec<&str> = models.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["retail-pd"]);
    let (_, inventory) = get(&server, &rita, "/v1/inventory");
    assert_eq!(inventory.as_array().map(Vec::len), Some(1), "{inventory}");
    let approve = json!({"decision": "approve", "comment": "validated"});
    let (status, body) = call(&server, &rita, "POST", "/v1/models/card-limit/versions/1/approvals", &approve);
    assert_eq!(status, 403, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("no role held here"), "{body}");
    assert_eq!(get(&server, &rita, "/v1/models/fraud").0, 403, "nor read a model outside her scope");
    // A validator of the payments business line sees the fraud model alone.
    let paul = sign(&ec, Algorithm::ES256, "ec-1", &claims(&provider.issuer, "u-paul", &["payments-mrm"]));
    let (_, models) = get(&server, &paul, "/v1/models");
    let names: Vec<&str> = models.as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fraud"]);
    assert_eq!(get(&server, &paul, "/v1/models/fraud").1["business_line"], "payments");
    assert_eq!(get(&server, &rita, "/v1/policies").0, 403, "nor anything inventory-wide");
    // The approval of a covered model goes through, recorded with her name and the roles then in force.
    let out = support::register_german_as(&server, None, "retail-pd", &artifact, "linear-json", &[]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let (status, body) = call(&server, &rita, "POST", "/v1/models/retail-pd/versions/1/approvals", &approve);
    assert_eq!(status, 201, "{body}");
    let events = server.get_json("/v1/audit/events?subject=model/retail-pd/1");
    let approval = events.as_array().unwrap().iter().find(|e| e["action"] == "version.approve").expect("audited");
    assert_eq!(approval["actor"], format!("oidc:{}|u-rita", provider.issuer));
    assert_eq!(approval["payload"]["acted_as"], json!({"display_name": "u-rita (test)", "roles": ["validator"]}));

    // Findings are read within the scope too: paul lists the fraud model's, and not the retail one's.
    let mut raised = Vec::new();
    for model in ["fraud", "retail-pd"] {
        let raise =
            ["findings", "raise", model, "--kind", "limitation", "--severity", "low", "--title", "thin data", "--json"];
        let out = server.cli(&raise);
        assert!(out.status.success(), "{}", support::stderr(&out));
        raised.push(serde_json::from_str::<Value>(&support::stdout(&out)).unwrap()["id"].as_i64().unwrap());
    }
    let (status, listed) = get(&server, &paul, "/v1/findings");
    assert_eq!(status, 200, "{listed}");
    let models: Vec<&str> = listed.as_array().unwrap().iter().map(|f| f["model"].as_str().unwrap()).collect();
    assert_eq!(models, ["fraud"], "{listed}");
    assert_eq!(get(&server, &paul, &format!("/v1/findings/{}", raised[0])).0, 200);
    assert_eq!(get(&server, &paul, &format!("/v1/findings/{}", raised[1])).0, 403, "outside his scope");
}

/// The form fields of a recorded request body.
fn form_fields(body: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// `warden login`: the device flow against the provider the server names, the token kept for later commands
/// (readable by the user alone), logging out, an expired sign-in, and a provider refusing the device flow.
#[test]
fn the_cli_signs_in_with_the_device_flow_and_later_commands_use_the_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let (ec, jwk) = ec_key("ec-1");
    let provider = Provider::start(json!({"keys": [jwk]}));
    let file = identity_file(dir.path(), &provider.issuer, "cli_client_id = \"warden-cli\"");
    let data = dir.path().join("data");
    let server = Server::start_with(&data, &["--identity", file.to_str().unwrap()]);

    // The person confirms after the CLI has polled twice.
    *provider.device_answer.lock().unwrap() = (
        200,
        json!({"device_code": "dev-123", "user_code": "WDKB-QRTZ",
        "verification_uri": format!("{}/device-verify", provider.issuer), "interval": 1, "expires_in": 60}),
    );
    for _ in 0..2 {
        provider.token_queue.lock().unwrap().push_back((400, json!({"error": "authorization_pending"})));
    }
    let mut person = claims(&provider.issuer, "u-77", &["mrm-validators"]);
    person["aud"] = json!("warden");
    *provider.token_answer.lock().unwrap() = (
        200,
        json!({"access_token": sign(&ec, Algorithm::ES256, "ec-1", &person), "expires_in": 300, "token_type": "Bearer"}),
    );
    let out = server.cli(&["login"]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    assert!(support::stderr(&out).contains("/device-verify and enter the code WDKB-QRTZ"), "{}", support::stderr(&out));
    assert!(support::stdout(&out).contains("as u-77 (test) (validator)"), "{}", support::stdout(&out));
    let device = form_fields(&provider.device_forms.lock().unwrap()[0]);
    assert_eq!((device["client_id"].as_str(), device["scope"].as_str()), ("warden-cli", "openid profile email"));
    let polls = provider.token_forms.lock().unwrap().clone();
    assert_eq!(polls.len(), 3, "two pending answers, then the token");
    let poll = form_fields(&polls[2]);
    assert_eq!(poll["grant_type"], "urn:ietf:params:oauth:grant-type:device_code");
    assert_eq!((poll["device_code"].as_str(), poll["client_id"].as_str()), ("dev-123", "warden-cli"));

    // Later commands without a token are the person, not the data directory's admin.
    let out = server.cli(&["whoami"]);
    let me = support::stdout(&out);
    assert!(me.starts_with(&format!("{}|u-77", provider.issuer)) && me.contains("roles: validator"), "{me}");
    let credentials = data.with_extension("cli-config").join("credentials.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&credentials).unwrap().permissions().mode() & 0o777, 0o600);
    }

    // An expired sign-in says what to do instead of acting as someone else.
    let mut saved: Value = serde_json::from_str(&std::fs::read_to_string(&credentials).unwrap()).unwrap();
    let key = saved["servers"].as_object().unwrap().keys().next().unwrap().clone();
    saved["servers"][&key]["expires_at"] = json!(now() - 10);
    std::fs::write(&credentials, saved.to_string()).unwrap();
    let out = server.cli(&["whoami"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("has expired: run `warden login` again"), "{}", support::stderr(&out));

    // Logging out forgets it: the admin token file applies again.
    let out = server.cli(&["logout"]);
    assert!(support::stdout(&out).contains("signed "), "{}", support::stdout(&out));
    assert!(support::stdout(&server.cli(&["whoami"])).starts_with("admin"));

    // A provider refusing the device flow: a clear error, nothing kept.
    *provider.device_answer.lock().unwrap() = (400, json!({"error": "unauthorized_client"}));
    let out = server.cli(&["login"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(support::stderr(&out).contains("400 Bad Request unauthorized_client"), "{}", support::stderr(&out));
    assert!(!std::fs::read_to_string(&credentials).unwrap().contains("u-77"));
}
