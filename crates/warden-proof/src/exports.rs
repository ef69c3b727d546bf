/*!
Machine-readable exports of one version, written from what the ledger vouches for: a CycloneDX 1.6 ML-BOM
and an SPDX 3.0.1 document with the AI and Dataset profiles.

- The facts come from the entries that vouch for them: the model's registration (`model.create`), the
  version's registration (`version.register`: artifact, datasets and their hashes, hyperparameters), the
  latest validation report an entry vouches for (performance with its interval, calibration, fairness,
  stability), the tier decision, the findings not closed (the limitations), and what checks fairness (the
  version's latest gate decision, the fairness monitors set). Nothing comes from a mutable row.
- Each export names the entries it was written from (index and leaf hash): CycloneDX as properties
  `warden:ledger:<fact>`, SPDX in the document's comment; `warden audit verify` and an evidence bundle prove
  those entries.
- The serial number (CycloneDX) is random for each export, as the specification asks; the rest is a
  function of the ledger, so two exports of an unchanged version differ only there and in the creation time.
*/

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use warden_core::{FindingState, MonitorKind};
use warden_ledger::{Entry, payload_sha256};
use warden_registry::artifact_format::ArtifactFormat;

use crate::docs::{
    AUC_INTERVAL, FAIRNESS_FIGURES, PERFORMANCE_FIGURES, latest, latest_findings, latest_monitors, pointer_token,
    vouched_report,
};
use crate::evidence::ModelLedger;
use crate::{Error, Proof, Result};
use warden_registry::auth::{Permission, Principal};

/// Hyperparameters an export lists (the registration's own limits bound them; this bounds the export).
const MAX_HYPERPARAMETERS: usize = 200;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// CycloneDX 1.6 JSON: an ML-BOM (the model component with its model card, the data components).
    CycloneDx,
    /// SPDX 3.0.1 JSON-LD with the AI and Dataset profiles.
    Spdx,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 2] = [ExportFormat::CycloneDx, ExportFormat::Spdx];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::CycloneDx => "cyclonedx",
            ExportFormat::Spdx => "spdx",
        }
    }

    /// The media type the API answers with.
    pub fn media_type(self) -> &'static str {
        match self {
            ExportFormat::CycloneDx => "application/vnd.cyclonedx+json; version=1.6",
            ExportFormat::Spdx => "application/ld+json",
        }
    }

    /// The file name's ending, as each format's tools look for it.
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::CycloneDx => "cdx.json",
            ExportFormat::Spdx => "spdx3.json",
        }
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = Error;

    fn from_str(name: &str) -> Result<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| f.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.as_str()).collect();
            Error::invalid(format!("no export format '{name}': Warden writes {}", names.join(", ")))
        })
    }
}

/// A written export.
#[derive(Debug, Clone)]
pub struct Export {
    /// `NAME-vVERSION.cdx.json` or `NAME-vVERSION.spdx3.json`.
    pub file_name: String,
    pub document: Value,
}

/// Writes `format` for `version` of `model`.
pub async fn export(
    warden: &Proof,
    caller: &Principal,
    model: &str,
    version: i64,
    format: ExportFormat,
) -> Result<Export> {
    caller.require(Permission::ReadAudit)?;
    warden_registry::registry::get_model(warden, caller, model).await?;
    warden_registry::registry::get_version(warden, caller, model, &version.to_string()).await?;
    let ledger = ModelLedger::read(warden, model).await?;
    let report = vouched_report(warden, &ledger, model, version).await?;
    let facts = Facts::gather(&ledger, model, version, report.as_ref().map(|(i, body)| (*i, body)))?;
    let created = warden_core::Timestamp::from_micros(warden.now()).whole_seconds().to_string();
    let document = match format {
        ExportFormat::CycloneDx => cyclonedx(&facts, &created, &serial_number()),
        ExportFormat::Spdx => spdx(&facts, &created),
    };
    Ok(Export { file_name: format!("{model}-v{version}.{}", format.extension()), document })
}

