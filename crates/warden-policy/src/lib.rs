/*!
Policy-as-code gates: a bundle of Rego files (and JSON data) evaluated in-process with regorus.

Pure: bundles come in as text, decisions go out as values; no file, clock or network. The caller assembles
the input document `{model, version, validation, approvals, target, now}` (documented in `POLICIES.md`) and
records the decision.

A bundle's gate lives in package `warden.gate` and follows conftest's convention: `deny` and `warn` are sets
of messages (strings, or objects with a `msg`), and the decision allows when `deny` is empty. JSON files are
merged into `data` at its root. Files named `*_test.rego` hold unit tests (rules named `test_*`) and are left
out of gate decisions.

Before anything is evaluated, `recursion` refuses a bundle whose rules or functions call themselves (regorus
would evaluate them until the stack overflows).
*/

use std::collections::BTreeMap;

use regorus::utils::limits::LimitError;
use regorus::{Engine, Value};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// The package a bundle's gate must define.
pub const GATE_PACKAGE: &str = "data.warden.gate";

/// Largest bundle accepted (all files together).
pub const MAX_BUNDLE_BYTES: usize = 4 << 20;

/// Longest one evaluation (a gate decision's `deny` or `warn`, one unit test) may run; regorus checks it
/// as it works and stops with an error.
pub const MAX_EVALUATION_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Deepest nesting of brackets (`(`, `[`, `{`) a policy file may hold: regorus parses, evaluates and drops
/// nested expressions recursively, so deeper nesting would overflow the stack rather than fail.
pub const MAX_NESTING: usize = 64;

/// Most messages a `deny` or `warn` set may hold, and the longest message: a decision is stored, signed
/// and shown to people.
pub const MAX_MESSAGES: usize = 1_000;
/// Longest message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 4_096;

/// Why a bundle cannot be used or a decision cannot be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PolicyError {
    /// A file does not parse; `line` is 1-based when the engine reported one.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Syntax { file: String, line: Option<u32>, message: String },
    /// The bundle's shape is wrong (no gate package, bad file names, too large, bad data file).
    #[error("{0}")]
    Bundle(String),
    /// The engine failed while evaluating (for example a builtin given the wrong type in strict mode).
    #[error("policy evaluation failed: {0}")]
    Evaluation(String),
}

/// A set of policy files, by path inside the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    files: BTreeMap<String, String>,
}

impl Bundle {
    /// Checks names and size; the files are parsed by [`Gate::compile`].
    pub fn from_files(files: BTreeMap<String, String>) -> Result<Bundle, PolicyError> {
        if files.is_empty() {
            return Err(PolicyError::Bundle("the bundle has no files".into()));
        }
        let size: usize = files.iter().map(|(p, t)| p.len() + t.len()).sum();
        if size > MAX_BUNDLE_BYTES {
            return Err(PolicyError::Bundle(format!("the bundle is {size} bytes; the limit is {MAX_BUNDLE_BYTES}")));
        }
        for path in files.keys() {
            let valid = !path.is_empty()
                && !path.starts_with('/')
                && path.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
                && (path.ends_with(".rego") || path.ends_with(".json"));
            if !valid {
                return Err(PolicyError::Bundle(format!(
                    "'{path}' is not a bundle file (relative paths ending in .rego or .json)"
                )));
            }
        }
        Ok(Bundle { files })
    }

    /// The bundle shipped with Warden (`bundle/` in this crate).
    pub fn default_bundle() -> Bundle {
        let files = [
            ("gate.rego", include_str!("../bundle/gate.rego")),
            ("gate_test.rego", include_str!("../bundle/gate_test.rego")),
            ("limits.json", include_str!("../bundle/limits.json")),
            ("tiering.rego", include_str!("../bundle/tiering.rego")),
            ("tiering_test.rego", include_str!("../bundle/tiering_test.rego")),
        ];
        Bundle { files: files.into_iter().map(|(p, t)| (p.to_owned(), t.to_owned())).collect() }
    }

    pub fn files(&self) -> &BTreeMap<String, String> {
        &self.files
    }

    /// SHA-256 over every file's path and text (length-prefixed, in path order): names the bundle in
    /// decision records.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        for (path, text) in &self.files {
            for part in [path.as_bytes(), text.as_bytes()] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part);
            }
        }
        hex::encode(hash.finalize())
    }

    fn is_test(path: &str) -> bool {
        path.ends_with("_test.rego")
    }
}

