//! SARIF 2.1.0 (OASIS; schema `sarif-schema-2.1.0.json`): the parts of `runs[].tool.driver` and
//! `runs[].results[]` a finding needs.
//!
//! Severity, most specific first: a `security-severity` score (GitHub's convention, on the result or its rule);
//! Bandit's `issue_severity`; the result's `level`, else its rule's default level, else `warning` (the
//! standard's default): `error` is high, `warning` medium, `note` and `none` low.

use serde::Deserialize;
use warden_core::{FindingSeverity, ScanFormat};

use std::collections::HashMap;

use crate::{
    DESCRIPTION_CHARS, Findings, Report, ScanError, TITLE_CHARS, cut, first_line, parse, severity_score, severity_word,
};

/// The most runs a report may hold.
const MAX_RUNS: usize = 1_000;

#[derive(Deserialize)]
struct Log {
    runs: Vec<Run>,
}

#[derive(Deserialize)]
struct Run {
    tool: Tool,
    #[serde(default)]
    results: Option<Vec<SarifResult>>,
    #[serde(default, rename = "automationDetails")]
    automation_details: Option<AutomationDetails>,
    #[serde(default)]
    properties: Option<RunProperties>,
}

#[derive(Deserialize)]
struct Tool {
    driver: Driver,
}

#[derive(Deserialize)]
struct Driver {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default, rename = "semanticVersion")]
    semantic_version: Option<String>,
    #[serde(default)]
    rules: Vec<Rule>,
}

#[derive(Deserialize)]
struct Rule {
    id: String,
    #[serde(default, rename = "shortDescription")]
    short_description: Option<Message>,
    #[serde(default, rename = "fullDescription")]
    full_description: Option<Message>,
    #[serde(default, rename = "defaultConfiguration")]
    default_configuration: Option<Configuration>,
    #[serde(default)]
    properties: Option<Properties>,
    #[serde(default, rename = "helpUri")]
    help_uri: Option<String>,
}

#[derive(Deserialize)]
struct AutomationDetails {
    #[serde(default)]
    id: Option<String>,
}

#[derive(Deserialize)]
struct RunProperties {
    #[serde(default, rename = "imageName")]
    image_name: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Configuration {
    #[serde(default)]
    level: Option<Level>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    fn severity(self) -> FindingSeverity {
        match self {
            Level::Error => FindingSeverity::High,
            Level::Warning => FindingSeverity::Medium,
            Level::Note | Level::None => FindingSeverity::Low,
        }
    }
}

#[derive(Deserialize)]
struct Properties {
    #[serde(default, rename = "security-severity")]
    security_severity: Option<Score>,
    #[serde(default)]
    issue_severity: Option<String>,
}

/// A score given as a number or, as GitHub asks, as text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Score {
    Number(f64),
    Text(String),
}

