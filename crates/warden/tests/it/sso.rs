//! Dashboard sign-in through the identity provider. In Chromium against a real OpenID provider
//! (`oidc-provider-mock` from PyPI, which `scripts/install-oidc-provider.sh` installs on first use): sign in
//! through its login form with a user whose groups claim the test sets, roles and provider on the page,
//! sign out at the provider, an open redirect through `next` going nowhere, a person without a mapped group
//! refused, a denied sign-in explained. Over HTTP against the test's own provider (whose token endpoint answers
//! what the test signs): PKCE, state and nonce checked, forged ID tokens each refused naming the check, a
//! replayed answer refused, a provider down at start giving a clear page and working once it answers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use fantoccini::Locator;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use sha2::Digest;

use crate::identity::{Provider, claims, ec_key, now, sign};
use crate::support::Server;

/// `oidc-provider-mock` on a free port of 127.0.0.1, stopped when dropped.
struct MockProvider {
    child: Child,
    issuer: String,
}

impl MockProvider {
    fn start() -> MockProvider {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().expect("the target directory").to_owned();
        let venv = target.join("tools/oidc-provider");
        let program = venv.join("bin/oidc-provider-mock");
        if !program.exists() {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/install-oidc-provider.sh");
            let status = Command::new("bash").arg(&script).arg(&venv).status().expect("the install script runs");
            assert!(status.success(), "{} failed: the single sign-on test needs oidc-provider-mock", script.display());
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&program)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--require-nonce"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("oidc-provider-mock starts");
        let issuer = format!("http://127.0.0.1:{port}");
        // Held from here, so a failure below still stops the provider.
        let provider = MockProvider { child, issuer };
        let issuer = &provider.issuer;
        // A Python program: on a loaded 2-core machine its start has taken over 30 s.
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
            || http(&format!("{issuer}/.well-known/openid-configuration"), "GET", None).0 != 200
        {
            assert!(Instant::now() < deadline, "oidc-provider-mock did not answer on {issuer}");
            std::thread::sleep(Duration::from_millis(200));
        }
        provider
    }

