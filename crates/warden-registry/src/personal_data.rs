/*!
A model's data policy: how long its decisions, their features and their outcomes are kept (EU AI Act Art.
12 and 26(6): logs kept at least six months; a bank keeps credit decisions for years), and which of its
inputs are personal data, kept tokenised or encrypted at rest, with the attribute that names the person.

[`DataPolicy`] is what a data steward declares (`PUT /v1/models/{name}/data-policy`); [`PersonalDataKey`]
protects values with a key from a file (`serve --personal-data-key`, default `personal-data.key` in the data
directory, made at first start): a token is a keyed HMAC-SHA256 (equal values give equal tokens, so one
person's decisions can be found and erased, and the value cannot be read back), an encrypted value is
AES-256-GCM under a random nonce (read back only with the key, for retraining). Both sub-keys are derived
from the file's 32 bytes, so one secret protects both. Replicas sharing a database share the key file.
*/

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{Error, Result};

/// Where a token starts: a stored value that is a token reads as one.
pub const TOKEN_PREFIX: &str = "tok:";
/// Where an encrypted value starts.
pub const ENCRYPTED_PREFIX: &str = "enc:";
/// Most fields a policy declares personal.
pub const MAX_PERSONAL_FIELDS: usize = 256;
/// The longest retention a policy states, in days (a century).
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// The shortest retention of decisions the law allows when the policy bundle states none: six months
/// (EU AI Act Art. 26(6) for deployers' logs), as 183 days.
pub const DEFAULT_MIN_DECISION_DAYS: u32 = 183;

pub use warden_core::Protection;

/// How long a model's data is kept, in days after the decision; `None` keeps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Whole decisions (with their features and outcomes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_days: Option<u32>,
    /// Features and attributes; the decision's time, version, score and decision stay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features_days: Option<u32>,
    /// Outcomes (labels and amounts), counted from their decision's time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes_days: Option<u32>,
}

/// A model's personal data: its fields kept tokenised or encrypted, and the one naming the person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalData {
    /// Feature or attribute name → how it is kept.
    #[serde(default)]
    pub fields: BTreeMap<String, Protection>,
    /// The attribute or feature naming the person (a customer number): always tokenised, and what
    /// `warden erase --subject-key` finds the person's decisions by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_key: Option<String>,
}

/// A model's data policy. This is a persisted format (stored as JSON with each declaration).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataPolicy {
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub personal: PersonalData,
}

/// The least a policy bundle lets a model keep its decisions (its `retention` rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionFloor {
    pub min_decision_days: u32,
}

impl Default for RetentionFloor {
    fn default() -> Self {
        RetentionFloor { min_decision_days: DEFAULT_MIN_DECISION_DAYS }
    }
}