/// A whole, non-negative number of days.
fn whole_days(value: &Value) -> Option<i64> {
    value.as_i64().ok().filter(|d| *d >= 0)
}

/// Most reason codes a bundle's review policy lists.
pub const MAX_REASON_CODES: usize = 200;
/// Longest reason code.
pub const MAX_REASON_CODE_LEN: usize = 64;

fn is_reason_code(code: &str) -> bool {
    (1..=MAX_REASON_CODE_LEN).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// How decisions are reviewed (human oversight), from the bundle's `review` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewPolicy {
    /// The reason codes a review may give.
    pub reason_codes: Vec<String>,
    /// Whether the person whose review set a decision's current state may review it again.
    pub self_review: bool,
    /// Whether retraining takes a reviewed decision without an outcome as a label.
    pub labels_from_reviews: bool,
}

impl Default for ReviewPolicy {
    /// The shipped bundle's figures, for a bundle without the rule: `other` is the only code, a second person
    /// reviews a decision someone's review set, and reviews are not labels.
    fn default() -> Self {
        ReviewPolicy { reason_codes: vec!["other".into()], self_review: false, labels_from_reviews: false }
    }
}

/// The package holding a bundle's materiality tiering (optional: without it, models keep their declared tier).
pub const TIERING_PACKAGE: &str = "data.warden.tiering";

/// A tier the bundle's tiering rules computed from a model's inventory fields, with the facts that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Tiering {
    pub tier: String,
    pub reasons: Vec<String>,
}

/// A gate decision in conftest's convention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Decision {
    pub allow: bool,
    pub deny: Vec<String>,
    pub warn: Vec<String>,
}

/// A compiled bundle, ready to decide. Evaluation needs `&mut` (the engine keeps the input); share it
/// behind a lock or clone it.
#[derive(Clone)]
pub struct Gate {
    engine: Engine,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate").finish_non_exhaustive()
    }
}

impl Gate {
    /// Parses every policy file and data file of the bundle (tests left out) and checks that it defines
    /// the gate package.
    pub fn compile(bundle: &Bundle) -> Result<Gate, PolicyError> {
        let engine = engine(bundle, false)?;
        let packages = engine.get_packages().map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        if !packages.iter().any(|p| p == GATE_PACKAGE) {
            return Err(PolicyError::Bundle(format!(
                "the bundle defines no package {} (found: {})",
                GATE_PACKAGE.trim_start_matches("data."),
                if packages.is_empty() { "none".into() } else { packages.join(", ") }
            )));
        }
        Ok(Gate { engine })
    }

    /// Evaluates the gate on `input`.
    pub fn decide(&mut self, input: &serde_json::Value) -> Result<Decision, PolicyError> {
        let input = Value::from_json_str(&input.to_string()).map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        self.engine.set_input(input);
        let deny = self.messages(GATE_PACKAGE, "deny")?;
        let warn = self.messages(GATE_PACKAGE, "warn")?;
        Ok(Decision { allow: deny.is_empty(), deny, warn })
    }

    /// The materiality tier the bundle's `warden.tiering` rules compute for `input` (`{model: {..., fields}}`),
    /// with their `reasons`: `None` when the bundle has no tiering rules or they decide nothing for this input.
    /// The tier is returned as the rules wrote it; the caller checks it is one it knows.
    pub fn tiering(&mut self, input: &serde_json::Value) -> Result<Option<Tiering>, PolicyError> {
        let input = Value::from_json_str(&input.to_string()).map_err(|e| PolicyError::Evaluation(format!("{e:#}")))?;
        self.engine.set_input(input);
        let tier = match self.query(TIERING_PACKAGE, "tier")? {
            None => return Ok(None),
            Some(Value::String(tier)) => tier.to_string(),
            Some(other) => {
                return Err(PolicyError::Evaluation(format!("tier must be a string, not {}", json_text(&other))));
            }
        };
        // Reasons are optional: a bundle's rules may decide a tier without saying why.
        let reasons = match self.query(TIERING_PACKAGE, "reasons")? {
            Some(value) => messages_of("reasons", value)?,
            None => Vec::new(),
        };
        Ok(Some(Tiering { tier, reasons }))
    }

