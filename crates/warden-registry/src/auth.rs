//! Roles, bearer tokens and who may do what.
//!
//! A token is `wdn_` followed by 64 hex digits of randomness. Only its SHA-256 is stored: the secret is shown
//! once, when created. Tokens are long random strings, not passwords, so a fast hash is the right one.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use rand::Rng;
use serde_json::json;
use sha2::{Digest, Sha256};
use warden_store::metadata::{AuditEventDraft, Micros, NewToken, TokenRow};

use crate::registry::validate_name;
use crate::{Error, Registry, Result};

/// A role. Roles are not ranked: each permission lists the roles that hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Reads the inventory.
    Viewer,
    /// Registers models and versions (first line).
    DataScientist,
    /// Validates and signs off (second line).
    Validator,
    /// Owns policies, reads the audit trail.
    RiskOfficer,
    /// Everything, including tokens.
    Admin,
    /// A business application: scores requests and reports outcomes, nothing else.
    Scorer,
    /// A person in the business who reviews single decisions (confirms, overrides or reverses them).
    Reviewer,
}

impl Role {
    /// Every role, in a fixed order.
    pub const ALL: [Role; 7] = [
        Role::Viewer,
        Role::DataScientist,
        Role::Validator,
        Role::RiskOfficer,
        Role::Admin,
        Role::Scorer,
        Role::Reviewer,
    ];

    /// The role's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::DataScientist => "data-scientist",
            Role::Validator => "validator",
            Role::RiskOfficer => "risk-officer",
            Role::Admin => "admin",
            Role::Scorer => "scorer",
            Role::Reviewer => "reviewer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == text).ok_or_else(|| {
            Error::invalid(format!(
                "unknown role '{text}' (expected one of: {})",
                Role::ALL.map(Role::as_str).join(", ")
            ))
        })
    }
}

/// Something a caller may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read models, versions, profiles and aliases.
    ReadRegistry,
    /// Create models and register versions.
    WriteRegistry,
    /// Point aliases at versions.
    SetAlias,
    /// Create, list and revoke tokens.
    ManageTokens,
    /// Read the audit trail.
    ReadAudit,
    /// Score requests through the serving path.
    Score,
    /// Score with a version the caller names instead of the production routes (people testing a version;
    /// such decisions are marked `pinned` and never count as production).
    ScorePinned,
    /// Report late outcomes (labels) of scored requests.
    RecordOutcomes,
    /// Read the decision log and live window profiles.
    ReadDecisions,
    /// Run a validation and store its report.
    Validate,
    /// Approve or reject a version (second line of defence).
    Approve,
    /// Put a policy bundle in force.
    ManagePolicies,
    /// Move a production alias through the gate.
    Promote,
    /// Promote against the gate's decision, with a reason (emergencies).
    OverrideGate,
    /// Create, change and disable monitors.
    ManageMonitors,
    /// Raise findings against models (second line of defence).
    RaiseFindings,
    /// Propose how a finding is remediated (the model's developers).
    ProposeRemediation,
    /// Close findings as remediated, with evidence.
    CloseFindings,
    /// Accept findings as limitations and grant policy exceptions, each until an expiry.
    GrantExceptions,
    /// Retire a model (a high tier one needs a second person to confirm).
    RetireModels,
    /// Submit a model's periodic attestation (the first line: it is still used as documented).
    SubmitAttestations,
    /// Accept or reject a submitted attestation (the second line).
    ReviewAttestations,
    /// Put the organisation's inventory schema (its custom fields) in force.
    ManageInventorySchema,
    /// Write a model's inventory fields (its tier follows them through the policy's tiering rules).
    EditInventoryFields,
    /// Override a model's computed risk tier, with a reason.
    OverrideTier,
    /// Confirm, override or reverse a single decision (human oversight).
    ReviewDecisions,
    /// Suspend a model (the stop switch: its fallback answers) and resume it.
    SuspendModels,
    /// Declare a model's data policy (retention, personal fields) and erase a person's data.
    ManageDataPolicy,
}

