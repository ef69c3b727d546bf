//! The organisation's inventory fields and each model's materiality tier.
//!
//! A risk officer puts a JSON Schema in force (`warden inventory fields put`): an object schema whose
//! `properties` are the fields the organisation records for every model (business line, legal entity, intended
//! use, exposure, regulatory scope...). A model's values are validated against it on every write: a field the
//! schema does not define, or a value it does not allow, is refused naming the field, and nothing is stored.
//! A property carrying `"x-warden-material": true` is a material change when its value changes: the model
//! shows "revalidation required" until the version it serves is validated again.
//!
//! The tier follows the fields: the policy bundle's tiering rules (package `warden.tiering`) compute it, with
//! their reasons, on every write of the fields and when a bundle is put in force; when they decide nothing,
//! the model has the tier declared at its registration. A tier goes down only by the second line: a field
//! write by someone who may not override tiers raises the tier but never lowers it (the lower computed tier
//! shows beside it until a risk officer applies it). A risk officer may override the tier with a reason, and
//! go back to the rules. Every tier change is an audited write carrying from, to, basis and reasons; in the
//! same transaction, the model's monitors still on the old tier's defaults take the new tier's (a monitor
//! someone tuned meanwhile makes the change fail, to be tried again). The tier then drives the gate's approvals
//! and thresholds, the revalidation and attestation frequencies, and four-eyes retirement, all of which read it.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};
use warden_core::{RiskTier, TierBasis};
use warden_registry::auth::{Permission, Principal};
use warden_registry::registry::{self, audit};
use warden_registry::text::{self, Lines};
use warden_store::metadata::{AuditEventDraft, InventorySchemaRow, ModelInventory, ModelRow};

use crate::{Error, Oversight, Result};

/// Largest inventory schema accepted, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 64 << 10;
/// Most properties a schema defines.
pub const MAX_PROPERTIES: usize = 200;
/// Most JSON values (objects, arrays, scalars) a schema holds, and its deepest nesting.
pub const MAX_SCHEMA_NODES: usize = 5_000;
pub const MAX_SCHEMA_DEPTH: usize = 32;
/// Largest set of one model's fields, as JSON text.
pub const MAX_FIELDS_BYTES: usize = 16 << 10;
/// Most validation errors reported for one write.
const MAX_REPORTED_ERRORS: usize = 20;
/// Most field filters one inventory query holds.
pub const MAX_FIELD_FILTERS: usize = 32;
/// Largest compiled regular expression (and lazy-DFA cache) a `pattern` may take.
const MAX_PATTERN_BYTES: usize = 1 << 20;
/// The property keyword marking a field whose change is material.
pub const MATERIAL: &str = "x-warden-material";
/// Keywords refused in a schema: references can make validation exponential (a chain of definitions each
/// referring twice to the one before) and deep enough to exhaust the stack, and `jsonschema` compiles the
/// `patternProperties` under `unevaluated*` with a backtracking engine whatever the pattern options say.
const REFUSED_KEYWORDS: &[&str] =
    &["$ref", "$dynamicRef", "$recursiveRef", "unevaluatedProperties", "unevaluatedItems"];

/// The inventory schema in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventorySchema {
    /// 1, 2, ... in the order they were put in force.
    pub number: i64,
    /// The JSON Schema.
    pub schema: Value,
    /// Its fields, by name.
    pub fields: Vec<String>,
    /// The fields whose change is material.
    pub material: Vec<String>,
    pub put_by: String,
    /// When (µs).
    pub put_at: i64,
}

/// A compiled schema: its validator and its fields.
struct Compiled {
    validator: jsonschema::Validator,
    fields: Vec<String>,
    material: Vec<String>,
}

