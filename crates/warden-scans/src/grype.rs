//! Grype's JSON report (`grype/presenter/models`, JSON schema `schema/grype/json`): its matches, each a
//! vulnerability in a package found at one or more locations.

use serde::Deserialize;
use serde::de::IgnoredAny;
use warden_core::ScanFormat;

use crate::{Findings, Report, ScanError, parse, severity_word};

#[derive(Deserialize)]
struct GrypeReport {
    matches: Vec<Match>,
    #[serde(default)]
    source: Option<Source>,
    descriptor: Descriptor,
}

#[derive(Deserialize)]
struct Descriptor {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct Source {
    #[serde(default)]
    target: Option<Target>,
}

/// A directory or file as a path, an image as the name the user gave, older reports as plain text.
#[derive(Deserialize)]
#[serde(untagged)]
enum Target {
    Text(String),
    Image {
        #[serde(rename = "userInput")]
        user_input: String,
    },
    Path {
        path: String,
    },
    Other(IgnoredAny),
}

#[derive(Deserialize)]
struct Match {
    vulnerability: Vulnerability,
    artifact: Artifact,
}

#[derive(Deserialize)]
struct Vulnerability {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, rename = "dataSource")]
    data_source: Option<String>,
    #[serde(default)]
    fix: Option<Fix>,
}

#[derive(Deserialize)]
struct Fix {
    #[serde(default)]
    versions: Vec<String>,
}

#[derive(Deserialize)]
struct Artifact {
    name: String,
    version: String,
    #[serde(default)]
    locations: Vec<ArtifactLocation>,
}

#[derive(Deserialize)]
struct ArtifactLocation {
    path: String,
}

pub(crate) fn read(bytes: &[u8]) -> Result<Report, ScanError> {
    let report: GrypeReport = parse(ScanFormat::Grype, bytes)?;
    if report.descriptor.name != "grype" {
        return Err(ScanError::WrongFormat {
            claimed: ScanFormat::Grype,
            reason: format!("\"descriptor.name\" is \"{}\", not \"grype\"", report.descriptor.name),
        });
    }
    let mut findings = Findings::default();
    for (i, m) in report.matches.iter().enumerate() {
        let v = &m.vulnerability;
        let a = &m.artifact;
        let word = v.severity.as_deref().unwrap_or("Unknown");
        let severity = severity_word(word).ok_or_else(|| ScanError::Invalid {
            claimed: ScanFormat::Grype,
            path: format!("matches[{i}].vulnerability.severity"),
            message: format!("unknown severity '{word}'"),
        })?;
        let paths: Vec<&str> = a.locations.iter().map(|l| l.path.as_str()).collect();
        let location = match paths.as_slice() {
            [] => format!("{}@{}", a.name, a.version),
            paths => format!("{}@{} ({})", a.name, a.version, paths.join(", ")),
        };
        let mut description = v.description.clone().unwrap_or_default();
        if let Some(fix) = v.fix.as_ref().filter(|f| !f.versions.is_empty()) {
            description = format!("{description}\nFixed in {} {}.", a.name, fix.versions.join(", "));
        }
        if let Some(source) = &v.data_source {
            description = format!("{description}\n{source}");
        }
        findings.push(&v.id, &location, severity, &format!("{} in {} {}", v.id, a.name, a.version), &description)?;
    }
    let tool = match &report.descriptor.version {
        Some(version) => format!("grype {version}"),
        None => "grype".into(),
    };
    let target = match report.source.and_then(|s| s.target) {
        Some(Target::Text(text)) => text,
        Some(Target::Image { user_input }) => user_input,
        Some(Target::Path { path }) => path,
        Some(Target::Other(_)) | None => String::new(),
    };
    Ok(Report { format: ScanFormat::Grype, tool, target, findings: findings.0 })
}
