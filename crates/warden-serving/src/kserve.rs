//! KServe's payload logger, read: the CloudEvents an InferenceService with `spec.predictor.logger`
//! (`mode: all`) posts for each inference request and each response, parsed ([`parse_event`]) and joined by
//! their shared id into decisions ([`join`]). Pure: bytes in, values out; no I/O, no clock.
//!
//! **What KServe sends.** The agent beside the model server (`pkg/logger/handler.go` and `worker.go` of
//! kserve/kserve) posts each half as a CloudEvents 1.0 event in *binary* content mode (`ce-*` headers, the
//! body is the data):
//! - `ce-specversion: 1.0`, `ce-type: org.kubeflow.serving.inference.request` or `…response`;
//! - `ce-id`: the inference request's own `Ce-Id` header when it had one, otherwise a fresh UUID; the request
//!   and its response carry the same id, which is what [`join`] pairs them by;
//! - `ce-source`: the agent's `--source-uri`, by default `http://localhost:<port>/`;
//! - `ce-time`: when the request arrived, or when the response came back; `ce-recordedtime`: when the event
//!   was built;
//! - extensions `ce-inferenceservicename`, `ce-namespace`, `ce-component` (predictor, transformer, explainer),
//!   `ce-endpoint` (`default` or `canary`; older releases send it empty), `ce-metadata` (JSON of the request
//!   headers the logger was told to keep) and `ce-annotations` (JSON, when configured);
//! - `Content-Type`: the *inference request's* content type, for both halves (a client's `curl -d` makes it
//!   `application/x-www-form-urlencoded`), or none. The data is therefore read as JSON whatever it says;
//! - the body: the model server's request or response body, byte for byte.
//!
//! A response is logged only when the model server answered 200, so a request may never meet its response.
//! Events in *structured* mode (`Content-Type: application/cloudevents+json`, attributes and `data` or
//! `data_base64` in one JSON document) are read too, for forwarders that re-encode; batched mode is refused.
//! Header values are unquoted and percent-decoded as the CloudEvents HTTP binding (§3.1.3.2) requires.
//!
//! **Payloads read.**
//! - V1 request `{"instances": [...]}`: each instance an array of values in the schema's feature order, an
//!   object feature → value, or a bare value (one feature).
//! - V2 (Open Inference Protocol) request `{"inputs": [...]}`: either one tensor of shape `[n, features]` in
//!   schema order (`[n]` for a one-feature schema), or one input per feature, named after it, of shape `[n]`
//!   or `[n, 1]` (what KServe's pandas codec, `"content_type": "pd"`, sends). Tensor data may be flat or
//!   nested, or binary: the Open Inference Protocol's binary data extension (Triton's, which KServe's V2
//!   servers accept) sends the JSON header, then each tensor whose `parameters.binary_data_size` is set as
//!   raw little-endian bytes, in order. The logger posts the body byte for byte without the
//!   `Inference-Header-Content-Length` header, so the header is read as the body's first JSON value and the
//!   bytes after it are cut by each tensor's `binary_data_size` ([`binary_tensors`]); the event's data is
//!   kept as the equivalent JSON. BOOL, the signed and unsigned integers, FP32, FP64 and BYTES are read;
//!   FP16 and BF16 are refused naming the tensor.
//! - V1 response `{"predictions": [...]}`: per instance a number, `[p]`, `[p0, p1]` (the positive class,
//!   index 1, is the score) or an object with a `probability` member holding one of those.
//! - V2 response `{"outputs": [...], "model_version": ...}`: the only output, or among several the one named
//!   in [`PROBABILITY_OUTPUTS`]; of shape `[n]`, `[n, 1]` or `[n, 2]` (index 1 is the score).
//!
//! A score is a probability in [0, 1]: a regression's value or a multi-class label is refused with the place
//! it was found. A binary classifier's *label* (`predict` rather than `predict_proba`) passes as a score of 0
//! or 1; nothing in the payload tells the two apart.
//!
//! **Budget.** Every event is held to [`MAX_BODY_BYTES`] ([`MAX_STORED_BYTES`] once binary tensors are
//! written as JSON, and [`MAX_BINARY_ELEMENTS`] elements decoded), [`MAX_DEPTH`] levels of nesting (checked by a scan
//! before any parser runs; serde_json's own recursion limit, 128, is never reached), [`MAX_INSTANCES`] rows,
//! ids of at most [`MAX_EVENT_ID`] bytes and other attributes of at most [`MAX_ATTRIBUTE`] bytes.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use base64::Engine;
use serde_json::{Map, Value};
use warden_core::Timestamp;
use warden_registry::binding::{MAX_BATCH_ROWS, MAX_REQUEST_ID};

/// The `ce-type` of a logged inference request.
pub const REQUEST_TYPE: &str = "org.kubeflow.serving.inference.request";
/// The `ce-type` of a logged inference response.
pub const RESPONSE_TYPE: &str = "org.kubeflow.serving.inference.response";

/// Largest event body read (4 MiB): 10,000 rows of 50 features written with 8 bytes each.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Largest event data kept while the other half is awaited: binary tensors are kept as JSON, which is larger
/// (an FP32 element takes 4 bytes, its JSON number up to 18 characters).
pub const MAX_STORED_BYTES: usize = 8 * MAX_BODY_BYTES;
/// Most tensor elements decoded from one event's binary data (10,000 rows of 100 features).
pub const MAX_BINARY_ELEMENTS: usize = 1_000_000;
/// Deepest nesting of arrays and objects in a body, the envelope included in structured mode. A V2 request
/// with nested tensor data needs 5.
pub const MAX_DEPTH: usize = 32;
/// Most instances (rows) in one event: the largest batch the scoring API takes.
pub const MAX_INSTANCES: usize = MAX_BATCH_ROWS;
/// Longest event id, in bytes: `{id}/{i}` for the last instance of the largest event still fits a decision's
/// request id (`MAX_REQUEST_ID`, 128).
pub const MAX_EVENT_ID: usize = MAX_REQUEST_ID - 5;
/// Longest value of any other attribute read (source, extensions, a V2 `model_version`), in bytes.
pub const MAX_ATTRIBUTE: usize = 256;
/// Names of the V2 output holding class probabilities when a response has several outputs.
pub const PROBABILITY_OUTPUTS: &[&str] = &["predict_proba", "probabilities", "probability", "output_probability"];

/// Which half of an inference an event logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The inference request (`org.kubeflow.serving.inference.request`).
    Request,
    /// The model server's response (`org.kubeflow.serving.inference.response`).
    Response,
}

impl EventKind {
    /// The word stored for a waiting half (`request`, `response`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Request => "request",
            EventKind::Response => "response",
        }
    }

    /// The `ce-type` KServe gives this half.
    pub fn ce_type(self) -> &'static str {
        match self {
            EventKind::Request => REQUEST_TYPE,
            EventKind::Response => RESPONSE_TYPE,
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "request" => Ok(EventKind::Request),
            "response" => Ok(EventKind::Response),
            _ => Err(format!("unknown event kind {s:?}: request or response")),
        }
    }
}

/// One parsed half of an inference.
#[derive(Debug, Clone, PartialEq)]
pub struct KserveEvent {
    /// The CloudEvent id, shared by a request and its response.
    pub id: String,
    /// Request or response.
    pub kind: EventKind,
    /// `ce-source` (`None` for a half rebuilt by [`KserveEvent::from_stored`]).
    pub source: Option<String>,
    /// `ce-time`: when the request arrived or the response came back, if the event says.
    pub time: Option<Timestamp>,
    /// `ce-inferenceservicename`, if given and not empty.
    pub inference_service: Option<String>,
    /// `ce-namespace`, if given and not empty.
    pub namespace: Option<String>,
    /// `ce-component` (predictor, transformer, explainer), if given and not empty.
    pub component: Option<String>,
    /// `ce-endpoint` (default, canary), if given and not empty.
    pub endpoint: Option<String>,
    /// A V2 response's `model_version`, if it has one.
    pub model_version: Option<String>,
    /// The event's data as JSON text: what to keep for a half waiting for the other one, and what
    /// [`KserveEvent::from_stored`] reads back.
    pub data: String,
    /// The data, read.
    pub body: InferenceBody,
}

/// An event's data, read into rows.
#[derive(Debug, Clone, PartialEq)]
pub enum InferenceBody {
    /// A V1 request's `instances`, one per row.
    Instances(Vec<Instance>),
    /// A V2 request's `inputs`; rows are cut from them by the schema in [`join`].
    Inputs(Vec<Tensor>),
    /// A response's scores, one per row, and where they were read (`predictions`, `outputs[1].data`).
    Scores {
        /// The field the scores came from; row `i` is `{field}[i]`.
        field: String,
        /// One score per row.
        values: Vec<f64>,
    },
}

/// One V1 instance.
#[derive(Debug, Clone, PartialEq)]
pub enum Instance {
    /// Values in the schema's feature order (a bare value is one of them).
    Values(Vec<Value>),
    /// Feature → value.
    Named(Map<String, Value>),
}

/// One V2 tensor, its data flattened in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The input's name.
    pub name: String,
    /// Its shape; the first dimension is the batch. The data holds the product of the dimensions.
    pub shape: Vec<usize>,
    /// The declared datatype (`FP32`, `INT64`, `BYTES`, …), as sent.
    pub datatype: String,
    /// The elements, flattened.
    pub data: Vec<Value>,
}