/// Checks the shape and budget of a schema and compiles it. Nothing is resolved outside the schema (the crate
/// is built without its HTTP and file resolvers, and references are refused), and patterns run on the
/// linear-time `regex` engine within a size limit, so validation is linear in the schema and the fields.
fn compile(schema: &Value) -> Result<Compiled> {
    let size = schema.to_string().len();
    if size > MAX_SCHEMA_BYTES {
        return Err(Error::invalid(format!("the inventory schema is {size} bytes; the limit is {MAX_SCHEMA_BYTES}")));
    }
    check_schema_budget(schema)?;
    let Some(object) = schema.as_object() else {
        return Err(Error::invalid("the inventory schema must be a JSON object (a JSON Schema)"));
    };
    if object.get("type") != Some(&json!("object")) {
        return Err(Error::invalid("schema.type: the inventory schema must describe an object (\"type\": \"object\")"));
    }
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return Err(Error::invalid("schema.properties: the inventory schema must define its fields in \"properties\""));
    };
    if properties.is_empty() || properties.len() > MAX_PROPERTIES {
        return Err(Error::invalid(format!(
            "schema.properties: the inventory schema defines {} fields; it needs 1 to {MAX_PROPERTIES}",
            properties.len()
        )));
    }
    let mut material = Vec::new();
    for (name, property) in properties {
        registry::validate_name("inventory field", name)
            .map_err(|e| Error::invalid(format!("schema.properties: {e}")))?;
        match property.get(MATERIAL) {
            None | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => material.push(name.clone()),
            Some(other) => {
                return Err(Error::invalid(format!(
                    "schema.properties.{name}.{MATERIAL}: must be true or false, not {other}"
                )));
            }
        }
    }
    let patterns = jsonschema::PatternOptions::regex().size_limit(MAX_PATTERN_BYTES).dfa_size_limit(MAX_PATTERN_BYTES);
    let validator = jsonschema::options()
        .with_pattern_options(patterns)
        .build(schema)
        .map_err(|e| Error::invalid(format!("the inventory schema is not a valid JSON Schema: {e}")))?;
    Ok(Compiled { validator, fields: properties.keys().cloned().collect(), material })
}

