/*!
Model documents written from the ledger: every figure in them cites the entry that vouches for it, and
[`verify_document`] checks each one offline.

- A template ([`Template`]) is a minijinja file; it receives the model's facts as figures already rendered
  (see [`FIGURE_TAG`]), so whatever a template writes, a figure reaches the page only with its citation.
- A figure is `<data class="figure" value="V" data-entry="N" data-pointer="P" [data-record="S"]>shown</data>`:
  `V` is the canonical JSON of the value, `N` the ledger entry, `P` a JSON pointer into the entry's audit
  payload or, with `data-record`, into the record whose SHA-256 `S` the payload carries (a validation
  report), and `shown` is [`shown`]`(V)`.
- The document ends with an appendix (`<script type="application/json" id="warden-ledger">`): the signed
  checkpoint, each cited entry with its inclusion proof and payload, and each cited record.

[`verify_document`] opens the checkpoint with the ledger key the reader trusts, proves each entry into it
(and that it is about the document's model), checks each payload and record against its entry, and then
each figure: its value against what its entry vouches for at its pointer, and its shown text against that
value. An edited number, an edited payload or record, and a citation of an entry the appendix does not
prove are each caught. Not caught: a figure re-pointed at another value its entries vouch for, a figure
removed or written in another form, and text that is not a figure (labels, headings); closing that needs
the verifier to render the document again from its verified appendix and compare, which is not built.
*/

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value, json};
use warden_ledger::merkle::{Hash, verify_inclusion};
use warden_ledger::note::{Checkpoint, NoteVerifier};
use warden_ledger::{Entry, canonical_json, payload_sha256};
use warden_oversight::vouching;
use warden_store::metadata::RecordKind;

use crate::evidence::ModelLedger;
use crate::{Error, Proof, Result};
use warden_registry::auth::{Permission, Principal};

/// The appendix format's name.
pub const FORMAT: &str = "warden-document/1";
/// How a figure starts in the markup (the verifier reads nothing else as a figure).
pub const FIGURE_TAG: &str = "<data class=\"figure\" ";
const APPENDIX_OPEN: &str = "<script type=\"application/json\" id=\"warden-ledger\">";
const APPENDIX_CLOSE: &str = "</script>";
/// How a model's section of the inventory's report starts (`model-NAME"`): the verifier ties each figure after
/// it to that model.
const SECTION_TAG: &str = "<h2 id=\"model-";
/// Largest document `verify_document` reads.
pub const MAX_DOCUMENT_BYTES: usize = 32 << 20;
/// Most figures a document may cite.
const MAX_FIGURES: usize = 200_000;
/// Longest inclusion proof (a tree of 2^64 entries).
const MAX_PROOF: usize = 64;
/// Problems listed before the check stops.
const MAX_PROBLEMS: usize = 100;
/// Longest figure element (tag, value and text) the scanner reads.
const MAX_FIGURE_BYTES: usize = 16 * 1024;
/// Largest template a bank may add, and how many.
pub const MAX_TEMPLATE_BYTES: usize = 256 * 1024;
pub const MAX_TEMPLATES: usize = 32;
/// The instructions one rendering may run (minijinja's fuel): a shipped document takes a few thousand; a
/// template that loops without end stops here with an error naming it.
const RENDER_FUEL: u64 = 5_000_000;

/// A validation report's performance figures, as documents and exports present them: (template key, label,
/// JSON pointer into the report). The AUC's interval is at [`AUC_INTERVAL`].
pub(crate) const PERFORMANCE_FIGURES: [(&str, &str, &str); 19] = [
    ("auc", "AUC", "/figures/discrimination/auc"),
    ("gini", "Gini", "/figures/discrimination/gini"),
    ("ks", "KS", "/figures/discrimination/ks"),
    ("brier", "Brier score", "/figures/calibration/brier"),
    ("log_loss", "Log loss", "/figures/calibration/log_loss"),
    ("ece", "Expected calibration error", "/figures/calibration/ece"),
    ("approval_rate", "Approval rate", "/figures/approval_rate"),
    ("mae", "Mean absolute error (realized values)", "/figures/regression/mae"),
    ("rmse", "Root mean squared error (realized values)", "/figures/regression/rmse"),
    ("mape", "Mean absolute percentage error (realized values)", "/figures/regression/mape"),
    ("r2", "R² (realized values)", "/figures/regression/r2"),
    ("expected_loss_error", "Expected-loss error (predicted − realized)", "/figures/regression/expected_loss_error"),
    ("accuracy", "Accuracy (realized classes)", "/figures/multiclass/accuracy"),
    ("f1_macro", "Macro F1 (realized classes)", "/figures/multiclass/f1_macro"),
    ("precision_macro", "Macro precision (realized classes)", "/figures/multiclass/precision_macro"),
    ("recall_macro", "Macro recall (realized classes)", "/figures/multiclass/recall_macro"),
    ("max_feature_psi", "Maximum feature PSI", "/stability/max_feature_psi"),
    ("score_psi", "Score PSI", "/stability/score_psi"),
    (
        "reconstruction_error",
        "Reconstruction error (multivariate drift)",
        "/stability/multivariate/reconstruction_error",
    ),
];
/// Where the AUC's interval bounds are in a validation report (`lower`, `upper`, `level` below it).
pub(crate) const AUC_INTERVAL: &str = "/figures/discrimination/auc_interval";
/// A validation report's fairness figures of each protected attribute, under `/fairness/ATTRIBUTE/`.
pub(crate) const FAIRNESS_FIGURES: [&str; 3] =
    ["disparate_impact", "approval_rate_difference", "equalized_odds_difference"];

/// The documents Warden writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    /// Development and validation document (SR 26-2, PRA SS1/23).
    ModelDocumentation,
    /// Technical documentation of a high-risk AI system (EU AI Act Annex IV).
    EuAiActAnnexIv,
    /// Periodic ongoing-monitoring report of a model over a [`Period`].
    MonitoringReport,
}

impl Template {
    pub const ALL: [Template; 3] = [Template::ModelDocumentation, Template::EuAiActAnnexIv, Template::MonitoringReport];

    pub fn as_str(self) -> &'static str {
        match self {
            Template::ModelDocumentation => "model-documentation",
            Template::EuAiActAnnexIv => "eu-ai-act-annex-iv",
            Template::MonitoringReport => "monitoring-report",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Template::ModelDocumentation => include_str!("../templates/model-documentation.html"),
            Template::EuAiActAnnexIv => include_str!("../templates/eu-ai-act-annex-iv.html"),
            Template::MonitoringReport => include_str!("../templates/monitoring-report.html"),
        }
    }
}

/// Checks a template a bank adds: its name (lowercase letters, digits and dashes, not a shipped template's),
/// its size, and that it compiles; the error names what is wrong and where.
pub fn check_template(name: &str, source: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > 64
        || !name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(Error::invalid(format!(
            "template name '{name}': 1-64 lowercase letters, digits and dashes (the file is NAME.html)"
        )));
    }
    if Template::ALL.iter().any(|t| t.as_str() == name) {
        return Err(Error::invalid(format!("template '{name}' is one Warden ships: name the bank's another way")));
    }
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(Error::invalid(format!(
            "template '{name}' is {} bytes; at most {MAX_TEMPLATE_BYTES} are accepted",
            source.len()
        )));
    }
    let mut environment = minijinja::Environment::new();
    environment
        .add_template(name, source)
        .map_err(|e| Error::invalid(format!("template '{name}' does not compile: {e}")))?;
    Ok(())
}

