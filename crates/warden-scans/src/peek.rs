//! A first look at a report's top-level keys: whether it is the format it claims, and which one it looks like
//! when it is not. Nothing is kept but a few short texts; the rest is skipped as it is read.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use warden_core::ScanFormat;

use crate::ScanError;

/// A top-level value looked at without being kept: its text or number when it is one.
#[derive(Debug, Default, PartialEq)]
enum Peek {
    #[default]
    Absent,
    Text(String),
    Number(f64),
    Other,
}

impl Peek {
    fn present(&self) -> bool {
        *self != Peek::Absent
    }

    fn is_text(&self, text: &str) -> bool {
        matches!(self, Peek::Text(t) if t == text)
    }

    fn describe(&self) -> String {
        match self {
            Peek::Absent => "missing".into(),
            Peek::Text(t) => format!("\"{t}\""),
            Peek::Number(n) => n.to_string(),
            Peek::Other => "not a text or number".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Peek {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PeekVisitor)
    }
}

struct PeekVisitor;

impl<'de> Visitor<'de> for PeekVisitor {
    type Value = Peek;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Peek, E> {
        Ok(Peek::Text(v.chars().take(40).collect()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Peek, E> {
        Ok(Peek::Number(v as f64))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Peek, E> {
        Ok(Peek::Number(v as f64))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Peek, E> {
        Ok(Peek::Number(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Peek, E> {
        Ok(Peek::Other)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Peek, E> {
        Ok(Peek::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Peek, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Peek::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Peek, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Peek::Other)
    }
}

/// The top-level keys that tell the four formats apart.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Sniff {
    version: Peek,
    runs: Peek,
    #[serde(rename = "bomFormat")]
    bom_format: Peek,
    #[serde(rename = "specVersion")]
    spec_version: Peek,
    #[serde(rename = "SchemaVersion")]
    schema_version: Peek,
    #[serde(rename = "ArtifactName")]
    artifact_name: Peek,
    matches: Peek,
    descriptor: Peek,
}

/// The CycloneDX versions whose documents carry vulnerabilities.
const CYCLONEDX_VERSIONS: [&str; 4] = ["1.4", "1.5", "1.6", "1.7"];

impl Sniff {
    /// Why this is not a report of `format` (`None`: it is one, as far as its top-level keys say).
    fn mismatch(&self, format: ScanFormat) -> Option<String> {
        match format {
            ScanFormat::Sarif if !self.version.is_text("2.1.0") => {
                Some(format!("\"version\" is {}, not \"2.1.0\"", self.version.describe()))
            }
            ScanFormat::Sarif if !self.runs.present() => Some("\"runs\" is missing".into()),
            ScanFormat::CyclonedxVex if !self.bom_format.is_text("CycloneDX") => {
                Some(format!("\"bomFormat\" is {}, not \"CycloneDX\"", self.bom_format.describe()))
            }
            ScanFormat::CyclonedxVex if !CYCLONEDX_VERSIONS.iter().any(|v| self.spec_version.is_text(v)) => {
                Some(format!(
                    "\"specVersion\" is {}: vulnerabilities are read from 1.4 to 1.7",
                    self.spec_version.describe()
                ))
            }
            ScanFormat::Trivy if self.schema_version != Peek::Number(2.0) => {
                Some(format!("\"SchemaVersion\" is {}, not 2", self.schema_version.describe()))
            }
            ScanFormat::Trivy if !self.artifact_name.present() => Some("\"ArtifactName\" is missing".into()),
            ScanFormat::Grype if !self.matches.present() => Some("\"matches\" is missing".into()),
            ScanFormat::Grype if !self.descriptor.present() => Some("\"descriptor\" is missing".into()),
            _ => None,
        }
    }

    /// The format these keys belong to, if any.
    fn looks_like(&self) -> Option<ScanFormat> {
        ScanFormat::ALL.iter().copied().find(|&f| self.mismatch(f).is_none())
    }
}

/// Refuses `bytes` unless they are a JSON object with `format`'s top-level keys.
pub(crate) fn check(format: ScanFormat, bytes: &[u8]) -> Result<(), ScanError> {
    // serde reads a struct from an array too: only an object is a report.
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => Err(ScanError::WrongFormat { claimed: format, reason: "it is not a JSON object".into() }),
            Err(e) => Err(ScanError::NotJson(e.to_string())),
        };
    }
    let sniff: Sniff = serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ScanError::WrongFormat { claimed: format, reason: "it is not a JSON object".into() }
        } else {
            ScanError::NotJson(e.to_string())
        }
    })?;
    match sniff.mismatch(format) {
        None => Ok(()),
        Some(reason) => {
            let reason = match sniff.looks_like() {
                Some(other) => format!("{reason} (it looks like {other})"),
                None => reason,
            };
            Err(ScanError::WrongFormat { claimed: format, reason })
        }
    }
}