/// Walks the schema (an explicit stack: no recursion) counting its values and their depth, refusing the
/// keywords in [`REFUSED_KEYWORDS`] and naming where they stand.
fn check_schema_budget(schema: &Value) -> Result<()> {
    let mut stack = vec![(schema, 1usize, String::from("schema"))];
    let mut nodes = 0usize;
    while let Some((value, depth, at)) = stack.pop() {
        nodes += 1;
        if nodes > MAX_SCHEMA_NODES {
            return Err(Error::invalid(format!("the inventory schema holds more than {MAX_SCHEMA_NODES} values")));
        }
        if depth > MAX_SCHEMA_DEPTH {
            return Err(Error::invalid(format!(
                "{at}: the inventory schema nests deeper than {MAX_SCHEMA_DEPTH} levels"
            )));
        }
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    if REFUSED_KEYWORDS.contains(&key.as_str()) {
                        return Err(Error::invalid(format!(
                            "{at}.{key}: the inventory schema may not use {key} (refused: {})",
                            REFUSED_KEYWORDS.join(", ")
                        )));
                    }
                    stack.push((inner, depth + 1, format!("{at}.{key}")));
                }
            }
            Value::Array(items) => {
                stack.extend(items.iter().enumerate().map(|(i, inner)| (inner, depth + 1, format!("{at}[{i}]"))));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuses text a person could not read as written (control or bidirectional characters), anywhere in a
/// field's value, naming the field.
fn check_texts(fields: &Map<String, Value>) -> Result<()> {
    for (name, value) in fields {
        let mut stack = vec![value];
        while let Some(value) = stack.pop() {
            match value {
                Value::String(s) => text::check(&format!("inventory field '{name}'"), s, text::LONG, Lines::Many)?,
                Value::Array(items) => stack.extend(items),
                Value::Object(map) => stack.extend(map.values()),
                _ => {}
            }
        }
    }
    Ok(())
}

impl Compiled {
    /// Refuses fields the schema does not define and values it does not allow, naming each field.
    fn check(&self, fields: &Map<String, Value>) -> Result<()> {
        let size = Value::Object(fields.clone()).to_string().len();
        if size > MAX_FIELDS_BYTES {
            return Err(Error::invalid(format!(
                "the inventory fields are {size} bytes; the limit is {MAX_FIELDS_BYTES}"
            )));
        }
        check_texts(fields)?;
        let mut errors: Vec<Value> = fields
            .keys()
            .filter(|name| !self.fields.contains(name))
            .map(|name| {
                json!({ "field": name, "message": format!(
                    "unknown inventory field '{name}' (the schema in force defines: {})", self.fields.join(", ")
                ) })
            })
            .collect();
        let instance = Value::Object(fields.clone());
        for error in self.validator.iter_errors(&instance).take(MAX_REPORTED_ERRORS) {
            let path = error.instance_path().to_string();
            let field = path.trim_start_matches('/').replace('/', ".");
            let message =
                if field.is_empty() { error.to_string() } else { format!("inventory field '{field}': {error}") };
            errors.push(json!({ "field": field, "message": message }));
        }
        match errors.first() {
            None => Ok(()),
            Some(first) => {
                let message = first["message"].as_str().unwrap_or_default().to_owned();
                let more = if errors.len() > 1 { format!(" (and {} more)", errors.len() - 1) } else { String::new() };
                Err(Error::invalid_with(format!("{message}{more}"), json!({ "errors": errors })))
            }
        }
    }
}

impl InventorySchema {
    fn from_row(row: InventorySchemaRow, compiled: &Compiled) -> Self {
        InventorySchema {
            number: row.number,
            schema: row.schema,
            fields: compiled.fields.clone(),
            material: compiled.material.clone(),
            put_by: row.put_by,
            put_at: row.put_at,
        }
    }
}

/// Puts `schema` in force. Models keep their values; a value the new schema no longer allows shows in the
/// inventory as out of schema, and the model's next write must bring it in.
pub async fn put_schema(warden: &Oversight, caller: &Principal, schema: Value) -> Result<InventorySchema> {
    caller.require(Permission::ManageInventorySchema)?;
    let compiled = compile(&schema)?;
    let event = audit(warden, caller, "inventory.schema_put", "inventory/schema".into(), json!({ "schema": schema }));
    let row = warden.metadata.put_inventory_schema(&schema, &caller.actor(), warden.now(), event).await?;
    Ok(InventorySchema::from_row(row, &compiled))
}

/// The schema in force, if one was put.
pub async fn schema(warden: &Oversight, caller: &Principal) -> Result<Option<InventorySchema>> {
    caller.require_somewhere(Permission::ReadRegistry)?;
    Ok(in_force(warden).await?.map(|(row, compiled)| InventorySchema::from_row(row, &compiled)))
}

async fn in_force(warden: &Oversight) -> Result<Option<(InventorySchemaRow, Compiled)>> {
    let Some(row) = warden.metadata.inventory_schema().await? else { return Ok(None) };
    let compiled = compile(&row.schema)
        .map_err(|e| Error::Inconsistent(format!("stored inventory schema {}: {e}", row.number)))?;
    Ok(Some((row, compiled)))
}

/// Whether `fields` are valid against the schema in force: `None` when they are (or no schema is in force),
/// else the first reason they are not (a schema put after they were written).
pub(crate) fn out_of_schema(schema: Option<&InventorySchemaChecker>, fields: &Value) -> Option<String> {
    let (schema, fields) = (schema?, fields.as_object()?);
    schema.0.check(fields).err().map(|e| e.to_string())
}

/// The schema in force, compiled once for checking many models' fields.
pub struct InventorySchemaChecker(Compiled);

/// The schema in force compiled for [`out_of_schema`], if one was put.
pub(crate) async fn checker(warden: &Oversight) -> Result<Option<InventorySchemaChecker>> {
    Ok(in_force(warden).await?.map(|(_, compiled)| InventorySchemaChecker(compiled)))
}

/// A model's tier: what applies, how it was set, and what the tiering rules in force compute now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelTier {
    pub model: String,
    /// The tier in force.
    pub tier: RiskTier,
    pub basis: TierBasis,
    /// The tiering rules' reasons, or the override's reason.
    pub reasons: Vec<String>,
    /// Who set it and when (µs); `None`: as registered.
    pub set_by: Option<String>,
    pub set_at: Option<i64>,
    /// What the bundle in force computes from the fields now (`None`: its rules decide nothing for them, or
    /// fail: `computed_error` says why).
    pub computed: Option<Computed>,
    pub computed_error: Option<String>,
    /// The model's inventory fields.
    pub fields: Value,
    /// The latest change to a material field (µs), and what changed.
    pub material_change_at: Option<i64>,
    pub material_change: Option<String>,
}

/// A tier the tiering rules computed, with their reasons.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Computed {
    pub tier: RiskTier,
    pub reasons: Vec<String>,
    /// The policy bundle whose rules computed it.
    pub bundle: i64,
}

/// What the rules computed, or why they failed.
type Computation = std::result::Result<Option<Computed>, String>;

/// A tier, how it is set, and why.
type Next = (RiskTier, TierBasis, Vec<String>);