/// The source of the template named `name`: one Warden ships, or one the bank added.
fn template_source<'a>(warden: &'a Proof, name: &str) -> Result<&'a str> {
    if let Ok(shipped) = name.parse::<Template>() {
        return Ok(shipped.source());
    }
    let added = &warden.config().document_templates;
    added.iter().find(|t| t.name == name).map(|t| t.source.as_str()).ok_or_else(|| {
        let names = template_names(warden);
        Error::invalid(format!("no template '{name}': this server writes {}", names.join(", ")))
    })
}

/// Every template this server writes: Warden's, then the bank's.
pub fn template_names(warden: &Proof) -> Vec<String> {
    let shipped = Template::ALL.iter().map(|t| t.as_str().to_owned());
    shipped.chain(warden.config().document_templates.iter().map(|t| t.name.clone())).collect()
}

impl std::str::FromStr for Template {
    type Err = Error;

    fn from_str(name: &str) -> Result<Template> {
        Template::ALL.into_iter().find(|t| t.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = Template::ALL.iter().map(|t| t.as_str()).collect();
            Error::invalid(format!("no template '{name}': Warden writes {}", names.join(", ")))
        })
    }
}

/// A written document.
#[derive(Debug, Clone)]
pub struct Document {
    /// `NAME-vVERSION-TEMPLATE.html`.
    pub file_name: String,
    pub html: String,
    /// Figures cited.
    pub figures: usize,
}

/// The time a monitoring report covers: from `from` (inclusive) to `to` (exclusive), µs since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub to: i64,
    /// As asked for (`2026-11`, `2026-Q4`, `last-30-days`).
    pub label: String,
}

/// Longest period a report covers, in days (ten years).
const MAX_PERIOD_DAYS: i64 = 3660;
const DAY_MICROS: i64 = 86_400_000_000;

impl Period {
    /// The period asked for: `YYYY-MM` (a calendar month, UTC), `YYYY-QN` (a calendar quarter) or
    /// `last-N-days` (the N days up to `now`); by default the last 30 days.
    pub fn parse(text: Option<&str>, now: i64) -> Result<Period> {
        let label = text.unwrap_or("last-30-days");
        let bad = || {
            Error::invalid(format!(
                "period '{label}': give YYYY-MM (a month), YYYY-QN (a quarter) or last-N-days (N from 1 to {MAX_PERIOD_DAYS})"
            ))
        };
        if let Some(days) = label.strip_prefix("last-").and_then(|r| r.strip_suffix("-days")) {
            let days: i64 = days.parse().ok().filter(|d| (1..=MAX_PERIOD_DAYS).contains(d)).ok_or_else(bad)?;
            return Ok(Period { from: now - days * DAY_MICROS, to: now, label: label.to_owned() });
        }
        let (year, rest) = label.split_once('-').ok_or_else(bad)?;
        let year: i32 = year.parse().ok().filter(|y| (1970..=9998).contains(y)).ok_or_else(bad)?;
        let (first_month, months) = match rest.strip_prefix('Q') {
            Some(q) => match q.parse::<u8>() {
                Ok(q @ 1..=4) => (3 * q - 2, 3),
                _ => return Err(bad()),
            },
            None if rest.len() == 2 => match rest.parse::<u8>() {
                Ok(m @ 1..=12) => (m, 1),
                _ => return Err(bad()),
            },
            None => return Err(bad()),
        };
        let start = |year: i32, month: u8| -> Result<i64> {
            let month = time::Month::try_from(month).map_err(|_| bad())?;
            let date = time::Date::from_calendar_date(year, month, 1).map_err(|_| bad())?;
            Ok(date.midnight().assume_utc().unix_timestamp() * 1_000_000)
        };
        let next = first_month + months;
        let (end_year, end_month) = if next > 12 { (year + 1, next - 12) } else { (year, next) };
        Ok(Period { from: start(year, first_month)?, to: start(end_year, end_month)?, label: label.to_owned() })
    }

    fn contains(&self, at: i64) -> bool {
        (self.from..self.to).contains(&at)
    }

    /// Whether a monitoring report of this period reads `entry`: an entry of the period, an hourly entry
    /// written up to a day after it (the period's last hour is vouched for in the next), or a monitor's setting
    /// of any time (the plan the results are judged against). Months of other hourly entries are not read.
    fn needs(&self, entry: &Entry) -> bool {
        if entry.action == vouching::ACTION {
            return (self.from..self.to.saturating_add(DAY_MICROS)).contains(&entry.at);
        }
        self.contains(entry.at) || entry.action.starts_with("monitor.")
    }
}

/// How a value is shown: numbers to four decimals (integers whole), booleans as yes/no, text as it is,
/// lists in brackets, nothing as a dash. The verifier shows the vouched value the same way.
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => "—".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => format!("{f:.4}"),
            _ => n.to_string(),
        },
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(shown).collect::<Vec<_>>().join(", ")),
        Value::Object(_) => canonical_json(value),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// The entries and records a document cites, and the figures it renders.
struct Citations<'a> {
    ledger: &'a ModelLedger,
    entries: BTreeSet<u64>,
    records: BTreeMap<String, Value>,
}

impl<'a> Citations<'a> {
    /// A figure from entry `index`'s payload at `pointer` (absent: a dash, cited all the same).
    fn payload(&mut self, index: u64, pointer: &str) -> minijinja::Value {
        let payload = self.payload_of(index);
        let value = payload.pointer(pointer).cloned().unwrap_or(Value::Null);
        self.figure(index, pointer, None, &value)
    }

    /// A figure from the record entry `index` vouches for (its `document_sha256`), at `pointer`.
    fn record(&mut self, index: u64, body: &Value, pointer: &str) -> minijinja::Value {
        let sha = payload_sha256(body);
        self.records.insert(sha.clone(), body.clone());
        let value = body.pointer(pointer).cloned().unwrap_or(Value::Null);
        self.figure(index, pointer, Some(&sha), &value)
    }

    /// Entry `index`'s payload (the ledger's entries are in index order).
    fn payload_of(&self, index: u64) -> &'a Value {
        static NULL: Value = Value::Null;
        let entries = &self.ledger.entries;
        entries.binary_search_by_key(&index, |(e, _)| e.index).map_or(&NULL, |at| &entries[at].1)
    }

    fn figure(&mut self, index: u64, pointer: &str, record: Option<&str>, value: &Value) -> minijinja::Value {
        self.entries.insert(index);
        let record = record.map(|sha| format!(" data-record=\"{sha}\"")).unwrap_or_default();
        minijinja::Value::from_safe_string(format!(
            "{FIGURE_TAG}value=\"{}\" data-entry=\"{index}\" data-pointer=\"{}\"{record}>{}</data>",
            escape(&canonical_json(value)),
            escape(pointer),
            escape(&shown(value))
        ))
    }

    /// The appendix: the checkpoint, the cited entries with their proofs and payloads, the cited records.
    fn appendix(&self, key: &str, header: Value) -> Result<String> {
        let mut entries = Vec::new();
        for (entry, payload) in self.ledger.entries.iter().filter(|(e, _)| self.entries.contains(&e.index)) {
            let proof = self.ledger.proof(entry.index)?;
            entries.push(json!({
                "index": entry.index,
                "canonical": entry.canonical(),
                "proof": proof.iter().map(hex::encode).collect::<Vec<_>>(),
                "payload": payload,
            }));
        }
        let mut appendix = header;
        appendix["format"] = FORMAT.into();
        appendix["key"] = key.into();
        appendix["checkpoint"] = self.ledger.checkpoint.note.clone().into();
        appendix["entries"] = entries.into();
        appendix["records"] = json!(self.records);
        // `<` only occurs inside JSON strings: escaped, no `</script>` can end the appendix early.
        let text = serde_json::to_string(&appendix).map_err(|e| Error::json("encoding the appendix", e))?;
        Ok(format!("{APPENDIX_OPEN}{}{APPENDIX_CLOSE}", text.replace('<', "\\u003c")))
    }
}

