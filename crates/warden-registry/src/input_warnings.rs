/*!
Warnings about a version's inputs, found at registration and kept with the version so its reviewers see them:
a column that looks like an identifier (a model that reads one memorises rows instead of learning), or one
that looks like a protected attribute (a model that reads one decides on it directly). They never refuse a
registration: an age input, for one, can be lawful and documented; the point is that nobody misses it.
*/

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::reference::{MonitorReference, ReferenceColumn};

/// Below this many reference rows, every value being distinct says little about a column.
pub const MIN_ROWS_FOR_UNIQUENESS: usize = 50;

/// Name parts that mark a protected attribute when a column's name contains them as a whole word
/// (`age`, `age_band`, `applicant-sex`, `maritalStatus`, not `page` or `usage`).
pub const PROTECTED_NAMES: [&str; 10] =
    ["sex", "gender", "age", "race", "ethnicity", "religion", "marital", "marriage", "nationality", "citizenship"];

/// Name parts that mark an identifier.
const IDENTIFIER_NAMES: [&str; 3] = ["id", "uuid", "guid"];

/// What a warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputWarningKind {
    /// The input looks like an identifier: unique per reference row, or named like one.
    Identifier,
    /// The input is a protected attribute: declared so for the version, or named like one.
    ProtectedAttribute,
}

impl InputWarningKind {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            InputWarningKind::Identifier => "identifier",
            InputWarningKind::ProtectedAttribute => "protected_attribute",
        }
    }
}

/// One warning about one input column. This is a persisted format (stored as JSON with the version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputWarning {
    /// The input column.
    pub column: String,
    pub kind: InputWarningKind,
    /// What was found and what to do about it, for people.
    pub message: String,
}

/// The words of a column name: split at non-alphanumerics and at lower-to-upper case changes, lowercased.
fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            words.extend((!word.is_empty()).then(|| std::mem::take(&mut word)));
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower {
            words.push(std::mem::take(&mut word));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        word.extend(c.to_lowercase());
    }
    words.extend((!word.is_empty()).then_some(word));
    words
}

/// Whether every row has a value and no two rows share one. Numbers count only when they are whole (row
/// numbers, account numbers): a continuous measurement is distinct per row without identifying anything.
fn unique_per_row(column: &ReferenceColumn) -> bool {
    match column {
        ReferenceColumn::Numeric(values) => {
            values.len() >= MIN_ROWS_FOR_UNIQUENESS
                && values.iter().all(|v| v.is_finite() && v.fract() == 0.0)
                && values.iter().map(|v| v.to_bits()).collect::<HashSet<_>>().len() == values.len()
        }
        ReferenceColumn::Categorical(values) => {
            values.len() >= MIN_ROWS_FOR_UNIQUENESS
                && values.iter().all(Option::is_some)
                && values.iter().collect::<HashSet<_>>().len() == values.len()
        }
    }
}

/// The warnings for a version whose inputs are `reference`'s feature columns and whose declared protected
/// attributes are `protected`.
pub fn input_warnings(reference: &MonitorReference, protected: &[String]) -> Vec<InputWarning> {
    let mut warnings = Vec::new();
    for (name, column) in &reference.features {
        let words = name_words(name);
        if protected.contains(name) {
            warnings.push(InputWarning {
                column: name.clone(),
                kind: InputWarningKind::ProtectedAttribute,
                message: format!(
                    "input '{name}' is one of this version's protected attributes: the model decides on it directly"
                ),
            });
        } else if let Some(word) = words.iter().find(|w| PROTECTED_NAMES.contains(&w.as_str())) {
            warnings.push(InputWarning {
                column: name.clone(),
                kind: InputWarningKind::ProtectedAttribute,
                message: format!(
                    "input '{name}' is named like a protected attribute ({word}): decisions depend on it directly; \
                     document why it is lawful, or exclude it and declare it protected"
                ),
            });
        }
        if unique_per_row(column) {
            warnings.push(InputWarning {
                column: name.clone(),
                kind: InputWarningKind::Identifier,
                message: format!(
                    "input '{name}' has a different value in each of the {} reference rows, like an identifier: a \
                     model reading it memorises rows; exclude it",
                    reference.len()
                ),
            });
        } else if let Some(word) = words.iter().find(|w| IDENTIFIER_NAMES.contains(&w.as_str())) {
            warnings.push(InputWarning {
                column: name.clone(),
                kind: InputWarningKind::Identifier,
                message: format!(
                    "input '{name}' is named like an identifier ({word}): a model reading it memorises rows; exclude it"
                ),
            });
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(features: Vec<(&str, ReferenceColumn)>) -> MonitorReference {
        let rows = match &features[0].1 {
            ReferenceColumn::Numeric(v) => v.len(),
            ReferenceColumn::Categorical(v) => v.len(),
        };
        MonitorReference {
            features: features.into_iter().map(|(n, c)| (n.to_owned(), c)).collect(),
            scores: vec![0.5; rows],
            ..Default::default()
        }
    }

    fn found(warnings: &[InputWarning]) -> Vec<(&str, InputWarningKind)> {
        warnings.iter().map(|w| (w.column.as_str(), w.kind)).collect()
    }

    #[test]
    fn names_are_split_into_words() {
        assert_eq!(name_words("maritalStatus"), ["marital", "status"]);
        assert_eq!(name_words("applicant-sex"), ["applicant", "sex"]);
        assert_eq!(name_words("AGE_band"), ["age", "band"]);
        assert_eq!(name_words("customerID"), ["customer", "id"]);
        assert_eq!(name_words("page"), ["page"]);
    }

    #[test]
    fn protected_and_identifier_inputs_are_found_by_name_and_by_data() {
        use InputWarningKind::*;
        let n = 60;
        let whole: Vec<f64> = (0..n).map(|i| 1000.0 + i as f64).collect();
        let measured: Vec<f64> = (0..n).map(|i| i as f64 * 0.37).collect();
        let repeated: Vec<f64> = (0..n).map(|i| (i % 7) as f64).collect();
        let codes: Vec<Option<String>> = (0..n).map(|i| Some(format!("C{i:04}"))).collect();
        let warnings = input_warnings(
            &reference(vec![
                ("account_number", ReferenceColumn::Numeric(whole)),
                ("income", ReferenceColumn::Numeric(measured)),
                ("usage", ReferenceColumn::Numeric(repeated.clone())),
                ("customer_id", ReferenceColumn::Numeric(repeated.clone())),
                ("applicant_ref", ReferenceColumn::Categorical(codes)),
                ("age", ReferenceColumn::Numeric(repeated.clone())),
                ("MARRIAGE", ReferenceColumn::Numeric(repeated.clone())),
                ("region", ReferenceColumn::Numeric(repeated)),
            ]),
            &["region".to_owned()],
        );
        assert_eq!(
            found(&warnings),
            [
                ("account_number", Identifier),
                ("customer_id", Identifier),
                ("applicant_ref", Identifier),
                ("age", ProtectedAttribute),
                ("MARRIAGE", ProtectedAttribute),
                ("region", ProtectedAttribute),
            ],
            "a continuous measurement distinct per row and `usage` are not flagged"
        );
        assert!(warnings[0].message.contains("each of the 60 reference rows"), "{}", warnings[0].message);
        assert!(warnings[5].message.contains("one of this version's protected attributes"), "{}", warnings[5].message);
    }

    #[test]
    fn a_small_reference_says_nothing_about_uniqueness() {
        let warnings = input_warnings(
            &reference(vec![("amount", ReferenceColumn::Numeric((0..10).map(f64::from).collect()))]),
            &[],
        );
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