/// What the tiering rules of the bundle in force compute for `row` with `fields`, with that bundle's number.
async fn compute(warden: &Oversight, row: &ModelRow, fields: &Value) -> Result<(i64, Computation)> {
    let (bundle, gate) = crate::governance::gate_in_force(warden).await?;
    let computed = tiering_of(&mut gate.lock().expect("gate lock"), row, fields);
    let computed = computed
        .map(|c| c.map(|(tier, reasons)| Computed { tier, reasons, bundle: bundle.number }))
        .map_err(|why| format!("policy bundle {}: {why}", bundle.number));
    Ok((bundle.number, computed))
}

/// What `gate`'s tiering rules compute for `row` with `fields`, or why they cannot.
pub(crate) fn tiering_of(
    gate: &mut warden_policy::Gate,
    row: &ModelRow,
    fields: &Value,
) -> std::result::Result<Option<(RiskTier, Vec<String>)>, String> {
    let m = &row.model;
    let input = json!({ "model": {
        "name": m.name, "owner": m.owner, "use_case": m.use_case, "business_line": m.business_line,
        "tags": m.tags, "fields": fields,
    } });
    let Some(tiering) = gate.tiering(&input).map_err(|e| e.to_string())? else { return Ok(None) };
    let tier = tiering.tier.parse().map_err(|e| format!("tiering of model '{}': {e}", m.name))?;
    Ok(Some((tier, tiering.reasons)))
}

fn stored_tier(row: &ModelRow) -> Result<(RiskTier, TierBasis)> {
    let corrupt = |e: warden_core::UnknownValue| Error::Inconsistent(format!("stored model {}: {e}", row.model.name));
    Ok((row.model.risk_tier.parse().map_err(corrupt)?, row.inventory.tier_basis.parse().map_err(corrupt)?))
}

/// The tier a model has when its rules decide `computed`: theirs, else the one declared at registration.
fn following_the_rules(row: &ModelRow, computed: Option<&Computed>) -> Result<Next> {
    Ok(match computed {
        Some(c) => (c.tier, TierBasis::Computed, c.reasons.clone()),
        None => {
            let declared = row.inventory.declared_tier.parse().map_err(|e: warden_core::UnknownValue| {
                Error::Inconsistent(format!("stored model {}: declared {e}", row.model.name))
            })?;
            (declared, TierBasis::Declared, vec!["the tiering rules decide nothing for its fields".into()])
        }
    })
}

/// Whether `to` is less material than `from` (the closed set runs high, medium, low).
fn lowers(from: RiskTier, to: RiskTier) -> bool {
    to > from
}

fn view(row: &ModelRow, computed: Computation) -> Result<ModelTier> {
    let (tier, basis) = stored_tier(row)?;
    let inventory = &row.inventory;
    let (computed, computed_error) = match computed {
        Ok(computed) => (computed, None),
        Err(why) => (None, Some(why)),
    };
    Ok(ModelTier {
        model: row.model.name.clone(),
        tier,
        basis,
        reasons: inventory.tier_reasons.clone(),
        set_by: inventory.tier_set_by.clone(),
        set_at: inventory.tier_set_at,
        computed,
        computed_error,
        fields: inventory.fields.clone(),
        material_change_at: inventory.material_change_at,
        material_change: inventory.material_change.clone(),
    })
}

/// A model's tier and fields.
pub async fn tier(warden: &Oversight, caller: &Principal, model: &str) -> Result<ModelTier> {
    let row = readable_row(warden, caller, model).await?;
    let (_, computed) = compute(warden, &row, &row.inventory.fields).await?;
    view(&row, computed)
}

async fn model_row(warden: &Oversight, model: &str) -> Result<ModelRow> {
    warden.metadata.get_model(model).await?.ok_or_else(|| Error::NotFound(format!("model '{model}' not found")))
}

/// The model's stored row for a caller who may read the registry (what `registry::get_model` checks), read once.
async fn readable_row(warden: &Oversight, caller: &Principal, model: &str) -> Result<ModelRow> {
    caller.require(Permission::ReadRegistry)?;
    model_row(warden, model).await
}

/// What a write of a model's fields changes: values to set, fields to remove.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsChange {
    #[serde(default)]
    pub set: Map<String, Value>,
    #[serde(default)]
    pub unset: Vec<String>,
}