impl DataPolicy {
    /// Checks the policy: names, day counts within bounds and in order (features and outcomes go no later than
    /// their decisions), decisions kept at least the floor, and model inputs only encrypted (a token cannot be
    /// scored again, and retraining reads the inputs back). `features` are the model's input names (every
    /// version's), which tells a feature from an attribute.
    pub fn check(&self, floor: RetentionFloor, features: &[String]) -> Result<()> {
        let r = &self.retention;
        for (field, days) in [
            ("decisions_days", r.decisions_days),
            ("features_days", r.features_days),
            ("outcomes_days", r.outcomes_days),
        ] {
            if let Some(days) = days
                && !(1..=MAX_RETENTION_DAYS).contains(&days)
            {
                return Err(invalid(format!("retention.{field}: {days} is not 1 to {MAX_RETENTION_DAYS} days")));
            }
        }
        if let Some(days) = r.decisions_days
            && days < floor.min_decision_days
        {
            return Err(Error::invalid_with(
                format!(
                    "retention.decisions_days: {days} days is shorter than the {} days the policy bundle requires \
                     decisions to be kept (its `retention.min_decision_days`)",
                    floor.min_decision_days
                ),
                json!({"field": "retention.decisions_days", "minimum": floor.min_decision_days}),
            ));
        }
        for (field, days) in [("features_days", r.features_days), ("outcomes_days", r.outcomes_days)] {
            if let (Some(part), Some(whole)) = (days, r.decisions_days)
                && part > whole
            {
                return Err(invalid(format!(
                    "retention.{field}: {part} days is longer than decisions_days ({whole}); purging a decision \
                     purges all of it"
                )));
            }
        }
        let p = &self.personal;
        if p.fields.len() > MAX_PERSONAL_FIELDS {
            return Err(invalid(format!("personal.fields: at most {MAX_PERSONAL_FIELDS} fields")));
        }
        for (name, protection) in &p.fields {
            crate::text::check("personal.fields", name, crate::text::SHORT, crate::text::Lines::One)?;
            if name.is_empty() {
                return Err(invalid("personal.fields: a field name is empty"));
            }
            if *protection == Protection::Tokenise && features.iter().any(|f| f == name) {
                return Err(invalid(format!(
                    "personal.fields.{name}: '{name}' is a model input; declare it 'encrypt', since a token cannot \
                     be scored or trained on again"
                )));
            }
        }
        if let Some(key) = &p.subject_key {
            crate::text::check("personal.subject_key", key, crate::text::SHORT, crate::text::Lines::One)?;
            if features.iter().any(|f| f == key) {
                return Err(invalid(format!(
                    "personal.subject_key: '{key}' is a model input; the person is named by an attribute the \
                     model does not score on"
                )));
            }
            if p.fields.get(key).is_some_and(|p| *p != Protection::Tokenise) {
                return Err(invalid(format!(
                    "personal.subject_key: '{key}' is declared '{}', but the subject key is always tokenised",
                    "encrypt"
                )));
            }
        }
        Ok(())
    }

    /// Whether stored decisions need protecting at all.
    pub fn protects(&self) -> bool {
        !self.personal.fields.is_empty() || self.personal.subject_key.is_some()
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::invalid(message)
}

/// The key personal data is protected with: a token key and an encryption key, derived from one secret.
pub struct PersonalDataKey {
    token: hmac::Key,
    sealing: LessSafeKey,
    fingerprint: String,
}

impl std::fmt::Debug for PersonalDataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PersonalDataKey(..)")
    }
}

