/*!
Scanner reports read into vulnerability findings.

[`read`] takes a report's bytes and the format it claims — SARIF 2.1.0, a CycloneDX document's vulnerabilities
(VEX, spec 1.4 to 1.7), Trivy's JSON (schema 2) or Grype's JSON — and gives the tool, the target it scanned and
one [`ScanFinding`] per distinct rule and location. Each format is read by serde structs that follow its
published JSON schema and keep only what a finding needs; everything else is skipped unread.

The budget: at most [`MAX_REPORT_BYTES`] in, at most [`MAX_FINDINGS`] findings (counted before de-duplication,
and refused as soon as the count passes it), JSON nested no deeper than serde_json's 128 levels; titles,
locations and descriptions are cut to [`TITLE_CHARS`] and [`DESCRIPTION_CHARS`] as each finding is made, so a
long text repeated across findings is never copied whole. A report that is not the format it claims is refused, naming the format it looks like; one
that breaks its format is refused naming the place (`runs[0].results[3].ruleId`).

Modules: `peek` (the first look at the top-level keys), then one reader per format: `sarif`, `cyclonedx`,
`trivy`, `grype`.

What counts as a finding: a SARIF result of kind `fail` that is neither suppressed nor absent from its baseline;
a CycloneDX vulnerability whose analysis does not say it is resolved, a false positive or not affecting (one
finding per affected component); every Trivy vulnerability, failed misconfiguration and secret; every Grype
match. Severities map onto low, medium, high and critical; a scanner's "unknown" is medium.
*/

mod cyclonedx;
mod grype;
mod peek;
mod sarif;
mod trivy;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use warden_core::{FindingSeverity, ScanFormat};

/// The largest report read (the API's batch body limit).
pub const MAX_REPORT_BYTES: usize = 64 << 20;
/// The most findings one report may hold (before de-duplication).
pub const MAX_FINDINGS: usize = 10_000;
/// The longest title, rule or location kept, in characters.
pub const TITLE_CHARS: usize = 200;
/// The longest description kept, in characters.
pub const DESCRIPTION_CHARS: usize = 4_000;

/// A report, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The format it was read as.
    pub format: ScanFormat,
    /// The scanner (`Bandit 1.9.4`, `Trivy`, `grype 0.104.1`).
    pub tool: String,
    /// What it scanned, as the report names it (an image, a directory, a repository); empty when it does not.
    pub target: String,
    /// One per rule and location, in the report's order.
    pub findings: Vec<ScanFinding>,
}

impl Report {
    /// Which imports a later import of the same scan replaces: the format, the tool's name (without its
    /// version) and the target. A finding of an earlier import of the same scope that a later one does not
    /// report is remediated.
    pub fn scope(&self) -> String {
        // Every tool of the report (a SARIF file may hold several runs), without versions.
        let tools: Vec<String> =
            self.tool.split(", ").filter_map(|t| t.split_whitespace().next()).map(str::to_lowercase).collect();
        let tool = tools.join("+");
        if self.target.is_empty() {
            format!("{}:{tool}", self.format)
        } else {
            format!("{}:{tool}:{}", self.format, self.target)
        }
    }
}

/// One vulnerability or weakness a scanner reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanFinding {
    /// The rule or advisory (`CVE-2019-14806`, `GHSA-cxww-7g56-2vh6`, `B108`).
    pub rule: String,
    /// Where: a package and its version (at a path, in a target) or a file and line.
    pub location: String,
    /// How grave, on Warden's scale.
    pub severity: FindingSeverity,
    /// A line.
    pub title: String,
    /// What the scanner says of it (the fix, when it names one).
    pub description: String,
    /// The scanner's own identity of the result across scans, when it gives one (SARIF `fingerprints` or
    /// `partialFingerprints`, which survive a line moving): it stands for the location in the key.
    pub fingerprint: Option<String>,
}

impl ScanFinding {
    /// What makes two reports' findings the same finding: the rule and the location (or the scanner's
    /// fingerprint of it).
    pub fn key(&self) -> String {
        match &self.fingerprint {
            Some(fingerprint) => format!("{} at {fingerprint}", self.rule),
            None => format!("{} at {}", self.rule, self.location),
        }
    }
}

/// Why a report was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    /// More bytes than [`MAX_REPORT_BYTES`].
    #[error("the report is {size} bytes, more than the {limit} a report may have")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Not JSON at all (or nested deeper than 128 levels).
    #[error("the report is not JSON: {0}")]
    NotJson(String),
    /// JSON, but not the format claimed.
    #[error("the report is not {claimed}: {reason}")]
    WrongFormat {
        /// The format claimed.
        claimed: ScanFormat,
        /// What is missing, and which format it looks like when it looks like one.
        reason: String,
    },
    /// The format claimed, broken at `path`.
    #[error("{claimed} report, at {path}: {message}")]
    Invalid {
        /// The format claimed.
        claimed: ScanFormat,
        /// Where (`runs[0].results[3].ruleId`).
        path: String,
        /// What is wrong there.
        message: String,
    },
    /// More findings than [`MAX_FINDINGS`].
    #[error("the report holds more than {limit} findings")]
    TooMany {
        /// The limit.
        limit: usize,
    },
}