/// The newest entry of `action` on `subject` (exact) whose payload passes `keep`.
pub(crate) fn latest<'a>(
    ledger: &'a ModelLedger,
    action: &str,
    subject: &str,
    keep: impl Fn(&Value) -> bool,
) -> Option<&'a (Entry, Value)> {
    ledger.entries.iter().rev().find(|(e, p)| e.action == action && e.subject == subject && keep(p))
}

/// The latest validation report of `version` that an entry vouches for (its `document_sha256`): that entry's
/// index and the report.
pub(crate) async fn vouched_report(
    warden: &Proof,
    ledger: &ModelLedger,
    model: &str,
    version: i64,
) -> Result<Option<(u64, Value)>> {
    let version_subject = format!("model/{model}/{version}");
    let reports = warden.metadata.version_records(RecordKind::ValidationReport, model, Some(version)).await?;
    Ok(reports.into_iter().rev().find_map(|r| {
        let sha = payload_sha256(&r.body);
        let (entry, _) =
            latest(ledger, "version.validate", &version_subject, |p| p["document_sha256"].as_str() == Some(&sha))?;
        Some((entry.index, r.body))
    }))
}

/// Each monitor of `model` as its last `monitor.*` entry left it, by name.
pub(crate) fn latest_monitors<'a, 'm>(ledger: &'a ModelLedger, model: &'m str) -> Vec<(&'a str, &'a (Entry, Value))> {
    let prefix = format!("model/{model}/monitor/");
    let mut monitors = BTreeMap::<&str, &(Entry, Value)>::new();
    for row @ (entry, _) in ledger.entries.iter().rev() {
        if let Some(name) = entry.subject.strip_prefix(&prefix)
            && entry.action.starts_with("monitor.")
        {
            monitors.entry(name).or_insert(row);
        }
    }
    monitors.into_iter().collect()
}

/// Each finding of `model` as its last entry left it, by finding id.
pub(crate) fn latest_findings<'a>(ledger: &'a ModelLedger, model: &str) -> Vec<&'a (Entry, Value)> {
    let mut findings = BTreeMap::<i64, &(Entry, Value)>::new();
    for row @ (entry, payload) in ledger.entries.iter().rev() {
        let finding = &payload["finding"];
        if !entry.action.starts_with("finding.") || finding["model_name"].as_str() != Some(model) {
            continue;
        }
        if let Some(id) = finding["id"].as_i64() {
            findings.entry(id).or_insert(row);
        }
    }
    findings.into_values().collect()
}

/// Writes `template` for `model` (its latest version when `version` is None).
pub async fn generate(
    warden: &Proof,
    caller: &Principal,
    model: &str,
    version: Option<i64>,
    template: &str,
    period: Option<&str>,
) -> Result<Document> {
    caller.require(Permission::ReadAudit)?;
    template_source(warden, template)?;
    let period = Period::parse(period, warden.now())?;
    let record = warden_registry::registry::get_model(warden, caller, model).await?;
    let version = match version.or(record.latest_version) {
        Some(v) => v,
        None => return Err(Error::NotFound(format!("model '{model}' has no version to document"))),
    };
    warden_registry::registry::get_version(warden, caller, model, &version.to_string()).await?;
    let subjects = ModelLedger::subjects_of(model);
    let ledger = if template == Template::MonitoringReport.as_str() {
        ModelLedger::read_subjects(warden, &subjects, &|e| period.needs(e)).await?
    } else {
        ModelLedger::read_subjects(warden, &subjects, &|_| true).await?
    };
    render(warden, model, version, template, &ledger, &period).await
}