impl Permission {
    /// The roles holding this permission.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::ReadRegistry => &[Viewer, DataScientist, Validator, RiskOfficer, Admin, Reviewer],
            Permission::WriteRegistry => &[DataScientist, Admin],
            Permission::SetAlias => &[DataScientist, Admin],
            Permission::ManageTokens => &[Admin],
            Permission::ReadAudit => &[Validator, RiskOfficer, Admin],
            Permission::Score => &[Scorer, DataScientist, Admin],
            Permission::ScorePinned => &[DataScientist, Validator, Admin],
            Permission::RecordOutcomes => &[Scorer, Admin],
            Permission::ReadDecisions => &[DataScientist, Validator, RiskOfficer, Admin, Reviewer],
            Permission::Validate => &[Validator, Admin],
            Permission::Approve => &[Validator, RiskOfficer, Admin],
            Permission::ManagePolicies => &[RiskOfficer, Admin],
            Permission::Promote => &[DataScientist, Admin],
            Permission::OverrideGate => &[Admin],
            Permission::ManageMonitors => &[Validator, RiskOfficer, Admin],
            Permission::RaiseFindings => &[Validator, RiskOfficer, Admin],
            Permission::ProposeRemediation => &[DataScientist, Admin],
            Permission::CloseFindings => &[Validator, RiskOfficer, Admin],
            Permission::GrantExceptions => &[RiskOfficer, Admin],
            Permission::RetireModels => &[RiskOfficer, Admin],
            Permission::SubmitAttestations => &[DataScientist, Admin],
            Permission::ReviewAttestations => &[Validator, RiskOfficer, Admin],
            Permission::ManageInventorySchema => &[RiskOfficer, Admin],
            Permission::EditInventoryFields => &[DataScientist, RiskOfficer, Admin],
            Permission::OverrideTier => &[RiskOfficer, Admin],
            Permission::ReviewDecisions => &[Reviewer, Admin],
            Permission::SuspendModels => &[RiskOfficer, Admin],
            Permission::ManageDataPolicy => &[RiskOfficer, Admin],
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Who, uniquely: a token's name, or the identity provider's `issuer|subject`. Approvals and separation of
    /// duties compare it.
    pub name: String,
    /// The roles held over the whole inventory: a token's one role, or those a person's groups grant (in
    /// [`Role::ALL`]'s order). [`Principal::require`] looks at these alone.
    pub roles: Vec<Role>,
    /// Roles held only over some models. They count once the caller is narrowed to one model
    /// ([`Principal::for_model`]), which the access layer does for every `/v1/models/{name}/…` route.
    pub scoped: Vec<ScopedRole>,
    /// How the caller proved who it is.
    pub via: Via,
}

/// A role granted over a set of models rather than the whole inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedRole {
    /// The role.
    pub role: Role,
    /// The models it applies to.
    pub scope: ModelScope,
}

/// A set of models, by what the inventory records about them. Every criterion given must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelScope {
    /// Models carrying this tag.
    pub tagged: Option<String>,
    /// Models whose accountable owner is this.
    pub owned_by: Option<String>,
    /// Models serving this business line.
    pub business_line: Option<String>,
}

/// What a scope is matched against: the model's owner and tags as registered.
#[derive(Debug, Clone, Copy)]
pub struct ModelFacts<'a> {
    /// The model's name (for messages).
    pub name: &'a str,
    /// Its accountable owner.
    pub owner: &'a str,
    /// The business line it serves.
    pub business_line: &'a str,
    /// Its tags.
    pub tags: &'a [String],
}

impl ModelScope {
    /// Whether the model is in the set.
    pub fn covers(&self, model: ModelFacts<'_>) -> bool {
        self.tagged.as_ref().is_none_or(|tag| model.tags.contains(tag))
            && self.owned_by.as_ref().is_none_or(|owner| owner == model.owner)
            && self.business_line.as_ref().is_none_or(|line| line == model.business_line)
    }
}

impl fmt::Display for ModelScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("models")?;
        if let Some(tag) = &self.tagged {
            write!(f, " tagged '{tag}'")?;
        }
        if let Some(owner) = &self.owned_by {
            write!(f, " owned by '{owner}'")?;
        }
        if let Some(line) = &self.business_line {
            write!(f, " of business line '{line}'")?;
        }
        Ok(())
    }
}