/// Reads a report of `format`: its findings, de-duplicated by rule and location (the graver severity kept).
pub fn read(format: ScanFormat, bytes: &[u8]) -> Result<Report, ScanError> {
    if bytes.len() > MAX_REPORT_BYTES {
        return Err(ScanError::TooLarge { size: bytes.len(), limit: MAX_REPORT_BYTES });
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    peek::check(format, bytes)?;
    let mut report = match format {
        ScanFormat::Sarif => sarif::read(bytes)?,
        ScanFormat::CyclonedxVex => cyclonedx::read(bytes)?,
        ScanFormat::Trivy => trivy::read(bytes)?,
        ScanFormat::Grype => grype::read(bytes)?,
    };
    report.tool = cut(&report.tool, TITLE_CHARS);
    report.target = cut(&report.target, TITLE_CHARS);
    report.findings = distinct(report.findings)?;
    Ok(report)
}

/// One finding per key, in first-seen order, with the gravest severity any copy had.
fn distinct(findings: Vec<ScanFinding>) -> Result<Vec<ScanFinding>, ScanError> {
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut kept: Vec<ScanFinding> = Vec::new();
    for found in findings {
        match index.get(&found.key()) {
            Some(&at) => kept[at].severity = kept[at].severity.max(found.severity),
            None => {
                index.insert(found.key(), kept.len());
                kept.push(found);
            }
        }
    }
    Ok(kept)
}

/// The findings of a report as its reader makes them: each cut to the budget as it is added, and refused
/// once there are more than [`MAX_FINDINGS`].
#[derive(Default)]
struct Findings(Vec<ScanFinding>);

impl Findings {
    fn push(
        &mut self,
        rule: &str,
        location: &str,
        severity: FindingSeverity,
        title: &str,
        description: &str,
    ) -> Result<(), ScanError> {
        if self.0.len() == MAX_FINDINGS {
            return Err(ScanError::TooMany { limit: MAX_FINDINGS });
        }
        self.0.push(ScanFinding {
            rule: cut(rule, TITLE_CHARS),
            location: cut(location, TITLE_CHARS),
            severity,
            title: cut(title, TITLE_CHARS),
            description: cut(description, DESCRIPTION_CHARS),
            fingerprint: None,
        });
        Ok(())
    }

    /// Gives the finding just pushed the scanner's fingerprint.
    fn fingerprinted(&mut self, fingerprint: Option<String>) {
        if let Some(last) = self.0.last_mut() {
            last.fingerprint = fingerprint.map(|f| cut(&f, TITLE_CHARS));
        }
    }
}

/// Deserialises `bytes` as `T`, naming the place where they stop matching it.
fn parse<T: DeserializeOwned>(format: ScanFormat, bytes: &[u8]) -> Result<T, ScanError> {
    let mut json = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut json).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            ScanError::NotJson(inner.to_string())
        } else {
            // serde_json appends " at line L column C": the path says where better.
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
            ScanError::Invalid { claimed: format, path, message }
        }
    })
}

/// At most `chars` characters of `text`, trimmed, with an ellipsis when cut: only the first `chars`
/// characters are ever looked at, so cutting a long text costs no more than a short one.
fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        None => text.trim().to_owned(),
        Some((end, _)) => format!("{}…", text[..end].trim()),
    }
}

/// The first line of `text` (a title from a message).
fn first_line(text: &str) -> &str {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("")
}

/// A scanner's severity word (any case) on Warden's scale: `None` when it is no severity word.
fn severity_word(word: &str) -> Option<FindingSeverity> {
    match word.trim().to_ascii_lowercase().as_str() {
        "critical" => Some(FindingSeverity::Critical),
        "high" | "error" => Some(FindingSeverity::High),
        "medium" | "moderate" | "unknown" | "undefined" | "warning" => Some(FindingSeverity::Medium),
        "low" | "negligible" | "info" | "informational" | "none" | "note" => Some(FindingSeverity::Low),
        _ => None,
    }
}

/// A CVSS base score on Warden's scale (CVSS v3's qualitative bands).
fn severity_score(score: f64) -> Option<FindingSeverity> {
    match score {
        s if !(0.0..=10.0).contains(&s) => None,
        s if s >= 9.0 => Some(FindingSeverity::Critical),
        s if s >= 7.0 => Some(FindingSeverity::High),
        s if s >= 4.0 => Some(FindingSeverity::Medium),
        _ => Some(FindingSeverity::Low),
    }
}

#[cfg(test)]
mod tests;