impl PersonalDataKey {
    /// From the secret's 32 bytes.
    pub fn from_secret(secret: &[u8; 32]) -> PersonalDataKey {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derive = |label: &[u8]| hmac::sign(&root, label);
        let token = hmac::Key::new(hmac::HMAC_SHA256, derive(b"warden personal data: token v1").as_ref());
        let sealing = derive(b"warden personal data: encrypt v1");
        let sealing = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, sealing.as_ref()).expect("32 bytes"));
        let fingerprint = hex::encode(&derive(b"warden personal data: fingerprint v1").as_ref()[..16]);
        PersonalDataKey { token, sealing, fingerprint }
    }

    /// Loads the key from `path`, or from `personal-data.key` in the data directory (made at first start):
    /// 32 bytes as hex.
    pub fn load(data_dir: &Path, path: Option<&Path>) -> Result<PersonalDataKey> {
        let secret = crate::auth::read_or_make_key(&data_dir.join("personal-data.key"), path, "personal data key")?;
        Ok(PersonalDataKey::from_secret(&secret))
    }

    /// What names the key without revealing it (a keyed hash of a fixed label): every replica's must be the
    /// one the database claimed.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The refusal of a key that is not the one the database's personal data was protected with.
    pub fn mismatch(&self, claimed: &str) -> String {
        format!(
            "the personal data key (fingerprint {}) is not the one this database's personal data is protected with \
             (fingerprint {claimed}): give every replica the same --personal-data-key",
            self.fingerprint
        )
    }

    /// The token of a value: `tok:` and the keyed hash's first 24 bytes, base64url. A JSON value's text is
    /// hashed as written canonically (a string's characters, a number's shortest form).
    pub fn token(&self, value: &Value) -> String {
        let tag = hmac::sign(&self.token, canonical(value).as_bytes());
        format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&tag.as_ref()[..24]))
    }

    /// The token of a subject key as given on the command line (the text, as a JSON string would be).
    pub fn subject_token(&self, key: &str) -> String {
        self.token(&Value::String(key.to_owned()))
    }

    /// A value encrypted: `enc:` and base64 of the nonce, the ciphertext and its tag.
    pub fn encrypt(&self, value: &Value) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = value.to_string().into_bytes();
        self.sealing
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .expect("a value fits AES-GCM's limit");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{ENCRYPTED_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// A value [`PersonalDataKey::encrypt`] wrote, read back; an error names a value written under another key
    /// or changed.
    pub fn decrypt(&self, text: &str) -> Result<Value> {
        let fail = || Error::invalid("an encrypted value does not open with this personal data key");
        let body = text.strip_prefix(ENCRYPTED_PREFIX).ok_or_else(fail)?;
        let mut bytes = base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| fail())?;
        if bytes.len() < NONCE_LEN {
            return Err(fail());
        }
        let mut sealed = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| fail())?;
        let plain = self.sealing.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| fail())?;
        serde_json::from_slice(plain).map_err(|_| fail())
    }

    /// A decision's features and attributes as stored under `policy`: personal fields tokenised or encrypted,
    /// the subject key tokenised, and the subject's token (when the decision names one). A field absent or
    /// null stays as it is.
    pub fn protect(
        &self,
        policy: &PersonalData,
        features: &mut Map<String, Value>,
        attributes: &mut Map<String, Value>,
    ) -> Option<String> {
        let mut subject = None;
        for object in [&mut *features, &mut *attributes] {
            for (name, value) in object.iter_mut() {
                if value.is_null() {
                    continue;
                }
                let is_subject = policy.subject_key.as_deref() == Some(name.as_str());
                let protected = match policy.fields.get(name) {
                    _ if is_subject => {
                        let token = self.token(value);
                        subject = Some(token.clone());
                        token
                    }
                    Some(Protection::Tokenise) => self.token(value),
                    Some(Protection::Encrypt) => self.encrypt(value),
                    None => continue,
                };
                *value = Value::String(protected);
            }
        }
        subject
    }

    /// Opens every encrypted value of `values` it can (what monitors read back from the log); one that does not
    /// open stays as it is. How many did not.
    pub fn reveal_what_opens(&self, values: &mut Map<String, Value>) -> usize {
        let mut shut = 0;
        for value in values.values_mut() {
            if let Some(text) = value.as_str().filter(|t| t.starts_with(ENCRYPTED_PREFIX)) {
                match self.decrypt(text) {
                    Ok(opened) => *value = opened,
                    Err(_) => shut += 1,
                }
            }
        }
        shut
    }

    /// Features as stored, with every encrypted value read back (what retraining scores on); tokens stay.
    pub fn reveal(&self, features: &mut Map<String, Value>) -> Result<()> {
        for value in features.values_mut() {
            if let Some(text) = value.as_str().filter(|t| t.starts_with(ENCRYPTED_PREFIX)) {
                *value = self.decrypt(text)?;
            }
        }
        Ok(())
    }
}

