//! warden-train's integration tests, in one binary: the trainers against the libraries they follow.

mod sklearn;
mod xgboost;