/// Why an event could not be read; each names the header, member or field at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The body is over [`MAX_BODY_BYTES`].
    #[error("the body has {bytes} bytes; an event holds at most {MAX_BODY_BYTES}")]
    TooLarge {
        /// The body's size.
        bytes: usize,
    },
    /// Arrays and objects nest deeper than [`MAX_DEPTH`].
    #[error("{place} nests arrays and objects deeper than {MAX_DEPTH} levels (at byte {at})")]
    TooDeep {
        /// The body, or the decoded data.
        place: String,
        /// Where the limit was passed.
        at: usize,
    },
    /// A required header, member or field is absent.
    #[error("{0} is missing")]
    Missing(String),
    /// A header is given more than once.
    #[error("{0} is given more than once")]
    Repeated(String),
    /// An attribute's value cannot be used.
    #[error("{place}: {reason}")]
    Attribute {
        /// The header or member.
        place: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `ce-type` is not one of KServe's two.
    #[error("{place} is {value:?}; KServe's payload logger sends {REQUEST_TYPE} or {RESPONSE_TYPE}")]
    UnknownType {
        /// The header or member.
        place: String,
        /// The type given.
        value: String,
    },
    /// The content type asks for a content mode or event format not read here.
    #[error("Content-Type {0:?}: only binary mode and structured mode in JSON (application/cloudevents+json) are read")]
    ContentMode(String),
    /// The data is not JSON.
    #[error("the data is not JSON (content type {}): {reason}", content_type.as_deref().unwrap_or("none"))]
    NotJson {
        /// The data's declared content type.
        content_type: Option<String>,
        /// The parser's complaint.
        reason: String,
    },
    /// The data is JSON but not an inference payload read here.
    #[error("{field}: {reason}")]
    Data {
        /// The member at fault (`instances[2]`, `outputs[0].shape`).
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// More rows than [`MAX_INSTANCES`].
    #[error("{field} holds {count} rows; an event holds at most {MAX_INSTANCES}")]
    TooMany {
        /// The member holding them.
        field: String,
        /// How many it holds.
        count: usize,
    },
}

/// Why a request and a response could not be joined into decisions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum JoinError {
    /// Both halves are requests, or both responses.
    #[error("both events are {0}s; a decision joins a request with its response")]
    SameKind(EventKind),
    /// The halves belong to different inferences.
    #[error("the request's id {request:?} is not the response's {response:?}")]
    DifferentIds {
        /// The request's id.
        request: String,
        /// The response's id.
        response: String,
    },
    /// A half's body is not of its kind (a request holding scores, a response holding instances).
    #[error("the {kind} holds no {}", if *kind == EventKind::Request { "instances or inputs" } else { "scores" })]
    Body {
        /// The half at fault.
        kind: EventKind,
    },
    /// The request's rows and the response's scores do not pair up.
    #[error("the request holds {instances} instances and the response {scores} scores")]
    Counts {
        /// Rows in the request.
        instances: usize,
        /// Scores in the response.
        scores: usize,
    },
    /// A row of values in schema order is not as wide as the schema.
    #[error("{field}: {width} values, but the version's schema has {features} features")]
    Width {
        /// The instance or tensor.
        field: String,
        /// Values per row.
        width: usize,
        /// Features in the schema.
        features: usize,
    },
    /// V2 inputs that cannot be cut into rows by the schema.
    #[error("{field}: {reason}")]
    Inputs {
        /// The input at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A score that is not a probability.
    #[error("{field} is {value}; a score is a probability in [0, 1]")]
    Score {
        /// Where the score was read.
        field: String,
        /// The value.
        value: f64,
    },
}

/// One decision made outside Warden: a request's row with the score the response gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct JoinedDecision {
    /// The event id for a one-row event, `{id}/{i}` (0-based) for row `i` of a larger one.
    pub request_id: String,
    /// Feature → value, named by the version's schema (objects and named inputs keep their own names; the
    /// caller checks them against the schema as scoring does).
    pub features: Map<String, Value>,
    /// The score, in [0, 1].
    pub score: f64,
}

/// Reads one event as KServe's logger posts it: `headers` are the HTTP request's (name, value) pairs, in any
/// case (from an `http::HeaderMap`: `map.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))`), `body` its body.
pub fn parse_event<'h>(
    headers: impl IntoIterator<Item = (&'h str, &'h [u8])>,
    body: &[u8],
) -> Result<KserveEvent, EventError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(EventError::TooLarge { bytes: body.len() });
    }
    let headers = Headers::read(headers)?;
    check_depth(body, "the body")?;
    let media = headers.content_type.as_deref().map(media_type).unwrap_or_default();
    if media == "application/cloudevents+json" {
        parse_structured(body)
    } else if media.starts_with("application/cloudevents") {
        // Batched mode, or an event format other than JSON.
        Err(EventError::ContentMode(headers.content_type.unwrap_or_default()))
    } else {
        parse_binary(headers, body)
    }
}

impl KserveEvent {
    /// Rebuilds a half kept while it waited for the other one, from its id, kind and [`KserveEvent::data`];
    /// the attributes that were used to route it (service, namespace, …) are not kept.
    pub fn from_stored(id: &str, kind: EventKind, data: &str) -> Result<KserveEvent, EventError> {
        if data.len() > MAX_STORED_BYTES {
            return Err(EventError::TooLarge { bytes: data.len() });
        }
        check_id(id, "the stored id")?;
        check_depth(data.as_bytes(), "the data")?;
        let value: Value = serde_json::from_str(data)
            .map_err(|e| EventError::NotJson { content_type: None, reason: e.to_string() })?;
        let (body, model_version) = parse_payload(kind, value)?;
        Ok(KserveEvent {
            id: id.to_owned(),
            kind,
            source: None,
            time: None,
            inference_service: None,
            namespace: None,
            component: None,
            endpoint: None,
            model_version,
            data: data.to_owned(),
            body,
        })
    }
}

/// Joins a request with its response, given in either order, into one decision per row. `features` are the
/// version's feature names in schema order: they name the values of array instances and `[n, features]`
/// tensors, and tell named V2 inputs from a single tensor.
pub fn join(a: &KserveEvent, b: &KserveEvent, features: &[String]) -> Result<Vec<JoinedDecision>, JoinError> {
    let (request, response) = match (a.kind, b.kind) {
        (EventKind::Request, EventKind::Response) => (a, b),
        (EventKind::Response, EventKind::Request) => (b, a),
        (kind, _) => return Err(JoinError::SameKind(kind)),
    };
    if request.id != response.id {
        return Err(JoinError::DifferentIds { request: request.id.clone(), response: response.id.clone() });
    }
    let InferenceBody::Scores { field, values } = &response.body else {
        return Err(JoinError::Body { kind: EventKind::Response });
    };
    let rows = rows(&request.body, features)?;
    if rows.len() != values.len() {
        return Err(JoinError::Counts { instances: rows.len(), scores: values.len() });
    }
    let single = rows.len() == 1;
    rows.into_iter()
        .zip(values)
        .enumerate()
        .map(|(i, (features, &score))| {
            if !is_probability(score) {
                return Err(JoinError::Score { field: format!("{field}[{i}]"), value: score });
            }
            let request_id = if single { request.id.clone() } else { format!("{}/{i}", request.id) };
            Ok(JoinedDecision { request_id, features, score })
        })
        .collect()
}

/// The headers read, each at most once.
#[derive(Default)]
struct Headers {
    id: Option<String>,
    kind: Option<String>,
    source: Option<String>,
    specversion: Option<String>,
    time: Option<String>,
    inference_service: Option<String>,
    namespace: Option<String>,
    component: Option<String>,
    endpoint: Option<String>,
    content_type: Option<String>,
}

impl Headers {
    fn read<'h>(headers: impl IntoIterator<Item = (&'h str, &'h [u8])>) -> Result<Headers, EventError> {
        let mut read = Headers::default();
        for (name, value) in headers {
            let name = name.to_ascii_lowercase();
            let (slot, max) = match name.as_str() {
                "ce-id" => (&mut read.id, MAX_EVENT_ID),
                "ce-type" => (&mut read.kind, MAX_ATTRIBUTE),
                "ce-source" => (&mut read.source, MAX_ATTRIBUTE),
                "ce-specversion" => (&mut read.specversion, MAX_ATTRIBUTE),
                "ce-time" => (&mut read.time, MAX_ATTRIBUTE),
                "ce-inferenceservicename" => (&mut read.inference_service, MAX_ATTRIBUTE),
                "ce-namespace" => (&mut read.namespace, MAX_ATTRIBUTE),
                "ce-component" => (&mut read.component, MAX_ATTRIBUTE),
                "ce-endpoint" => (&mut read.endpoint, MAX_ATTRIBUTE),
                "content-type" => (&mut read.content_type, MAX_ATTRIBUTE),
                _ => continue,
            };
            let place = format!("header {name}");
            if slot.is_some() {
                return Err(EventError::Repeated(place));
            }
            let text = std::str::from_utf8(value)
                .map_err(|_| attribute_error(&place, "not UTF-8 text".into()))?
                .trim_matches([' ', '\t']);
            let text = if name == "content-type" { text.to_owned() } else { header_value(text, &place)? };
            check_text(&text, max, &place)?;
            *slot = Some(text);
        }
        Ok(read)
    }
}

fn parse_binary(headers: Headers, body: &[u8]) -> Result<KserveEvent, EventError> {
    let id = required(headers.id, "header ce-id")?;
    check_id(&id, "header ce-id")?;
    check_specversion(&required(headers.specversion, "header ce-specversion")?, "header ce-specversion")?;
    let kind = kind_of(required(headers.kind, "header ce-type")?, "header ce-type")?;
    let source = required(headers.source, "header ce-source")?;
    let time = headers.time.map(|t| timestamp(&t, "header ce-time")).transpose()?;
    let (data, value) = read_data(body, headers.content_type.as_deref())?;
    let (body, model_version) = parse_payload(kind, value)?;
    Ok(KserveEvent {
        id,
        kind,
        source: Some(source),
        time,
        inference_service: non_empty(headers.inference_service),
        namespace: non_empty(headers.namespace),
        component: non_empty(headers.component),
        endpoint: non_empty(headers.endpoint),
        model_version,
        data,
        body,
    })
}

fn parse_structured(body: &[u8]) -> Result<KserveEvent, EventError> {
    let envelope: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        content_type: Some("application/cloudevents+json".into()),
        reason: e.to_string(),
    })?;
    let Value::Object(mut envelope) = envelope else {
        return Err(data_error("the event", "not a JSON object".into()));
    };
    let mut attribute = |name: &str, max: usize| -> Result<Option<String>, EventError> {
        let place = format!("member {name:?}");
        match envelope.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => {
                check_text(&text, max, &place)?;
                Ok(Some(text))
            }
            Some(_) => Err(attribute_error(&place, "not a string".into())),
        }
    };
    let id = required(attribute("id", MAX_EVENT_ID)?, "member \"id\"")?;
    check_id(&id, "member \"id\"")?;
    check_specversion(
        &required(attribute("specversion", MAX_ATTRIBUTE)?, "member \"specversion\"")?,
        "member \"specversion\"",
    )?;
    let kind = kind_of(required(attribute("type", MAX_ATTRIBUTE)?, "member \"type\"")?, "member \"type\"")?;
    let source = required(attribute("source", MAX_ATTRIBUTE)?, "member \"source\"")?;
    let time = attribute("time", MAX_ATTRIBUTE)?.map(|t| timestamp(&t, "member \"time\"")).transpose()?;
    let inference_service = non_empty(attribute("inferenceservicename", MAX_ATTRIBUTE)?);
    let namespace = non_empty(attribute("namespace", MAX_ATTRIBUTE)?);
    let component = non_empty(attribute("component", MAX_ATTRIBUTE)?);
    let endpoint = non_empty(attribute("endpoint", MAX_ATTRIBUTE)?);
    let content_type = attribute("datacontenttype", MAX_ATTRIBUTE)?;
    let (data, value) = match (envelope.remove("data"), envelope.remove("data_base64")) {
        (Some(_), Some(_)) => return Err(data_error("the event", "holds both data and data_base64".into())),
        (None, None) => return Err(EventError::Missing("member \"data\"".into())),
        (None, Some(Value::String(encoded))) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.as_bytes())
                .map_err(|e| data_error("data_base64", format!("not Base64 ({e})")))?;
            check_depth(&bytes, "data_base64")?;
            read_data(&bytes, content_type.as_deref())?
        }
        (None, Some(_)) => return Err(data_error("data_base64", "not a string".into())),
        // Data of a JSON content type (or none) is the JSON value itself (JSON event format, §3.1.2).
        (Some(value), None) if content_type.as_deref().is_none_or(is_json_media) => (value.to_string(), value),
        // Otherwise it is the content as a string: KServe gives the inference request's content type, which
        // need not say JSON when the body is.
        (Some(Value::String(text)), None) => {
            let value = serde_json::from_str(&text)
                .map_err(|e| EventError::NotJson { content_type: content_type.clone(), reason: e.to_string() })?;
            (text, value)
        }
        (Some(_), None) => {
            return Err(data_error("data", "not a string, as a content type other than JSON requires".into()));
        }
    };
    let (body, model_version) = parse_payload(kind, value)?;
    Ok(KserveEvent {
        id,
        kind,
        source: Some(source),
        time,
        inference_service,
        namespace,
        component,
        endpoint,
        model_version,
        data,
        body,
    })
}