/// How a caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// One of Warden's bearer tokens, its own identity.
    Token,
    /// One of Warden's bearer tokens tied to a person of the identity provider: the principal's name is the
    /// person's `issuer|subject`, so what they do through it is theirs.
    PersonalToken {
        /// The token's name.
        token: String,
    },
    /// A JWT of the configured identity provider; the name it gives for people to read.
    Provider {
        /// `name`, `preferred_username`, `email` or the client's id, when the token has one.
        display_name: Option<String>,
    },
    /// A delivery of MLflow's registry webhook, signed with the configured secret; the name is the tracking
    /// server's URL.
    Mlflow,
    /// Warden itself.
    System,
}

/// The name Warden acts under for automatic actions (no token can have it: token names have no parentheses).
const SYSTEM_NAME: &str = "(warden)";

impl Principal {
    /// The holder of one of Warden's bearer tokens.
    pub fn token(name: impl Into<String>, role: Role) -> Principal {
        Principal { name: name.into(), roles: vec![role], scoped: Vec::new(), via: Via::Token }
    }

    /// A caller the identity provider vouched for, with the roles its groups grant over the whole inventory
    /// and over some models.
    pub fn provider(identity: crate::identity::Identity, roles: Vec<Role>, scoped: Vec<ScopedRole>) -> Principal {
        let name = identity.unique_name();
        Principal { name, roles, scoped, via: Via::Provider { display_name: identity.display_name } }
    }

    /// Warden itself, for actions the monitors take without a person.
    pub fn system() -> Principal {
        Principal { name: SYSTEM_NAME.into(), roles: vec![Role::Admin], scoped: Vec::new(), via: Via::System }
    }

    /// The caller acting on one model: the roles held over the whole inventory and those whose scope covers
    /// the model, all then in force; scopes that do not cover it are dropped.
    pub fn for_model(&self, model: ModelFacts<'_>) -> Principal {
        let mut narrowed = self.without_scopes();
        if self.scoped.iter().any(|s| s.scope.covers(model)) {
            let covering: Vec<Role> = self.scoped.iter().filter(|s| s.scope.covers(model)).map(|s| s.role).collect();
            narrowed.roles = Role::ALL.into_iter().filter(|r| self.roles.contains(r) || covering.contains(r)).collect();
        }
        narrowed
    }

    /// The caller with only the roles held over the whole inventory (acting on a model that does not exist).
    pub fn without_scopes(&self) -> Principal {
        Principal { scoped: Vec::new(), ..self.clone() }
    }

    /// Whether one of the caller's roles holds the permission over the whole inventory or over some models
    /// (listing the inventory shows a scoped caller its models; creating one must fall in a scope).
    pub fn holds_somewhere(&self, permission: Permission) -> bool {
        self.role_for(permission).is_some() || self.scoped.iter().any(|s| permission.roles().contains(&s.role))
    }

    /// How the caller appears in audit events and `created_by` fields.
    pub fn actor(&self) -> String {
        match self.via {
            Via::System => "warden".into(),
            Via::Mlflow => format!("mlflow:{}", self.name),
            Via::Token => format!("token:{}", self.name),
            Via::Provider { .. } | Via::PersonalToken { .. } => format!("oidc:{}", self.name),
        }
    }

    /// A name for people to read: the provider's display name, else the unique name.
    pub fn display_name(&self) -> &str {
        match &self.via {
            Via::Provider { display_name: Some(display) } => display,
            Via::PersonalToken { token } => token,
            _ => &self.name,
        }
    }

    /// An audit event of an act by this caller: `actor` is its unique identity, and the payload (an object)
    /// records under `acted_as` the name people read and the roles in force when it acted, so the ledger
    /// entry built over the event vouches for them too.
    pub fn audit_event(
        &self,
        at: Micros,
        action: &str,
        subject: String,
        mut payload: serde_json::Value,
    ) -> AuditEventDraft {
        if let serde_json::Value::Object(fields) = &mut payload {
            let roles: Vec<&str> = self.roles.iter().map(|r| r.as_str()).collect();
            let mut acted_as = json!({ "display_name": self.display_name(), "roles": roles });
            if let Via::PersonalToken { token } = &self.via {
                acted_as["token"] = json!(token);
            }
            fields.insert("acted_as".into(), acted_as);
        }
        AuditEventDraft { at, actor: self.actor(), action: action.into(), subject, payload }
    }