    /// How many days a finding of `severity` has before it is due, as the bundle's `finding_due_days` rule (an
    /// object of severity to days, normally the policy data's `warden.limits.finding_due_days`) says: `None`
    /// when the bundle defines no such rule or no whole, non-negative number of days for the severity.
    pub fn finding_due_days(&mut self, severity: &str) -> Result<Option<i64>, PolicyError> {
        Ok(match self.rule_value("finding_due_days")? {
            Some(Value::Object(by_severity)) => by_severity.get(&Value::from(severity)).and_then(whole_days),
            _ => None,
        })
    }

    /// Days between a model's validations for its tier, as the bundle's `revalidation_days` rule (an object of
    /// tier to days, normally the policy data's `warden.limits.revalidation_days`) says: `None` when the
    /// bundle defines no such rule or no whole, non-negative number of days for the tier.
    pub fn revalidation_days(&mut self, tier: &str) -> Result<Option<i64>, PolicyError> {
        Ok(match self.rule_value("revalidation_days")? {
            Some(Value::Object(by_tier)) => by_tier.get(&Value::from(tier)).and_then(whole_days),
            _ => None,
        })
    }

    /// Days between a model's owner attestations for its tier, as the bundle's `attestation_days` rule says:
    /// `None` when the bundle defines no such rule or no whole, non-negative number of days for the tier.
    pub fn attestation_days(&mut self, tier: &str) -> Result<Option<i64>, PolicyError> {
        Ok(match self.rule_value("attestation_days")? {
            Some(Value::Object(by_tier)) => by_tier.get(&Value::from(tier)).and_then(whole_days),
            _ => None,
        })
    }

    /// The longest a policy exception or an accepted limitation may last, in days, as the bundle's
    /// `finding_exception_max_days` rule says: `None` when the bundle defines none.
    pub fn finding_exception_max_days(&mut self) -> Result<Option<i64>, PolicyError> {
        Ok(self.rule_value("finding_exception_max_days")?.as_ref().and_then(whole_days))
    }

    /// The least number of days a model's data policy may keep its decisions, as the bundle's
    /// `min_decision_retention_days` rule says: `None` when the bundle defines none; a value that is not a
    /// whole number of days from 1 to 36,500 is an error naming the rule.
    pub fn min_decision_retention_days(&mut self) -> Result<Option<u32>, PolicyError> {
        match self.rule_value("min_decision_retention_days")? {
            None => Ok(None),
            Some(value) => match value.as_i64().ok() {
                Some(days) if (1..=36_500).contains(&days) => Ok(Some(days as u32)),
                _ => Err(PolicyError::Evaluation(format!(
                    "min_decision_retention_days must be a whole number of days from 1 to 36500, not {}",
                    json_text(&value)
                ))),
            },
        }
    }

    /// How decisions are reviewed, as the bundle's `review` rule (normally the policy data's
    /// `warden.limits.review`) says; a bundle without the rule, or without one of its fields, gets
    /// [`ReviewPolicy::default`]'s value for it. A malformed field is an error naming it, not a default.
    pub fn review_policy(&mut self) -> Result<ReviewPolicy, PolicyError> {
        let mut policy = ReviewPolicy::default();
        let Some(value) = self.rule_value("review")? else { return Ok(policy) };
        let Value::Object(fields) = value else {
            return Err(PolicyError::Evaluation(format!("review must be an object, not {}", json_text(&value))));
        };
        let flag = |name: &str, default: bool| match fields.get(&Value::from(name)) {
            None => Ok(default),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(other) => {
                Err(PolicyError::Evaluation(format!("review.{name} must be true or false, not {}", json_text(other))))
            }
        };
        policy.self_review = flag("self_review", policy.self_review)?;
        policy.labels_from_reviews = flag("labels_from_reviews", policy.labels_from_reviews)?;
        if let Some(codes) = fields.get(&Value::from("reason_codes")) {
            let Value::Array(codes) = codes else {
                return Err(PolicyError::Evaluation(format!(
                    "review.reason_codes must be a list of codes, not {}",
                    json_text(codes)
                )));
            };
            if codes.is_empty() || codes.len() > MAX_REASON_CODES {
                return Err(PolicyError::Evaluation(format!(
                    "review.reason_codes holds 1 to {MAX_REASON_CODES} codes, not {}",
                    codes.len()
                )));
            }
            policy.reason_codes = codes
                .iter()
                .map(|code| match code {
                    Value::String(code) if is_reason_code(code) => Ok(code.to_string()),
                    other => Err(PolicyError::Evaluation(format!(
                        "review.reason_codes: {} is not a code (1 to {MAX_REASON_CODE_LEN} lower-case letters, digits, \
                         '_' or '-')",
                        json_text(other)
                    ))),
                })
                .collect::<Result<_, _>>()?;
        }
        Ok(policy)
    }

