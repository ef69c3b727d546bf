//! The model formats Warden accepts, and a structural check of each so that a mislabelled or truncated
//! artifact is refused at registration rather than at first scoring.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Result};

/// A declared artifact format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactFormat {
    /// ONNX model (protobuf `ModelProto`).
    Onnx,
    /// XGBoost's native JSON (`Booster.save_model("model.json")`).
    XgboostJson,
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    LightgbmText,
    /// Warden's JSON linear/scorecard format (intercept, coefficients).
    LinearJson,
}

impl ArtifactFormat {
    /// Every format.
    pub const ALL: [ArtifactFormat; 4] =
        [ArtifactFormat::Onnx, ArtifactFormat::XgboostJson, ArtifactFormat::LightgbmText, ArtifactFormat::LinearJson];

    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactFormat::Onnx => "onnx",
            ArtifactFormat::XgboostJson => "xgboost-json",
            ArtifactFormat::LightgbmText => "lightgbm-text",
            ArtifactFormat::LinearJson => "linear-json",
        }
    }

    /// Checks that `bytes` are structurally an artifact of this format.
    pub fn check(self, bytes: &[u8]) -> Result<()> {
        if bytes.is_empty() {
            return Err(Error::invalid("artifact is empty"));
        }
        let fail = |why: String| Err(Error::invalid(format!("artifact is not valid {}: {why}", self.as_str())));
        match self {
            ArtifactFormat::Onnx => match protobuf_has_field(bytes, ONNX_MODEL_GRAPH_FIELD) {
                Ok(true) => Ok(()),
                Ok(false) => fail("no graph in the ModelProto".into()),
                Err(why) => fail(why),
            },
            ArtifactFormat::XgboostJson => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v) if v["learner"]["gradient_booster"].is_object() => Ok(()),
                Ok(_) => fail("no learner.gradient_booster object".into()),
                Err(e) => fail(e.to_string()),
            },
            ArtifactFormat::LightgbmText => {
                let head = &bytes[..bytes.len().min(4096)];
                let head = String::from_utf8_lossy(head);
                if head.lines().next().map(str::trim) == Some("tree") && head.contains("version=") {
                    Ok(())
                } else {
                    fail("expected a 'tree' header line followed by 'version='".into())
                }
            }
            ArtifactFormat::LinearJson => match serde_json::from_slice::<serde_json::Value>(bytes) {
                Ok(v)
                    if v["intercept"].is_number()
                        && (v["coefficients"].is_object() || v["coefficients"].is_array()) =>
                {
                    Ok(())
                }
                Ok(_) => fail("expected a JSON object with a numeric 'intercept' and 'coefficients'".into()),
                Err(e) => fail(e.to_string()),
            },
        }
    }
}

impl fmt::Display for ArtifactFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ArtifactFormat {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        ArtifactFormat::ALL.into_iter().find(|f| f.as_str() == text).ok_or_else(|| {
            Error::invalid(format!(
                "unknown artifact format '{text}' (expected one of: {})",
                ArtifactFormat::ALL.map(ArtifactFormat::as_str).join(", ")
            ))
        })
    }
}

/// `ModelProto.graph` is field 7 (onnx.proto).
const ONNX_MODEL_GRAPH_FIELD: u64 = 7;

fn read_varint(bytes: &[u8], pos: &mut usize) -> std::result::Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long".into())
}

/// Walks the top-level fields of a protobuf message; fails on any malformed or truncated field.
fn protobuf_has_field(bytes: &[u8], wanted: u64) -> std::result::Result<bool, String> {
    let mut pos = 0;
    let mut found = false;
    while pos < bytes.len() {
        let key = read_varint(bytes, &mut pos)?;
        let (field, wire_type) = (key >> 3, key & 7);
        if field == 0 {
            return Err(format!("invalid field number 0 at byte {}", pos));
        }
        found |= field == wanted;
        let skip = match wire_type {
            0 => {
                read_varint(bytes, &mut pos)?;
                0
            }
            1 => 8,
            2 => read_varint(bytes, &mut pos)? as usize,
            5 => 4,
            other => return Err(format!("unsupported wire type {other} at byte {pos}")),
        };
        pos = pos.checked_add(skip).filter(|&p| p <= bytes.len()).ok_or("truncated field")?;
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_unknown_is_rejected() {
        assert_eq!("xgboost-json".parse::<ArtifactFormat>().unwrap(), ArtifactFormat::XgboostJson);
        let err = "pickle".parse::<ArtifactFormat>().unwrap_err();
        assert!(err.to_string().contains("unknown artifact format 'pickle'"), "{err}");
    }

    #[test]
    fn structural_checks() {
        let linear = br#"{"intercept": -1.2, "coefficients": {"age": 0.01}}"#;
        assert!(ArtifactFormat::LinearJson.check(linear).is_ok());
        assert!(ArtifactFormat::LinearJson.check(b"{\"intercept\": 1").is_err());
        assert!(ArtifactFormat::XgboostJson.check(linear).is_err());
        assert!(ArtifactFormat::LightgbmText.check(b"tree\nversion=v4\n").is_ok());
        assert!(ArtifactFormat::LightgbmText.check(b"hello").is_err());
        assert!(ArtifactFormat::Onnx.check(b"").is_err());
        // ir_version = 8, then graph (field 7, length-delimited, 2 bytes).
        assert!(ArtifactFormat::Onnx.check(&[0x08, 0x08, 0x3a, 0x02, 0x0a, 0x00]).is_ok());
        // Same, truncated inside the graph.
        assert!(ArtifactFormat::Onnx.check(&[0x08, 0x08, 0x3a, 0x05, 0x0a]).is_err());
        assert!(ArtifactFormat::Onnx.check(b"{\"not\": \"onnx\"}").is_err());
    }
}