    /// The identity provider that vouched for the caller, when one did.
    pub fn issuer(&self) -> Option<&str> {
        match self.via {
            Via::Provider { .. } => self.name.split_once('|').map(|(issuer, _)| issuer),
            _ => None,
        }
    }

    /// The roles, as `viewer, validator`.
    pub fn roles_text(&self) -> String {
        self.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
    }

    /// The first of the caller's roles holding the permission (the role an act is recorded under).
    pub fn role_for(&self, permission: Permission) -> Option<Role> {
        self.roles.iter().copied().find(|r| permission.roles().contains(r))
    }

    /// `Forbidden` unless one of the caller's roles holds the permission over the whole inventory (or over
    /// the model the caller was narrowed to with [`Principal::for_model`]).
    pub fn require(&self, permission: Permission) -> Result<()> {
        if self.role_for(permission).is_some() {
            return Ok(());
        }
        let allowed: Vec<&str> = permission.roles().iter().map(|r| r.as_str()).collect();
        if let Some(scoped) = self.scoped.iter().find(|s| permission.roles().contains(&s.role)) {
            return Err(Error::Forbidden(format!(
                "role '{}' is granted only over {}, and this needs it over the model acted on or the whole inventory",
                scoped.role, scoped.scope
            )));
        }
        let needs = allowed.join(", ");
        Err(Error::Forbidden(match self.roles.len() {
            0 => format!("no role held here may do this (needs one of: {needs})"),
            1 => format!("role '{}' may not do this (needs one of: {needs})", self.roles[0]),
            _ => format!("roles '{}' may not do this (needs one of: {needs})", self.roles_text()),
        }))
    }

    /// `Forbidden` unless a role holds the permission over the whole inventory or over some models (what
    /// [`Principal::holds_somewhere`] says), with [`Principal::require`]'s reason when none does.
    pub fn require_somewhere(&self, permission: Permission) -> Result<()> {
        if self.holds_somewhere(permission) { Ok(()) } else { self.require(permission) }
    }

    /// The scopes, as `data-scientist over models tagged 'cards'`, one per scoped role.
    pub fn scopes_text(&self) -> Vec<String> {
        self.scoped.iter().map(|s| format!("{} over {}", s.role, s.scope)).collect()
    }
}

/// Equality of secrets that takes the same time wherever the strings differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Startup's own identity in audit events.
const SYSTEM_ACTOR: &str = "system";

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", hex::encode(bytes))
}

fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// How long a resolved token is trusted without a store lookup. Revocation through this process clears the
/// cache at once; the lifetime only bounds how long another process's revocation could take to apply.
const TOKEN_CACHE_LIFETIME: std::time::Duration = std::time::Duration::from_secs(1);

/// Recently resolved tokens (by secret hash), so the scoring path does not read the store per request.
#[derive(Default)]
pub(crate) struct TokenCache {
    entries: std::sync::RwLock<std::collections::HashMap<String, CachedToken>>,
}

struct CachedToken {
    principal: Principal,
    cached: std::time::Instant,
    expires_at: Option<Micros>,
}

impl TokenCache {
    /// The principal of a token resolved less than a second ago that has not expired by `now`.
    fn get(&self, hash: &str, now: Micros) -> Option<Principal> {
        let entries = self.entries.read().expect("token cache lock");
        entries
            .get(hash)
            .filter(|t| t.cached.elapsed() < TOKEN_CACHE_LIFETIME && t.expires_at.is_none_or(|e| now < e))
            .map(|t| t.principal.clone())
    }

    fn put(&self, hash: String, principal: Principal, expires_at: Option<Micros>) {
        let mut entries = self.entries.write().expect("token cache lock");
        if entries.len() > 10_000 {
            entries.retain(|_, t| t.cached.elapsed() < TOKEN_CACHE_LIFETIME);
        }
        entries.insert(hash, CachedToken { principal, cached: std::time::Instant::now(), expires_at });
    }

    fn clear(&self) {
        self.entries.write().expect("token cache lock").clear();
    }
}

