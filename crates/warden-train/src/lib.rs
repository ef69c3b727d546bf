/*!
Warden's built-in trainers: pure functions from a training matrix and labels to model parameters. No file,
no clock, no randomness that is not seeded by the caller. The lifecycle assembles the training data (logged
features joined with late outcomes), calls a trainer, and writes the result in a format Warden serves.

- [`logistic`]: L2-regularised logistic regression, solved by Newton's method to the optimum of the objective
  scikit-learn's `LogisticRegression` minimises, so the coefficients are that optimum, not an approximation
  that depends on a solver's stopping rule.
- [`gbt`]: gradient-boosted trees on histograms (XGBoost's `hist` method and defaults), written as XGBoost's
  JSON model, which Warden serves with TreeSHAP.
- [`linear_model`]: a logistic regression on raw tabular columns (median-imputed and standardised numbers,
  one-hot categories — scikit-learn's usual pipeline), written as Warden's linear JSON, which Warden serves
  with exact explanations.
*/
#![deny(missing_docs)]

pub mod gbt;
pub mod linear_model;
pub mod logistic;

/// Why a model could not be trained.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// The data cannot train this model (empty, one class, mismatched lengths, non-finite values).
    #[error("{0}")]
    Data(String),
    /// The solver did not reach the optimum.
    #[error("{0}")]
    NotConverged(String),
}
