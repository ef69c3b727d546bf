//! Trivy's JSON report, schema version 2 (`pkg/types/report.go`): per target, its vulnerabilities, failed
//! misconfigurations and secrets. A secret's matched text is never read.

use serde::Deserialize;
use warden_core::{FindingSeverity, ScanFormat};

use crate::{Findings, Report, ScanError, TITLE_CHARS, cut, parse, severity_word};

#[derive(Deserialize)]
struct TrivyReport {
    #[serde(rename = "ArtifactName")]
    artifact_name: String,
    #[serde(default, rename = "Results")]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
struct TrivyResult {
    #[serde(rename = "Target")]
    target: String,
    #[serde(default, rename = "Vulnerabilities")]
    vulnerabilities: Option<Vec<Vulnerability>>,
    #[serde(default, rename = "Misconfigurations")]
    misconfigurations: Option<Vec<Misconfiguration>>,
    #[serde(default, rename = "Secrets")]
    secrets: Option<Vec<Secret>>,
}

#[derive(Deserialize)]
struct Vulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "PkgName")]
    package: String,
    #[serde(default, rename = "InstalledVersion")]
    installed: Option<String>,
    #[serde(default, rename = "PkgPath")]
    path: Option<String>,
    #[serde(default, rename = "FixedVersion")]
    fixed: Option<String>,
    #[serde(rename = "Severity")]
    severity: String,
    #[serde(default, rename = "Title")]
    title: Option<String>,
    #[serde(default, rename = "Description")]
    description: Option<String>,
    #[serde(default, rename = "PrimaryURL")]
    url: Option<String>,
}

#[derive(Deserialize)]
struct Misconfiguration {
    #[serde(rename = "ID")]
    id: String,
    #[serde(default, rename = "Title")]
    title: Option<String>,
    #[serde(default, rename = "Message")]
    message: Option<String>,
    #[serde(default, rename = "Resolution")]
    resolution: Option<String>,
    #[serde(rename = "Severity")]
    severity: String,
    #[serde(default, rename = "Status")]
    status: Option<String>,
    #[serde(default, rename = "CauseMetadata")]
    cause: Option<Cause>,
}

#[derive(Deserialize)]
struct Cause {
    #[serde(default, rename = "StartLine")]
    start_line: Option<u64>,
}

#[derive(Deserialize)]
struct Secret {
    #[serde(rename = "RuleID")]
    rule: String,
    #[serde(default, rename = "Title")]
    title: Option<String>,
    #[serde(rename = "Severity")]
    severity: String,
    #[serde(default, rename = "StartLine")]
    start_line: Option<u64>,
}

pub(crate) fn read(bytes: &[u8]) -> Result<Report, ScanError> {
    let report: TrivyReport = parse(ScanFormat::Trivy, bytes)?;
    let mut findings = Findings::default();
    for (r, result) in report.results.iter().flatten().enumerate() {
        // Cut once: it goes into every finding of the result.
        let target = &cut(&result.target, TITLE_CHARS);
        for (i, v) in result.vulnerabilities.iter().flatten().enumerate() {
            let severity = severity(&v.severity, &format!("Results[{r}].Vulnerabilities[{i}].Severity"))?;
            let installed = v.installed.as_deref().unwrap_or("");
            let location = match &v.path {
                Some(path) => format!("{target}: {}@{installed} ({path})", v.package),
                None => format!("{target}: {}@{installed}", v.package),
            };
            let mut description = v.description.clone().unwrap_or_default();
            if let Some(fixed) = v.fixed.as_deref().filter(|f| !f.is_empty()) {
                description = format!("{description}\nFixed in {} {fixed}.", v.package);
            }
            if let Some(url) = &v.url {
                description = format!("{description}\n{url}");
            }
            let title = v.title.clone().unwrap_or_else(|| format!("{} in {} {installed}", v.id, v.package));
            findings.push(&v.id, &location, severity, &title, &description)?;
        }
        for (i, m) in result.misconfigurations.iter().flatten().enumerate() {
            if m.status.as_deref().is_some_and(|s| s != "FAIL") {
                continue;
            }
            let severity = severity(&m.severity, &format!("Results[{r}].Misconfigurations[{i}].Severity"))?;
            let location = match m.cause.as_ref().and_then(|c| c.start_line) {
                Some(line) => format!("{target}:{line}"),
                None => target.clone(),
            };
            let message = m.message.clone().unwrap_or_default();
            let description = match &m.resolution {
                Some(resolution) => format!("{message}\n{resolution}"),
                None => message,
            };
            findings.push(&m.id, &location, severity, m.title.as_deref().unwrap_or(&m.id), &description)?;
        }
        for (i, s) in result.secrets.iter().flatten().enumerate() {
            let severity = severity(&s.severity, &format!("Results[{r}].Secrets[{i}].Severity"))?;
            let location = match s.start_line {
                Some(line) => format!("{target}:{line}"),
                None => target.clone(),
            };
            let title = s.title.clone().unwrap_or_else(|| s.rule.clone());
            findings.push(&s.rule, &location, severity, &title, &format!("a secret ({title}) in {target}"))?;
        }
    }
    Ok(Report { format: ScanFormat::Trivy, tool: "Trivy".into(), target: report.artifact_name, findings: findings.0 })
}

fn severity(word: &str, path: &str) -> Result<FindingSeverity, ScanError> {
    severity_word(word).ok_or_else(|| ScanError::Invalid {
        claimed: ScanFormat::Trivy,
        path: path.to_owned(),
        message: format!("unknown severity '{word}'"),
    })
}