/// Resolves a bearer token to its principal: one of Warden's tokens (`wdn_…`), or, when an identity provider
/// is configured, a JWT it signed (roles from its groups; a person whose groups map to no role is
/// `Forbidden`). Unknown, expired and revoked tokens, and JWTs failing a check, are `Unauthenticated` with
/// the check's reason; the message never repeats the secret.
pub async fn authenticate(warden: &Registry, secret: &str) -> Result<Principal> {
    let identity = warden.identity();
    match identity {
        Some((config, verifier)) if !secret.starts_with(TOKEN_PREFIX) => {
            if verifier.refresh_due() {
                // The periodic refresh, off the request's path.
                let verifier = verifier.clone();
                tokio::spawn(async move {
                    if let Some(Err(error)) = verifier.refresh_if_due().await {
                        tracing::warn!(%error, "identity provider keys could not be refreshed");
                    }
                });
            }
            let now = warden.now() / 1_000_000;
            let identity = verifier.verify(secret, now).await.map_err(|refusal| {
                tracing::info!(reason = %refusal, "identity provider token refused");
                Error::Unauthenticated(refusal.to_string())
            })?;
            crate::identity::principal_of(&config, identity)
        }
        Some((config, _)) if !config.oidc.token_login => Err(Error::Unauthenticated(
            "Warden's own tokens are switched off here (token_login = false): use a token of the identity provider"
                .into(),
        )),
        _ => token_principal(warden, secret).await,
    }
}

/// Every secret of Warden's own tokens starts with this.
const TOKEN_PREFIX: &str = "wdn_";

async fn token_principal(warden: &Registry, secret: &str) -> Result<Principal> {
    let hash = secret_hash(secret);
    let now = warden.now();
    if let Some(principal) = warden.tokens.get(&hash, now) {
        return Ok(principal);
    }
    let (principal, expires_at) = lookup(warden, &hash, now).await?;
    warden.tokens.put(hash, principal.clone(), expires_at);
    Ok(principal)
}

async fn lookup(warden: &Registry, hash: &str, now: Micros) -> Result<(Principal, Option<Micros>)> {
    let row = warden.metadata.find_token(hash).await?.ok_or_else(|| Error::Unauthenticated("invalid token".into()))?;
    if row.revoked_at.is_some() {
        return Err(Error::Unauthenticated(format!("token '{}' has been revoked", row.token.name)));
    }
    if row.token.expires_at.is_some_and(|e| e <= now) {
        return Err(Error::Unauthenticated(format!("token '{}' has expired", row.token.name)));
    }
    let role = row
        .token
        .role
        .parse()
        .map_err(|_| Error::Inconsistent(format!("token with unknown role {}", row.token.role)))?;
    let principal = match row.token.subject {
        Some(subject) => Principal {
            name: subject,
            roles: vec![role],
            scoped: Vec::new(),
            via: Via::PersonalToken { token: row.token.name },
        },
        None => Principal::token(row.token.name, role),
    };
    Ok((principal, row.token.expires_at))
}

/// A token as listed (never with its secret).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    /// Creation time.
    pub created_at: Micros,
    /// Creator.
    pub created_by: String,
    /// Revocation time.
    pub revoked_at: Option<Micros>,
    /// Expiry time; `None`: it does not expire.
    pub expires_at: Option<Micros>,
    /// The person (`issuer|subject`) it is tied to, if any.
    pub subject: Option<String>,
}

impl TryFrom<TokenRow> for TokenInfo {
    type Error = Error;
    fn try_from(row: TokenRow) -> Result<Self> {
        Ok(TokenInfo {
            role: row.token.role.parse()?,
            name: row.token.name,
            created_at: row.token.created_at,
            created_by: row.token.created_by,
            revoked_at: row.revoked_at,
            subject: row.token.subject,
            expires_at: row.token.expires_at,
        })
    }
}

/// A newly created token: the only time its secret is seen.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// The token's record.
    pub info: TokenInfo,
    /// The bearer secret.
    pub secret: String,
}