/// Writes a model's inventory fields, validated against the schema in force, and moves its tier as the
/// tiering rules compute it: unless it is overridden, and downwards only for a caller who may override tiers.
pub async fn set_fields(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    change: FieldsChange,
) -> Result<ModelTier> {
    caller.require(Permission::EditInventoryFields)?;
    let row = readable_row(warden, caller, model).await?;
    registry::refuse_if_retired(&row)?;
    if change.set.is_empty() && change.unset.is_empty() {
        return Err(Error::invalid("nothing to change: give fields to set or to unset"));
    }
    let Some((schema, compiled)) = in_force(warden).await? else {
        return Err(Error::invalid(
            "no inventory schema is in force: a risk officer puts one first (warden inventory fields put)",
        ));
    };
    if let Some(both) = change.unset.iter().find(|name| change.set.contains_key(*name)) {
        return Err(Error::invalid(format!("inventory field '{both}' is both set and unset")));
    }
    let before = row.inventory.fields.as_object().cloned().unwrap_or_default();
    let mut fields = before.clone();
    for name in &change.unset {
        if fields.remove(name).is_none() {
            return Err(Error::invalid(format!("inventory field '{name}' has no value to unset")));
        }
    }
    fields.extend(change.set.clone());
    compiled.check(&fields)?;
    let now = warden.now();
    let changed: Vec<&String> =
        compiled.material.iter().filter(|name| before.get(*name) != fields.get(*name)).collect();
    let mut inventory = row.inventory.clone();
    if !changed.is_empty() {
        let what = changed
            .iter()
            .map(|name| format!("{name}: {} → {}", shown(before.get(*name)), shown(fields.get(*name))))
            .collect::<Vec<_>>()
            .join("; ");
        inventory.material_change_at = Some(now);
        inventory.material_change = Some(format!("material inventory field changed ({what})"));
    }
    let fields = Value::Object(fields);
    inventory.fields = fields.clone();
    let (bundle, computed) = compute(warden, &row, &fields).await?;
    let computed = computed.map_err(|why| {
        Error::invalid(format!("the policy's tiering rules fail for these fields ({why}); nothing was stored"))
    })?;
    let event = audit(
        warden,
        caller,
        "model.fields",
        format!("model/{model}"),
        json!({
            "set": change.set, "unset": change.unset, "fields": fields, "schema": schema.number,
            "material_change": (!changed.is_empty()).then(|| inventory.material_change.clone()),
        }),
    );
    let current = stored_tier(&row)?;
    // An override holds; a lower tier waits for someone who may override tiers.
    let next = match current.1 {
        TierBasis::Override => None,
        _ => Some(following_the_rules(&row, computed.as_ref())?)
            .filter(|next| !lowers(current.0, next.0) || caller.require(Permission::OverrideTier).is_ok()),
    };
    let written = apply(warden, caller, &row, inventory, current, next, Some(bundle), vec![event]).await?;
    view(&written, Ok(computed))
}

fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "(none)".into(), Value::to_string)
}

/// Overrides the model's tier for `reason`, or (`None`) follows the rules again: the tier they compute (a lower
/// one a field write could not apply included), or the declared one when they decide nothing.
pub async fn override_tier(
    warden: &Oversight,
    caller: &Principal,
    model: &str,
    to: Option<RiskTier>,
    reason: &str,
) -> Result<ModelTier> {
    caller.require(Permission::OverrideTier)?;
    text::check("reason", reason, text::LONG, Lines::Many)?;
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason: a tier override needs a reason"));
    }
    let row = readable_row(warden, caller, model).await?;
    registry::refuse_if_retired(&row)?;
    let current = stored_tier(&row)?;
    let (bundle, computed) = compute(warden, &row, &row.inventory.fields).await?;
    let (next, bundle) = match to {
        Some(tier) => ((tier, TierBasis::Override, vec![reason.to_owned()]), None),
        None => {
            let rules = computed.as_ref().map_err(|why| {
                Error::invalid(format!("the policy's tiering rules fail for this model's fields ({why})"))
            })?;
            let mut next = following_the_rules(&row, rules.as_ref())?;
            if (next.0, next.1) == (current.0, current.1) {
                return Err(Error::Conflict(format!("model '{model}''s tier already follows the rules")));
            }
            next.2.push(format!("applied by {}: {reason}", caller.actor()));
            (next, Some(bundle))
        }
    };
    let written = apply(warden, caller, &row, row.inventory.clone(), current, Some(next), bundle, Vec::new()).await?;
    view(&written, computed)
}

