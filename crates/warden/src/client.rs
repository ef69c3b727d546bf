//! The HTTP client behind every stateful command.

use std::fmt;

use anyhow::Context;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::cli::Connection;

/// A request the server refused or could not answer.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    /// HTTP status, or `None` when the server was not reached.
    status: Option<u16>,
    message: String,
    /// The error's `details`, or null.
    details: Value,
}

impl ApiFailure {
    /// 1 for a refusal (4xx), 3 when the server failed or could not be reached.
    pub(crate) fn exit_code(&self) -> u8 {
        match self.status {
            Some(status) if status < 500 => 1,
            _ => 3,
        }
    }

    /// A refused batch's invalid rows named by their place in the input file: the batch began at the file's
    /// data row `first_row` (1-based). `None` when the refusal names no rows.
    pub(crate) fn rows_in_file(&self, first_row: usize, file: &str) -> Option<ApiFailure> {
        let rows = self.details["rows"].as_array()?;
        let shifted: Vec<Value> = rows
            .iter()
            .map(|r| serde_json::json!({"row": first_row as u64 + r["row"].as_u64().unwrap_or(0), "fields": r["fields"]}))
            .collect();
        let count = self.details["invalid_rows"].as_u64().unwrap_or(rows.len() as u64);
        let mut message = format!(
            "{file}: {count} invalid {} (data rows, counting from 1), so this batch was not scored:",
            if count == 1 { "row" } else { "rows" }
        );
        message.push_str(&invalid_rows(&shifted, &self.details["unlisted_rows"]));
        Some(ApiFailure { status: self.status, message, details: self.details.clone() })
    }
}

impl fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiFailure {}