/// Writes `template` for `version` of `model` from `ledger` (read by the caller, who checked the rights).
pub(crate) async fn render(
    warden: &Proof,
    model: &str,
    version: i64,
    template: &str,
    ledger: &ModelLedger,
    period: &Period,
) -> Result<Document> {
    let source = template_source(warden, template)?;
    let mut cite = Citations { ledger, entries: BTreeSet::new(), records: BTreeMap::new() };
    let model_subject = format!("model/{model}");
    let version_subject = format!("model/{model}/{version}");
    let mut context = BTreeMap::<&str, minijinja::Value>::new();

    // Purpose and intended use: as the model was registered.
    if let Some((entry, _)) = latest(ledger, "model.create", &model_subject, |_| true) {
        let i = entry.index;
        let fields = ["name", "description", "owner", "use_case", "business_line", "risk_tier"];
        let purpose: BTreeMap<&str, minijinja::Value> =
            fields.iter().map(|f| (*f, cite.payload(i, &format!("/{f}")))).collect();
        context.insert("purpose", minijinja::Value::from_serialize(&purpose));
    }
    // Tier and materiality: the last tier decision, else the tier declared at registration.
    if let Some((entry, _)) = latest(ledger, "model.tier", &model_subject, |_| true) {
        let i = entry.index;
        let tier: BTreeMap<&str, minijinja::Value> = [("tier", "/to"), ("basis", "/basis"), ("reasons", "/reasons")]
            .into_iter()
            .map(|(name, pointer)| (name, cite.payload(i, pointer)))
            .collect();
        context.insert("tier", minijinja::Value::from_serialize(&tier));
    }
    // Data and lineage: the version's registration.
    if let Some((entry, _)) = latest(ledger, "version.register", &version_subject, |_| true) {
        let i = entry.index;
        let fields = [
            "format",
            "artifact_sha256",
            "target",
            "training_data_sha256",
            "training_data_rows",
            "reference_sha256",
            "reference_rows",
            "code_ref",
            "parent_version",
            "protected",
        ];
        let lineage: BTreeMap<&str, minijinja::Value> =
            fields.iter().map(|f| (*f, cite.payload(i, &format!("/{f}")))).collect();
        context.insert("lineage", minijinja::Value::from_serialize(&lineage));
    }
    // Performance, calibration, fairness, stability, stress: the latest validation report of the version
    // that an entry vouches for.
    let vouched = vouched_report(warden, ledger, model, version).await?;
    if let Some((i, body)) = &vouched {
        let (i, body) = (*i, body);
        let mut figure = |pointer: &str| cite.record(i, body, pointer);
        let mut validation = BTreeMap::<String, minijinja::Value>::new();
        for (name, pointer) in
            [("rows", "/rows"), ("bad_rate", "/bad_rate"), ("data_sha256", "/data_sha256"), ("threshold", "/threshold")]
        {
            validation.insert(name.into(), figure(pointer));
        }
        for (key, _, pointer) in PERFORMANCE_FIGURES {
            validation.insert(key.into(), figure(pointer));
        }
        validation
            .insert("is_regression".into(), minijinja::Value::from(body.pointer("/figures/regression").is_some()));
        validation
            .insert("is_multiclass".into(), minijinja::Value::from(body.pointer("/figures/multiclass").is_some()));
        for bound in ["lower", "upper", "level"] {
            validation.insert(format!("auc_{bound}"), figure(&format!("{AUC_INTERVAL}/{bound}")));
        }
        validation.insert("created_by".into(), figure("/created_by"));
        let mut fairness = Vec::new();
        for attribute in body["fairness"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default()
        {
            let mut row = BTreeMap::from([("attribute", minijinja::Value::from(attribute.clone()))]);
            for name in FAIRNESS_FIGURES {
                row.insert(name, figure(&format!("/fairness/{}/{name}", pointer_token(&attribute))));
            }
            fairness.push(row);
        }
        let features = body["stability"]["psi"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        let mut stability = Vec::new();
        for feature in features.unwrap_or_default() {
            stability.push(BTreeMap::from([
                ("feature", minijinja::Value::from(feature.clone())),
                ("psi", figure(&format!("/stability/psi/{}", pointer_token(&feature)))),
            ]));
        }
        let mut scenarios = Vec::new();
        for n in 0..body["scenarios"].as_array().map_or(0, Vec::len) {
            // Each measure as given, under the scenario, and the change.
            let mut row = BTreeMap::from([("name".to_owned(), figure(&format!("/scenarios/{n}/name")))]);
            for measure in ["approval_rate", "mean_pd"] {
                for (suffix, part) in [("", "stressed"), ("_baseline", "baseline"), ("_change", "change")] {
                    row.insert(format!("{measure}{suffix}"), figure(&format!("/scenarios/{n}/{measure}/{part}")));
                }
            }
            scenarios.push(row);
        }
        context.insert("validation_charts", minijinja::Value::from_serialize(report_charts(body)));
        context.insert("validation", minijinja::Value::from_serialize(&validation));
        context.insert("fairness", minijinja::Value::from_serialize(&fairness));
        context.insert("scenarios", minijinja::Value::from_serialize(&scenarios));
        context.insert("stability", minijinja::Value::from_serialize(&stability));
    }
    // Approvals and gate decisions of the version.
    let mut approvals = Vec::new();
    let mut gates = Vec::new();
    for (entry, _) in ledger.entries.iter().filter(|(e, _)| e.subject == version_subject) {
        let i = entry.index;
        match entry.action.as_str() {
            "version.approve" | "version.reject" => approvals.push(BTreeMap::from([
                ("decision", cite.payload(i, "/decision")),
                ("by", cite.payload(i, "/by")),
                ("role", cite.payload(i, "/role")),
                ("comment", cite.payload(i, "/comment")),
            ])),
            "gate.decide" => gates.push(BTreeMap::from([
                ("alias", cite.payload(i, "/alias")),
                ("purpose", cite.payload(i, "/purpose")),
                ("allow", cite.payload(i, "/allow")),
                ("deny", cite.payload(i, "/deny")),
                ("bundle_number", cite.payload(i, "/bundle_number")),
            ])),
            _ => {}
        }
    }
    context.insert("approvals", minijinja::Value::from_serialize(&approvals));
    context.insert("gates", minijinja::Value::from_serialize(&gates));
    // Deployment history: every move of an alias.
    let alias_prefix = format!("model/{model}/alias/");
    let mut deployments = Vec::new();
    for (entry, _) in ledger.entries.iter().filter(|(e, _)| e.subject.starts_with(&alias_prefix)) {
        let i = entry.index;
        deployments.push(BTreeMap::from([
            ("at", minijinja::Value::from(warden_core::Timestamp::from_micros(entry.at).whole_seconds().to_string())),
            ("action", minijinja::Value::from(entry.action.clone())),
            ("alias", minijinja::Value::from(entry.subject[alias_prefix.len()..].to_owned())),
            ("version", cite.payload(i, "/version")),
            ("reason", cite.payload(i, "/reason")),
            ("override", cite.payload(i, "/override")),
        ]));
    }
    context.insert("deployments", minijinja::Value::from_serialize(&deployments));
    // Limitations and open findings: each finding as its last entry left it.
    let mut findings = Vec::new();
    for (entry, payload) in latest_findings(ledger, model) {
        let i = entry.index;
        findings.push(BTreeMap::from([
            ("id", minijinja::Value::from(payload["finding"]["id"].as_i64())),
            ("severity", cite.payload(i, "/finding/severity")),
            ("title", cite.payload(i, "/finding/title")),
            ("state", cite.payload(i, "/finding/state")),
            ("owner", cite.payload(i, "/finding/owner")),
        ]));
    }
    context.insert("findings", minijinja::Value::from_serialize(&findings));
    // The monitoring plan: each monitor as it was last set.
    let mut monitors = Vec::new();
    for (name, (entry, payload)) in latest_monitors(ledger, model) {
        let i = entry.index;
        // A monitor set up by default is enabled (its entry says so only when a retune kept it disabled).
        let enabled = match payload.get("enabled") {
            None if entry.action == "monitor.default" => minijinja::Value::from("yes (default)"),
            _ => cite.payload(i, "/enabled"),
        };
        // What its evaluations of this version came to in the last hour vouched for.
        let (last, last_status, last_hour) = match latest_hour_result(ledger, model, name, version) {
            Some((entry, n)) => (
                cite.payload(entry.index, &format!("/monitors/{n}/last")),
                cite.payload(entry.index, &format!("/monitors/{n}/last_status")),
                minijinja::Value::from(time_text(entry.at)),
            ),
            None => (absent(), absent(), minijinja::Value::from(())),
        };
        monitors.push(BTreeMap::from([
            ("name", minijinja::Value::from(name)),
            ("last", last),
            ("last_status", last_status),
            ("last_hour", last_hour),
            ("kind", cite.payload(i, "/kind")),
            ("enabled", enabled),
            ("window_seconds", cite.payload(i, "/config/window_seconds")),
            ("warn", cite.payload(i, "/config/warn")),
            ("alert", cite.payload(i, "/config/alert")),
            ("action", cite.payload(i, "/config/action")),
        ]));
    }
    context.insert("monitors", minijinja::Value::from_serialize(&monitors));
    // The period's monitoring results: for the monitoring report and the bank's own templates.
    if template.parse::<Template>().is_err() || template == Template::MonitoringReport.as_str() {
        let mut results = BTreeMap::new();
        monitoring_results(&mut cite, ledger, model, period, Scope::Model, &mut results);
        results.insert("name", model.into());
        results.insert("prefix", "".into());
        results.insert("heading", "h2".into());
        context.insert("models", minijinja::Value::from_serialize([&results]));
        context.extend(results);
    }
    context.insert("model", model.into());
    context.insert("version", version.into());
    let header = json!({"model": model, "version": version, "template": template});
    let document = finish(warden, template, source, ledger, period, cite, header, context)?;
    Ok(Document { file_name: format!("{model}-v{version}-{template}.html"), ..document })
}

/// Writes the monitoring report of every model in the inventory over `period` (`template` is
/// `monitoring-report`): each model's results, breaches, alerts, incidents, alias moves and finding changes,
/// each figure cited; at most [`MAX_INVENTORY_ROWS`] breaching hours and alert events listed per model.
pub async fn generate_inventory(
    warden: &Proof,
    caller: &Principal,
    template: &str,
    period: Option<&str>,
) -> Result<Document> {
    caller.require(Permission::ReadAudit)?;
    if template != Template::MonitoringReport.as_str() {
        return Err(Error::invalid(format!(
            "the inventory has one document, '{}'; '{template}' is written per model",
            Template::MonitoringReport.as_str()
        )));
    }
    let period = Period::parse(period, warden.now())?;
    let models = warden_registry::registry::list_models(warden, caller).await?;
    let subjects = ["model/".to_owned(), "policy".to_owned()];
    let ledger = ModelLedger::read_subjects(warden, &subjects, &|e| period.needs(e)).await?;
    let mut cite = Citations { ledger: &ledger, entries: BTreeSet::new(), records: BTreeMap::new() };
    let mut sections = Vec::new();
    for model in &models {
        let name = model.input.name.as_str();
        let mut results = BTreeMap::new();
        monitoring_results(&mut cite, &ledger, name, &period, Scope::Inventory, &mut results);
        results.insert("name", name.into());
        results.insert("prefix", format!("{name}-").into());
        results.insert("heading", "h3".into());
        sections.push(results);
    }
    let mut context = BTreeMap::new();
    context.insert("inventory", true.into());
    context.insert("model_count", models.len().into());
    context.insert("models", minijinja::Value::from_serialize(&sections));
    let header = json!({"model": "", "scope": "inventory", "template": template});
    let source = Template::MonitoringReport.source();
    let document = finish(warden, template, source, &ledger, &period, cite, header, context)?;
    Ok(Document { file_name: format!("inventory-{template}.html"), ..document })
}

/// Renders `source` with `context` and what every document has (period, time written, checkpoint, key, the
/// appendix of what `cite` cited), within the template budget.
#[allow(clippy::too_many_arguments)]
fn finish(
    warden: &Proof,
    template: &str,
    source: &str,
    ledger: &ModelLedger,
    period: &Period,
    cite: Citations<'_>,
    header: Value,
    mut context: BTreeMap<&str, minijinja::Value>,
) -> Result<Document> {
    let generated_at = warden_core::Timestamp::from_micros(warden.now()).whole_seconds().to_string();
    context.insert("generated_at", generated_at.into());
    context.insert("checkpoint_size", ledger.checkpoint.tree_size.into());
    context.insert(
        "period",
        minijinja::Value::from_serialize(BTreeMap::from([
            ("label", period.label.clone()),
            ("from", time_text(period.from)),
            ("to", time_text(period.to)),
        ])),
    );
    let key = crate::ledger::public_key(warden);
    context.insert("key", key.clone().into());
    let appendix = cite.appendix(&key, header)?;
    context.insert("appendix", minijinja::Value::from_safe_string(appendix));

    let mut environment = minijinja::Environment::new();
    environment.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
    environment.set_fuel(Some(RENDER_FUEL));
    environment.add_template(template, source).map_err(|e| Error::failed(format!("template '{template}'"), e))?;
    let html = environment.get_template(template).and_then(|t| t.render(&context)).map_err(|e| {
        if e.kind() == minijinja::ErrorKind::OutOfFuel {
            Error::invalid(format!(
                "template '{template}' ran past its budget of {RENDER_FUEL} instructions: it loops too much"
            ))
        } else {
            Error::failed(format!("rendering template '{template}'"), e)
        }
    })?;
    if html.len() > MAX_DOCUMENT_BYTES {
        return Err(Error::invalid(format!(
            "template '{template}' wrote {} bytes; a document is at most {MAX_DOCUMENT_BYTES}",
            html.len()
        )));
    }
    // The figures the page shows (a template need not show every one prepared for it).
    let figures = html.matches(FIGURE_TAG).count();
    Ok(Document { file_name: String::new(), html, figures })
}

/// The validation report's ROC curve and reliability diagram, drawn as the dashboard draws them (inline
/// SVG). They carry no figures: the report they are drawn from is in the appendix, cited by the figures.
fn report_charts(report: &Value) -> BTreeMap<&'static str, minijinja::Value> {
    let pairs = |items: Option<&Vec<Value>>, x: &dyn Fn(&Value) -> Option<f64>, y: &dyn Fn(&Value) -> Option<f64>| {
        items.into_iter().flatten().filter_map(|p| Some((x(p)?, y(p)?))).collect::<Vec<(f64, f64)>>()
    };
    let roc =
        pairs(report.pointer("/figures/discrimination/roc").and_then(Value::as_array), &|p| p[0].as_f64(), &|p| {
            p[1].as_f64()
        });
    let reliability = pairs(
        report.pointer("/figures/calibration/reliability").and_then(Value::as_array),
        &|b| b["mean_pred"].as_f64(),
        &|b| b["mean_true"].as_f64(),
    );
    let svg = |markup: maud::Markup| minijinja::Value::from_safe_string(markup.into_string());
    BTreeMap::from([
        ("roc", svg(warden_charts::unit_curve("ROC curve", &roc, "false positive rate", "true positive rate"))),
        (
            "reliability",
            svg(warden_charts::unit_curve("Reliability diagram", &reliability, "mean score", "observed bad rate")),
        ),
    ])
}

/// Each monitor's hourly results over the period as the dashboard charts a monitor (one line per version,
/// the last value of each hour), with the monitor's bands as last set and a marker at each alert fired.
fn monitor_charts(
    series: &BTreeMap<String, BTreeMap<i64, Vec<(f64, f64)>>>,
    bands: &BTreeMap<&str, (Option<f64>, Option<f64>)>,
    alerts: &[(String, f64, String)],
    period: &Period,
) -> Vec<BTreeMap<&'static str, minijinja::Value>> {
    use warden_charts::{ALERT, LineChart, Marker, MarkerKind, Series, Threshold, WARN, XAxis};
    let mut charts = Vec::new();
    for (monitor, versions) in series {
        let names: Vec<String> = versions.keys().map(|v| format!("version {v}")).collect();
        let lines: Vec<Series> =
            versions.values().zip(&names).map(|(points, name)| Series { name, points: points.clone() }).collect();
        let mut thresholds = Vec::new();
        if let Some((warn, alert)) = bands.get(monitor.as_str()) {
            thresholds.extend(warn.map(|value| Threshold { value, label: "warn", colour: WARN }));
            thresholds.extend(alert.map(|value| Threshold { value, label: "alert", colour: ALERT }));
        }
        let markers: Vec<Marker> = alerts
            .iter()
            .filter(|(m, _, _)| m == monitor)
            .map(|(_, at, label)| Marker { at: *at, kind: MarkerKind::Alert, label: label.clone() })
            .collect();
        let title = format!("{monitor}: the last value of each hour");
        let svg = warden_charts::line_chart(&LineChart {
            title: &title,
            series: &lines,
            thresholds: &thresholds,
            markers: &markers,
            x_axis: XAxis::Time,
            x_range: Some((period.from as f64, period.to as f64)),
        });
        charts.push(BTreeMap::from([
            ("monitor", minijinja::Value::from(monitor.clone())),
            ("svg", minijinja::Value::from_safe_string(svg.into_string())),
        ]));
    }
    charts
}

