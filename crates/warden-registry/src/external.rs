/*!
Versions served outside Warden (a KServe or Seldon deployment, SageMaker, a vendor's scoring engine): Warden
runs no model for them, so their artifact is a descriptor, hashed, stored and signed like any artifact. It
names the reference-data column holding the model's own scores and where the model runs. Validation reads
the model's scores from the same column of the validation data, and the decisions the platform makes
arrive through ingestion (`POST /v1/models/{name}/decisions`, KServe's logger, Kafka).
*/

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest descriptor accepted.
pub const MAX_DESCRIPTOR_BYTES: usize = 16 * 1024;
/// Longest text of any descriptor field.
const MAX_FIELD_CHARS: usize = 512;

/// What an external version's artifact says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalModel {
    /// The data column holding the model's score (probability of the bad event) on every row of the
    /// reference and validation data.
    pub score_column: String,
    /// Where the model is served (`kserve`, `sagemaker`, a vendor's product name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The serving endpoint (an URL or an inference service name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The vendor, for a model bought rather than built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
}

impl ExternalModel {
    /// Reads a descriptor; every problem is named.
    pub fn parse(bytes: &[u8]) -> Result<ExternalModel> {
        if bytes.len() > MAX_DESCRIPTOR_BYTES {
            return Err(Error::invalid(format!(
                "external model descriptor is {} bytes; at most {MAX_DESCRIPTOR_BYTES} are accepted",
                bytes.len()
            )));
        }
        let descriptor: ExternalModel = serde_json::from_slice(bytes)
            .map_err(|e| Error::invalid(format!("external model descriptor is not valid: {e}")))?;
        descriptor.check()?;
        Ok(descriptor)
    }

    /// The descriptor's bytes (what is stored as the version's artifact).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a descriptor serialises")
    }

    fn check(&self) -> Result<()> {
        if self.score_column.trim().is_empty() {
            return Err(Error::invalid("external model descriptor: score_column is empty"));
        }
        let fields = [
            ("score_column", Some(&self.score_column)),
            ("platform", self.platform.as_ref()),
            ("endpoint", self.endpoint.as_ref()),
            ("vendor", self.vendor.as_ref()),
        ];
        for (name, value) in fields {
            if let Some(value) = value
                && (value.chars().count() > MAX_FIELD_CHARS || value.chars().any(char::is_control))
            {
                return Err(Error::invalid(format!(
                    "external model descriptor: {name} must be at most {MAX_FIELD_CHARS} characters without control \
                     characters"
                )));
            }
        }
        Ok(())
    }

    /// The scores of a data file's rows: every row must carry a probability in [0, 1]. `rows` yields each
    /// row's text in the score column; errors name the 1-based data line (header = line 1).
    /// `probabilities`: the version's task is binary classification, so each score must lie in [0, 1]; a
    /// regression's scores are any finite numbers.
    pub fn scores<'a>(&self, rows: impl IntoIterator<Item = Option<&'a str>>, probabilities: bool) -> Result<Vec<f64>> {
        let mut scores = Vec::new();
        for (i, text) in rows.into_iter().enumerate() {
            let line = i + 2;
            let column = &self.score_column;
            let text = text.map(str::trim).filter(|t| !t.is_empty()).ok_or_else(|| {
                Error::invalid(format!("line {line}, score column '{column}': the model's score is missing"))
            })?;
            let score: f64 = text.parse().map_err(|_| {
                Error::invalid(format!("line {line}, score column '{column}': expected a number, found '{text}'"))
            })?;
            if probabilities && !(0.0..=1.0).contains(&score) {
                return Err(Error::invalid(format!(
                    "line {line}, score column '{column}': {text} is not a probability in [0, 1]"
                )));
            }
            if !score.is_finite() {
                return Err(Error::invalid(format!("line {line}, score column '{column}': {text} is not finite")));
            }
            scores.push(score);
        }
        Ok(scores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regressions_scores_are_any_finite_numbers() {
        let d = ExternalModel::parse(br#"{"score_column": "s"}"#).unwrap();
        assert_eq!(d.scores([Some("1234.5"), Some("-2")], false).unwrap(), [1234.5, -2.0]);
        assert!(d.scores([Some("1234.5")], true).unwrap_err().to_string().contains("not a probability"));
        assert!(d.scores([Some("inf")], false).unwrap_err().to_string().contains("not finite"));
    }

    #[test]
    fn descriptors_round_trip_and_refuse_what_they_do_not_know() {
        let d = ExternalModel {
            score_column: "pd".into(),
            platform: Some("kserve".into()),
            endpoint: None,
            vendor: Some("Acme".into()),
        };
        assert_eq!(ExternalModel::parse(&d.to_bytes()).unwrap(), d);
        for (bytes, expected) in [
            (&br#"{"score_column": "pd", "engine": "x"}"#[..], "unknown field `engine`"),
            (br#"{"platform": "x"}"#, "missing field `score_column`"),
            (br#"{"score_column": " "}"#, "score_column is empty"),
            (b"not json", "not valid"),
        ] {
            let err = ExternalModel::parse(bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        let long = format!(r#"{{"score_column": "pd", "vendor": "{}"}}"#, "v".repeat(600));
        assert!(ExternalModel::parse(long.as_bytes()).unwrap_err().to_string().contains("vendor must be"));
        let huge = vec![b' '; MAX_DESCRIPTOR_BYTES + 1];
        assert!(ExternalModel::parse(&huge).unwrap_err().to_string().contains("at most 16384"));
    }

    #[test]
    fn scores_must_be_probabilities_on_every_row() {
        let d = ExternalModel { score_column: "pd".into(), platform: None, endpoint: None, vendor: None };
        assert_eq!(d.scores([Some("0.25"), Some(" 1 ")], true).unwrap(), [0.25, 1.0]);
        for (rows, expected) in [
            (vec![Some("0.1"), None], "line 3, score column 'pd': the model's score is missing"),
            (vec![Some("high")], "expected a number, found 'high'"),
            (vec![Some("1.5")], "1.5 is not a probability"),
            (vec![Some("NaN")], "NaN is not a probability"),
        ] {
            let err = d.scores(rows, true).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }
}