pub(crate) struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Client {
    /// A client with the caller's token: `--token` (or `WARDEN_TOKEN`), else the sign-in `warden login` kept
    /// for this server, else the local data directory's admin token file.
    pub(crate) fn new(connection: &Connection) -> anyhow::Result<Self> {
        let token = match &connection.token {
            Some(token) => token.clone(),
            None => match crate::login::saved_token(&connection.url)? {
                Some(token) => token,
                None => {
                    let path = connection.data_dir.join("admin.token");
                    std::fs::read_to_string(&path)
                        .with_context(|| {
                            format!(
                                "no token given (WARDEN_TOKEN or --token), not signed in (warden login), and cannot \
                                 read {}",
                                path.display()
                            )
                        })?
                        .trim()
                        .to_owned()
                }
            },
        };
        Self::with_token(connection, token)
    }

    /// A client sending `token` (none when it is empty: public endpoints).
    pub(crate) fn with_token(connection: &Connection, token: String) -> anyhow::Result<Self> {
        warden_registry::install_tls_provider();
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &connection.ca_cert {
            let pem =
                std::fs::read(path).with_context(|| format!("cannot read the CA certificate {}", path.display()))?;
            let ca = reqwest::Certificate::from_pem(&pem)
                .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
            builder = builder.add_root_certificate(ca);
        }
        let http = builder.build().context("cannot build the HTTP client")?;
        Ok(Client { http, base: connection.url.trim_end_matches('/').to_owned(), token })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let request = if self.token.is_empty() { request } else { request.bearer_auth(&self.token) };
        let response = request.send().await.map_err(|e| ApiFailure {
            status: None,
            message: format!("cannot reach Warden at {}: {}", self.base, root_cause(&e)),
            details: Value::Null,
        })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| ApiFailure {
            status: None,
            message: format!("connection to {} broke: {e}", self.base),
            details: Value::Null,
        })?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let mut message = body["error"]["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
            format!("{status}: {}", String::from_utf8_lossy(&bytes).chars().take(200).collect::<String>())
        });
        // A refusal with several reasons (the promotion gate) lists each on its own line.
        if let Some(reasons) = body["error"]["details"]["deny"].as_array() {
            message = format!("{}:", message.split(':').next().unwrap_or_default());
            for reason in reasons.iter().filter_map(Value::as_str) {
                message.push_str(&format!("\n  - {reason}"));
            }
        }
        // A batch refused for its rows lists every invalid row the server named, then the count of the rest.
        if let Some(rows) = body["error"]["details"]["rows"].as_array() {
            message.push_str(&invalid_rows(rows, &body["error"]["details"]["unlisted_rows"]));
        }
        let details = body["error"]["details"].clone();
        Err(ApiFailure { status: Some(status.as_u16()), message, details }.into())
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    pub(crate) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::GET, path)).await
    }

    /// GETs a binary answer (an evidence bundle).
    pub(crate) async fn get_bytes(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let response =
            self.request(Method::GET, path).bearer_auth(&self.token).send().await.map_err(|e| ApiFailure {
                status: None,
                message: format!("cannot reach Warden at {}: {}", self.base, root_cause(&e)),
                details: Value::Null,
            })?;
        let status = response.status();
        let bytes = response.bytes().await?.to_vec();
        if !status.is_success() {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let message = body["error"]["message"].as_str().map_or_else(|| status.to_string(), str::to_owned);
            return Err(ApiFailure { status: Some(status.as_u16()), message, details: Value::Null }.into());
        }
        Ok(bytes)
    }

    /// GETs a plain-text answer (the ledger's key).
    pub(crate) async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let response = self.request(Method::GET, path).send().await.map_err(|e| ApiFailure {
            status: None,
            message: format!("cannot reach Warden at {}: {}", self.base, root_cause(&e)),
            details: Value::Null,
        })?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            let message = format!("{status}: {text}");
            return Err(ApiFailure { status: Some(status.as_u16()), message, details: Value::Null }.into());
        }
        Ok(text)
    }

    pub(crate) async fn json(&self, method: Method, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.request(method, path).json(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.request(Method::DELETE, path)).await
    }

    /// POSTs a body with its content type (NDJSON batches).
    pub(crate) async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> anyhow::Result<Value> {
        self.send(self.request(Method::POST, path).header(reqwest::header::CONTENT_TYPE, content_type).body(body)).await
    }

    pub(crate) async fn multipart(&self, path: &str, form: reqwest::multipart::Form) -> anyhow::Result<Value> {
        self.send(self.request(Method::POST, path).multipart(form)).await
    }

    /// [`Client::get`] into the API's own type for the answer.
    pub(crate) async fn get_as<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        typed(path, self.get(path).await?)
    }

    /// [`Client::json`] into the API's own type for the answer.
    pub(crate) async fn json_as<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<T> {
        typed(path, self.json(method, path, body).await?)
    }

    /// [`Client::multipart`] into the API's own type for the answer.
    pub(crate) async fn multipart_as<T: DeserializeOwned>(
        &self,
        path: &str,
        form: reqwest::multipart::Form,
    ) -> anyhow::Result<T> {
        typed(path, self.multipart(path, form).await?)
    }
}

/// The lines listing a refused batch's invalid rows: `row N: field: why; field: why`.
fn invalid_rows(rows: &[Value], unlisted: &Value) -> String {
    let mut text = String::new();
    for row in rows {
        let fields: Vec<String> = row["fields"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(field, why)| format!("{field}: {}", why.as_str().unwrap_or_default()))
            .collect();
        text.push_str(&format!("\n  row {}: {}", row["row"], fields.join("; ")));
    }
    match unlisted.as_u64() {
        Some(0) | None => {}
        Some(1) => text.push_str("\n  and 1 more invalid row"),
        Some(n) => text.push_str(&format!("\n  and {n} more invalid rows")),
    }
    text
}

/// An answer as the type `warden-api-types` declares for it.
fn typed<T: DeserializeOwned>(path: &str, body: Value) -> anyhow::Result<T> {
    serde_json::from_value(body).with_context(|| {
        let path = path.split('?').next().unwrap_or(path);
        format!("the server's answer to {path} is not what this version of warden expects")
    })
}

fn root_cause(err: &dyn std::error::Error) -> String {
    let mut cause = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Percent-encodes a path segment or query value.
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
