//! `warden inventory` (the list, filtered by fields, text and tier; `fields put|show`, the organisation's
//! schema) and `warden model fields|tier` (a model's values and its materiality tier).

use anyhow::Context;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::cli::{Connection, InventoryArgs, InventoryCommand, InventoryFieldsCommand};
use crate::client::{Client, encode};
use crate::render::{self, Cell, cell, fields, table};
use warden_api_types as api;

pub(crate) async fn inventory(args: InventoryArgs) -> anyhow::Result<()> {
    if let Some(InventoryCommand::Fields(command)) = args.command {
        return schema(command).await;
    }
    let mut query = Vec::new();
    if !args.filters.is_empty() {
        if let Some((name, value)) = args.filters.iter().find(|(name, value)| format!("{name}{value}").contains(';')) {
            anyhow::bail!("--where {name}={value}: a filter cannot hold ';'");
        }
        let pairs: Vec<String> = args.filters.iter().map(|(name, value)| format!("{name}={value}")).collect();
        query.push(format!("where={}", encode(&pairs.join(";"))));
    }
    if let Some(text) = &args.search {
        query.push(format!("q={}", encode(text)));
    }
    if let Some(tier) = &args.tier {
        let tier: api::RiskTier = tier.parse().with_context(|| format!("--tier {tier}"))?;
        query.push(format!("tier={}", tier.as_str()));
    }
    let path = if query.is_empty() { "/v1/inventory".to_owned() } else { format!("/v1/inventory?{}", query.join("&")) };
    let lines: Vec<api::InventoryLineBody> = Client::new(&args.connection)?.get_as(&path).await?;
    if args.json {
        render::json(&lines);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let challengers: Vec<String> =
                l.challengers.iter().map(|api::Challenger(alias, version)| format!("{alias}:{version}")).collect();
            let validation = match &l.last_validation {
                Some(v) => format!("v{} AUC {}", v.version, v.auc.map_or("-".into(), |a| format!("{a:.3}"))),
                None => "-".into(),
            };
            let policy = match &l.policy {
                Some(p) => format!("{} v{}", if p.allowed { "allowed" } else { "denied" }, p.version),
                None => "-".into(),
            };
            let tier = match l.tier_basis {
                api::TierBasis::Declared => l.risk_tier.cell(),
                basis => format!("{} ({})", l.risk_tier.cell(), basis.as_str()),
            };
            vec![
                l.name.cell(),
                tier,
                l.owner.cell(),
                l.champion.map_or("-".into(), |v| v.to_string()),
                challengers.join(" "),
                validation,
                policy,
                format!("{}/{}", l.open_alerts, l.open_incidents),
                field_pairs(&l.fields),
            ]
        })
        .collect();
    table(
        &[
            "MODEL",
            "TIER",
            "OWNER",
            "CHAMPION",
            "CHALLENGERS",
            "LAST VALIDATION",
            "POLICY",
            "ALERTS/INCIDENTS",
            "FIELDS",
        ],
        &rows,
    );
    Ok(())
}

/// `name=value` pairs, in the fields' order.
fn field_pairs(fields: &Value) -> String {
    let pairs = fields.as_object().into_iter().flatten().map(|(name, value)| format!("{name}={}", cell(value)));
    let text = pairs.collect::<Vec<_>>().join(" ");
    if text.is_empty() { "-".into() } else { text }
}

async fn schema(command: InventoryFieldsCommand) -> anyhow::Result<()> {
    let (schema, json): (api::InventorySchemaBody, bool) = match command {
        InventoryFieldsCommand::Put { file, connection, json } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let schema: Value =
                serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
            (Client::new(&connection)?.json_as(Method::PUT, "/v1/inventory/fields", &schema).await?, json)
        }
        InventoryFieldsCommand::Show { connection, json } => {
            (Client::new(&connection)?.get_as("/v1/inventory/fields").await?, json)
        }
    };
    if json {
        render::json(&schema);
        return Ok(());
    }
    fields(&[
        ("schema", format!("{} (put by {} at {})", schema.number, schema.put_by, render::micros_time(schema.put_at))),
        ("fields", schema.fields.join(", ")),
        ("material", if schema.material.is_empty() { "-".into() } else { schema.material.join(", ") }),
    ]);
    Ok(())
}

pub(crate) async fn model_fields(
    name: &str,
    set: &[(String, String)],
    unset: Vec<String>,
    connection: &Connection,
    json: bool,
) -> anyhow::Result<()> {
    let client = Client::new(connection)?;
    let tier: api::ModelTierBody = if set.is_empty() && unset.is_empty() {
        client.get_as(&format!("/v1/models/{}/tier", encode(name))).await?
    } else {
        let set: Map<String, Value> =
            set.iter().map(|(name, value)| (name.clone(), crate::commands::json_or_text(value))).collect();
        let path = format!("/v1/models/{}/fields", encode(name));
        client.json_as(Method::PATCH, &path, &json!({"set": set, "unset": unset})).await?
    };
    show_tier(&tier, json);
    Ok(())
}

pub(crate) async fn model_tier(
    name: &str,
    override_tier: Option<&str>,
    follow_rules: bool,
    reason: Option<String>,
    connection: &Connection,
    json: bool,
) -> anyhow::Result<()> {
    let client = Client::new(connection)?;
    let path = format!("/v1/models/{}/tier", encode(name));
    let tier: api::ModelTierBody = match (override_tier, follow_rules) {
        (None, false) => client.get_as(&path).await?,
        (to, _) => {
            let to: Option<api::RiskTier> =
                to.map(|t| t.parse().with_context(|| format!("--override {t}"))).transpose()?;
            client.json_as(Method::PUT, &path, &json!({"tier": to, "reason": reason.unwrap_or_default()})).await?
        }
    };
    show_tier(&tier, json);
    Ok(())
}

fn show_tier(tier: &api::ModelTierBody, json: bool) {
    if json {
        render::json(tier);
        return;
    }
    let set = match (&tier.set_by, tier.set_at) {
        (Some(by), Some(at)) => format!(" by {by} at {}", render::micros_time(at)),
        _ => String::new(),
    };
    let computed = match (&tier.computed, &tier.computed_error) {
        (Some(c), _) => format!("{} by policy bundle {} ({})", c.tier.as_str(), c.bundle, c.reasons.join("; ")),
        (None, Some(why)) => format!("the policy's tiering rules fail: {why}"),
        (None, None) => "nothing (the policy's tiering rules decide nothing for these fields)".into(),
    };
    let mut lines = vec![
        ("model", tier.model.clone()),
        ("tier", format!("{} ({}{set})", tier.tier.as_str(), tier.basis.as_str())),
        ("why", if tier.reasons.is_empty() { "-".into() } else { tier.reasons.join("; ") }),
        ("computed", computed),
        ("fields", field_pairs(&tier.fields)),
    ];
    if let (Some(at), Some(what)) = (tier.material_change_at, &tier.material_change) {
        lines.push(("material change", format!("{what} at {}", render::micros_time(at))));
    }
    fields(&lines);
}