/// The facts an export presents, each with the entry that vouches for it.
struct Facts<'a> {
    model: &'a str,
    version: i64,
    /// `model.create`'s payload.
    created: Option<&'a (Entry, Value)>,
    /// `version.register`'s payload.
    registered: &'a (Entry, Value),
    /// The last tier decision.
    tier: Option<&'a (Entry, Value)>,
    /// The latest validation report an entry vouches for: that entry and the report.
    validation: Option<(&'a Entry, &'a Value)>,
    /// The findings not closed (open, being remediated, accepted), each as its last entry left it.
    findings: Vec<&'a (Entry, Value)>,
    /// The fairness monitors as last set (and not disabled): name and entry.
    fairness_monitors: Vec<(&'a str, &'a Entry)>,
}

impl<'a> Facts<'a> {
    fn gather(
        ledger: &'a ModelLedger,
        model: &'a str,
        version: i64,
        report: Option<(u64, &'a Value)>,
    ) -> Result<Facts<'a>> {
        let model_subject = format!("model/{model}");
        let version_subject = format!("model/{model}/{version}");
        let registered = latest(ledger, "version.register", &version_subject, |_| true).ok_or_else(|| {
            Error::Inconsistent(format!("version {version} of '{model}' has no registration entry in the ledger"))
        })?;
        let validation = report.and_then(|(index, body)| {
            let at = ledger.entries.binary_search_by_key(&index, |(e, _)| e.index).ok()?;
            Some((&ledger.entries[at].0, body))
        });
        let findings = latest_findings(ledger, model)
            .into_iter()
            // An accepted finding is a limitation the bank lives with: only a closed one is left out.
            .filter(|(_, p)| p["finding"]["state"].as_str() != Some(FindingState::Closed.as_str()))
            .collect();
        let fairness_monitors = latest_monitors(ledger, model)
            .into_iter()
            .filter(|(_, (entry, p))| {
                entry.action != "monitor.disable"
                    && p["kind"] == MonitorKind::Fairness.as_str()
                    && p["enabled"] != Value::Bool(false)
            })
            .map(|(name, (entry, _))| (name, entry))
            .collect();
        Ok(Facts {
            model,
            version,
            created: latest(ledger, "model.create", &model_subject, |_| true),
            registered,
            tier: latest(ledger, "model.tier", &model_subject, |_| true),
            validation,
            findings,
            fairness_monitors,
        })
    }