/// After bundle `bundle` is put in force: every model in service whose tier is not overridden takes the tier
/// its rules compute (`computed`, by model, worked out before the bundle went in force), or its declared tier
/// when they decide nothing. A model changed meanwhile is read and computed again; one that still cannot be
/// written is logged and left for its next change. Returns the models whose tier moved.
pub(crate) async fn retier_all(
    warden: &Oversight,
    caller: &Principal,
    bundle: i64,
    mut computed: HashMap<String, Option<(RiskTier, Vec<String>)>>,
) -> Vec<String> {
    let mut moved = Vec::new();
    let mut names: Vec<String> = computed.keys().cloned().collect();
    names.sort();
    for name in names {
        let mut precomputed = computed.remove(&name);
        for attempt in 1..=3 {
            match retier(warden, caller, &name, bundle, precomputed.take()).await {
                Ok(true) => moved.push(name.clone()),
                Ok(false) => {}
                Err(Error::Conflict(_)) if attempt < 3 => continue,
                Err(error) => tracing::error!(model = %name, %error, "re-tiering under the new policy bundle failed"),
            }
            break;
        }
    }
    moved
}

/// One model's re-tiering under bundle `bundle`: with its precomputed tier, else computed now.
async fn retier(
    warden: &Oversight,
    caller: &Principal,
    name: &str,
    bundle: i64,
    precomputed: Option<Option<(RiskTier, Vec<String>)>>,
) -> Result<bool> {
    let row = model_row(warden, name).await?;
    let current = stored_tier(&row)?;
    if current.1 == TierBasis::Override || row.retirement.retired_at.is_some() {
        return Ok(false);
    }
    let computed = match precomputed {
        Some(computed) => computed.map(|(tier, reasons)| Computed { tier, reasons, bundle }),
        None => compute(warden, &row, &row.inventory.fields).await?.1.map_err(Error::invalid)?,
    };
    let next = following_the_rules(&row, computed.as_ref())?;
    if (next.0, next.1, &next.2) == (current.0, current.1, &row.inventory.tier_reasons) {
        return Ok(false);
    }
    apply(warden, caller, &row, row.inventory.clone(), current, Some(next), Some(bundle), Vec::new()).await?;
    Ok(true)
}

/// Writes `inventory` and, when `next` differs from `current`, the new tier with its `model.tier` event and
/// the model's monitors retuned from the old tier's defaults to the new one's, all in one transaction; with
/// `bundle`, only while that policy bundle is in force.
#[allow(clippy::too_many_arguments)]
async fn apply(
    warden: &Oversight,
    caller: &Principal,
    row: &ModelRow,
    mut inventory: ModelInventory,
    current: (RiskTier, TierBasis),
    next: Option<Next>,
    bundle: Option<i64>,
    mut events: Vec<AuditEventDraft>,
) -> Result<ModelRow> {
    let model = &row.model.name;
    let mut tier = current.0;
    let mut monitors = Vec::new();
    if let Some((to, basis, reasons)) = next
        && (to, basis, &reasons) != (current.0, current.1, &row.inventory.tier_reasons)
    {
        let now = warden.now();
        if to != current.0 {
            monitors = crate::monitoring::retuned_for_tier(warden, model, current.0, to, now, &caller.actor()).await?;
        }
        events.push(audit(
            warden,
            caller,
            "model.tier",
            format!("model/{model}"),
            json!({
                "from": current.0, "to": to, "from_basis": current.1, "basis": basis, "reasons": reasons,
                "monitors_retuned": monitors.iter().map(|m| &m.monitor.name).collect::<Vec<_>>(),
            }),
        ));
        for retune in &monitors {
            events.push(audit(
                warden,
                caller,
                "monitor.default",
                format!("model/{model}/monitor/{}", retune.monitor.name),
                json!({
                    "kind": retune.monitor.kind, "config": retune.monitor.config, "enabled": retune.monitor.enabled,
                    "tier": to,
                }),
            ));
        }
        let lowered_from = inventory.tier_lowered_from.as_deref().and_then(|t| t.parse::<RiskTier>().ok());
        inventory.tier_lowered_from = if lowers(current.0, to) {
            // The most material tier it was lowered from, across successive lowerings.
            Some(lowered_from.map_or(current.0, |before| before.min(current.0)).as_str().to_owned())
        } else if lowered_from.is_some_and(|before| to <= before) {
            None
        } else {
            inventory.tier_lowered_from.clone()
        };
        tier = to;
        inventory.tier_basis = basis.as_str().into();
        inventory.tier_reasons = reasons;
        inventory.tier_set_by = Some(caller.actor());
        inventory.tier_set_at = Some(now);
    }
    if events.is_empty() {
        return Ok(row.clone());
    }
    Ok(warden.metadata.update_model_inventory(model, tier.as_str(), &inventory, bundle, &monitors, &events).await?)
}