/// An event's data: JSON, or the binary data extension's JSON header followed by tensor bytes. Returns the
/// data as JSON text (what is kept while the other half is awaited) and its value.
fn read_data(bytes: &[u8], content_type: Option<&str>) -> Result<(String, Value), EventError> {
    let not_json = |reason: String| EventError::NotJson { content_type: content_type.map(str::to_owned), reason };
    // serde's own words for what is wrong with the whole (nothing there, or something after the value).
    let complaint = || serde_json::from_slice::<Value>(bytes).err().map_or_else(String::new, |e| e.to_string());
    let mut values = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(value)) => value,
        Some(Err(e)) => return Err(not_json(e.to_string())),
        None => return Err(not_json(complaint())),
    };
    let rest = &bytes[values.byte_offset()..];
    // Binary only when a tensor says so: its bytes may well look like whitespace.
    if !declares_binary(&value) {
        if !rest.iter().all(u8::is_ascii_whitespace) {
            return Err(not_json(complaint()));
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text.trim().to_owned(),
            Err(e) => return Err(not_json(format!("not UTF-8 ({e})"))),
        };
        return Ok((text, value));
    }
    let value = binary_tensors(value, rest)?;
    let text = value.to_string();
    if text.len() > MAX_STORED_BYTES {
        return Err(EventError::TooLarge { bytes: text.len() });
    }
    Ok((text, value))
}

/// Whether a V2 header gives any tensor's data as binary (`parameters.binary_data_size`).
fn declares_binary(header: &Value) -> bool {
    ["inputs", "outputs"].iter().any(|key| {
        header.get(key).and_then(Value::as_array).is_some_and(|tensors| {
            tensors.iter().any(|t| t.get("parameters").and_then(|p| p.get("binary_data_size")).is_some())
        })
    })
}

/// The binary data extension: each tensor of `inputs` (or `outputs`) whose `parameters.binary_data_size` is
/// set takes that many bytes of `binary`, in order, as its `data`. Every byte must be taken.
fn binary_tensors(mut header: Value, mut binary: &[u8]) -> Result<Value, EventError> {
    let key = if header.get("inputs").is_some() { "inputs" } else { "outputs" };
    let Some(tensors) = header.get_mut(key).and_then(Value::as_array_mut) else {
        return Err(data_error("data", "bytes follow the JSON, and it has no inputs or outputs to hold them".into()));
    };
    let field = |i: usize| format!("{key}[{i}]");
    let mut decoded = 0usize;
    for (i, tensor) in tensors.iter_mut().enumerate() {
        let Some(object) = tensor.as_object_mut() else { continue };
        let size = match object.get_mut("parameters").and_then(Value::as_object_mut) {
            Some(parameters) => match parameters.remove("binary_data_size") {
                None => continue,
                Some(size) => size.as_u64().and_then(|n| usize::try_from(n).ok()).ok_or_else(|| {
                    data_error(&format!("{}.parameters.binary_data_size", field(i)), "not a byte count".into())
                })?,
            },
            None => continue,
        };
        if object.contains_key("data") {
            return Err(data_error(&format!("{}.data", field(i)), "given as well as binary_data_size".into()));
        }
        if size > binary.len() {
            return Err(data_error(
                &format!("{}.parameters.binary_data_size", field(i)),
                format!("{size} bytes, but {} are left after the JSON", binary.len()),
            ));
        }
        let (bytes, rest) = binary.split_at(size);
        binary = rest;
        let datatype = object.get("datatype").and_then(Value::as_str).unwrap_or_default().to_owned();
        // The shape says how many elements: checked before anything is decoded.
        let elements = object
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|dims| dims.iter().try_fold(1usize, |n, d| n.checked_mul(usize::try_from(d.as_u64()?).ok()?)))
            .ok_or_else(|| data_error(&format!("{}.shape", field(i)), "not an array of dimensions".into()))?;
        decoded += elements;
        if decoded > MAX_BINARY_ELEMENTS {
            return Err(data_error(
                &format!("{}.shape", field(i)),
                format!("{decoded} elements; an event's binary data holds at most {MAX_BINARY_ELEMENTS}"),
            ));
        }
        if let Some(width) = element_width(&datatype)
            && elements.checked_mul(width) != Some(size)
        {
            return Err(data_error(
                &format!("{}.parameters.binary_data_size", field(i)),
                format!("{size} bytes, but {elements} {datatype} elements take {}", elements.saturating_mul(width)),
            ));
        }
        let data =
            decode_tensor(&datatype, bytes).map_err(|reason| data_error(&format!("{}.data", field(i)), reason))?;
        object.insert("data".into(), Value::Array(data));
    }
    if !binary.is_empty() {
        return Err(data_error("data", format!("{} bytes after the last binary tensor", binary.len())));
    }
    Ok(header)
}

/// The bytes of one element of a fixed-width datatype (`None` for BYTES and types not read).
fn element_width(datatype: &str) -> Option<usize> {
    match datatype.to_ascii_uppercase().as_str() {
        "BOOL" | "UINT8" | "INT8" => Some(1),
        "UINT16" | "INT16" => Some(2),
        "UINT32" | "INT32" | "FP32" => Some(4),
        "UINT64" | "INT64" | "FP64" => Some(8),
        _ => None,
    }
}

/// Little-endian tensor bytes of a datatype as JSON values.
fn decode_tensor(datatype: &str, bytes: &[u8]) -> Result<Vec<Value>, String> {
    fn fixed<const N: usize>(
        bytes: &[u8],
        to: impl Fn([u8; N]) -> Result<Value, String>,
    ) -> Result<Vec<Value>, String> {
        if bytes.len() % N != 0 {
            return Err(format!("{} bytes is not a whole number of {N}-byte elements", bytes.len()));
        }
        bytes.chunks_exact(N).map(|c| to(c.try_into().expect("chunks of N"))).collect()
    }
    let float = |v: f64| serde_json::Number::from_f64(v).map(Value::Number).ok_or_else(|| format!("{v} is not finite"));
    let int = |v: i64| Ok(Value::from(v));
    match datatype.to_ascii_uppercase().as_str() {
        "BOOL" => fixed::<1>(bytes, |[b]| Ok(Value::Bool(b != 0))),
        "UINT8" => fixed::<1>(bytes, |[b]| int(i64::from(b))),
        "INT8" => fixed::<1>(bytes, |b| int(i64::from(i8::from_le_bytes(b)))),
        "UINT16" => fixed::<2>(bytes, |b| int(i64::from(u16::from_le_bytes(b)))),
        "INT16" => fixed::<2>(bytes, |b| int(i64::from(i16::from_le_bytes(b)))),
        "UINT32" => fixed::<4>(bytes, |b| int(i64::from(u32::from_le_bytes(b)))),
        "INT32" => fixed::<4>(bytes, |b| int(i64::from(i32::from_le_bytes(b)))),
        "UINT64" => fixed::<8>(bytes, |b| Ok(Value::from(u64::from_le_bytes(b)))),
        "INT64" => fixed::<8>(bytes, |b| int(i64::from_le_bytes(b))),
        "FP32" => fixed::<4>(bytes, |b| float(f64::from(f32::from_le_bytes(b)))),
        "FP64" => fixed::<8>(bytes, |b| float(f64::from_le_bytes(b))),
        "BYTES" => {
            // Each element: a 4-byte little-endian length, then that many bytes (text here).
            let (mut rest, mut out) = (bytes, Vec::new());
            while !rest.is_empty() {
                let Some((length, tail)) = rest.split_first_chunk::<4>() else {
                    return Err("a BYTES element's length is cut short".into());
                };
                let length = u32::from_le_bytes(*length) as usize;
                if length > tail.len() {
                    return Err(format!("a BYTES element of {length} bytes, but {} are left", tail.len()));
                }
                let (element, tail) = tail.split_at(length);
                let text = std::str::from_utf8(element).map_err(|_| "a BYTES element is not UTF-8 text".to_owned())?;
                out.push(Value::String(text.to_owned()));
                rest = tail;
            }
            Ok(out)
        }
        other => Err(format!("binary data of datatype {other:?} is not read (BOOL, integers, FP32, FP64, BYTES are)")),
    }
}

/// Reads an inference payload of the event's kind.
fn parse_payload(kind: EventKind, value: Value) -> Result<(InferenceBody, Option<String>), EventError> {
    let Value::Object(mut payload) = value else {
        return Err(data_error("data", "not a JSON object".into()));
    };
    match kind {
        EventKind::Request => match (payload.remove("instances"), payload.remove("inputs")) {
            (Some(_), Some(_)) => Err(data_error("data", "holds both instances (V1) and inputs (V2)".into())),
            (Some(instances), None) => Ok((InferenceBody::Instances(parse_instances(instances)?), None)),
            (None, Some(inputs)) => Ok((InferenceBody::Inputs(parse_inputs(inputs)?), None)),
            (None, None) => Err(data_error("data", "a request holds instances (V1) or inputs (V2)".into())),
        },
        EventKind::Response => {
            let model_version = match payload.remove("model_version") {
                None | Some(Value::Null) => None,
                Some(Value::String(version)) => {
                    check_text(&version, MAX_ATTRIBUTE, "model_version")?;
                    non_empty(Some(version))
                }
                Some(_) => return Err(data_error("model_version", "not a string".into())),
            };
            let body = match (payload.remove("predictions"), payload.remove("outputs")) {
                (Some(_), Some(_)) => {
                    return Err(data_error("data", "holds both predictions (V1) and outputs (V2)".into()));
                }
                (Some(predictions), None) => parse_predictions(predictions)?,
                (None, Some(outputs)) => parse_outputs(outputs)?,
                (None, None) => {
                    return Err(data_error("data", "a response holds predictions (V1) or outputs (V2)".into()));
                }
            };
            Ok((body, model_version))
        }
    }
}