    fn registration(&self, field: &str) -> &'a Value {
        &self.registered.1[field]
    }

    fn purpose(&self, field: &str) -> Option<&'a str> {
        self.created.and_then(|(_, p)| p[field].as_str()).filter(|s| !s.is_empty())
    }

    /// The risk tier: the last tier decision, else the tier declared at registration.
    fn risk_tier(&self) -> Option<&'a str> {
        self.tier.and_then(|(_, p)| p["to"].as_str()).or_else(|| self.purpose("risk_tier"))
    }

    /// A validation figure at `pointer` of the report, as text (numbers as JSON writes them).
    fn figure(&self, pointer: &str) -> Option<String> {
        let value = self.validation?.1.pointer(pointer)?;
        match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// The validation's performance figures: (metric, value, lower, upper).
    fn metrics(&self) -> Vec<(&'static str, String, Option<String>, Option<String>)> {
        let interval = |bound: &str| self.figure(&format!("{AUC_INTERVAL}/{bound}"));
        PERFORMANCE_FIGURES
            .into_iter()
            .filter_map(|(key, label, pointer)| {
                let value = self.figure(pointer)?;
                let (lower, upper) = if key == "auc" { (interval("lower"), interval("upper")) } else { (None, None) };
                Some((label, value, lower, upper))
            })
            .collect()
    }

    /// Fairness per protected attribute: (attribute, disparate impact, approval rate difference, equalised
    /// odds difference).
    fn fairness(&self) -> Vec<(String, Option<String>, Option<String>, Option<String>)> {
        let Some((_, body)) = self.validation else { return Vec::new() };
        let attributes =
            body["fairness"].as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        attributes
            .into_iter()
            .map(|attribute| {
                let token = pointer_token(&attribute);
                let [di, ard, eod] = FAIRNESS_FIGURES.map(|f| self.figure(&format!("/fairness/{token}/{f}")));
                (attribute, di, ard, eod)
            })
            .collect()
    }

    /// The open findings as text: `[severity] title (finding N, state)`.
    fn limitations(&self) -> Vec<String> {
        self.findings
            .iter()
            .map(|(_, p)| {
                let f = &p["finding"];
                format!(
                    "[{}] {} (finding {}, {})",
                    f["severity"].as_str().unwrap_or("-"),
                    f["title"].as_str().unwrap_or("-"),
                    f["id"],
                    f["state"].as_str().unwrap_or("-")
                )
            })
            .collect()
    }

    /// The fairness monitors watching the model now, as the ledger records them; `None` when there are none.
    fn fairness_controls(&self) -> Option<String> {
        let names: Vec<&str> = self.fairness_monitors.iter().map(|(name, _)| *name).collect();
        (!names.is_empty())
            .then(|| format!("live fairness monitors alert on a breach of their bands: {}", names.join(", ")))
    }

    /// The model family the artifact's format implies.
    fn model_family(&self) -> &'static str {
        let format = self.registration("format").as_str().and_then(|f| f.parse::<ArtifactFormat>().ok());
        match format {
            Some(ArtifactFormat::LinearJson) => "linear model (logistic regression or scorecard)",
            Some(ArtifactFormat::XgboostJson | ArtifactFormat::XgboostUbj | ArtifactFormat::LightgbmText) => {
                "gradient-boosted decision trees"
            }
            Some(ArtifactFormat::Onnx) => "ONNX graph (model type not recorded)",
            Some(ArtifactFormat::External) => "served outside Warden (model type not recorded)",
            None => "not recorded",
        }
    }

    /// The SHA-256 of the validation report the figures come from (its entry's `document_sha256`).
    fn report_sha256(&self) -> Option<String> {
        self.validation.map(|(_, body)| payload_sha256(body))
    }

    /// The entries the export was written from: (fact, entry).
    fn citations(&self) -> Vec<(&'static str, &'a Entry)> {
        let mut cited = vec![("version.register", &self.registered.0)];
        if let Some((entry, _)) = self.created {
            cited.push(("model.create", entry));
        }
        if let Some((entry, _)) = self.tier {
            cited.push(("model.tier", entry));
        }
        if let Some((entry, _)) = self.validation {
            cited.push(("version.validate", entry));
        }
        for finding in self.findings.iter().copied() {
            cited.push(("finding", &finding.0));
        }
        for (_, entry) in &self.fairness_monitors {
            cited.push(("monitor", *entry));
        }
        cited
    }

    /// The datasets the registration names: (role, SHA-256, rows).
    fn datasets(&self) -> Vec<(&'static str, &'a str, Option<u64>)> {
        let mut sets = Vec::new();
        if let Some(sha) = self.registration("training_data_sha256").as_str() {
            sets.push(("training", sha, self.registration("training_data_rows").as_u64()));
        }
        if let Some(sha) = self.registration("reference_sha256").as_str() {
            sets.push(("reference", sha, self.registration("reference_rows").as_u64()));
        }
        if let Some(sha) = self.validation.and_then(|(_, body)| body["data_sha256"].as_str()) {
            let rows = self.validation.and_then(|(_, body)| body["rows"].as_u64());
            sets.push(("validation", sha, rows));
        }
        sets
    }
}

/// `index:leaf hash` of an entry.
fn cite(entry: &Entry) -> String {
    format!("{}:{}", entry.index, hex::encode(entry.leaf_hash()))
}

