//! Personal data kept out of the decision log: before a group is written, the decisions of a model whose data
//! policy declares personal fields are written with those fields tokenised or encrypted and the person's token
//! noted ([`warden_registry::personal_data`]). The live windows fold the decisions as they came, in memory: a
//! monitor sees the values, the store never does.
//!
//! The windows never fold the subject key or a tokenised attribute ([`Protections::strip_identifiers`]): a
//! window's groups would hold one person each, and replicas publish windows to the database. Encrypted fields
//! are folded by value, as monitors need them (a fairness group, an input's categories): counts over many
//! decisions, never one person's record.
//!
//! Each model's policy is read from the store the first time the writer meets the model, and forgotten when
//! the model's routes change, or, for a change made on another replica, at its next look at the alias
//! generation (a new policy moves it). Before protecting anything the writer checks that its key is the one
//! the database claimed: a replica with another key refuses the decisions rather than write what nobody else
//! can match or read back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use warden_registry::personal_data::{DataPolicy, PersonalData, PersonalDataKey};
use warden_store::metadata::{MetadataStore, NewDecision};

/// Model → its personal data policy (`None`: it protects nothing).
type PolicyCache = HashMap<String, Option<Arc<PersonalData>>>;

/// The key and the models' policies, as the decision log applies them.
pub struct Protections {
    key: Arc<PersonalDataKey>,
    /// Model → its personal data policy (`None`: it protects nothing), and a count of forgets, so a policy read
    /// before a forget is not kept after it.
    policies: Mutex<(PolicyCache, u64)>,
    /// Whether the key was found to be the database's.
    key_checked: std::sync::atomic::AtomicBool,
}

impl Protections {
    pub fn new(key: Arc<PersonalDataKey>) -> Protections {
        Protections { key, policies: Mutex::new((HashMap::new(), 0)), key_checked: Default::default() }
    }

    /// Reads every model's policy again (a change made on another replica, of a model this one may not route).
    pub fn forget_all(&self) {
        let mut policies = self.policies.lock().expect("policies lock");
        policies.0.clear();
        policies.1 += 1;
    }

    /// Removes from decisions about to be folded into the windows the attributes that name a person (the subject
    /// key and tokenised fields), for the models whose policy this log knows.
    pub(crate) fn strip_identifiers(&self, rows: &mut [NewDecision]) {
        let policies = self.policies.lock().expect("policies lock");
        if policies.0.values().all(Option::is_none) {
            return;
        }
        for row in rows {
            let Some(Some(policy)) = policies.0.get(&row.model_name) else { continue };
            let Some(attributes) = row.attributes.as_object_mut() else { continue };
            attributes.retain(|name, _| {
                policy.subject_key.as_deref() != Some(name.as_str())
                    && policy.fields.get(name) != Some(&warden_registry::personal_data::Protection::Tokenise)
            });
        }
    }

    async fn check_key(&self, store: &dyn MetadataStore) -> warden_store::Result<()> {
        use std::sync::atomic::Ordering;
        if self.key_checked.load(Ordering::Acquire) {
            return Ok(());
        }
        match store.personal_data_key_fingerprint().await? {
            Some(claimed) if claimed != self.key.fingerprint() => {
                Err(warden_store::Error::Conflict(self.key.mismatch(&claimed)))
            }
            _ => {
                self.key_checked.store(true, Ordering::Release);
                Ok(())
            }
        }
    }

    /// Reads the model's policy again at its next decision.
    pub fn forget(&self, model: &str) {
        let mut policies = self.policies.lock().expect("policies lock");
        policies.0.remove(model);
        policies.1 += 1;
    }

    async fn policy(&self, store: &dyn MetadataStore, model: &str) -> warden_store::Result<Option<Arc<PersonalData>>> {
        let forgets = {
            let policies = self.policies.lock().expect("policies lock");
            if let Some(policy) = policies.0.get(model) {
                return Ok(policy.clone());
            }
            policies.1
        };
        let latest = store.data_policies(model).await?.pop();
        let policy = match latest {
            Some(row) => serde_json::from_str::<DataPolicy>(&row.policy)
                .map_err(|source| warden_store::Error::Corrupt { column: "data_policies.policy", source })?,
            None => DataPolicy::default(),
        };
        let personal = policy.protects().then(|| Arc::new(policy.personal));
        let mut policies = self.policies.lock().expect("policies lock");
        if policies.1 == forgets {
            policies.0.insert(model.to_owned(), personal.clone());
        }
        Ok(personal)
    }

    /// The decisions as the log stores them, when any of their models protects personal data (`None`: as they
    /// are).
    pub(crate) async fn protect(
        &self,
        store: &dyn MetadataStore,
        rows: &[NewDecision],
    ) -> warden_store::Result<Option<Vec<NewDecision>>> {
        let mut policies: Vec<(&str, Option<Arc<PersonalData>>)> = Vec::new();
        for d in rows {
            if !policies.iter().any(|(m, _)| *m == d.model_name) {
                policies.push((&d.model_name, self.policy(store, &d.model_name).await?));
            }
        }
        if policies.iter().all(|(_, p)| p.is_none()) {
            return Ok(None);
        }
        self.check_key(store).await?;
        let mut protected = Vec::with_capacity(rows.len());
        for d in rows {
            let policy = policies.iter().find(|(m, _)| *m == d.model_name).and_then(|(_, p)| p.as_ref());
            let Some(policy) = policy else {
                protected.push(d.clone());
                continue;
            };
            let mut features: Map<String, Value> = match &d.features_text {
                Some(text) => serde_json::from_str(text)
                    .map_err(|source| warden_store::Error::Corrupt { column: "decisions.features", source })?,
                None => d.features.as_object().cloned().unwrap_or_default(),
            };
            let mut attributes = d.attributes.as_object().cloned().unwrap_or_default();
            let subject = self.key.protect(policy, &mut features, &mut attributes);
            protected.push(NewDecision {
                features: Value::Object(features),
                features_text: None,
                attributes: Value::Object(attributes),
                subject,
                ..d.clone()
            });
        }
        Ok(Some(protected))
    }
}