fn parse_instances(instances: Value) -> Result<Vec<Instance>, EventError> {
    let instances = rows_array(instances, "instances")?;
    Ok(instances
        .into_iter()
        .map(|instance| match instance {
            Value::Array(values) => Instance::Values(values),
            Value::Object(named) => Instance::Named(named),
            value => Instance::Values(vec![value]),
        })
        .collect())
}

fn parse_inputs(inputs: Value) -> Result<Vec<Tensor>, EventError> {
    let Value::Array(inputs) = inputs else {
        return Err(data_error("inputs", "not an array".into()));
    };
    if inputs.is_empty() {
        return Err(data_error("inputs", "no inputs".into()));
    }
    inputs.into_iter().enumerate().map(|(i, input)| parse_tensor(input, &format!("inputs[{i}]"))).collect()
}

fn parse_predictions(predictions: Value) -> Result<InferenceBody, EventError> {
    let predictions = rows_array(predictions, "predictions")?;
    let values = predictions
        .iter()
        .enumerate()
        .map(|(i, prediction)| {
            let field = format!("predictions[{i}]");
            let score = match prediction {
                Value::Object(members) => match members.get("probability") {
                    Some(probability) => prediction_score(probability),
                    None => Err("an object without a probability member".to_owned()),
                },
                other => prediction_score(other),
            }
            .map_err(|reason| data_error(&field, reason))?;
            checked_score(score, &field)
        })
        .collect::<Result<_, _>>()?;
    Ok(InferenceBody::Scores { field: "predictions".into(), values })
}

/// A V1 prediction: a number, `[p]` or `[p0, p1]`.
fn prediction_score(prediction: &Value) -> Result<f64, String> {
    let number = |v: &Value| v.as_f64().ok_or_else(|| format!("{} is not a number", short(v)));
    match prediction {
        Value::Array(values) => match values.as_slice() {
            [p] => number(p),
            [_, p1] => number(p1),
            _ => Err(format!("{} values; a score, [p] or a binary classifier's [p0, p1] is read", values.len())),
        },
        other => number(other),
    }
}

fn parse_outputs(outputs: Value) -> Result<InferenceBody, EventError> {
    let Value::Array(outputs) = outputs else {
        return Err(data_error("outputs", "not an array".into()));
    };
    if outputs.is_empty() {
        return Err(data_error("outputs", "no outputs".into()));
    }
    let outputs: Vec<Tensor> = outputs
        .into_iter()
        .enumerate()
        .map(|(i, output)| parse_tensor(output, &format!("outputs[{i}]")))
        .collect::<Result<_, _>>()?;
    let chosen = if outputs.len() == 1 {
        0
    } else {
        let named: Vec<usize> =
            (0..outputs.len()).filter(|&i| PROBABILITY_OUTPUTS.contains(&outputs[i].name.as_str())).collect();
        match named.as_slice() {
            [i] => *i,
            _ => {
                let names: Vec<&str> = outputs.iter().map(|o| o.name.as_str()).collect();
                return Err(data_error(
                    "outputs",
                    format!(
                        "{} outputs ({}): the only output, or exactly one named {}, holds the scores",
                        outputs.len(),
                        names.join(", "),
                        PROBABILITY_OUTPUTS.join(" or ")
                    ),
                ));
            }
        }
    };
    let output = &outputs[chosen];
    let field = format!("outputs[{chosen}]");
    if output.datatype.eq_ignore_ascii_case("BYTES") {
        return Err(data_error(&field, "BYTES data; scores are numbers".into()));
    }
    let (width, pick) = match output.shape.as_slice() {
        [_] | [_, 1] => (1, 0),
        [_, 2] => (2, 1),
        shape => {
            return Err(data_error(
                &format!("{field}.shape"),
                format!("{shape:?}; scores are read from [n], [n, 1] or a binary classifier's [n, 2]"),
            ));
        }
    };
    let rows = output.shape[0];
    if rows > MAX_INSTANCES {
        return Err(EventError::TooMany { field: format!("{field}.shape"), count: rows });
    }
    if rows == 0 {
        return Err(data_error(&format!("{field}.shape"), "no rows".into()));
    }
    let field = format!("{field}.data");
    let values = (0..rows)
        .map(|r| {
            let row_field = format!("{field}[{r}]");
            let value = &output.data[r * width + pick];
            let score =
                value.as_f64().ok_or_else(|| data_error(&row_field, format!("{} is not a number", short(value))))?;
            checked_score(score, &row_field)
        })
        .collect::<Result<_, _>>()?;
    Ok(InferenceBody::Scores { field, values })
}

/// A V2 tensor: name, shape, datatype and data, the data as many elements as the shape says.
fn parse_tensor(tensor: Value, field: &str) -> Result<Tensor, EventError> {
    let Value::Object(mut tensor) = tensor else {
        return Err(data_error(field, "not an object".into()));
    };
    let mut text = |member: &str| match tensor.remove(member) {
        Some(Value::String(text)) => {
            check_text(&text, MAX_ATTRIBUTE, &format!("{field}.{member}"))?;
            Ok(text)
        }
        Some(_) => Err(data_error(&format!("{field}.{member}"), "not a string".into())),
        None => Err(EventError::Missing(format!("{field}.{member}"))),
    };
    let name = text("name")?;
    let datatype = text("datatype")?;
    let shape_field = format!("{field}.shape");
    let shape: Vec<usize> = match tensor.remove("shape") {
        Some(Value::Array(dims)) => dims
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| data_error(&shape_field, "not an array of dimensions".into()))?,
        Some(_) => return Err(data_error(&shape_field, "not an array of dimensions".into())),
        None => return Err(EventError::Missing(shape_field)),
    };
    let Some(&rows) = shape.first() else {
        return Err(data_error(&shape_field, "[]: a batch dimension is expected".into()));
    };
    if rows > MAX_INSTANCES {
        return Err(EventError::TooMany { field: shape_field, count: rows });
    }
    let data_field = format!("{field}.data");
    let data = match tensor.remove("data") {
        Some(data) => {
            let mut flat = Vec::new();
            flatten(data, &mut flat).map_err(|reason| data_error(&data_field, reason))?;
            flat
        }
        None => return Err(EventError::Missing(data_field)),
    };
    let elements = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if elements != Some(data.len()) {
        return Err(data_error(&data_field, format!("{} elements for shape {shape:?}", data.len())));
    }
    Ok(Tensor { name, shape, datatype, data })
}

/// Tensor data, flat or nested, into row-major elements. The nesting is bounded by [`MAX_DEPTH`].
fn flatten(data: Value, out: &mut Vec<Value>) -> Result<(), String> {
    match data {
        Value::Array(items) => items.into_iter().try_for_each(|item| flatten(item, out)),
        Value::Object(_) => Err("an object among the tensor's elements".into()),
        scalar => {
            out.push(scalar);
            Ok(())
        }
    }
}

/// An array of rows: not empty, at most [`MAX_INSTANCES`].
fn rows_array(rows: Value, field: &str) -> Result<Vec<Value>, EventError> {
    let Value::Array(rows) = rows else {
        return Err(data_error(field, "not an array".into()));
    };
    if rows.is_empty() {
        return Err(data_error(field, "empty".into()));
    }
    if rows.len() > MAX_INSTANCES {
        return Err(EventError::TooMany { field: field.into(), count: rows.len() });
    }
    Ok(rows)
}

/// A request's rows, its values named by the schema.
fn rows(body: &InferenceBody, features: &[String]) -> Result<Vec<Map<String, Value>>, JoinError> {
    let named = |values: &[Value]| features.iter().cloned().zip(values.iter().cloned()).collect();
    match body {
        InferenceBody::Instances(instances) => instances
            .iter()
            .enumerate()
            .map(|(i, instance)| match instance {
                Instance::Named(map) => Ok(map.clone()),
                Instance::Values(values) if values.len() == features.len() => Ok(named(values)),
                Instance::Values(values) => Err(JoinError::Width {
                    field: format!("instances[{i}]"),
                    width: values.len(),
                    features: features.len(),
                }),
            })
            .collect(),
        InferenceBody::Inputs(tensors) if tensors.iter().any(|t| features.contains(&t.name)) => input_rows(tensors),
        InferenceBody::Inputs(tensors) => {
            let [tensor] = tensors.as_slice() else {
                return Err(JoinError::Inputs {
                    field: "inputs".into(),
                    reason: format!(
                        "{} tensors, none named after a feature of the version's schema: one [n, {}] tensor or one \
                         input per feature is read",
                        tensors.len(),
                        features.len()
                    ),
                });
            };
            if features.is_empty() {
                return Err(JoinError::Inputs {
                    field: "inputs".into(),
                    reason: "the version's schema declares no features".into(),
                });
            }
            let width = match tensor.shape.as_slice() {
                [_, width] => *width,
                [_] if features.len() == 1 => 1,
                shape => {
                    return Err(JoinError::Inputs {
                        field: "inputs[0].shape".into(),
                        reason: format!("{shape:?}; a tensor of rows has shape [n, {}]", features.len()),
                    });
                }
            };
            if width != features.len() {
                return Err(JoinError::Width { field: "inputs[0]".into(), width, features: features.len() });
            }
            Ok(tensor.data.chunks(width).map(named).collect())
        }
        InferenceBody::Scores { .. } => Err(JoinError::Body { kind: EventKind::Request }),
    }
}

/// Rows of one input per feature, each of shape `[n]` or `[n, 1]`.
fn input_rows(tensors: &[Tensor]) -> Result<Vec<Map<String, Value>>, JoinError> {
    let mut names = HashSet::new();
    let mut rows = None;
    for (i, tensor) in tensors.iter().enumerate() {
        let n = match tensor.shape.as_slice() {
            [n] | [n, 1] => *n,
            shape => {
                return Err(JoinError::Inputs {
                    field: format!("inputs[{i}].shape"),
                    reason: format!("{shape:?}; an input per feature has shape [n] or [n, 1]"),
                });
            }
        };
        if *rows.get_or_insert(n) != n {
            return Err(JoinError::Inputs {
                field: format!("inputs[{i}].shape"),
                reason: format!("{n} rows, but inputs[0] has {}", rows.unwrap_or_default()),
            });
        }
        if !names.insert(tensor.name.as_str()) {
            return Err(JoinError::Inputs {
                field: format!("inputs[{i}].name"),
                reason: format!("{:?} is given twice", tensor.name),
            });
        }
    }
    let rows = rows.unwrap_or_default();
    Ok((0..rows).map(|r| tensors.iter().map(|t| (t.name.clone(), t.data[r].clone())).collect()).collect())
}