/// A value's text for hashing: a string's own characters (so `warden erase --subject-key 42` finds the
/// string "42"), anything else its JSON.
fn canonical(value: &Value) -> std::borrow::Cow<'_, str> {
    match value {
        Value::String(s) => std::borrow::Cow::Borrowed(s),
        other => std::borrow::Cow::Owned(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PersonalDataKey {
        PersonalDataKey::from_secret(&[7; 32])
    }

    #[test]
    fn tokens_match_equal_values_and_differ_by_key() {
        let (a, b) = (key(), PersonalDataKey::from_secret(&[8; 32]));
        assert_eq!(a.token(&json!("C-1001")), a.subject_token("C-1001"));
        assert_ne!(a.token(&json!("C-1001")), a.token(&json!("C-1002")));
        assert_ne!(a.token(&json!("C-1001")), b.token(&json!("C-1001")));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.fingerprint(), PersonalDataKey::from_secret(&[7; 32]).fingerprint());
        assert!(a.token(&json!(42)).starts_with(TOKEN_PREFIX));
        // A number and the string of its digits name the same person.
        assert_eq!(a.token(&json!(42)), a.subject_token("42"));
    }

    #[test]
    fn encrypted_values_read_back_only_with_their_key() {
        let k = key();
        let sealed = k.encrypt(&json!(37.5));
        assert!(sealed.starts_with(ENCRYPTED_PREFIX));
        assert_ne!(sealed, k.encrypt(&json!(37.5)), "a fresh nonce each time");
        assert_eq!(k.decrypt(&sealed).unwrap(), json!(37.5));
        assert!(PersonalDataKey::from_secret(&[8; 32]).decrypt(&sealed).is_err());
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(k.decrypt(std::str::from_utf8(&tampered).unwrap()).is_err());
        assert!(k.decrypt("enc:!!").is_err());
    }

    #[test]
    fn protecting_a_decision_hides_each_personal_field_and_names_its_subject() {
        let k = key();
        let policy = PersonalData {
            fields: BTreeMap::from([("age".into(), Protection::Encrypt), ("postcode".into(), Protection::Tokenise)]),
            subject_key: Some("customer".into()),
        };
        let mut features = json!({"age": 41, "duration": 12}).as_object().unwrap().clone();
        let mut attributes =
            json!({"customer": "C-9", "postcode": "EC2", "channel": "web", "sex": null}).as_object().unwrap().clone();
        let subject = k.protect(&policy, &mut features, &mut attributes);
        assert_eq!(subject.as_deref(), Some(k.subject_token("C-9").as_str()));
        assert_eq!(attributes["customer"], json!(k.subject_token("C-9")));
        assert_eq!(attributes["postcode"], json!(k.token(&json!("EC2"))));
        assert_eq!(attributes["channel"], json!("web"));
        assert_eq!(attributes["sex"], Value::Null);
        assert_eq!(features["duration"], json!(12));
        assert!(features["age"].as_str().unwrap().starts_with(ENCRYPTED_PREFIX));
        k.reveal(&mut features).unwrap();
        assert_eq!(features["age"], json!(41));
    }

    #[test]
    fn a_policy_is_checked_against_the_floor_and_the_model_inputs() {
        let features = vec!["age".to_owned(), "duration".to_owned()];
        let floor = RetentionFloor::default();
        let policy = |text: Value| serde_json::from_value::<DataPolicy>(text).unwrap();
        let message = |p: DataPolicy| p.check(floor, &features).unwrap_err().to_string();
        assert!(
            policy(json!({"retention": {"decisions_days": 2557, "features_days": 90}})).check(floor, &features).is_ok()
        );
        assert!(message(policy(json!({"retention": {"decisions_days": 30}}))).contains("shorter than the 183 days"));
        assert!(
            message(policy(json!({"retention": {"decisions_days": 400, "features_days": 500}})))
                .contains("longer than decisions_days")
        );
        assert!(message(policy(json!({"retention": {"features_days": 0}}))).contains("is not 1 to"));
        assert!(message(policy(json!({"personal": {"fields": {"age": "tokenise"}}}))).contains("declare it 'encrypt'"));
        assert!(message(policy(json!({"personal": {"subject_key": "age"}}))).contains("is a model input"));
        assert!(
            message(policy(json!({"personal": {"subject_key": "c", "fields": {"c": "encrypt"}}})))
                .contains("always tokenised")
        );
        assert!(serde_json::from_value::<DataPolicy>(json!({"retention": {"days": 1}})).is_err());
    }
}
