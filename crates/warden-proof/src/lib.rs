/*!
Warden's proof stage: showing afterwards what happened.

- [`ledger`]: the audit ledger service: signed checkpoints over the Merkle log the store appends to,
  inclusion and consistency proofs, and `audit verify` (every record vouched for by an entry).
- [`evidence`]: evidence bundles for a model version, each file listed in a signed manifest.
- [`docs`]: model documents written from the ledger, every figure citing the entry that vouches for it,
  and their offline check.
- [`exports`]: a version as a CycloneDX 1.6 ML-BOM and as an SPDX 3.0.1 document (AI and Dataset profiles),
  written from what the ledger vouches for.
- [`traceability`]: a model's regulatory traceability matrix: each requirement of a framework with the
  ledger entries that evidence it, or "no evidence".
*/

use std::ops::Deref;

use warden_oversight::Oversight;

pub mod docs;
pub mod evidence;
pub mod exports;
pub mod ledger;
pub mod traceability;

pub use warden_registry::{Error, Result};

/// The oversight context with the ledger's signing key.
pub struct Proof {
    oversight: Oversight,
    pub(crate) ledger: ledger::LedgerKey,
}

impl Proof {
    /// Loads (or, at first start, makes) the ledger's signing key.
    pub fn new(oversight: Oversight) -> Result<Proof> {
        let ledger = ledger::LedgerKey::load(&oversight.config().data_dir, oversight.config().ledger_key.as_deref())?;
        Ok(Proof { oversight, ledger })
    }
}

impl Deref for Proof {
    type Target = Oversight;

    fn deref(&self) -> &Oversight {
        &self.oversight
    }
}