fn is_probability(score: f64) -> bool {
    (0.0..=1.0).contains(&score)
}

fn checked_score(score: f64, field: &str) -> Result<f64, EventError> {
    if is_probability(score) {
        Ok(score)
    } else {
        Err(data_error(field, format!("{score} is not a probability in [0, 1]")))
    }
}

/// Refuses a body nesting arrays and objects deeper than [`MAX_DEPTH`], before a parser sees it. Brackets
/// inside strings do not count; malformed JSON is left for the parser to refuse.
fn check_depth(bytes: &[u8], place: &str) -> Result<(), EventError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, &byte) in bytes.iter().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(EventError::TooDeep { place: place.into(), at });
                }
            }
            b']' | b'}' => {
                depth = depth.saturating_sub(1);
                // The first value is complete: what follows is binary tensor data (or not JSON at all).
                if depth == 0 {
                    return Ok(());
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// A `ce-*` header's value: unquoted if it is a quoted string, then percent-decoded (CloudEvents HTTP
/// binding §3.1.3.2: lower-case hex is accepted, sequences that are not UTF-8 are refused).
fn header_value(raw: &str, place: &str) -> Result<String, EventError> {
    let unquoted;
    let text = match raw.strip_prefix('"') {
        Some(rest) => {
            let inner =
                rest.strip_suffix('"').ok_or_else(|| attribute_error(place, "an unterminated quoted string".into()))?;
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        out.push(chars.next().ok_or_else(|| attribute_error(place, "a dangling backslash".into()))?)
                    }
                    '"' => return Err(attribute_error(place, "an unescaped quote inside a quoted string".into())),
                    c => out.push(c),
                }
            }
            unquoted = out;
            unquoted.as_str()
        }
        None => raw,
    };
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let byte = match (bytes.get(i + 1).and_then(hex), bytes.get(i + 2).and_then(hex)) {
                (Some(high), Some(low)) => high << 4 | low,
                _ => return Err(attribute_error(place, format!("a malformed percent-encoding at byte {i}"))),
            };
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| attribute_error(place, "percent-encoded bytes that are not UTF-8".into()))
}

fn hex(digit: &u8) -> Option<u8> {
    char::from(*digit).to_digit(16).map(|d| d as u8)
}

/// Bounds an attribute and refuses control characters.
fn check_text(text: &str, max: usize, place: &str) -> Result<(), EventError> {
    if text.len() > max {
        return Err(attribute_error(place, format!("{} bytes; at most {max}", text.len())));
    }
    if text.chars().any(char::is_control) {
        return Err(attribute_error(place, "a control character".into()));
    }
    Ok(())
}

fn check_id(id: &str, place: &str) -> Result<(), EventError> {
    if id.is_empty() {
        return Err(attribute_error(place, "empty".into()));
    }
    check_text(id, MAX_EVENT_ID, place)
}

fn check_specversion(version: &str, place: &str) -> Result<(), EventError> {
    if version == "1.0" { Ok(()) } else { Err(attribute_error(place, format!("{version:?}; CloudEvents 1.0 is read"))) }
}

fn kind_of(ce_type: String, place: &str) -> Result<EventKind, EventError> {
    match ce_type.as_str() {
        REQUEST_TYPE => Ok(EventKind::Request),
        RESPONSE_TYPE => Ok(EventKind::Response),
        _ => Err(EventError::UnknownType { place: place.into(), value: ce_type }),
    }
}

fn timestamp(text: &str, place: &str) -> Result<Timestamp, EventError> {
    Timestamp::parse(text).map_err(|_| attribute_error(place, format!("{text:?} is not an RFC 3339 time")))
}

/// A content type's media type, lower-cased, without parameters.
fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

/// `*/json` or `*/*+json` (JSON event format §3.1.1).
fn is_json_media(content_type: &str) -> bool {
    let media = media_type(content_type);
    let subtype = media.split_once('/').map(|(_, subtype)| subtype).unwrap_or_default();
    subtype == "json" || subtype.ends_with("+json")
}