/// Inserts a token; `creator` is `None` for the admin token Warden makes at first start.
async fn insert_token(
    warden: &Registry,
    creator: Option<&Principal>,
    name: &str,
    role: Role,
    secret: &str,
    expires_at: Option<Micros>,
    subject: Option<&str>,
) -> Result<CreatedToken> {
    validate_name("token", name)?;
    let now = warden.now();
    if expires_at.is_some_and(|e| e <= now) {
        return Err(Error::invalid("a token's expiry must be in the future"));
    }
    let (audited, payload) = (
        format!("token/{name}"),
        json!({ "name": name, "role": role.as_str(), "expires_at": expires_at, "subject": subject }),
    );
    let event = match creator {
        Some(caller) => caller.audit_event(now, "token.create", audited, payload),
        None => AuditEventDraft {
            at: now,
            actor: SYSTEM_ACTOR.into(),
            action: "token.create".into(),
            subject: audited,
            payload,
        },
    };
    let token = NewToken {
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        secret_sha256: secret_hash(secret),
        created_at: now,
        created_by: event.actor.clone(),
        expires_at,
        subject: subject.map(str::to_owned),
    };
    let row = warden.metadata.create_token(token, event).await?;
    Ok(CreatedToken { info: row.try_into()?, secret: secret.to_owned() })
}

/// Creates a token with a role, valid until `expires_at` when given; tied to a person of the identity
/// provider when `subject` (`issuer|subject`) is given, so that acts through it are that person's.
pub async fn create_token(
    warden: &Registry,
    caller: &Principal,
    name: &str,
    role: Role,
    expires_at: Option<Micros>,
    subject: Option<&str>,
) -> Result<CreatedToken> {
    caller.require(Permission::ManageTokens)?;
    if let Some(subject) = subject {
        let config = warden.identity().map(|(config, _)| config);
        let issuer = config.as_ref().map(|config| config.oidc.issuer.as_str());
        let ok = issuer.is_some_and(|issuer| {
            subject.strip_prefix(issuer).and_then(|rest| rest.strip_prefix('|')).is_some_and(|sub| !sub.is_empty())
        });
        if !ok {
            return Err(Error::invalid(match issuer {
                Some(issuer) => format!("a token can be tied only to a person of {issuer}: '{issuer}|SUBJECT'"),
                None => "a token can be tied to a person only when an identity provider is configured".into(),
            }));
        }
        crate::text::check("subject", subject, crate::text::SHORT, crate::text::Lines::One)?;
    }
    insert_token(warden, Some(caller), name, role, &new_secret(), expires_at, subject).await
}

/// Lists every token, revoked ones included.
pub async fn list_tokens(warden: &Registry, caller: &Principal) -> Result<Vec<TokenInfo>> {
    caller.require(Permission::ManageTokens)?;
    warden.metadata.list_tokens().await?.into_iter().map(TokenInfo::try_from).collect()
}

/// Revokes a token by name; it stops working at once.
pub async fn revoke_token(warden: &Registry, caller: &Principal, name: &str) -> Result<TokenInfo> {
    caller.require(Permission::ManageTokens)?;
    let now = warden.now();
    let audit = caller.audit_event(now, "token.revoke", format!("token/{name}"), json!({ "name": name }));
    let revoked = warden.metadata.revoke_token(name, now, &caller.actor(), audit).await?.try_into();
    warden.tokens.clear();
    revoked
}

/// Name of the admin token file in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// On first start (no token ever created) creates the `admin` token and writes its secret to a 0600 file.
pub async fn bootstrap_admin_token(warden: &Registry) -> Result<Option<PathBuf>> {
    if warden.metadata.count_tokens().await? > 0 {
        return Ok(None);
    }
    let secret = new_secret();
    let path = warden.data_dir().join(ADMIN_TOKEN_FILE);
    // The file is written before the token exists, so a crash in between never leaves an admin token
    // nobody can read; a stale file is simply overwritten on the next start.
    write_private_file(&path, &format!("{secret}\n"))?;
    match insert_token(warden, None, "admin", Role::Admin, &secret, None, None).await {
        Ok(_) => Ok(Some(path)),
        // Another replica sharing the database made the first admin token at the same moment.
        Err(Error::Conflict(_)) => {
            let _ = std::fs::remove_file(&path);
            Ok(None)
        }
        Err(err) => Err(err),
    }
}

