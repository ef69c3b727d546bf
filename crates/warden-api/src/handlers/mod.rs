//! Handlers: parse, call one lifecycle function, render.

pub(crate) mod aliases;
pub(crate) mod audit;
pub(crate) mod governance;
pub(crate) mod health;
pub(crate) mod models;
pub(crate) mod monitoring;
pub(crate) mod scoring;
pub(crate) mod tokens;
pub(crate) mod versions;

use std::sync::Arc;

use warden_lifecycle::Warden;

pub(crate) type AppState = Arc<Warden>;