impl Score {
    fn value(&self) -> Option<f64> {
        match self {
            Score::Number(n) => Some(*n),
            Score::Text(t) => t.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct SarifResult {
    #[serde(default, rename = "ruleId")]
    rule_id: Option<String>,
    #[serde(default, rename = "ruleIndex")]
    rule_index: Option<usize>,
    #[serde(default)]
    rule: Option<RuleReference>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    level: Option<Level>,
    message: Message,
    #[serde(default)]
    locations: Vec<Location>,
    #[serde(default)]
    properties: Option<Properties>,
    #[serde(default)]
    suppressions: Vec<Suppression>,
    #[serde(default, rename = "baselineState")]
    baseline_state: Option<String>,
    #[serde(default)]
    fingerprints: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "partialFingerprints")]
    partial_fingerprints: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct RuleReference {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<usize>,
}

#[derive(Deserialize)]
struct Suppression {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Deserialize)]
struct Location {
    #[serde(default, rename = "physicalLocation")]
    physical_location: Option<PhysicalLocation>,
    #[serde(default, rename = "logicalLocations")]
    logical_locations: Vec<LogicalLocation>,
    #[serde(default)]
    message: Option<Message>,
}

#[derive(Deserialize)]
struct PhysicalLocation {
    #[serde(default, rename = "artifactLocation")]
    artifact_location: Option<ArtifactLocation>,
    #[serde(default)]
    region: Option<Region>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    #[serde(default)]
    uri: Option<String>,
}

#[derive(Deserialize)]
struct Region {
    #[serde(default, rename = "startLine")]
    start_line: Option<u64>,
}

#[derive(Deserialize)]
struct LogicalLocation {
    #[serde(default, rename = "fullyQualifiedName")]
    fully_qualified_name: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl Location {
    /// The location's own words when it has them (Trivy: "image: package@version"), else file and line, else
    /// the logical location.
    fn describe(&self) -> Option<String> {
        if let Some(text) = self.message.as_ref().and_then(|m| m.text.as_deref()).filter(|t| !t.trim().is_empty()) {
            return Some(first_line(text).to_owned());
        }
        let physical = self.physical_location.as_ref();
        let uri = physical.and_then(|p| p.artifact_location.as_ref()).and_then(|a| a.uri.clone());
        let line = physical.and_then(|p| p.region.as_ref()).and_then(|r| r.start_line);
        match (uri, line) {
            (Some(uri), Some(line)) => Some(format!("{uri}:{line}")),
            (Some(uri), None) => Some(uri),
            (None, _) => {
                self.logical_locations.iter().find_map(|l| l.fully_qualified_name.clone().or_else(|| l.name.clone()))
            }
        }
    }
}

pub(crate) fn read(bytes: &[u8]) -> Result<Report, ScanError> {
    let log: Log = parse(ScanFormat::Sarif, bytes)?;
    if log.runs.len() > MAX_RUNS {
        return Err(ScanError::Invalid {
            claimed: ScanFormat::Sarif,
            path: "runs".into(),
            message: format!("{} runs; a report holds at most {MAX_RUNS}", log.runs.len()),
        });
    }
    let mut tools = Vec::new();
    let mut targets = Vec::new();
    let mut findings = Findings::default();
    for (r, run) in log.runs.iter().enumerate() {
        let driver = &run.tool.driver;
        let rules: HashMap<&str, &Rule> = driver.rules.iter().map(|rule| (rule.id.as_str(), rule)).collect();
        let version = driver.semantic_version.as_ref().or(driver.version.as_ref());
        let tool = cut(
            &match version {
                Some(v) => format!("{} {v}", driver.name),
                None => driver.name.clone(),
            },
            TITLE_CHARS,
        );
        if !tools.contains(&tool) {
            tools.push(tool);
        }
        let target = run
            .automation_details
            .as_ref()
            .and_then(|a| a.id.clone())
            .or_else(|| run.properties.as_ref().and_then(|p| p.image_name.clone()));
        if let Some(target) = target.map(|t| cut(&t, TITLE_CHARS))
            && !targets.contains(&target)
        {
            targets.push(target);
        }
        for (i, result) in run.results.iter().flatten().enumerate() {
            let place = format!("runs[{r}].results[{i}]");
            finding(driver, &rules, result, &place, &mut findings)?;
        }
    }
    Ok(Report { format: ScanFormat::Sarif, tool: tools.join(", "), target: targets.join(", "), findings: findings.0 })
}

/// Adds the finding a result reports (none for results that pass, are suppressed or have gone from the baseline).
fn finding(
    driver: &Driver,
    rules: &HashMap<&str, &Rule>,
    result: &SarifResult,
    place: &str,
    findings: &mut Findings,
) -> Result<(), ScanError> {
    let invalid = |path: &str, message: String| ScanError::Invalid {
        claimed: ScanFormat::Sarif,
        path: format!("{place}.{path}"),
        message,
    };
    if result.kind.as_deref().is_some_and(|k| k != "fail")
        || result.baseline_state.as_deref() == Some("absent")
        || result.suppressions.iter().any(|s| s.status.as_deref().is_none_or(|status| status == "accepted"))
    {
        return Ok(());
    }
    let index = result.rule_index.or_else(|| result.rule.as_ref().and_then(|r| r.index));
    let rule = match index {
        Some(i) => Some(driver.rules.get(i).ok_or_else(|| {
            invalid("ruleIndex", format!("rule {i} is not among the driver's {}", driver.rules.len()))
        })?),
        None => None,
    };
    let id = result
        .rule_id
        .clone()
        .or_else(|| result.rule.as_ref().and_then(|r| r.id.clone()))
        .or_else(|| rule.map(|r| r.id.clone()))
        .ok_or_else(|| invalid("ruleId", "the result names no rule".into()))?;
    let rule = rule.or_else(|| rules.get(id.as_str()).copied());
    let score = [result.properties.as_ref(), rule.and_then(|r| r.properties.as_ref())]
        .into_iter()
        .flatten()
        .find_map(|p| p.security_severity.as_ref().and_then(Score::value));
    let severity = match score {
        Some(score) => severity_score(score)
            .ok_or_else(|| invalid("properties.security-severity", format!("{score} is not a score from 0 to 10")))?,
        None => match result.properties.as_ref().and_then(|p| p.issue_severity.as_deref()) {
            Some(word) => severity_word(word)
                .ok_or_else(|| invalid("properties.issue_severity", format!("unknown severity '{word}'")))?,
            None => result
                .level
                .or_else(|| rule.and_then(|r| r.default_configuration.as_ref()).and_then(|c| c.level))
                .unwrap_or(Level::Warning)
                .severity(),
        },
    };
    let message = result.message.text.as_deref().unwrap_or("");
    let title = rule
        .and_then(|r| r.short_description.as_ref())
        .and_then(|d| d.text.as_deref())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| first_line(message));
    // The rule's texts are shared by its results: cut before they are copied into each.
    let mut description = cut(message, DESCRIPTION_CHARS);
    if description.is_empty()
        && let Some(full) = rule.and_then(|r| r.full_description.as_ref()).and_then(|d| d.text.as_deref())
    {
        description = cut(full, DESCRIPTION_CHARS);
    }
    if let Some(help) = rule.and_then(|r| r.help_uri.as_deref()) {
        description = format!("{description}\n{}", cut(help, TITLE_CHARS));
    }
    let location = result.locations.iter().find_map(Location::describe).unwrap_or_default();
    findings.push(&id, &location, severity, &cut(title, TITLE_CHARS), &description)?;
    // Full fingerprints first, then partial ones, each by name: the first found names the result.
    let fingerprint = [&result.fingerprints, &result.partial_fingerprints]
        .into_iter()
        .find_map(|all| all.iter().next().map(|(name, value)| format!("{name}={value}")));
    findings.fingerprinted(fingerprint);
    Ok(())
}
