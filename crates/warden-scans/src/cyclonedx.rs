//! A CycloneDX document's vulnerabilities (VEX; `bom-1.4.schema.json` to `bom-1.7.schema.json`): one finding
//! per vulnerability and affected component, unless its analysis says it is resolved, a false positive or
//! does not affect the product. An affected reference is the component it names in this document, else the
//! package URL after a BOM-Link's `#` (a VEX document beside its SBOM), else the reference itself.

use std::collections::BTreeMap;

use serde::Deserialize;
use warden_core::{FindingSeverity, ScanFormat};

use crate::{DESCRIPTION_CHARS, Findings, Report, ScanError, TITLE_CHARS, cut, parse, severity_score, severity_word};

/// The analysis states that say a vulnerability needs no remediation here.
const SETTLED: [&str; 4] = ["resolved", "resolved_with_pedigree", "false_positive", "not_affected"];

#[derive(Deserialize)]
struct Bom {
    #[serde(default)]
    metadata: Option<Metadata>,
    #[serde(default)]
    components: Vec<Component>,
    #[serde(default)]
    vulnerabilities: Vec<Vulnerability>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    tools: Option<Tools>,
    #[serde(default)]
    component: Option<Component>,
}

/// Spec 1.4: a list of tools; 1.5 on: components (and services) that are tools.
#[derive(Deserialize)]
#[serde(untagged)]
enum Tools {
    Listed(Vec<Tool>),
    Components {
        #[serde(default)]
        components: Vec<Tool>,
    },
}

#[derive(Deserialize)]
struct Tool {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Component {
    #[serde(default, rename = "bom-ref")]
    bom_ref: Option<String>,
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    components: Vec<Component>,
}

impl Component {
    fn describe(&self) -> String {
        match &self.version {
            Some(version) => format!("{}@{version}", self.name),
            None => self.name.clone(),
        }
    }
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    #[serde(default)]
    ratings: Vec<Rating>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    recommendation: Option<String>,
    #[serde(default)]
    affects: Vec<Affects>,
    #[serde(default)]
    analysis: Option<Analysis>,
}

#[derive(Deserialize)]
struct Rating {
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    score: Option<f64>,
}

#[derive(Deserialize)]
struct Affects {
    #[serde(rename = "ref")]
    reference: String,
}

#[derive(Deserialize)]
struct Analysis {
    #[serde(default)]
    state: Option<String>,
}

pub(crate) fn read(bytes: &[u8]) -> Result<Report, ScanError> {
    let bom: Bom = parse(ScanFormat::CyclonedxVex, bytes)?;
    // Every component by its reference, nested ones too (walked with a stack: serde_json bounds the depth).
    let mut by_ref: BTreeMap<&str, String> = BTreeMap::new();
    let mut stack: Vec<&Component> = bom.components.iter().collect();
    stack.extend(bom.metadata.as_ref().and_then(|m| m.component.as_ref()));
    while let Some(component) = stack.pop() {
        if let Some(reference) = &component.bom_ref {
            by_ref.insert(reference, cut(&component.describe(), TITLE_CHARS));
        }
        stack.extend(component.components.iter());
    }
    let target = bom
        .metadata
        .as_ref()
        .and_then(|m| m.component.as_ref())
        .map(|c| cut(&c.describe(), TITLE_CHARS))
        .unwrap_or_default();
    let mut findings = Findings::default();
    for (i, v) in bom.vulnerabilities.iter().enumerate() {
        if v.analysis.as_ref().and_then(|a| a.state.as_deref()).is_some_and(|s| SETTLED.contains(&s)) {
            continue;
        }
        let severity = severity(v, i)?;
        // Cut once: it goes into a finding per affected component.
        let mut description = [&v.description, &v.detail, &v.recommendation]
            .into_iter()
            .flatten()
            .map(|text| cut(text, DESCRIPTION_CHARS))
            .collect::<Vec<_>>()
            .join("\n");
        if description.is_empty() {
            description = v.id.clone();
        }
        let id = cut(&v.id, TITLE_CHARS);
        if v.affects.is_empty() {
            findings.push(&id, &target, severity, &format!("{id} in {target}"), &description)?;
        }
        for a in &v.affects {
            let location = cut(&affected(&by_ref, &a.reference), TITLE_CHARS);
            findings.push(&id, &location, severity, &format!("{id} in {location}"), &description)?;
        }
    }
    let tools: Vec<String> = match bom.metadata.as_ref().and_then(|m| m.tools.as_ref()) {
        Some(Tools::Listed(tools)) | Some(Tools::Components { components: tools }) => tools
            .iter()
            .filter_map(|t| {
                let name = t.name.as_deref()?;
                Some(t.version.as_ref().map_or_else(|| name.to_owned(), |v| format!("{name} {v}")))
            })
            .collect(),
        None => Vec::new(),
    };
    let tool = if tools.is_empty() { "CycloneDX".to_owned() } else { tools.join(", ") };
    Ok(Report { format: ScanFormat::CyclonedxVex, tool, target, findings: findings.0 })
}

/// What an `affects` reference names.
fn affected(by_ref: &BTreeMap<&str, String>, reference: &str) -> String {
    if let Some(component) = by_ref.get(reference) {
        return component.clone();
    }
    match reference.strip_prefix("urn:cdx:").and_then(|link| link.split_once('#')) {
        Some((_, fragment)) => by_ref.get(fragment).cloned().unwrap_or_else(|| fragment.to_owned()),
        None => reference.to_owned(),
    }
}

/// The gravest of a vulnerability's ratings (its word, else its score); medium when it has none.
fn severity(v: &Vulnerability, i: usize) -> Result<FindingSeverity, ScanError> {
    let mut gravest: Option<FindingSeverity> = None;
    for (j, rating) in v.ratings.iter().enumerate() {
        let found = match (&rating.severity, rating.score) {
            (Some(word), _) => severity_word(word).ok_or_else(|| ScanError::Invalid {
                claimed: ScanFormat::CyclonedxVex,
                path: format!("vulnerabilities[{i}].ratings[{j}].severity"),
                message: format!("unknown severity '{word}'"),
            })?,
            (None, Some(score)) => severity_score(score).ok_or_else(|| ScanError::Invalid {
                claimed: ScanFormat::CyclonedxVex,
                path: format!("vulnerabilities[{i}].ratings[{j}].score"),
                message: format!("{score} is not a score from 0 to 10"),
            })?,
            (None, None) => continue,
        };
        gravest = gravest.max(Some(found));
    }
    Ok(gravest.unwrap_or(FindingSeverity::Medium))
}