    /// Sets the claims the provider puts in `subject`'s ID token.
    fn user(&self, subject: &str, claims: Value) {
        let (status, _) = http(&format!("{}/users/{subject}", self.issuer), "PUT", Some(claims));
        assert_eq!(status, 204);
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request without following redirects: status, headers, body.
fn request(
    url: &str,
    method: &str,
    json_body: Option<Value>,
    cookies: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    warden_registry::install_tls_provider();
    runtime.block_on(async {
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let mut request = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
        if !cookies.is_empty() {
            request = request.header("cookie", cookies);
        }
        if let Some(body) = json_body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (status, headers, response.text().await.unwrap_or_default())
    })
}

fn http(url: &str, method: &str, body: Option<Value>) -> (u16, String) {
    let (status, _, text) = request(url, method, body, "");
    (status, text)
}

/// The identity file; with `secret`, Warden is a confidential client whose secret sits in a file beside it.
fn identity_file(dir: &Path, issuer: &str, secret: Option<&str>) -> PathBuf {
    let path = dir.join("identity.toml");
    let secret_line = match secret {
        Some(secret) => {
            std::fs::write(dir.join("oidc-secret"), format!("{secret}\n")).unwrap();
            "client_secret_file = \"oidc-secret\"\n"
        }
        None => "",
    };
    let text = format!(
        "[oidc]\nissuer = \"{issuer}\"\nclient_id = \"warden\"\ndisplay_name = \"Bank SSO\"\n{secret_line}\
         [roles]\n\"mrm-validators\" = \"validator\"\n\
         [[scopes]]\ngroup = \"cards-ds\"\nrole = \"data-scientist\"\nmodels_tagged = \"cards\"\n"
    );
    std::fs::write(&path, text).unwrap();
    path
}

/// Drives Chromium through a real provider's login form.
mod slow {
    use super::*;
    use crate::dashboard::{Driver, browser, chromedriver, text};

    #[test]
    fn people_sign_in_to_the_dashboard_through_a_real_provider_and_out_again() {
        let driver_path = chromedriver();
        let provider = MockProvider::start();
        provider.user(
            "vera",
            json!({"name": "Vera Validator", "email": "vera@bank.example", "groups": ["mrm-validators"]}),
        );
        provider.user("carl", json!({"name": "Carl Cards", "groups": ["cards-ds"]}));
        provider.user("olga", json!({"name": "Olga Outsider", "groups": ["canteen"]}));
        let dir = tempfile::tempdir().unwrap();
        let file = identity_file(dir.path(), &provider.issuer, Some("s3cret-of-warden"));
        let server = Server::start_with(&dir.path().join("data"), &["--identity", file.to_str().unwrap()]);
        let url = server.url.clone();
        let (driver, port) = Driver::start(&driver_path);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let client = browser(port).await;

            // From a deep link: the log-in page offers the provider, whose form signs Vera in, and she lands
            // where she was going, shown with her name, provider and role.
            client.goto(&format!("{url}/ui/audit")).await.unwrap();
            assert!(client.current_url().await.unwrap().path().starts_with("/ui/login"));
            let button = client.find(Locator::Id("sign-in")).await.unwrap();
            assert_eq!(button.text().await.unwrap(), "Sign in with Bank SSO");
            button.click().await.unwrap();
            sign_in_at_provider(&client, "vera").await;
            landed_on(&client, "/ui/audit").await;
            let who = text(&client, "#whoami").await;
            assert_eq!(who, format!("Vera Validator (signed in through {}) · validator", provider.issuer));

            // Signing out ends the session and signs out at the provider, which sends the browser back to
            // the log-in page.
            client.find(Locator::Css("header form.who button")).await.unwrap().click().await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let at = client.current_url().await.unwrap();
                if at.as_str().starts_with(&provider.issuer) {
                    break;
                }
                assert!(Instant::now() < deadline, "not at the provider's end-session page: {at}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            client.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Id("sign-in")).await.unwrap();
            assert_eq!(client.current_url().await.unwrap().path(), "/ui/login");
            client.goto(&format!("{url}/ui")).await.unwrap();
            assert!(client.current_url().await.unwrap().path().starts_with("/ui/login"), "the session is over");

            // A scoped data scientist, through a link that tries to send him elsewhere afterwards: he lands on
            // the dashboard, his scope shown.
            client.goto(&format!("{url}/ui/login/oidc?next=https://evil.example/")).await.unwrap();
            sign_in_at_provider(&client, "carl").await;
            landed_on(&client, "/ui").await;
            assert_eq!(client.current_url().await.unwrap().host_str(), Some("127.0.0.1"));
            let who = text(&client, "#whoami").await;
            let expected = format!(
                "Carl Cards (signed in through {}) · data-scientist over models tagged 'cards'",
                provider.issuer
            );
            assert_eq!(who, expected);
            client.delete_all_cookies().await.unwrap();

            // Known to the provider but in no mapped group: refused, naming the groups.
            client.goto(&format!("{url}/ui/login/oidc")).await.unwrap();
            sign_in_at_provider(&client, "olga").await;
            client.wait().for_element(Locator::Id("sign-in-failed")).await.unwrap();
            let why = text(&client, "#sign-in-failed").await;
            assert!(why.contains("Olga Outsider") && why.contains("canteen"), "{why}");

            // Denied at the provider: the page says so.
            client.goto(&format!("{url}/ui/login/oidc")).await.unwrap();
            client.wait().for_element(Locator::Css("button[value=deny]")).await.unwrap().click().await.unwrap();
            client.wait().for_element(Locator::Id("sign-in-failed")).await.unwrap();
            let why = text(&client, "#sign-in-failed").await;
            assert!(why.contains("Bank SSO refused the sign-in (access_denied"), "{why}");
            client.close().await.unwrap();
        });
        drop(driver);
    }
}

/// Waits until the browser, through the callback's page moving on, shows the dashboard at `path` signed in
/// (a find racing the page's own navigation is tried again).
async fn landed_on(client: &fantoccini::Client, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let at = client.current_url().await.map(|u| u.path().to_owned()).unwrap_or_default();
        if at == path && client.find(Locator::Css("#whoami")).await.is_ok() {
            return;
        }
        assert!(Instant::now() < deadline, "not signed in at {path}: at {at}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// On the provider's authorization form: signs in as `subject`.
async fn sign_in_at_provider(client: &fantoccini::Client, subject: &str) {
    let field = client.wait().for_element(Locator::Css("input[name=sub]")).await.unwrap();
    field.send_keys(subject).await.unwrap();
    client.find(Locator::Css("button[type=submit]:not([value=deny])")).await.unwrap().click().await.unwrap();
}

/// The `name=value` of a `Set-Cookie` header for `name`.
fn set_cookie(headers: &reqwest::header::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_owned())
        .find(|pair| pair.starts_with(&format!("{name}=")) && !pair.ends_with('='))
}

/// A sign-in begun at Warden: the browser's cookie and the authorization request's parameters.
struct Begun {
    cookie: String,
    params: std::collections::HashMap<String, String>,
}

fn begin(url: &str, next: &str) -> Begun {
    let (status, headers, body) = request(&format!("{url}/ui/login/oidc?next={next}"), "GET", None, "");
    assert_eq!(status, 303, "{body}");
    let location = reqwest::Url::parse(headers["location"].to_str().unwrap()).unwrap();
    let params = location.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Begun { cookie: set_cookie(&headers, "warden_sign_in").expect("the sign-in cookie"), params }
}

fn back(url: &str, begun: &Begun, query: &str) -> (u16, reqwest::header::HeaderMap, String) {
    request(&format!("{url}/ui/login/oidc/callback?{query}"), "GET", None, &begun.cookie)
}

#[test]
fn the_callback_checks_state_pkce_and_the_id_token_and_refuses_forgeries_naming_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let (key, jwk) = ec_key("ec-1");
    // The provider's port is taken now, but it answers only later: Warden starts without it.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let issuer = format!("http://{address}/realms/staff");
    let file = identity_file(dir.path(), &issuer, None);
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server = Server::start_logging(
        &dir.path().join("data"),
        &["--identity", file.to_str().unwrap()],
        "trace",
        Stdio::from(log),
    );
    let url = &server.url;

    // Provider down: a clear page, and the break-glass token form still there.
    let (status, body) = http(&format!("{url}/ui/login/oidc"), "GET", None);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("Bank SSO does not answer") && body.contains("can still log in with a token"), "{body}");
    let (_, page) = http(&format!("{url}/ui/login"), "GET", None);
    assert!(page.contains("Sign in with Bank SSO") && page.contains("id=\"token\""), "{page}");