/// A random RFC 4122 version 4 UUID as a URN: CycloneDX asks for a new serial number for every BOM written.
fn serial_number() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!("urn:uuid:{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}

fn property(name: &str, value: impl Into<String>) -> Value {
    json!({"name": name, "value": value.into()})
}

/// The CycloneDX 1.6 ML-BOM.
fn cyclonedx(facts: &Facts, created: &str, serial: &str) -> Value {
    let model_ref = format!("model:{}@{}", facts.model, facts.version);
    let data_ref = |role: &str| format!("data:{}@{}/{role}", facts.model, facts.version);
    let format = facts.registration("format").as_str().unwrap_or("unknown");
    let target = facts.registration("target").as_str();

    let mut properties: Vec<Value> = facts
        .citations()
        .into_iter()
        .map(|(fact, entry)| property(&format!("warden:ledger:{fact}"), cite(entry)))
        .collect();
    if let Some(tier) = facts.risk_tier() {
        properties.push(property("warden:risk-tier", tier));
    }
    for (field, name) in [("owner", "warden:owner"), ("business_line", "warden:business-line")] {
        if let Some(value) = facts.purpose(field) {
            properties.push(property(name, value));
        }
    }
    if let Some(code) = facts.registration("code_ref").as_str() {
        properties.push(property("warden:code-ref", code));
    }
    if let Some(parent) = facts.registration("parent_version").as_i64() {
        properties.push(property("warden:parent-version", parent.to_string()));
    }
    if let Some(signer) = facts.registration("artifact_signer").as_str() {
        properties.push(property("warden:artifact-signer", signer));
    }
    if let Some(sha) = facts.report_sha256() {
        properties.push(property("warden:validation-report-sha256", sha));
    }
    if let Some(hyperparameters) = facts.registration("hyperparameters").as_object() {
        for (name, value) in hyperparameters.iter().take(MAX_HYPERPARAMETERS) {
            let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
            properties.push(property(&format!("warden:hyperparameter:{name}"), text));
        }
    }

    let performance: Vec<Value> = facts
        .metrics()
        .into_iter()
        .map(|(name, value, lower, upper)| {
            let mut metric = json!({"type": name, "value": value, "slice": "validation data"});
            if let (Some(lower), Some(upper)) = (lower, upper) {
                metric["confidenceInterval"] = json!({"lowerBound": lower, "upperBound": upper});
            }
            metric
        })
        .collect();
    let controls = facts.fairness_controls();
    let fairness: Vec<Value> = facts
        .fairness()
        .into_iter()
        .map(|(attribute, di, ard, eod)| {
            let shown = |v: Option<String>| v.unwrap_or_else(|| "not measured".into());
            let mut assessment = json!({
                "groupAtRisk": format!("applicants grouped by the protected attribute '{attribute}'"),
                "harms": format!(
                    "on the validation data: disparate impact {}; approval rate difference {}; equalised odds \
                     difference {}",
                    shown(di),
                    shown(ard),
                    shown(eod)
                ),
            });
            if let Some(controls) = &controls {
                assessment["mitigationStrategy"] = controls.as_str().into();
            }
            assessment
        })
        .collect();
    let protected: Vec<&str> = facts
        .registration("protected")
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let ethical: Vec<Value> = protected
        .iter()
        .map(|p| {
            let mut risk = json!({"name": format!("decisions may differ by the protected attribute '{p}'")});
            if let Some(controls) = &controls {
                risk["mitigationStrategy"] = controls.as_str().into();
            }
            risk
        })
        .collect();
    let mut considerations = Map::new();
    if let Some(use_case) = facts.purpose("use_case") {
        considerations.insert("useCases".into(), json!([use_case]));
    }
    let limitations = facts.limitations();
    if !limitations.is_empty() {
        considerations.insert("technicalLimitations".into(), json!(limitations));
    }
    if !ethical.is_empty() {
        considerations.insert("ethicalConsiderations".into(), json!(ethical));
    }
    if !fairness.is_empty() {
        considerations.insert("fairnessAssessments".into(), json!(fairness));
    }

    let datasets = facts.datasets();
    let mut model_parameters = json!({
        "approach": {"type": "supervised"},
        "task": "binary classification",
        "architectureFamily": facts.model_family(),
        "modelArchitecture": format,
        "datasets": datasets.iter().map(|(role, _, _)| json!({"ref": data_ref(role)})).collect::<Vec<_>>(),
        "outputs": [{"format": "probability"}],
    });
    if let Some(target) = target {
        model_parameters["outputs"] = json!([{"format": format!("probability of '{target}'")}]);
    }
    let mut model_card = json!({"bom-ref": format!("{model_ref}/model-card"), "modelParameters": model_parameters});
    if !performance.is_empty() {
        model_card["quantitativeAnalysis"] = json!({"performanceMetrics": performance});
    }
    if !considerations.is_empty() {
        model_card["considerations"] = Value::Object(considerations);
    }

    let mut component = json!({
        "type": "machine-learning-model",
        "bom-ref": model_ref,
        "name": facts.model,
        "version": facts.version.to_string(),
        "modelCard": model_card,
        "properties": properties,
    });
    if let Some(sha) = facts.registration("artifact_sha256").as_str() {
        component["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
    }
    if let Some(description) = facts.purpose("description") {
        component["description"] = description.into();
    }
    let mut components = vec![component];
    for (role, sha, rows) in &datasets {
        let mut data = json!({"type": "dataset", "name": format!("{role} data")});
        if let Some(rows) = rows {
            data["contents"] = json!({"properties": [property("warden:rows", rows.to_string())]});
        }
        if !protected.is_empty() {
            data["sensitiveData"] =
                json!(protected.iter().map(|p| format!("protected attribute '{p}'")).collect::<Vec<_>>());
        }
        components.push(json!({
            "type": "data",
            "bom-ref": data_ref(role),
            "name": format!("{} {role} data", facts.model),
            "hashes": [{"alg": "SHA-256", "content": sha}],
            "data": [data],
        }));
    }
    let mut dependencies = vec![
        json!({"ref": model_ref, "dependsOn": datasets.iter().map(|(role, _, _)| data_ref(role)).collect::<Vec<_>>()}),
    ];
    dependencies.extend(datasets.iter().map(|(role, _, _)| json!({"ref": data_ref(role)})));

    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "serialNumber": serial,
        "version": 1,
        "metadata": {
            "timestamp": created,
            "tools": {"components": [{"type": "application", "name": "warden", "version": env!("CARGO_PKG_VERSION")}]},
        },
        "components": components,
        "dependencies": dependencies,
    })
}