/// What a table cell shows for a fact no entry records (as a figure shows a recorded null).
fn absent() -> minijinja::Value {
    minijinja::Value::from("—")
}

/// A time (µs) as UTC text to the second.
pub(crate) fn time_text(at: i64) -> String {
    warden_core::Timestamp::from_micros(at).whole_seconds().to_string()
}

/// The newest `monitor.hour` entry of `model` with a result of monitor `name` on `version`, and the result's
/// position in its `monitors`.
fn latest_hour_result<'a>(
    ledger: &'a ModelLedger,
    model: &str,
    name: &str,
    version: i64,
) -> Option<(&'a Entry, usize)> {
    let subject = format!("model/{model}");
    ledger.entries.iter().rev().filter(|(e, _)| e.action == vouching::ACTION && e.subject == subject).find_map(
        |(entry, payload)| {
            let results = payload["monitors"].as_array()?;
            let n = results.iter().position(|r| {
                r["monitor"] == name && r["version"] == version && r["evaluations"].as_u64().unwrap_or(0) > 0
            })?;
            Some((entry, n))
        },
    )
}

/// What a monitoring report covers: one model, or every model of the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Model,
    Inventory,
}

impl Scope {
    /// Most rows of breaching hours, and of alert events, listed per model (all are counted).
    fn listed(self) -> usize {
        match self {
            Scope::Model => MAX_BREACH_ROWS,
            Scope::Inventory => MAX_INVENTORY_ROWS,
        }
    }
}

/// Rows listed per model in an inventory's report (its appendix holds each cited entry).
const MAX_INVENTORY_ROWS: usize = 50;

/// Most rows of the hours a monitor warned or alerted in that a report lists (the count of all is given).
const MAX_BREACH_ROWS: usize = 500;