/// A 32-byte key kept as hex: read from `given`, else from `default`, which is made (random, mode 0600) when it
/// does not exist yet. `what` names the key in errors ("ledger key", "personal data key").
pub fn read_or_make_key(default: &std::path::Path, given: Option<&std::path::Path>, what: &str) -> Result<[u8; 32]> {
    let path = given.unwrap_or(default);
    if !path.exists() {
        if path != default {
            return Err(Error::invalid(format!("{what} file {} does not exist", path.display())));
        }
        let secret: [u8; 32] = rand::random();
        write_private_file(path, &format!("{}\n", hex::encode(secret)))?;
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(format!("cannot read the {what} {}", path.display()), e))?;
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| Error::invalid(format!("{what} {} is not 32 bytes of hex", path.display())))
}

pub fn write_private_file(path: &std::path::Path, contents: &str) -> Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let staging = path.with_extension("tmp");
    let _ = std::fs::remove_file(&staging);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    let write = || -> std::io::Result<()> {
        let mut file = options.open(&staging)?;
        file.write_all(contents.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&staging, path)
    };
    write().map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_of_secrets_is_exact() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd") && !same("abc", "ab") && !same("", "a"));
    }

    #[test]
    fn a_scoped_role_counts_only_on_the_models_its_scope_covers() {
        let cards = ModelScope { tagged: Some("cards".into()), ..ModelScope::default() };
        let caller = Principal {
            name: "idp|ana".into(),
            roles: vec![Role::Viewer],
            scoped: vec![ScopedRole { role: Role::DataScientist, scope: cards }],
            via: Via::Token,
        };
        let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (card_tags, fraud_tags) = (tags(&["cards", "eu"]), tags(&["fraud"]));
        let card_model =
            ModelFacts { name: "card-limit", owner: "cards-team", business_line: "cards", tags: &card_tags };
        let fraud_model =
            ModelFacts { name: "fraud", owner: "fraud-team", business_line: "payments", tags: &fraud_tags };

        let refused = caller.require(Permission::WriteRegistry).unwrap_err().to_string();
        assert!(refused.contains("only over models tagged 'cards'"), "{refused}");
        assert!(caller.holds_somewhere(Permission::WriteRegistry));
        assert!(!caller.holds_somewhere(Permission::Approve));

        let on_cards = caller.for_model(card_model);
        assert_eq!(on_cards.roles, [Role::Viewer, Role::DataScientist]);
        assert!(on_cards.require(Permission::Promote).is_ok());
        let on_fraud = caller.for_model(fraud_model);
        assert_eq!(on_fraud.roles, [Role::Viewer]);
        assert!(on_fraud.require(Permission::ReadRegistry).is_ok());
        assert!(on_fraud.require(Permission::Promote).is_err());
        assert!(on_fraud.scoped.is_empty() && on_cards.scoped.is_empty(), "a narrowed caller cannot be narrowed again");

        let owned =
            ModelScope { tagged: Some("cards".into()), owned_by: Some("cards-team".into()), business_line: None };
        assert!(owned.covers(card_model));
        assert!(
            !ModelScope { owned_by: Some("risk".into()), ..owned.clone() }.covers(card_model),
            "every criterion holds"
        );
        let line = ModelScope { business_line: Some("payments".into()), ..ModelScope::default() };
        assert!(line.covers(fraud_model) && !line.covers(card_model));
        assert_eq!(line.to_string(), "models of business line 'payments'");
    }

    #[test]
    fn permissions_follow_separation_of_duties() {
        let viewer = Principal::token("v", Role::Viewer);
        let scientist = Principal::token("d", Role::DataScientist);
        let admin = Principal::token("a", Role::Admin);
        assert!(viewer.require(Permission::ReadRegistry).is_ok());
        assert!(matches!(viewer.require(Permission::WriteRegistry), Err(Error::Forbidden(_))));
        assert!(scientist.require(Permission::WriteRegistry).is_ok());
        assert!(matches!(scientist.require(Permission::ManageTokens), Err(Error::Forbidden(_))));
        assert!(matches!(scientist.require(Permission::ReadAudit), Err(Error::Forbidden(_))));
        for permission in [Permission::ReadRegistry, Permission::WriteRegistry, Permission::ManageTokens] {
            assert!(admin.require(permission).is_ok());
        }
    }

    #[test]
    fn roles_round_trip_and_unknown_roles_are_rejected() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!(matches!("root".parse::<Role>(), Err(Error::Invalid { .. })));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), a);
    }
}