/// The SPDX 3.0.1 document (JSON-LD): the model as an `ai_AIPackage`, each dataset as a
/// `dataset_DatasetPackage`, and `trainedOn` / `testedOn` relationships between them.
fn spdx(facts: &Facts, created: &str) -> Value {
    let base = format!("urn:warden:{}:v{}", facts.model, facts.version);
    let id = |part: &str| format!("{base}:{part}");
    let creation = "_:creationinfo";
    let agent = id("agent/warden");
    let registered_at = warden_core::Timestamp::from_micros(facts.registered.0.at).whole_seconds().to_string();
    let sha256 = |sha: &str| json!([{"type": "Hash", "algorithm": "sha256", "hashValue": sha}]);
    let entry = |key: &str, value: String| json!({"type": "DictionaryEntry", "key": key, "value": value});

    let mut model = json!({
        "type": "ai_AIPackage",
        "spdxId": id("model"),
        "creationInfo": creation,
        "name": facts.model,
        "software_packageVersion": facts.version.to_string(),
        "software_primaryPurpose": "model",
        "software_downloadLocation": "NOASSERTION",
        "releaseTime": registered_at,
        "ai_typeOfModel": [facts.model_family()],
    });
    if let Some(sha) = facts.registration("artifact_sha256").as_str() {
        model["verifiedUsing"] = sha256(sha);
    }
    if let Some(description) = facts.purpose("description") {
        model["description"] = description.into();
    }
    let domains: Vec<&str> = ["use_case", "business_line"].iter().filter_map(|f| facts.purpose(f)).collect();
    if !domains.is_empty() {
        model["ai_domain"] = json!(domains);
    }
    let metrics: Vec<Value> = facts.metrics().into_iter().map(|(name, value, _, _)| entry(name, value)).collect();
    if !metrics.is_empty() {
        model["ai_metric"] = json!(metrics);
    }
    let threshold = facts.figure("/threshold").or_else(|| {
        let t = &facts.registration("serving")["threshold"];
        (!t.is_null()).then(|| t.to_string())
    });
    if let Some(threshold) = threshold {
        model["ai_metricDecisionThreshold"] = json!([entry("score", threshold)]);
    }
    if let Some(hyperparameters) = facts.registration("hyperparameters").as_object().filter(|h| !h.is_empty()) {
        let entries: Vec<Value> = hyperparameters
            .iter()
            .take(MAX_HYPERPARAMETERS)
            .map(|(name, value)| entry(name, value.as_str().map_or_else(|| value.to_string(), str::to_owned)))
            .collect();
        model["ai_hyperparameter"] = json!(entries);
    }
    let limitations = facts.limitations();
    if !limitations.is_empty() {
        model["ai_limitation"] = limitations.join("\n").into();
    }
    let protected = facts.registration("protected").as_array().is_some_and(|a| !a.is_empty());
    model["ai_useSensitivePersonalInformation"] = if protected { "yes" } else { "noAssertion" }.into();
    let mut training = Vec::new();
    if let Some(code) = facts.registration("code_ref").as_str() {
        training.push(format!("code: {code}"));
    }
    if let Some(rows) = facts.registration("training_data_rows").as_u64() {
        training.push(format!("training rows: {rows}"));
    }
    if !training.is_empty() {
        model["ai_informationAboutTraining"] = training.join("; ").into();
    }
    // The bank's model-risk tier is not SPDX's safety risk assessment (a product-safety scale): it goes in
    // the comment, with the fairness figures.
    let mut comments = Vec::new();
    if let Some(tier) = facts.risk_tier() {
        comments.push(format!("Model risk tier: {tier}."));
    }
    let fairness: Vec<String> = facts
        .fairness()
        .into_iter()
        .map(|(attribute, di, ard, _)| {
            format!(
                "{attribute}: disparate impact {}, approval rate difference {}",
                di.unwrap_or_else(|| "-".into()),
                ard.unwrap_or_else(|| "-".into())
            )
        })
        .collect();
    if !fairness.is_empty() {
        comments.push(format!("Fairness on the validation data: {}.", fairness.join("; ")));
    }
    if !comments.is_empty() {
        model["comment"] = comments.join(" ").into();
    }
    let mut elements = vec![agent.clone(), id("tool/warden"), id("model")];
    let mut owner_agent = None;
    if let Some(owner) = facts.purpose("owner") {
        let owner_id = id("agent/owner");
        model["suppliedBy"] = owner_id.clone().into();
        owner_agent =
            Some(json!({"type": "Organization", "spdxId": owner_id, "creationInfo": creation, "name": owner}));
        elements.push(owner_id);
    }

    let mut graph = vec![
        json!({"type": "CreationInfo", "@id": creation, "specVersion": "3.0.1", "created": created,
               "createdBy": [agent], "createdUsing": [id("tool/warden")]}),
        json!({"type": "SoftwareAgent", "spdxId": agent, "creationInfo": creation, "name": "Warden"}),
        json!({"type": "Tool", "spdxId": id("tool/warden"), "creationInfo": creation,
               "name": format!("warden {}", env!("CARGO_PKG_VERSION"))}),
        model,
    ];
    graph.extend(owner_agent);
    let mut by_role = BTreeMap::<&str, Vec<String>>::new();
    for (role, sha, rows) in facts.datasets() {
        let dataset_id = id(&format!("data/{role}"));
        let mut dataset = json!({
            "type": "dataset_DatasetPackage",
            "spdxId": dataset_id,
            "creationInfo": creation,
            "name": format!("{} {role} data", facts.model),
            "software_primaryPurpose": "data",
            "software_downloadLocation": "NOASSERTION",
            "verifiedUsing": sha256(sha),
            "dataset_datasetType": ["structured"],
        });
        if let Some(rows) = rows {
            dataset["comment"] = format!("{rows} rows").into();
        }
        if protected {
            dataset["dataset_hasSensitivePersonalInformation"] = "yes".into();
        }
        elements.push(dataset_id.clone());
        graph.push(dataset);
        // The reference data is the monitors' baseline, not a test set: related as `other`, with a comment.
        let relationship = match role {
            "training" => "trainedOn",
            "validation" => "testedOn",
            _ => "other",
        };
        by_role.entry(relationship).or_default().push(dataset_id);
    }
    for (kind, to) in by_role {
        let relationship_id = id(&format!("relationship/{kind}"));
        let mut relationship = json!({"type": "Relationship", "spdxId": relationship_id, "creationInfo": creation,
                                      "from": id("model"), "relationshipType": kind, "to": to});
        if kind == "other" {
            relationship["comment"] = "the reference data the live monitors compare production against".into();
        }
        graph.push(relationship);
        elements.push(relationship_id);
    }
    let mut citations: Vec<String> =
        facts.citations().into_iter().map(|(fact, entry)| format!("{fact} {}", cite(entry))).collect();
    if let Some(sha) = facts.report_sha256() {
        citations.push(format!("the figures are the validation report's of SHA-256 {sha}"));
    }
    graph.push(json!({
        "type": "SpdxDocument",
        "spdxId": id("document"),
        "creationInfo": creation,
        "name": format!("{} version {}", facts.model, facts.version),
        "profileConformance": ["core", "software", "ai", "dataset"],
        "rootElement": [id("model")],
        "element": elements,
        "comment": format!("Written by Warden from its ledger; entries (index:leaf hash): {}", citations.join(", ")),
    }));
    json!({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": graph})
}