fn required(value: Option<String>, place: &str) -> Result<String, EventError> {
    value.ok_or_else(|| EventError::Missing(place.into()))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

fn attribute_error(place: &str, reason: String) -> EventError {
    EventError::Attribute { place: place.into(), reason }
}

fn data_error(field: &str, reason: String) -> EventError {
    EventError::Data { field: field.into(), reason }
}

/// A value for a message, cut short.
fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type HeaderList<'a> = &'a [(&'a str, &'a str)];

    // PROVENANCE: kserve/kserve docs/samples/logger/basic/README.md at aaac4e294dae2c7b1aa1886447793f3aa1c30912,
    // the message dumper's two events (attributes and extensions as printed; `endpoint` empty). Header names
    // and the Content-Type mapping as the CloudEvents HTTP binding §3.1.3 says (cloudevents/spec
    // cloudevents/bindings/http-protocol-binding.md at c2845a49bc9831be02f305a4a792401b932d77d4) and sdk-go
    // writes them (v2/protocol/http/write_request.go: "ce-" + attribute name, Go's canonical case).
    const V1_REQUEST_HEADERS: HeaderList = &[
        ("Ce-Specversion", "1.0"),
        ("Ce-Type", "org.kubeflow.serving.inference.request"),
        ("Ce-Source", "http://localhost:9081/"),
        ("Ce-Id", "0009174a-24a8-4603-b098-09c8799950e9"),
        ("Ce-Time", "2021-04-10T00:23:26.0789529Z"),
        ("Content-Type", "application/json"),
        ("Ce-Endpoint", ""),
        ("Ce-Inferenceservicename", "sklearn-iris"),
        ("Ce-Namespace", "default"),
    ];
    // PROVENANCE: kserve/kserve docs/samples/logger/basic/iris-input.json at aaac4e29…, byte for byte.
    const V1_REQUEST: &str = r#"{
  "instances": [
    [6.8,  2.8,  4.8,  1.4],
    [6.0,  3.4,  4.5,  1.6]
  ]
}
"#;
    // PROVENANCE: as V1_REQUEST_HEADERS, the second event of the same README.
    const V1_RESPONSE_HEADERS: HeaderList = &[
        ("Ce-Specversion", "1.0"),
        ("Ce-Type", "org.kubeflow.serving.inference.response"),
        ("Ce-Source", "http://localhost:9081/"),
        ("Ce-Id", "0009174a-24a8-4603-b098-09c8799950e9"),
        ("Ce-Time", "2021-04-10T00:23:26.080736102Z"),
        ("Content-Type", "application/json"),
        ("Ce-Endpoint", ""),
        ("Ce-Inferenceservicename", "sklearn-iris"),
        ("Ce-Namespace", "default"),
    ];
    // PROVENANCE: the README's response data (sklearn `predict`: class labels).
    const V1_RESPONSE: &str = r#"{"predictions": [1, 1]}"#;
    // PROVENANCE: the shape kserve/kserve python/sklearnserver/sklearnserver/model.py (PREDICT_PROBA=true) and
    // python/kserve/kserve/utils/utils.py get_predict_response (`result.tolist()`) give at aaac4e29…; the
    // numbers are illustrative.
    const V1_PROBA_RESPONSE: &str = r#"{"predictions": [[0.02, 0.98], [0.31, 0.69]]}"#;
    const IRIS: &[&str] = &["sepal_length", "sepal_width", "petal_length", "petal_width"];

    // PROVENANCE: the extensions kserve/kserve pkg/logger/worker.go at aaac4e29… sets on every event
    // (inferenceservicename, namespace, component, endpoint, metadata, recordedtime); names and namespace from
    // docs/samples/v1beta1/sklearn/v2/README.md, whose `curl -d` makes the request's (and so both events')
    // Content-Type application/x-www-form-urlencoded (pkg/logger/handler.go passes the request's content type
    // for both halves). Times and the id are illustrative.
    const V2_REQUEST_HEADERS: HeaderList = &[
        ("Ce-Id", "823248cc-d770-4a51-9606-16803395569c"),
        ("Ce-Source", "http://localhost:9081/"),
        ("Ce-Specversion", "1.0"),
        ("Ce-Time", "2025-03-01T10:00:00.123456789Z"),
        ("Ce-Type", "org.kubeflow.serving.inference.request"),
        ("Ce-Component", "predictor"),
        ("Ce-Endpoint", "default"),
        ("Ce-Inferenceservicename", "sklearn-irisv2"),
        ("Ce-Metadata", "{}"),
        ("Ce-Namespace", "kserve-test"),
        ("Ce-Recordedtime", "2025-03-01T10:00:00.123501Z"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    // PROVENANCE: kserve/kserve docs/samples/v1beta1/sklearn/v2/iris-input.json at aaac4e29…, byte for byte.
    const V2_REQUEST: &str = r#"{
  "inputs": [
    {
      "name": "input-0",
      "shape": [2, 4],
      "datatype": "FP32",
      "data": [
        [6.8, 2.8, 4.8, 1.4],
        [6.0, 3.4, 4.5, 1.6]
      ]
    }
  ]
}
"#;
    const V2_RESPONSE_HEADERS: HeaderList = &[
        ("Ce-Id", "823248cc-d770-4a51-9606-16803395569c"),
        ("Ce-Source", "http://localhost:9081/"),
        ("Ce-Specversion", "1.0"),
        ("Ce-Time", "2025-03-01T10:00:00.131Z"),
        ("Ce-Type", "org.kubeflow.serving.inference.response"),
        ("Ce-Component", "predictor"),
        ("Ce-Endpoint", "default"),
        ("Ce-Inferenceservicename", "sklearn-irisv2"),
        ("Ce-Metadata", "{}"),
        ("Ce-Namespace", "kserve-test"),
        ("Ce-Recordedtime", "2025-03-01T10:00:00.131077Z"),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    // PROVENANCE: kserve/kserve docs/samples/v1beta1/sklearn/v2/README.md at aaac4e29…, the response shown
    // (an SVC's class labels, 0–2).
    const V2_LABEL_RESPONSE: &str = r#"{
  "id": "823248cc-d770-4a51-9606-16803395569c",
  "model_name": "iris-classifier",
  "model_version": "v1.0.0",
  "outputs": [
    {
      "data": [1, 2],
      "datatype": "FP32",
      "name": "predict",
      "parameters": null,
      "shape": [2]
    }
  ]
}"#;
    // PROVENANCE: the form of kserve/kserve python/kserve/kserve/protocol/infer_type.py InferResponse.to_rest
    // (id, model_name, model_version, outputs; data flattened) for utils.get_predict_response's single
    // "output-0" of a predict_proba result, at aaac4e29…; the numbers are illustrative.
    const V2_PROBA_RESPONSE: &str = r#"{"id":"823248cc-d770-4a51-9606-16803395569c","model_name":"sklearn-irisv2","model_version":null,"outputs":[{"name":"output-0","shape":[2,2],"datatype":"FP64","data":[0.1,0.9,0.75,0.25]}]}"#;

    // PROVENANCE: kserve/kserve test/e2e/data/sklearn_mixed_v2.json at aaac4e29… (the pandas codec: one input
    // per column), compacted.
    const V2_NAMED_REQUEST: &str = r#"{"parameters":{"content_type":"pd"},"inputs":[{"name":"MSZoning","shape":[1],"datatype":"BYTES","data":["RL"]},{"name":"LotArea","shape":[1],"datatype":"INT32","data":[8450]},{"name":"LotShape","shape":[1],"datatype":"BYTES","data":["Reg"]},{"name":"Utilities","shape":[1],"datatype":"BYTES","data":["AllPub"]},{"name":"YrSold","shape":[1],"datatype":"INT32","data":[2008]},{"name":"Neighborhood","shape":[1],"datatype":"BYTES","data":["CollgCr"]},{"name":"OverallQual","shape":[1],"datatype":"INT32","data":[7]},{"name":"YearBuilt","shape":[1],"datatype":"INT32","data":[2003]},{"name":"SaleType","shape":[1],"datatype":"BYTES","data":["WD"]},{"name":"GarageArea","shape":[1],"datatype":"INT32","data":[548]}]}"#;
    // PROVENANCE: the value test/e2e/predictor/test_sklearn.py (test_sklearn_v2_mixed) at aaac4e29… expects for
    // that request (a house price), in the to_rest form above.
    const V2_NAMED_RESPONSE: &str = r#"{"id":"5c1f5a9e","model_name":"isvc-sklearn-v2-mixed","model_version":null,"outputs":[{"name":"output-0","shape":[1],"datatype":"FP64","data":[12.202832815138274]}]}"#;
    const HOUSES: &[&str] = &[
        "MSZoning",
        "LotArea",
        "LotShape",
        "Utilities",
        "YrSold",
        "Neighborhood",
        "OverallQual",
        "YearBuilt",
        "SaleType",
        "GarageArea",
    ];

    // PROVENANCE: V1_REQUEST's event in structured mode, as cloudevents/spec
    // cloudevents/bindings/http-protocol-binding.md §3.2 and cloudevents/formats/json-format.md §3.1 (at
    // c2845a49…) lay it out. KServe itself always sends binary mode (worker.go: WithEncodingBinary).
    const STRUCTURED_REQUEST: &str = r#"{
  "specversion": "1.0",
  "type": "org.kubeflow.serving.inference.request",
  "source": "http://localhost:9081/",
  "id": "0009174a-24a8-4603-b098-09c8799950e9",
  "time": "2021-04-10T00:23:26.0789529Z",
  "datacontenttype": "application/json",
  "inferenceservicename": "sklearn-iris",
  "namespace": "default",
  "endpoint": "",
  "data": {"instances": [[6.8, 2.8, 4.8, 1.4], [6.0, 3.4, 4.5, 1.6]]}
}"#;
    const STRUCTURED: HeaderList = &[("Content-Type", "application/cloudevents+json; charset=utf-8")];

    fn parse(headers: HeaderList, body: &str) -> Result<KserveEvent, EventError> {
        parse_event(headers.iter().map(|&(name, value)| (name, value.as_bytes())), body.as_bytes())
    }

    fn event(headers: HeaderList, body: &str) -> KserveEvent {
        parse(headers, body).unwrap_or_else(|e| panic!("fixture does not parse: {e}"))
    }

    /// `headers` with `name` replaced by `value`, or removed (`None`), or added.
    fn with<'a>(headers: HeaderList<'a>, name: &'a str, value: Option<&'a str>) -> Vec<(&'a str, &'a str)> {
        let mut out: Vec<_> = headers.iter().copied().filter(|(n, _)| !n.eq_ignore_ascii_case(name)).collect();
        out.extend(value.map(|v| (name, v)));
        out
    }

    fn render(event: &KserveEvent) -> String {
        let or = |value: &Option<String>| value.clone().unwrap_or_else(|| "-".into());
        let mut out = format!(
            "{} {} source={} time={} service={} namespace={} component={} endpoint={} model_version={}",
            event.kind,
            event.id,
            or(&event.source),
            event.time.map_or("-".into(), |t| t.to_string()),
            or(&event.inference_service),
            or(&event.namespace),
            or(&event.component),
            or(&event.endpoint),
            or(&event.model_version),
        );
        match &event.body {
            InferenceBody::Instances(instances) => {
                for instance in instances {
                    let value = match instance {
                        Instance::Values(values) => Value::Array(values.clone()),
                        Instance::Named(named) => Value::Object(named.clone()),
                    };
                    out += &format!("\ninstance {value}");
                }
            }
            InferenceBody::Inputs(tensors) => {
                for t in tensors {
                    out += &format!("\ninput {} {:?} {} {}", t.name, t.shape, t.datatype, Value::Array(t.data.clone()));
                }
            }
            InferenceBody::Scores { field, values } => out += &format!("\nscores {field} {values:?}"),
        }
        out
    }

    /// Parses an event and compares its rendering (or its error) with `expect`.
    fn check(headers: HeaderList, body: &str, expect: &str) {
        let got = match parse(headers, body) {
            Ok(event) => render(&event),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect.trim(), "\n--- got ---\n{got}\n");
    }

    /// Joins two events and compares the decisions (or the error) with `expect`.
    fn check_join(a: &KserveEvent, b: &KserveEvent, features: &[&str], expect: &str) {
        let features: Vec<String> = features.iter().map(|f| f.to_string()).collect();
        let got = match join(a, b, &features) {
            Ok(decisions) => decisions
                .iter()
                .map(|d| format!("{} {} {}", d.request_id, d.score, Value::Object(d.features.clone())))
                .collect::<Vec<_>>()
                .join("\n"),
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect.trim(), "\n--- got ---\n{got}\n");
    }

    #[test]
    fn kserve_v1_events() {
        check(
            V1_REQUEST_HEADERS,
            V1_REQUEST,
            r#"
request 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.078952Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
instance [6.8,2.8,4.8,1.4]
instance [6.0,3.4,4.5,1.6]
"#,
        );
        check(
            V1_RESPONSE_HEADERS,
            V1_RESPONSE,
            r#"
response 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.080736Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
scores predictions [1.0, 1.0]
"#,
        );
        check(
            V1_RESPONSE_HEADERS,
            V1_PROBA_RESPONSE,
            r#"
response 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.080736Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
scores predictions [0.98, 0.69]
"#,
        );
        // The other shapes of a V1 prediction, and of an instance.
        check(
            V1_RESPONSE_HEADERS,
            r#"{"predictions": [0.5, [0.25], {"probability": 0.75}, {"probability": [0.9, 0.1]}]}"#,
            "response 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.080736Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
scores predictions [0.5, 0.25, 0.75, 0.1]",
        );
        check(
            V1_REQUEST_HEADERS,
            r#"{"instances": [{"age": 31, "job": "clerk"}, 7]}"#,
            r#"
request 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.078952Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
instance {"age":31,"job":"clerk"}
instance [7]
"#,
        );
    }

    #[test]
    fn kserve_v2_events() {
        check(
            V2_REQUEST_HEADERS,
            V2_REQUEST,
            r#"
request 823248cc-d770-4a51-9606-16803395569c source=http://localhost:9081/ time=2025-03-01T10:00:00.123456Z service=sklearn-irisv2 namespace=kserve-test component=predictor endpoint=default model_version=-
input input-0 [2, 4] FP32 [6.8,2.8,4.8,1.4,6.0,3.4,4.5,1.6]
"#,
        );
        check(
            V2_RESPONSE_HEADERS,
            V2_PROBA_RESPONSE,
            r#"
response 823248cc-d770-4a51-9606-16803395569c source=http://localhost:9081/ time=2025-03-01T10:00:00.131Z service=sklearn-irisv2 namespace=kserve-test component=predictor endpoint=default model_version=-
scores outputs[0].data [0.9, 0.25]
"#,
        );
        // The iris SVC's labels run to 2: not a probability, named where it was found.
        check(V2_RESPONSE_HEADERS, V2_LABEL_RESPONSE, "error: outputs[0].data[1]: 2 is not a probability in [0, 1]");
        // A regression's value likewise.
        check(
            V2_RESPONSE_HEADERS,
            V2_NAMED_RESPONSE,
            "error: outputs[0].data[0]: 12.202832815138274 is not a probability in [0, 1]",
        );
        // Among several outputs, the probabilities; model_version kept.
        check(
            V2_RESPONSE_HEADERS,
            r#"{"model_name":"m","model_version":"3","outputs":[
                {"name":"predict","shape":[2],"datatype":"INT64","data":[1,0]},
                {"name":"predict_proba","shape":[2,2],"datatype":"FP64","data":[[0.2,0.8],[0.6,0.4]]}]}"#,
            r#"