/// What the `monitor.hour` entries of `period` say of each monitor and version, the hours they warned or
/// alerted in, and the period's alerts, incidents, alias moves and finding changes, each figure cited.
/// Totals over hours (evaluations, warnings, alerts) are counted from the same entries and shown as text,
/// which the verifier does not check (it checks figures, each against one entry).
fn monitoring_results(
    cite: &mut Citations<'_>,
    ledger: &ModelLedger,
    model: &str,
    period: &Period,
    scope: Scope,
    context: &mut BTreeMap<&str, minijinja::Value>,
) {
    let listed = scope.listed();
    #[derive(Default)]
    struct Results {
        hours: u64,
        evaluations: u64,
        warn: u64,
        alert: u64,
        insufficient: u64,
        /// (value, entry, position) of the lowest and highest.
        lowest: Option<(f64, u64, usize)>,
        highest: Option<(f64, u64, usize)>,
        last: Option<(u64, usize)>,
    }
    let subject = format!("model/{model}");
    let plan = latest_monitors(ledger, model);
    let kinds: BTreeMap<&str, String> =
        plan.iter().map(|(name, (_, p))| (*name, p["kind"].as_str().unwrap_or_default().to_owned())).collect();
    let bands: BTreeMap<&str, (Option<f64>, Option<f64>)> = plan
        .iter()
        .map(|(name, (_, p))| (*name, (p["config"]["warn"].as_f64(), p["config"]["alert"].as_f64())))
        .collect();
    let mut fired = Vec::new();
    let mut results = BTreeMap::<(String, i64), Results>::new();
    let mut series = BTreeMap::<String, BTreeMap<i64, Vec<(f64, f64)>>>::new();
    let mut breaches = Vec::new();
    let mut breach_hours = 0usize;
    let mut hours = 0u64;
    for (entry, payload) in ledger.entries.iter().filter(|(e, _)| e.action == vouching::ACTION && e.subject == subject)
    {
        // An entry belongs to the period its last round ran in.
        let Some(to) = payload["to"].as_i64() else { continue };
        if !period.contains(to) {
            continue;
        }
        hours += 1;
        for (n, item) in payload["monitors"].as_array().into_iter().flatten().enumerate() {
            let key = (item["monitor"].as_str().unwrap_or_default().to_owned(), item["version"].as_i64().unwrap_or(0));
            let count = |status: &str| item[status].as_u64().unwrap_or(0);
            let r = results.entry(key.clone()).or_default();
            r.hours += 1;
            r.evaluations += count("evaluations");
            r.warn += count("warn");
            r.alert += count("alert");
            r.insufficient += count("insufficient");
            if let Some(v) = item["min"].as_f64()
                && r.lowest.is_none_or(|(low, _, _)| v < low)
            {
                r.lowest = Some((v, entry.index, n));
            }
            if let Some(v) = item["max"].as_f64()
                && r.highest.is_none_or(|(high, _, _)| v > high)
            {
                r.highest = Some((v, entry.index, n));
            }
            if count("evaluations") > 0 {
                r.last = Some((entry.index, n));
                if let (Some(at), Some(last)) = (item["last_at"].as_i64(), item["last"].as_f64()) {
                    series.entry(key.0.clone()).or_default().entry(key.1).or_default().push((at as f64, last));
                }
            }
            if count("warn") + count("alert") > 0 {
                breach_hours += 1;
                if breaches.len() < listed {
                    let i = entry.index;
                    breaches.push(BTreeMap::from([
                        ("from", minijinja::Value::from(payload["from"].as_i64().map(time_text))),
                        ("to", minijinja::Value::from(time_text(to))),
                        ("monitor", minijinja::Value::from(key.0.clone())),
                        ("version", minijinja::Value::from(key.1)),
                        ("evaluations", cite.payload(i, &format!("/monitors/{n}/evaluations"))),
                        ("warn", cite.payload(i, &format!("/monitors/{n}/warn"))),
                        ("alert", cite.payload(i, &format!("/monitors/{n}/alert"))),
                        ("min", cite.payload(i, &format!("/monitors/{n}/min"))),
                        ("max", cite.payload(i, &format!("/monitors/{n}/max"))),
                    ]));
                }
            }
        }
    }
    let (mut rows, mut outcomes) = (Vec::new(), Vec::new());
    for ((monitor, version), r) in results {
        let figure = |cite: &mut Citations<'_>, at: Option<(u64, usize)>, field: &str| match at {
            Some((i, n)) => cite.payload(i, &format!("/monitors/{n}/{field}")),
            None => absent(),
        };
        let kind = kinds.get(monitor.as_str()).cloned().unwrap_or_default();
        let outcome_based = kind == "performance" || kind == "estimated_performance";
        let row = BTreeMap::from([
            ("lowest", figure(cite, r.lowest.map(|(_, i, n)| (i, n)), "min")),
            ("highest", figure(cite, r.highest.map(|(_, i, n)| (i, n)), "max")),
            ("last", figure(cite, r.last, "last")),
            ("last_status", figure(cite, r.last, "last_status")),
            ("monitor", minijinja::Value::from(monitor)),
            ("kind", minijinja::Value::from(kind)),
            ("version", minijinja::Value::from(version)),
            ("hours", minijinja::Value::from(r.hours)),
            ("evaluations", minijinja::Value::from(r.evaluations)),
            ("warn", minijinja::Value::from(r.warn)),
            ("alert", minijinja::Value::from(r.alert)),
            ("insufficient", minijinja::Value::from(r.insufficient)),
        ]);
        if outcome_based { outcomes.push(row) } else { rows.push(row) }
    }
    // Alerts, incidents, alias moves (rollbacks among them) and findings of the period, in ledger order.
    let (mut alerts, mut incidents, mut moves, mut findings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut alert_events = 0usize;
    let alias_prefix = format!("{subject}/alias/");
    for (entry, payload) in ledger.entries.iter().filter(|(e, _)| period.contains(e.at)) {
        let i = entry.index;
        let at = minijinja::Value::from(time_text(entry.at));
        let action = minijinja::Value::from(entry.action.clone());
        if entry.action.starts_with("alert.") && entry.subject.starts_with(&format!("{subject}/alert/")) {
            let mut row = BTreeMap::from([("at", at), ("action", action)]);
            for field in ["alert", "monitor", "feature", "version", "severity", "value", "incident"] {
                row.insert(field, cite.payload(i, &format!("/{field}")));
            }
            if entry.action == "alert.fired" {
                let label = format!(
                    "alert {} ({}) on {} of version {}",
                    payload["alert"],
                    payload["severity"].as_str().unwrap_or_default(),
                    payload["feature"].as_str().unwrap_or_default(),
                    payload["version"]
                );
                fired.push((payload["monitor"].as_str().unwrap_or_default().to_owned(), entry.at as f64, label));
            }
            alert_events += 1;
            if alerts.len() < listed {
                alerts.push(row);
            }
        } else if entry.action.starts_with("incident.") && entry.subject.starts_with(&format!("{subject}/incident/")) {
            let mut row = BTreeMap::from([("at", at), ("action", action)]);
            row.insert("incident", cite.payload(i, "/incident"));
            for field in ["title", "comment", "resolved_by"] {
                let cited = payload.get(field).is_some().then(|| cite.payload(i, &format!("/{field}")));
                row.insert(field, cited.unwrap_or_else(absent));
            }
            incidents.push(row);
        } else if let Some(alias) = entry.subject.strip_prefix(&alias_prefix) {
            moves.push(BTreeMap::from([
                ("at", at),
                ("action", action),
                ("alias", minijinja::Value::from(alias.to_owned())),
                ("version", cite.payload(i, "/version")),
                ("reason", cite.payload(i, "/reason")),
            ]));
        } else if entry.action.starts_with("finding.") && payload["finding"]["model_name"].as_str() == Some(model) {
            let mut row = BTreeMap::from([("at", at), ("action", action)]);
            for field in ["id", "severity", "title", "state"] {
                row.insert(field, cite.payload(i, &format!("/finding/{field}")));
            }
            findings.push(row);
        }
    }
    // An inventory's report leaves the charts out: a hundred models' would outgrow the document.
    if scope == Scope::Model {
        context.insert(
            "monitor_charts",
            minijinja::Value::from_serialize(monitor_charts(&series, &bands, &fired, period)),
        );
    }
    context.insert("alert_events", alert_events.into());
    context.insert("alerts_listed", alerts.len().into());
    context.insert("hours", hours.into());
    context.insert("results", minijinja::Value::from_serialize(&rows));
    context.insert("breaches", minijinja::Value::from_serialize(&breaches));
    context.insert("outcomes", minijinja::Value::from_serialize(&outcomes));
    context.insert("breach_hours", breach_hours.into());
    context.insert("breaches_listed", breaches.len().into());
    context.insert("alerts", minijinja::Value::from_serialize(&alerts));
    context.insert("incidents", minijinja::Value::from_serialize(&incidents));
    context.insert("alias_moves", minijinja::Value::from_serialize(&moves));
    context.insert("finding_changes", minijinja::Value::from_serialize(&findings));
}