    /// The value of one of the gate package's rules; `None` when the bundle does not define it (a query, not
    /// `eval_rule`, which refuses a rule that is not there).
    fn rule_value(&mut self, rule: &str) -> Result<Option<Value>, PolicyError> {
        self.engine.set_input(Value::new_object());
        self.query(GATE_PACKAGE, rule)
    }

    /// A rule's value with the input set; `None` when it is undefined or its package is not in the bundle.
    fn query(&mut self, package: &str, rule: &str) -> Result<Option<Value>, PolicyError> {
        let results = self
            .engine
            .eval_query(format!("{package}.{rule}"), false)
            .map_err(|e| evaluation_error(rule, &e, e.downcast_ref()))?;
        let value = results.result.into_iter().next().and_then(|r| r.expressions.into_iter().next()).map(|e| e.value);
        Ok(value.filter(|v| *v != Value::Undefined))
    }

    /// A rule's messages; none when the bundle does not define the rule (conftest's convention: a bundle may
    /// have `deny` rules and no `warn` ones).
    fn messages(&mut self, package: &str, rule: &str) -> Result<Vec<String>, PolicyError> {
        let value = self.query(package, rule)?.unwrap_or(Value::Undefined);
        messages_of(rule, value)
    }
}

/// A set (or array) of messages: strings, or objects with a `msg`; sorted, duplicates dropped, within the
/// budget of count and length.
fn messages_of(rule: &str, value: Value) -> Result<Vec<String>, PolicyError> {
    let items: Vec<Value> = match value {
        Value::Undefined => return Ok(Vec::new()),
        Value::Set(set) => set.iter().cloned().collect(),
        Value::Array(array) => array.iter().cloned().collect(),
        other => {
            return Err(PolicyError::Evaluation(format!(
                "{rule} must be a set of messages, not {}",
                json_text(&other)
            )));
        }
    };
    if items.len() > MAX_MESSAGES {
        return Err(PolicyError::Evaluation(format!(
            "{rule} holds {} messages; the limit is {MAX_MESSAGES}",
            items.len()
        )));
    }
    let mut messages = Vec::with_capacity(items.len());
    for item in items {
        match &item {
            Value::String(text) => messages.push(text.to_string()),
            Value::Object(fields) => match fields.get(&Value::from("msg")) {
                Some(Value::String(text)) => messages.push(text.to_string()),
                _ => messages.push(json_text(&item)),
            },
            other => messages.push(json_text(other)),
        }
    }
    if let Some(long) = messages.iter().find(|m| m.len() > MAX_MESSAGE_BYTES) {
        return Err(PolicyError::Evaluation(format!(
            "{rule} holds a message of {} bytes; the limit is {MAX_MESSAGE_BYTES}",
            long.len()
        )));
    }
    messages.sort();
    messages.dedup();
    Ok(messages)
}

/// An evaluation error, naming the rule; the time limit is told apart from the rule's own failures.
fn evaluation_error(rule: &str, err: &impl std::fmt::Display, limit: Option<&LimitError>) -> PolicyError {
    match limit {
        Some(limit) => PolicyError::Evaluation(format!("{rule} exceeded the evaluation limit: {limit}")),
        None => PolicyError::Evaluation(format!("{rule}: {err:#}")),
    }
}

fn json_text(value: &Value) -> String {
    value.to_json_str().unwrap_or_else(|_| format!("{value:?}"))
}