    // The provider comes up; ten seconds after the last attempt, sign-in asks it again and works.
    let provider = Provider::start_on(TcpListener::bind(address).unwrap(), json!({"keys": [jwk]}));
    std::thread::sleep(Duration::from_secs(10));
    let begun = begin(url, "/ui/kpis");
    let params = &begun.params;
    assert!(params["redirect_uri"].ends_with("/ui/login/oidc/callback"));
    assert_eq!((params["response_type"].as_str(), params["client_id"].as_str()), ("code", "warden"));
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(params["scope"].split(' ').any(|s| s == "openid"));

    let id_token = |begun: &Begun, edit: &dyn Fn(&mut Value)| {
        let mut c = claims(&provider.issuer, "u-42", &["mrm-validators"]);
        c["aud"] = json!("warden");
        c["nonce"] = json!(begun.params["nonce"]);
        edit(&mut c);
        sign(&key, Algorithm::ES256, "ec-1", &c)
    };
    let answer = |token: String| {
        *provider.token_answer.lock().unwrap() = (200, json!({"id_token": token, "access_token": "opaque"}))
    };

    // The right answer: a session, and a page of this site moving on to where the person was going.
    answer(id_token(&begun, &|_| {}));
    let state = &begun.params["state"];
    let (status, headers, page) = back(url, &begun, &format!("code=the-code&state={state}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("url=/ui/kpis"), "{page}");
    let session = set_cookie(&headers, "warden_session").expect("a session");
    let (status, _, kpis) = request(&format!("{url}/ui/kpis"), "GET", None, &session);
    assert_eq!(status, 200);
    assert!(kpis.contains("u-42 (test) (signed in through"), "the page shows who signed in");
    // The code exchange sent the PKCE verifier whose SHA-256 the authorization request carried.
    let form: std::collections::HashMap<String, String> =
        reqwest::Url::parse(&format!("http://x/?{}", provider.token_forms.lock().unwrap().last().unwrap()))
            .unwrap()
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    assert_eq!((form["grant_type"].as_str(), form["code"].as_str()), ("authorization_code", "the-code"));
    assert_eq!(form["redirect_uri"], params["redirect_uri"]);
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(form["code_verifier"].as_bytes()));
    assert_eq!(challenge, params["code_challenge"]);

    // The same answer again (a replay): refused.
    let (status, _, page) = back(url, &begun, &format!("code=the-code&state={state}"));
    assert_eq!(status, 400);
    assert!(page.contains("expired or was already completed"), "{page}");

    // An answer carried into a browser that did not begin the sign-in: refused.
    let other = begin(url, "/ui");
    let stranger = Begun { cookie: "warden_sign_in=someone-else".into(), params: other.params.clone() };
    let (status, _, page) = back(url, &stranger, &format!("code=c&state={}", other.params["state"]));
    assert_eq!(status, 400);
    assert!(page.contains("did not begin in this browser"), "{page}");

    // Forged or wrong ID tokens, each refused with 401 and the check named.
    let first_nonce = begun.params["nonce"].clone();
    let cases: Vec<(&str, Box<dyn Fn(&mut Value)>, &str)> = vec![
        (
            "no nonce",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("nonce");
            }),
            "nonce is missing",
        ),
        (
            "another sign-in's nonce",
            Box::new(move |c| c["nonce"] = json!(first_nonce.clone())),
            "nonce is not this sign-in's",
        ),
        ("another audience", Box::new(|c| c["aud"] = json!("another-app")), "audience does not include 'warden'"),
        (
            "another issuer",
            Box::new(|c| c["iss"] = json!("http://127.0.0.1:1/evil")),
            "issued by 'http://127.0.0.1:1/evil'",
        ),
        ("expired", Box::new(|c| c["exp"] = json!(now() - 3600)), "expired at"),
    ];
    for (what, edit, reason) in &cases {
        let begun = begin(url, "/ui");
        answer(id_token(&begun, edit.as_ref()));
        let (status, _, page) = back(url, &begun, &format!("code=c&state={}", begun.params["state"]));
        assert_eq!(status, 401, "{what}: {page}");
        assert!(page.contains(reason), "{what}: the page should name '{reason}'");
    }
    let begun = begin(url, "/ui");
    let (other_key, _) = ec_key("ec-1");
    let mut c = claims(&provider.issuer, "u-42", &["mrm-validators"]);
    c["aud"] = json!("warden");
    c["nonce"] = json!(begun.params["nonce"]);
    answer(sign(&other_key, Algorithm::ES256, "ec-1", &c));
    let (status, _, page) = back(url, &begun, &format!("code=c&state={}", begun.params["state"]));
    assert_eq!(status, 401);
    assert!(page.contains("signature does not verify"), "{page}");
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let begun = begin(url, "/ui");
    c["nonce"] = json!(begun.params["nonce"]);
    answer(format!("{}.{}.", b64(&json!({"alg": "none", "kid": "ec-1"})), b64(&c)));
    let (status, _, page) = back(url, &begun, &format!("code=c&state={}", begun.params["state"]));
    assert_eq!(status, 401);
    assert!(page.contains("algorithm none is not accepted"), "{page}");

    // The provider refuses the code: 502 naming its error. The person refused there: 401 naming it.
    let begun = begin(url, "/ui");
    *provider.token_answer.lock().unwrap() = (400, json!({"error": "invalid_grant", "error_description": "code used"}));
    let (status, _, page) = back(url, &begun, &format!("code=c&state={}", begun.params["state"]));
    assert_eq!(status, 502);
    assert!(page.contains("invalid_grant: code used"), "{page}");
    let begun = begin(url, "/ui");
    let (status, _, page) = back(url, &begun, &format!("error=access_denied&state={}", begun.params["state"]));
    assert_eq!(status, 401);
    assert!(page.contains("Bank SSO refused the sign-in (access_denied)"), "{page}");

    // No mapped group: 403 naming the groups. Nothing of a token or code appears in a page.
    let begun = begin(url, "/ui");
    answer(id_token(&begun, &|c| c["groups"] = json!(["canteen"])));
    let (status, _, page) = back(url, &begun, &format!("code=secret-code-123&state={}", begun.params["state"]));
    assert_eq!(status, 403);
    assert!(page.contains("its groups (canteen) map to none"), "{page}");
    assert!(!page.contains("secret-code-123") && !page.contains("eyJ"), "{page}");
    // Nor the server's log, at trace level: no code, no ID token, no PKCE verifier.
    let logged = std::fs::read_to_string(&log_path).unwrap();
    assert!(logged.contains("sign-in refused"), "the refusals are logged");
    let verifier = form["code_verifier"].clone();
    for secret in ["secret-code-123", "the-code", "eyJ", verifier.as_str()] {
        assert!(!logged.contains(secret), "the log holds '{secret}'");
    }
}