/// A key as one JSON pointer token (RFC 6901).
pub(crate) fn pointer_token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// What [`verify_document`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DocumentReport {
    pub ok: bool,
    pub model: String,
    pub version: Option<i64>,
    pub template: String,
    /// The document covers every model of the inventory (its entries may be about any model).
    pub inventory: bool,
    /// Figures checked, and entries and records proved.
    pub figures: usize,
    pub entries: usize,
    pub records: usize,
    /// The document's own key was used (no key given): it proves consistency, not origin.
    pub key_from_document: bool,
    pub problems: Vec<String>,
}

/// Checks a document offline: see the module documentation. `key` is the ledger's verifier key the
/// reader trusts (without it, the document's own, which proves nothing about who wrote it).
pub fn verify_document(html: &str, key: Option<&str>) -> DocumentReport {
    let mut report = DocumentReport::default();
    let problems = check(html, key, &mut report);
    report.ok = problems.is_empty();
    report.problems = problems;
    report
}

fn check(html: &str, key: Option<&str>, report: &mut DocumentReport) -> Vec<String> {
    if html.len() > MAX_DOCUMENT_BYTES {
        return vec![format!("the document is {} bytes; at most {MAX_DOCUMENT_BYTES} are read", html.len())];
    }
    let Some(start) = html.find(APPENDIX_OPEN) else {
        return vec!["the document has no ledger appendix (script#warden-ledger)".into()];
    };
    let body = &html[..start];
    let rest = &html[start + APPENDIX_OPEN.len()..];
    let Some(end) = rest.find(APPENDIX_CLOSE) else { return vec!["the ledger appendix is not closed".into()] };
    // Nothing a reader sees may follow the appendix, where no figure would be checked.
    let after: String = rest[end + APPENDIX_CLOSE.len()..].split_whitespace().collect();
    if after != "</body></html>" {
        return vec!["the document goes on after its ledger appendix".into()];
    }
    let appendix: Value = match serde_json::from_str(&rest[..end]) {
        Ok(v) => v,
        Err(e) => return vec![format!("the ledger appendix is not JSON: {e}")],
    };
    if appendix["format"] != FORMAT {
        return vec![format!("the appendix is not {FORMAT}")];
    }
    report.model = appendix["model"].as_str().unwrap_or_default().to_owned();
    report.version = appendix["version"].as_i64();
    report.template = appendix["template"].as_str().unwrap_or_default().to_owned();
    report.inventory = appendix["scope"] == "inventory";
    // Only the inventory's monitoring report, naming no model, may cite entries of any model (each in its
    // model's section, checked below).
    if report.inventory
        && (!report.model.is_empty()
            || report.version.is_some()
            || report.template != Template::MonitoringReport.as_str())
    {
        return vec![
            "the appendix says the document covers the inventory, yet names a model, a version or another template"
                .into(),
        ];
    }
    let key = match key {
        Some(k) => k.to_owned(),
        None => {
            report.key_from_document = true;
            appendix["key"].as_str().unwrap_or_default().to_owned()
        }
    };
    let checkpoint = match NoteVerifier::parse(&key)
        .map_err(|e| format!("the key: {e}"))
        .and_then(|v| {
            v.open(appendix["checkpoint"].as_str().unwrap_or_default())
                .map(str::to_owned)
                .map_err(|e| format!("the checkpoint: {e}"))
        })
        .and_then(|text| Checkpoint::parse(&text).map_err(|e| format!("the checkpoint: {e}")))
    {
        Ok(c) => c,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    // Entries proved into the checkpoint, with their payloads.
    let mut payloads = BTreeMap::<u64, &Value>::new();
    // The model each proved entry is about (an inventory's figure must cite its own section's model).
    let mut models_of = BTreeMap::<u64, String>::new();
    for item in appendix["entries"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let at = format!("appendix entry {}", item["index"]);
        let Some(entry) = item["canonical"].as_str().and_then(|c| Entry::parse(c).ok()) else {
            problems.push(format!("{at}: not a canonical ledger entry"));
            continue;
        };
        let proof: Option<Vec<Hash>> = item["proof"].as_array().filter(|p| p.len() <= MAX_PROOF).and_then(|p| {
            p.iter()
                .map(|h| h.as_str().and_then(|h| hex::decode(h).ok()).and_then(|b| Hash::try_from(b).ok()))
                .collect()
        });
        let Some(proof) = proof else {
            problems.push(format!("{at}: its inclusion proof is not a list of at most {MAX_PROOF} hashes"));
            continue;
        };
        if let Err(e) = verify_inclusion(entry.index, checkpoint.size, &entry.leaf_hash(), &proof, &checkpoint.root) {
            problems.push(format!("entry {}: not in the signed checkpoint: {e}", entry.index));
            continue;
        }
        if payload_sha256(&item["payload"]) != entry.payload_sha256 {
            problems.push(format!("entry {}: its payload is not the one the entry vouches for", entry.index));
            continue;
        }
        let own = format!("model/{}", report.model);
        let of_model = if report.inventory {
            entry.subject.starts_with("model/") || item["payload"]["finding"]["model_name"].is_string()
        } else {
            entry.subject == own
                || entry.subject.starts_with(&format!("{own}/"))
                || item["payload"]["finding"]["model_name"].as_str() == Some(report.model.as_str())
        };
        if !of_model {
            let about = if report.inventory { "a model".to_owned() } else { format!("model {}", report.model) };
            problems.push(format!("entry {}: it is about {}, not {about}", entry.index, entry.subject));
            continue;
        }
        let about = entry.subject.strip_prefix("model/").map(|rest| rest.split('/').next().unwrap_or_default());
        let about = about.or(item["payload"]["finding"]["model_name"].as_str()).unwrap_or_default();
        models_of.insert(entry.index, about.to_owned());
        payloads.insert(entry.index, &item["payload"]);
    }
    report.entries = payloads.len();
    // Records, each by its SHA-256.
    let mut records = BTreeMap::<&str, &Value>::new();
    for (sha, body) in appendix["records"].as_object().into_iter().flatten() {
        if payload_sha256(body) == *sha {
            records.insert(sha, body);
        } else {
            problems.push(format!("record {sha}: its content does not hash to its name"));
        }
    }
    report.records = records.len();
    // An inventory's model sections: where each starts, and its model.
    let sections: Vec<(usize, &str)> = if report.inventory {
        body.match_indices(SECTION_TAG)
            .filter_map(|(at, _)| {
                let name = body[at + SECTION_TAG.len()..].split('"').next()?;
                Some((at, name))
            })
            .collect()
    } else {
        Vec::new()
    };
    // Figures.
    let mut from = 0;
    while let Some(found) = body[from..].find(FIGURE_TAG) {
        let tag_start = from + found;
        if report.figures == MAX_FIGURES {
            problems.push(format!("more than {MAX_FIGURES} figures"));
            break;
        }
        report.figures += 1;
        if problems.len() >= MAX_PROBLEMS {
            problems.push(format!("more than {MAX_PROBLEMS} problems: the rest are not listed"));
            break;
        }
        let Some(figure) = Figure::parse(&body[tag_start..]) else {
            problems.push(format!("the figure at byte {tag_start} is not well formed"));
            from = tag_start + FIGURE_TAG.len();
            continue;
        };
        from = tag_start + figure.length;
        let place = format!("figure {} (entry {}, {})", report.figures, figure.entry, figure.pointer);
        if report.inventory {
            let section = sections.iter().rev().find(|(at, _)| *at < tag_start).map(|(_, name)| *name);
            let about = models_of.get(&figure.entry).map(String::as_str);
            if section.is_none() || about.is_some_and(|m| Some(m) != section) {
                problems.push(format!(
                    "{place}: cites an entry about model {} in the section of {}",
                    about.unwrap_or("?"),
                    section.map_or("no model".to_owned(), |s| format!("model {s}"))
                ));
                continue;
            }
        }
        let Some(payload) = payloads.get(&figure.entry) else {
            problems.push(format!("{place}: cites an entry the appendix does not prove"));
            continue;
        };
        let source = match &figure.record {
            None => Some(*payload),
            Some(sha) if payload["document_sha256"].as_str() == Some(sha.as_str()) => {
                records.get(sha.as_str()).copied()
            }
            Some(_) => {
                problems.push(format!("{place}: its record is not the one the entry vouches for"));
                continue;
            }
        };
        let Some(source) = source else {
            problems.push(format!("{place}: its record is not in the appendix"));
            continue;
        };
        let vouched = source.pointer(&figure.pointer).unwrap_or(&Value::Null);
        // Scalars and short lists are what figures show: a pointer at a whole report is refused unread.
        let vouched_text = match vouched {
            Value::Object(_) => None,
            Value::Array(items) if items.len() > 64 => None,
            other => Some(canonical_json(other)),
        };
        match vouched_text {
            None => problems.push(format!("{place}: cites a whole object or a long list, not a figure")),
            Some(text) if text != figure.value => problems.push(format!(
                "{place}: the value {} is not {} as vouched for",
                clip(&figure.value),
                clip(&text)
            )),
            Some(_) if shown(vouched) != figure.shown => problems.push(format!(
                "{place}: shows '{}' where the vouched value shows '{}'",
                clip(&figure.shown),
                clip(&shown(vouched))
            )),
            Some(_) => {}
        }
    }
    problems
}

/// At most this much of a text in a problem.
fn clip(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// One figure as read from the markup.
struct Figure {
    value: String,
    entry: u64,
    pointer: String,
    record: Option<String>,
    shown: String,
    /// Bytes from the tag's start to the end of `</data>`.
    length: usize,
}

impl Figure {
    /// Reads the figure `text` starts with: its attributes (`name="value"`, no others) and its text.
    fn parse(text: &str) -> Option<Figure> {
        // Searches stay within one figure's reach: a malformed tag costs at most this much.
        let mut end = text.len().min(MAX_FIGURE_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let text = &text[..end];
        let mut rest = &text[FIGURE_TAG.len()..];
        let mut attributes = BTreeMap::new();
        loop {
            rest = rest.trim_start();
            if let Some(after) = rest.strip_prefix('>') {
                rest = after;
                break;
            }
            let (name, after) = rest.split_once("=\"")?;
            let (value, after) = after.split_once('"')?;
            if name.contains(['>', '<', ' ']) || attributes.insert(name, unescape(value)).is_some() {
                return None;
            }
            rest = after;
        }
        let (shown, _) = rest.split_once("</data>")?;
        if shown.contains('<') {
            return None;
        }
        let length = text.len() - rest.len() + shown.len() + "</data>".len();
        Some(Figure {
            value: attributes.remove("value")?,
            entry: attributes.remove("data-entry")?.parse().ok()?,
            pointer: attributes.remove("data-pointer")?,
            record: attributes.remove("data-record"),
            shown: unescape(shown),
            length,
        })
        .filter(|_| attributes.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_as_the_verifier_shows_them() {
        assert_eq!(shown(&json!(0.812345)), "0.8123");
        assert_eq!(shown(&json!(12)), "12");
        assert_eq!(shown(&json!([0.7, 0.9])), "[0.7000, 0.9000]");
        assert_eq!(shown(&json!(null)), "—");
        assert_eq!(shown(&json!(true)), "yes");
    }

    #[test]
    fn periods_are_months_quarters_or_recent_days_and_others_are_refused() {
        // 2026-11-15T00:00:00Z.
        let now = 1_794_700_800_000_000;
        let month = Period::parse(Some("2026-11"), now).unwrap();
        assert_eq!((month.from, month.to), (1_793_491_200_000_000, 1_796_083_200_000_000));
        let quarter = Period::parse(Some("2026-Q4"), now).unwrap();
        assert_eq!((quarter.from, quarter.to), (1_790_812_800_000_000, 1_798_761_600_000_000), "October to January");
        let days = Period::parse(None, now).unwrap();
        assert_eq!((days.from, days.to, days.label.as_str()), (now - 30 * DAY_MICROS, now, "last-30-days"));
        assert!(days.contains(now - 1) && !days.contains(now));
        for bad in ["2026-13", "2026-Q5", "2026-1", "last-0-days", "last-99999-days", "yesterday", "1969-01", "2026-Q"]
        {
            let error = Period::parse(Some(bad), now).unwrap_err().to_string();
            assert!(error.contains(&format!("period '{bad}'")) && error.contains("YYYY-QN"), "{error}");
        }
    }

    #[test]
    fn a_figure_reads_back_as_written() {
        let markup = format!(
            "{FIGURE_TAG}value=\"&quot;a&lt;b&quot;\" data-entry=\"7\" data-pointer=\"/x~1y\" data-record=\"ab\">a&lt;b</data> tail"
        );
        let figure = Figure::parse(&markup).expect("well formed");
        assert_eq!(
            (
                figure.value.as_str(),
                figure.entry,
                figure.pointer.as_str(),
                figure.record.as_deref(),
                figure.shown.as_str()
            ),
            ("\"a<b\"", 7, "/x~1y", Some("ab"), "a<b")
        );
        assert_eq!(&markup[figure.length..], " tail");
        for bad in [
            format!("{FIGURE_TAG}value=\"1\" data-entry=\"7\">1</data>"),
            format!("{FIGURE_TAG}value=\"1\" data-entry=\"x\" data-pointer=\"/a\">1</data>"),
            format!("{FIGURE_TAG}value=\"1\" data-entry=\"7\" data-pointer=\"/a\" onclick=\"x\">1</data>"),
            format!("{FIGURE_TAG}value=\"1\" data-entry=\"7\" data-pointer=\"/a\">1<b>2</b></data>"),
            format!("{FIGURE_TAG}value=\"1\" data-entry=\"7\" data-pointer=\"/a\">1"),
        ] {
            assert!(Figure::parse(&bad).is_none(), "{bad}");
        }
    }
}