fn engine(bundle: &Bundle, with_tests: bool) -> Result<Engine, PolicyError> {
    let mut engine = Engine::new();
    for (path, text) in &bundle.files {
        if path.ends_with(".rego") {
            if Bundle::is_test(path) && !with_tests {
                continue;
            }
            check_nesting(path, text)?;
            engine.add_policy(path.clone(), text.clone()).map_err(|e| syntax_error(path, &e))?;
        } else {
            let data = Value::from_json_str(text).map_err(|e| PolicyError::Syntax {
                file: path.clone(),
                line: None,
                message: format!("not valid JSON: {e:#}"),
            })?;
            if !matches!(data, Value::Object(_)) {
                return Err(PolicyError::Bundle(format!("{path}: a data file must hold a JSON object")));
            }
            engine.add_data(data).map_err(|e| PolicyError::Bundle(format!("{path}: {e:#}")))?;
        }
    }
    // Before anything is evaluated: regorus would recurse until the stack overflows.
    recursion::check(engine.get_modules())?;
    engine.set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
        limit: MAX_EVALUATION_TIME,
        check_interval: std::num::NonZeroU32::new(64).expect("non-zero"),
    });
    Ok(engine)
}

/// Refuses a file whose brackets nest deeper than [`MAX_NESTING`] (strings and comments are skipped),
/// naming the line where the limit is passed.
fn check_nesting(path: &str, text: &str) -> Result<(), PolicyError> {
    let (mut depth, mut line) = (0usize, 1u32);
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' => {
                // A comment runs to the end of the line.
                if chars.by_ref().any(|c| c == '\n') {
                    line += 1;
                }
            }
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' | '\n' => {
                            if c == '\n' {
                                line += 1;
                            }
                            break;
                        }
                        _ => {}
                    }
                }
            }
            '`' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                    }
                    if c == '`' {
                        break;
                    }
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(PolicyError::Syntax {
                        file: path.to_owned(),
                        line: Some(line),
                        message: format!("brackets nest deeper than {MAX_NESTING} levels"),
                    });
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// regorus reports `path:line:col: error: ...` followed by the source line; keep the line number and the
/// message.
fn syntax_error(path: &str, err: &impl std::fmt::Display) -> PolicyError {
    let text = format!("{err:#}");
    let prefix = format!("{path}:");
    let mut line = None;
    let mut message = text.trim().to_owned();
    if let Some(at) = text.find(&prefix) {
        let rest = &text[at + prefix.len()..];
        let mut parts = rest.splitn(3, ':');
        if let (Some(l), Some(_col), Some(tail)) = (parts.next(), parts.next(), parts.next())
            && let Ok(l) = l.trim().parse::<u32>()
        {
            line = Some(l);
            message = tail.lines().next().unwrap_or(tail).trim().trim_start_matches("error:").trim().to_owned();
        }
    }
    PolicyError::Syntax { file: path.to_owned(), line, message }
}

/// One Rego unit test's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestOutcome {
    /// `package.rule`, for example `warden.gate_test.test_low_auc_is_refused`.
    pub name: String,
    pub file: String,
    pub passed: bool,
    /// Why it failed: `false`/undefined, or the engine's error.
    pub detail: Option<String>,
}

/// Runs every rule named `test_*` of the bundle's `*_test.rego` files (and of any other file), as
/// `opa test` does: a test passes when it evaluates to true.
pub fn run_tests(bundle: &Bundle) -> Result<Vec<TestOutcome>, PolicyError> {
    let mut engine = engine(bundle, true)?;
    let mut outcomes = Vec::new();
    for (path, text) in &bundle.files {
        if !path.ends_with(".rego") {
            continue;
        }
        let Some(package) = package_of(text) else { continue };
        let mut seen = std::collections::BTreeSet::new();
        for name in test_rule_names(text) {
            if !seen.insert(name.clone()) {
                continue; // a test with several bodies is one test
            }
            let rule = format!("data.{package}.{name}");
            let (passed, detail) = match engine.eval_rule(rule) {
                Ok(Value::Bool(true)) => (true, None),
                Ok(Value::Undefined) => (false, Some("undefined (a condition did not hold)".into())),
                Ok(other) => (false, Some(format!("evaluated to {}", json_text(&other)))),
                Err(e) => (false, Some(evaluation_error(&name, &e, e.downcast_ref()).to_string())),
            };
            outcomes.push(TestOutcome { name: format!("{package}.{name}"), file: path.clone(), passed, detail });
        }
    }
    Ok(outcomes)
}

fn package_of(text: &str) -> Option<String> {
    text.lines().find_map(|line| line.trim().strip_prefix("package ").map(|p| p.trim().to_owned()))
}

/// Names of rules defined at the start of a line as `test_...` (how Rego test rules are written).
fn test_rule_names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.starts_with("test_"))
        .map(|line| line.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect())
        .collect()
}

mod recursion;

#[cfg(test)]
mod tests;
