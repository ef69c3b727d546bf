//! The model formats Warden accepts. An artifact is valid when it loads as a model, so a mislabelled or
//! truncated artifact is refused at registration rather than at first scoring.

use std::fmt;
use std::str::FromStr;

use warden_models::{Model, ModelFormat};

use crate::{Error, Result};

/// A declared artifact format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactFormat {
    /// ONNX model (protobuf `ModelProto`).
    Onnx,
    /// XGBoost's native JSON (`Booster.save_model("model.json")`).
    XgboostJson,
    /// XGBoost's UBJSON, its default from 2.1 (`Booster.save_model("model.ubj")`).
    XgboostUbj,
    /// LightGBM's text model (`Booster.save_model("model.txt")`).
    LightgbmText,
    /// Warden's JSON linear/scorecard format (see `warden_models::linear`).
    LinearJson,
    /// A model served outside Warden: the artifact is a descriptor ([`crate::external::ExternalModel`]).
    External,
}

impl ArtifactFormat {
    /// Every format.
    pub const ALL: [ArtifactFormat; 6] = [
        ArtifactFormat::Onnx,
        ArtifactFormat::XgboostJson,
        ArtifactFormat::XgboostUbj,
        ArtifactFormat::LightgbmText,
        ArtifactFormat::LinearJson,
        ArtifactFormat::External,
    ];

    /// The format's name.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactFormat::Onnx => "onnx",
            ArtifactFormat::XgboostJson => "xgboost-json",
            ArtifactFormat::XgboostUbj => "xgboost-ubj",
            ArtifactFormat::LightgbmText => "lightgbm-text",
            ArtifactFormat::LinearJson => "linear-json",
            ArtifactFormat::External => "external",
        }
    }

    /// Whether the version is served outside Warden (no model Warden runs).
    pub fn is_external(self) -> bool {
        self == ArtifactFormat::External
    }

    /// The inference crate's name for the format; `None` for an external model.
    pub fn model_format(self) -> Option<ModelFormat> {
        match self {
            ArtifactFormat::Onnx => Some(ModelFormat::Onnx),
            ArtifactFormat::XgboostJson => Some(ModelFormat::XgboostJson),
            ArtifactFormat::XgboostUbj => Some(ModelFormat::XgboostUbj),
            ArtifactFormat::LightgbmText => Some(ModelFormat::LightgbmText),
            ArtifactFormat::LinearJson => Some(ModelFormat::LinearJson),
            ArtifactFormat::External => None,
        }
    }

    /// Loads `bytes` as a model of this format: the artifact is valid only if Warden can score it. An
    /// external version has no model: `Refused`-style `Invalid` naming where its decisions come from.
    pub fn load(self, bytes: &[u8]) -> Result<Model> {
        if bytes.is_empty() {
            return Err(Error::invalid("artifact is empty"));
        }
        let Some(format) = self.model_format() else {
            return Err(Error::invalid(
                "the version is served outside Warden (format 'external'): Warden has no model to run for it; its \
                 decisions arrive through ingestion",
            ));
        };
        Model::load(format, bytes).map_err(|e| Error::invalid(format!("artifact rejected: {e}")))
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
    fn artifacts_must_load_as_models() {
        let linear = br#"{"intercept": -1.2, "coefficients": {"age": 0.01}}"#;
        assert!(ArtifactFormat::LinearJson.load(linear).is_ok());
        assert!(ArtifactFormat::LinearJson.load(b"{\"intercept\": 1").is_err());
        assert!(ArtifactFormat::XgboostJson.load(linear).is_err());
        let lightgbm = &warden_testdata::read("models/lgbm_german.txt");
        assert!(ArtifactFormat::LightgbmText.load(lightgbm).is_ok());
        assert!(ArtifactFormat::LightgbmText.load(&lightgbm[..lightgbm.len() / 2]).is_err());
        assert!(ArtifactFormat::LightgbmText.load(b"tree\nversion=v4\n").is_err());
        assert!(ArtifactFormat::Onnx.load(b"").is_err());
        let onnx = &warden_testdata::read("models/lr_german.onnx");
        assert!(ArtifactFormat::Onnx.load(onnx).is_ok());
        let err = ArtifactFormat::Onnx.load(&onnx[..onnx.len() - 40]).unwrap_err();
        assert!(err.to_string().contains("artifact rejected: invalid onnx model"), "{err}");
        assert!(ArtifactFormat::Onnx.load(b"{\"not\": \"onnx\"}").is_err());
    }
}