response 823248cc-d770-4a51-9606-16803395569c source=http://localhost:9081/ time=2025-03-01T10:00:00.131Z service=sklearn-irisv2 namespace=kserve-test component=predictor endpoint=default model_version=3
scores outputs[1].data [0.8, 0.4]
"#,
        );
        check(
            V2_RESPONSE_HEADERS,
            r#"{"outputs":[{"name":"a","shape":[1],"datatype":"FP64","data":[0.1]},{"name":"b","shape":[1],"datatype":"FP64","data":[0.2]}]}"#,
            "error: outputs: 2 outputs (a, b): the only output, or exactly one named predict_proba or probabilities \
             or probability or output_probability, holds the scores",
        );
        check(
            V2_RESPONSE_HEADERS,
            r#"{"outputs":[{"name":"p","shape":[1,3],"datatype":"FP64","data":[0.1,0.2,0.7]}]}"#,
            "error: outputs[0].shape: [1, 3]; scores are read from [n], [n, 1] or a binary classifier's [n, 2]",
        );
        check(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}"#,
            "error: inputs[0].data: 3 elements for shape [2, 2]",
        );
        // Binary size declared, no bytes after the JSON.
        check(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#,
            "error: inputs[0].parameters.binary_data_size: 8 bytes, but 0 are left after the JSON",
        );
        check(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32"}]}"#,
            "error: inputs[0].data is missing",
        );
    }

    /// The binary data extension: the iris request and a probability response with their tensors as raw
    /// little-endian bytes after the JSON header (as Triton's and KServe's V2 clients send them with
    /// `binary_data`), read as the same decisions as their JSON forms.
    #[test]
    fn kserve_v2_binary_tensors() {
        fn with_bytes(header: &str, tensors: &[&[u8]]) -> Vec<u8> {
            let mut body = header.as_bytes().to_vec();
            tensors.iter().for_each(|t| body.extend_from_slice(t));
            body
        }
        let parse_bytes = |headers: HeaderList, body: &[u8]| {
            parse_event(headers.iter().map(|&(name, value)| (name, value.as_bytes())), body)
        };
        let fp32: Vec<u8> = [6.8f32, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let header =
            r#"{"inputs":[{"name":"input-0","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":32}}]}"#;
        let request = parse_bytes(V2_REQUEST_HEADERS, &with_bytes(header, &[&fp32])).unwrap();
        let fp64: Vec<u8> = [0.1f64, 0.9, 0.75, 0.25].iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = r#"{"model_name":"sklearn-irisv2","outputs":[{"name":"output-0","shape":[2,2],"datatype":"FP64","parameters":{"binary_data_size":32}}]}"#;
        let response = parse_bytes(V2_RESPONSE_HEADERS, &with_bytes(header, &[&fp64])).unwrap();
        // FP32 values as f32 holds them (6.8f32 is 6.800000190734863), exactly as a JSON client sending f32 would.
        let json_request = event(
            V2_REQUEST_HEADERS,
            &format!(
                r#"{{"inputs":[{{"name":"input-0","shape":[2,4],"datatype":"FP32","data":{}}}]}}"#,
                serde_json::to_string(&[6.8f32, 2.8, 4.8, 1.4, 6.0, 3.4, 4.5, 1.6].map(f64::from)).unwrap()
            ),
        );
        let features: Vec<String> = IRIS.iter().map(|f| f.to_string()).collect();
        let binary = join(&request, &response, &features).unwrap();
        let json = join(&json_request, &event(V2_RESPONSE_HEADERS, V2_PROBA_RESPONSE), &features).unwrap();
        assert_eq!(binary, json);
        // What is kept while the other half is awaited is JSON, and reads back the same.
        let kept = KserveEvent::from_stored(&request.id, EventKind::Request, &request.data).unwrap();
        assert_eq!(join(&kept, &response, &features).unwrap(), json);

        // Several inputs, one per feature, BYTES and INT64 among them, taken in order.
        let text: Vec<u8> =
            ["Reg", "IR1"].iter().flat_map(|t| [&(t.len() as u32).to_le_bytes()[..], t.as_bytes()].concat()).collect();
        let ints: Vec<u8> = [8450i64, 9600].iter().flat_map(|v| v.to_le_bytes()).collect();
        let header = format!(
            r#"{{"inputs":[{{"name":"LotShape","shape":[2],"datatype":"BYTES","parameters":{{"binary_data_size":{}}}}},{{"name":"LotArea","shape":[2],"datatype":"INT64","parameters":{{"binary_data_size":16}}}}]}}"#,
            text.len()
        );
        let named = parse_bytes(V2_REQUEST_HEADERS, &with_bytes(&header, &[&text, &ints])).unwrap();
        assert!(
            named.data.contains(r#""data":["Reg","IR1"]"#) && named.data.contains(r#""data":[8450,9600]"#),
            "{}",
            named.data
        );

        // A '[' among the bytes is not nesting; bytes that do not add up are refused naming the tensor.
        let brackets = [b'['; 32];
        let header =
            r#"{"inputs":[{"name":"x","shape":[4,2],"datatype":"FP32","parameters":{"binary_data_size":32}}]}"#;
        assert!(parse_bytes(V2_REQUEST_HEADERS, &with_bytes(header, &[&brackets])).is_ok());
        let refused = |header: &str, bytes: &[u8]| {
            parse_bytes(V2_REQUEST_HEADERS, &with_bytes(header, &[bytes])).unwrap_err().to_string()
        };
        let header =
            r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":64}}]}"#;
        assert_eq!(
            refused(header, &fp32),
            "inputs[0].parameters.binary_data_size: 64 bytes, but 32 are left after the JSON"
        );
        let header =
            r#"{"inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","parameters":{"binary_data_size":16}}]}"#;
        assert_eq!(refused(header, &fp32), "data: 16 bytes after the last binary tensor");
        let header =
            r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","parameters":{"binary_data_size":30}}]}"#;
        assert_eq!(
            refused(header, &fp32[..30]),
            "inputs[0].parameters.binary_data_size: 30 bytes, but 8 FP32 elements take 32"
        );
        // A shape far larger than the bytes is refused before anything is decoded.
        let header =
            r#"{"inputs":[{"name":"x","shape":[10000,1000],"datatype":"UINT8","parameters":{"binary_data_size":4}}]}"#;
        assert!(refused(header, &[0; 4]).contains("10000000 elements"), "{}", refused(header, &[0; 4]));
        // Bytes that look like whitespace are data when a tensor declares them.
        let header =
            r#"{"inputs":[{"name":"x","shape":[1,2],"datatype":"UINT8","parameters":{"binary_data_size":2}}]}"#;
        let spaces = parse_bytes(V2_REQUEST_HEADERS, &with_bytes(header, &[&[b' ', b'\n']])).unwrap();
        assert!(spaces.data.contains(r#""data":[32,10]"#), "{}", spaces.data);
        let header =
            r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP16","parameters":{"binary_data_size":16}}]}"#;
        assert!(refused(header, &fp32[..16]).contains(r#"datatype "FP16" is not read"#));
        let header = r#"{"inputs":[{"name":"x","shape":[2,4],"datatype":"FP32","data":[1,2,3,4,5,6,7,8]}]}"#;
        assert!(refused(header, &fp32).contains("trailing characters"), "no tensor declares the bytes");
        let header = r#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP64","parameters":{"binary_data_size":16}}]}"#;
        let nan: Vec<u8> = [f64::NAN, 1.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(refused(header, &nan).contains("NaN is not finite"));
        let header = r#"{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":6}}]}"#;
        assert!(refused(header, &[200, 0, 0, 0, b'a', b'b']).contains("a BYTES element of 200 bytes, but 2 are left"));
        // Bytes after a V1 body: nothing holds them.
        let v1 = r#"{"instances":[[1,2]]}"#;
        assert!(refused(v1, &[1, 2]).contains("trailing characters"));
    }

    #[test]
    fn structured_mode() {
        check(
            STRUCTURED,
            STRUCTURED_REQUEST,
            r#"
request 0009174a-24a8-4603-b098-09c8799950e9 source=http://localhost:9081/ time=2021-04-10T00:23:26.078952Z service=sklearn-iris namespace=default component=- endpoint=- model_version=-
instance [6.8,2.8,4.8,1.4]
instance [6.0,3.4,4.5,1.6]
"#,
        );
        // Data of a content type other than JSON is a string holding the body; data_base64 the body's bytes.
        let as_string = r#"{"specversion":"1.0","type":"org.kubeflow.serving.inference.response","source":"s","id":"e1",
            "datacontenttype":"application/x-www-form-urlencoded","data":"{\"predictions\": [0.3]}"}"#;
        check(
            STRUCTURED,
            as_string,
            "response e1 source=s time=- service=- namespace=- component=- endpoint=- model_version=-\nscores predictions [0.3]",
        );
        let base64 = r#"{"specversion":"1.0","type":"org.kubeflow.serving.inference.response","source":"s","id":"e1",
            "data_base64":"eyJwcmVkaWN0aW9ucyI6IFswLjNdfQ=="}"#;
        check(
            STRUCTURED,
            base64,
            "response e1 source=s time=- service=- namespace=- component=- endpoint=- model_version=-\nscores predictions [0.3]",
        );
        check(
            STRUCTURED,
            r#"{"specversion":"1.0","type":"org.kubeflow.serving.inference.request","source":"s","data":{"instances":[[1]]}}"#,
            r#"error: member "id" is missing"#,
        );
        check(
            STRUCTURED,
            r#"{"specversion":"1.0","type":"org.kubeflow.serving.inference.request","source":"s","id":7,"data":{}}"#,
            r#"error: member "id": not a string"#,
        );
        check(
            &[("Content-Type", "application/cloudevents-batch+json")],
            "[]",
            r#"error: Content-Type "application/cloudevents-batch+json": only binary mode and structured mode in JSON (application/cloudevents+json) are read"#,
        );
    }

    #[test]
    fn malformed_events() {
        let headers = with(V1_REQUEST_HEADERS, "ce-id", None);
        check(&headers, V1_REQUEST, "error: header ce-id is missing");
        let headers = with(V1_REQUEST_HEADERS, "Ce-Id", Some(""));
        check(&headers, V1_REQUEST, "error: header ce-id: empty");
        let mut headers = V1_REQUEST_HEADERS.to_vec();
        headers.push(("ce-id", "another"));
        check(&headers, V1_REQUEST, "error: header ce-id is given more than once");
        // Seldon Core's logger type.
        let headers = with(V1_REQUEST_HEADERS, "Ce-Type", Some("io.seldon.serving.inference.request"));
        check(
            &headers,
            V1_REQUEST,
            r#"error: header ce-type is "io.seldon.serving.inference.request"; KServe's payload logger sends org.kubeflow.serving.inference.request or org.kubeflow.serving.inference.response"#,
        );
        let headers = with(V1_REQUEST_HEADERS, "Ce-Specversion", Some("0.3"));
        check(&headers, V1_REQUEST, r#"error: header ce-specversion: "0.3"; CloudEvents 1.0 is read"#);
        let headers = with(V1_REQUEST_HEADERS, "Ce-Time", Some("yesterday"));
        check(&headers, V1_REQUEST, r#"error: header ce-time: "yesterday" is not an RFC 3339 time"#);
        let headers = with(V1_REQUEST_HEADERS, "Ce-Id", Some("a%2"));
        check(&headers, V1_REQUEST, "error: header ce-id: a malformed percent-encoding at byte 1");
        // An overlong encoding of a space (CloudEvents HTTP binding §3.1.3.2).
        let headers = with(V1_REQUEST_HEADERS, "Ce-Id", Some("a%C0%A0"));
        check(&headers, V1_REQUEST, "error: header ce-id: percent-encoded bytes that are not UTF-8");
        let long = "x".repeat(MAX_EVENT_ID + 1);
        let headers = with(V1_REQUEST_HEADERS, "Ce-Id", Some(&long));
        check(&headers, V1_REQUEST, "error: header ce-id: 124 bytes; at most 123");
        // Python's json.dumps writes NaN, which is not JSON.
        check(
            V1_RESPONSE_HEADERS,
            r#"{"predictions": [NaN]}"#,
            "error: the data is not JSON (content type application/json): expected value at line 1 column 18",
        );
        check(
            V1_RESPONSE_HEADERS,
            "",
            "error: the data is not JSON (content type application/json): EOF while parsing a value at line 1 column 0",
        );
        check(V1_RESPONSE_HEADERS, r#"{"predictions": [null]}"#, "error: predictions[0]: null is not a number");
        check(
            V1_RESPONSE_HEADERS,
            r#"{"predictions": [1.5]}"#,
            "error: predictions[0]: 1.5 is not a probability in [0, 1]",
        );
        check(
            V1_RESPONSE_HEADERS,
            r#"{"predictions": [[0.1, 0.2, 0.7]]}"#,
            "error: predictions[0]: 3 values; a score, [p] or a binary classifier's [p0, p1] is read",
        );
        check(V1_RESPONSE_HEADERS, r#"{"predictions": []}"#, "error: predictions: empty");
        check(V1_RESPONSE_HEADERS, V1_REQUEST, "error: data: a response holds predictions (V1) or outputs (V2)");
        check(V1_REQUEST_HEADERS, V1_RESPONSE, "error: data: a request holds instances (V1) or inputs (V2)");
        check(V1_REQUEST_HEADERS, "[1, 2]", "error: data: not a JSON object");
    }

    #[test]
    fn header_values_decoded() {
        // Percent-decoded (lower-case hex too) and unquoted, as the CloudEvents HTTP binding §3.1.3.2 requires.
        let headers = with(V1_RESPONSE_HEADERS, "Ce-Id", Some("batch%2f7%20%E2%82%AC"));
        let headers = with(&headers, "Ce-Inferenceservicename", Some(r#""credit \"v2\"""#));
        check(
            &headers,
            r#"{"predictions": [0.5]}"#,
            r#"
response batch/7 € source=http://localhost:9081/ time=2021-04-10T00:23:26.080736Z service=credit "v2" namespace=default component=- endpoint=- model_version=-
scores predictions [0.5]
"#,
        );
    }

    #[test]
    fn budget() {
        let deep = format!(r#"{{"instances": [{}1{}]}}"#, "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        check(V1_REQUEST_HEADERS, &deep, "error: the body nests arrays and objects deeper than 32 levels (at byte 45)");
        // Brackets inside strings do not count.
        let text = format!(r#"{{"instances": [["{}"]]}}"#, "[".repeat(MAX_DEPTH * 2));
        assert!(parse(V1_REQUEST_HEADERS, &text).is_ok());
        let large = format!(r#"{{"instances": [[{}0]]}}"#, " ".repeat(MAX_BODY_BYTES));
        check(V1_REQUEST_HEADERS, &large, "error: the body has 4194324 bytes; an event holds at most 4194304");
        let many = format!(r#"{{"instances": [{}[1]]}}"#, "[1],".repeat(MAX_INSTANCES));
        check(V1_REQUEST_HEADERS, &many, "error: instances holds 10001 rows; an event holds at most 10000");
        let tall = r#"{"inputs":[{"name":"x","shape":[10001,0],"datatype":"FP32","data":[]}]}"#;
        check(V2_REQUEST_HEADERS, tall, "error: inputs[0].shape holds 10001 rows; an event holds at most 10000");
        let overflow = r#"{"inputs":[{"name":"x","shape":[2,9223372036854775807],"datatype":"FP32","data":[1]}]}"#;
        check(V2_REQUEST_HEADERS, overflow, "error: inputs[0].data: 1 elements for shape [2, 9223372036854775807]");
        // The longest id with the largest event's last row still fits a decision's request id.
        assert!(format!("{}/{}", "x".repeat(MAX_EVENT_ID), MAX_INSTANCES - 1).len() <= MAX_REQUEST_ID);
    }

    #[test]
    fn joins() {
        let request = event(V1_REQUEST_HEADERS, V1_REQUEST);
        let proba = event(V1_RESPONSE_HEADERS, V1_PROBA_RESPONSE);
        let expect = r#"
0009174a-24a8-4603-b098-09c8799950e9/0 0.98 {"petal_length":4.8,"petal_width":1.4,"sepal_length":6.8,"sepal_width":2.8}
0009174a-24a8-4603-b098-09c8799950e9/1 0.69 {"petal_length":4.5,"petal_width":1.6,"sepal_length":6.0,"sepal_width":3.4}
"#;
        check_join(&request, &proba, IRIS, expect);
        // The response arriving first: pairing is by kind, not by order.
        check_join(&proba, &request, IRIS, expect);
        // The README's labels pass as scores of 1.
        let labels = event(V1_RESPONSE_HEADERS, V1_RESPONSE);
        check_join(
            &request,
            &labels,
            IRIS,
            r#"
0009174a-24a8-4603-b098-09c8799950e9/0 1 {"petal_length":4.8,"petal_width":1.4,"sepal_length":6.8,"sepal_width":2.8}
0009174a-24a8-4603-b098-09c8799950e9/1 1 {"petal_length":4.5,"petal_width":1.6,"sepal_length":6.0,"sepal_width":3.4}
"#,
        );

        // V2: one [n, features] tensor.
        let v2 = event(V2_REQUEST_HEADERS, V2_REQUEST);
        let v2_proba = event(V2_RESPONSE_HEADERS, V2_PROBA_RESPONSE);
        check_join(
            &v2_proba,
            &v2,
            IRIS,
            r#"
823248cc-d770-4a51-9606-16803395569c/0 0.9 {"petal_length":4.8,"petal_width":1.4,"sepal_length":6.8,"sepal_width":2.8}
823248cc-d770-4a51-9606-16803395569c/1 0.25 {"petal_length":4.5,"petal_width":1.6,"sepal_length":6.0,"sepal_width":3.4}
"#,
        );
        check_join(&v2, &v2_proba, &IRIS[..3], "error: inputs[0]: 4 values, but the version's schema has 3 features");

        // V2: one input per feature; one row, so the event id is the request id.
        let named = event(V2_REQUEST_HEADERS, V2_NAMED_REQUEST);
        let one = event(
            V2_RESPONSE_HEADERS,
            r#"{"outputs":[{"name":"output-0","shape":[1,1],"datatype":"FP64","data":[[0.42]]}]}"#,
        );
        check_join(
            &named,
            &one,
            HOUSES,
            r#"
823248cc-d770-4a51-9606-16803395569c 0.42 {"GarageArea":548,"LotArea":8450,"LotShape":"Reg","MSZoning":"RL","Neighborhood":"CollgCr","OverallQual":7,"SaleType":"WD","Utilities":"AllPub","YearBuilt":2003,"YrSold":2008}
"#,
        );
    }

    #[test]
    fn joins_refused() {
        let request = event(V1_REQUEST_HEADERS, V1_REQUEST);
        let response = event(V1_RESPONSE_HEADERS, V1_PROBA_RESPONSE);
        check_join(
            &request,
            &request,
            IRIS,
            "error: both events are requests; a decision joins a request with its response",
        );
        check_join(
            &response,
            &response,
            IRIS,
            "error: both events are responses; a decision joins a request with its response",
        );
        let other = event(&with(V1_RESPONSE_HEADERS, "Ce-Id", Some("other")), V1_PROBA_RESPONSE);
        check_join(
            &request,
            &other,
            IRIS,
            r#"error: the request's id "0009174a-24a8-4603-b098-09c8799950e9" is not the response's "other""#,
        );
        // Three instances, two predictions.
        let three = event(V1_REQUEST_HEADERS, r#"{"instances": [[1,2,3,4],[5,6,7,8],[9,10,11,12]]}"#);
        check_join(&three, &response, IRIS, "error: the request holds 3 instances and the response 2 scores");
        check_join(
            &request,
            &response,
            &IRIS[1..],
            "error: instances[0]: 4 values, but the version's schema has 3 features",
        );
        // A score that is not a probability, whoever built the event.
        let mut nan = response.clone();
        nan.body = InferenceBody::Scores { field: "predictions".into(), values: vec![0.5, f64::NAN] };
        check_join(&request, &nan, IRIS, "error: predictions[1] is NaN; a score is a probability in [0, 1]");
        let mut body = request.clone();
        body.body = nan.body.clone();
        check_join(&body, &response, IRIS, "error: the request holds no instances or inputs");

        let response = event(V2_RESPONSE_HEADERS, V2_PROBA_RESPONSE);
        let two = event(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},{"name":"b","shape":[2],"datatype":"FP32","data":[3,4]}]}"#,
        );
        check_join(
            &two,
            &response,
            &["x", "y"],
            "error: inputs: 2 tensors, none named after a feature of the version's schema: one [n, 2] tensor or one \
             input per feature is read",
        );
        let ragged = event(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},{"name":"b","shape":[1],"datatype":"FP32","data":[3]}]}"#,
        );
        check_join(&ragged, &response, &["a", "b"], "error: inputs[1].shape: 1 rows, but inputs[0] has 2");
        let twice = event(
            V2_REQUEST_HEADERS,
            r#"{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},{"name":"a","shape":[2],"datatype":"FP32","data":[3,4]}]}"#,
        );
        check_join(&twice, &response, &["a", "b"], r#"error: inputs[1].name: "a" is given twice"#);
        let flat =
            event(V2_REQUEST_HEADERS, r#"{"inputs":[{"name":"x","shape":[4],"datatype":"FP32","data":[1,2,3,4]}]}"#);
        check_join(&flat, &response, IRIS, "error: inputs[0].shape: [4]; a tensor of rows has shape [n, 4]");
    }

    #[test]
    fn stored_halves_read_back() {
        let response = event(
            V2_RESPONSE_HEADERS,
            r#"{"model_version":"7","outputs":[{"name":"p","shape":[1],"datatype":"FP64","data":[0.3]}]}"#,
        );
        let stored =
            KserveEvent::from_stored(&response.id, response.kind.as_str().parse().unwrap(), &response.data).unwrap();
        assert_eq!(
            render(&stored),
            "response 823248cc-d770-4a51-9606-16803395569c source=- time=- service=- namespace=- component=- endpoint=- model_version=7\nscores outputs[0].data [0.3]"
        );
        assert_eq!("answer".parse::<EventKind>().unwrap_err(), r#"unknown event kind "answer": request or response"#);
    }
}
