/*!
The regulatory traceability matrix of a model: each requirement of a framework, with the ledger entries
that evidence it, or "no evidence", so a risk officer sees the gaps before an examiner does.

- The frameworks ([`Framework`]): the US agencies' model risk guidance SR 26-2 (its foundational elements
  and the themes it adds: materiality, inventory, outcomes analysis), the PRA's SS1/23 (its five
  principles), and the EU AI Act's requirements for high-risk systems (Art. 9–15) with post-market
  monitoring (Art. 72).
- Each requirement names the kinds of record that evidence it ([`Evidence`]): ledger actions, monitors of
  given kinds, findings of a given kind. The matrix lists, per requirement, how many of the model's entries
  match and the latest few, each by index, so `warden audit proof` or an evidence bundle proves them.
- Whether the evidence is sufficient is the reviewer's judgement: the matrix says what the ledger holds,
  and "no evidence" only when it holds nothing of the kinds named.
*/

use std::collections::HashSet;

use serde::Serialize;
use serde_json::Value;
use warden_core::{FindingKind, MonitorKind};
use warden_ledger::Entry;
use warden_oversight::vouching;

use crate::evidence::ModelLedger;
use crate::{Error, Proof, Result};
use warden_registry::auth::{Permission, Principal};

/// Entries listed per requirement (the newest); the count covers all.
const LISTED: usize = 5;

/// The frameworks a matrix can be drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framework {
    /// Supervisory Guidance on Model Risk Management (Federal Reserve SR 26-2, with the OCC and FDIC; 2026).
    Sr26_2,
    /// PRA Supervisory Statement SS1/23, model risk management principles for banks.
    Ss1_23,
    /// EU AI Act (Regulation (EU) 2024/1689): high-risk system requirements and post-market monitoring.
    EuAiAct,
}

impl Framework {
    pub const ALL: [Framework; 3] = [Framework::Sr26_2, Framework::Ss1_23, Framework::EuAiAct];

    pub fn as_str(self) -> &'static str {
        match self {
            Framework::Sr26_2 => "sr-26-2",
            Framework::Ss1_23 => "ss1-23",
            Framework::EuAiAct => "eu-ai-act",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Framework::Sr26_2 => "SR 26-2, Supervisory Guidance on Model Risk Management",
            Framework::Ss1_23 => "PRA SS1/23, Model risk management principles for banks",
            Framework::EuAiAct => "EU AI Act, high-risk AI systems (Art. 9-15, 72)",
        }
    }

    fn requirements(self) -> &'static [Requirement] {
        match self {
            Framework::Sr26_2 => SR_26_2,
            Framework::Ss1_23 => SS1_23,
            Framework::EuAiAct => EU_AI_ACT,
        }
    }
}

impl std::str::FromStr for Framework {
    type Err = Error;

    fn from_str(name: &str) -> Result<Framework> {
        Framework::ALL.into_iter().find(|f| f.as_str() == name).ok_or_else(|| {
            let names: Vec<&str> = Framework::ALL.iter().map(|f| f.as_str()).collect();
            Error::invalid(format!("no framework '{name}': Warden traces {}", names.join(", ")))
        })
    }
}

/// A kind of record that evidences a requirement.
#[derive(Debug, Clone, Copy)]
enum Evidence {
    /// Entries of exactly this action.
    Action(&'static str),
    /// Entries whose action starts with this.
    Actions(&'static str),
    /// Settings of monitors of one of these kinds that are enabled now (a disabled monitor watches nothing).
    Monitors(&'static [MonitorKind]),
    /// Findings (`finding.*`) of this kind.
    Findings(FindingKind),
}

impl Evidence {
    /// Whether the entry evidences this; `disabled` holds the subjects of monitors disabled now.
    fn matches(self, entry: &Entry, payload: &Value, disabled: &HashSet<&str>) -> bool {
        match self {
            Evidence::Action(action) => entry.action == action,
            Evidence::Actions(prefix) => entry.action.starts_with(prefix),
            Evidence::Monitors(kinds) => {
                entry.action.starts_with("monitor.")
                    && !disabled.contains(entry.subject.as_str())
                    && payload["kind"].as_str().is_some_and(|k| kinds.iter().any(|kind| kind.as_str() == k))
            }
            Evidence::Findings(kind) => {
                entry.action.starts_with("finding.") && payload["finding"]["kind"].as_str() == Some(kind.as_str())
            }
        }
    }

    fn describe(self) -> String {
        match self {
            Evidence::Action(action) => format!("{action} entries"),
            Evidence::Actions(prefix) => format!("{prefix}* entries"),
            Evidence::Monitors(kinds) => {
                format!("{} monitors", kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join("/"))
            }
            Evidence::Findings(kind) => format!("{} findings", kind.as_str()),
        }
    }
}

/// One requirement and what evidences it.
struct Requirement {
    id: &'static str,
    title: &'static str,
    evidence: &'static [Evidence],
}

/// Monitors of the inputs, the outputs and the log.
const STABILITY: &[MonitorKind] = &[
    MonitorKind::FeatureDrift,
    MonitorKind::ScoreDrift,
    MonitorKind::MultivariateDrift,
    MonitorKind::ExplanationDrift,
    MonitorKind::DataQuality,
    MonitorKind::Integrity,
];
/// Monitors of performance, on outcomes or estimated before them.
const PERFORMANCE: &[MonitorKind] = &[MonitorKind::Performance, MonitorKind::EstimatedPerformance];

const SR_26_2: &[Requirement] = &[
    Requirement {
        id: "development",
        title: "Model development, implementation and use: purpose, data and methodology recorded",
        evidence: &[Evidence::Action("model.create"), Evidence::Action("version.register")],
    },
    Requirement {
        id: "materiality",
        title: "Materiality: the model tiered by exposure and purpose",
        evidence: &[Evidence::Action("model.tier"), Evidence::Action("model.fields")],
    },
    Requirement {
        id: "inventory",
        title: "Model inventory: the model recorded with its owner, use and status",
        evidence: &[
            Evidence::Action("model.create"),
            Evidence::Action("model.fields"),
            Evidence::Actions("attestation."),
        ],
    },
    Requirement {
        id: "validation",
        title: "Independent validation and effective challenge before use",
        evidence: &[
            Evidence::Action("version.validate"),
            Evidence::Action("version.approve"),
            Evidence::Action("version.reject"),
        ],
    },
    Requirement {
        id: "ongoing-monitoring",
        title: "Ongoing monitoring: inputs, outputs and stability watched against thresholds",
        evidence: &[Evidence::Monitors(STABILITY), Evidence::Action(vouching::ACTION), Evidence::Actions("alert.")],
    },
    Requirement {
        id: "outcomes-analysis",
        title: "Outcomes analysis: predictions compared with realised outcomes",
        evidence: &[Evidence::Monitors(&[MonitorKind::Performance])],
    },
    Requirement {
        id: "governance",
        title: "Governance, policies and controls: use only as approved",
        evidence: &[
            Evidence::Action("gate.decide"),
            Evidence::Action("model.promote"),
            Evidence::Action("model.withdraw"),
            Evidence::Actions("alias."),
        ],
    },
    Requirement {
        id: "limitations",
        title: "Limitations and issues tracked to remediation",
        evidence: &[Evidence::Actions("finding.")],
    },
];

const SS1_23: &[Requirement] = &[
    Requirement {
        id: "principle-1",
        title: "Principle 1, model identification and model risk classification",
        evidence: &[Evidence::Action("model.create"), Evidence::Action("model.tier"), Evidence::Action("model.fields")],
    },
    Requirement {
        id: "principle-2",
        title: "Principle 2, governance",
        evidence: &[Evidence::Action("gate.decide"), Evidence::Actions("attestation.")],
    },
    Requirement {
        id: "principle-3",
        title: "Principle 3, model development, implementation and use",
        evidence: &[
            Evidence::Action("version.register"),
            Evidence::Action("model.promote"),
            Evidence::Actions("alias."),
        ],
    },
    Requirement {
        id: "principle-4",
        title: "Principle 4, independent model validation",
        evidence: &[
            Evidence::Action("version.validate"),
            Evidence::Action("version.approve"),
            Evidence::Monitors(&[MonitorKind::Revalidation]),
            Evidence::Monitors(PERFORMANCE),
            Evidence::Monitors(STABILITY),
        ],
    },
    Requirement {
        id: "principle-5",
        title: "Principle 5, model risk mitigants: restrictions, escalation and remediation",
        evidence: &[
            Evidence::Actions("finding."),
            Evidence::Action("model.rollback"),
            Evidence::Action("model.withdraw"),
            Evidence::Actions("incident."),
            Evidence::Action(vouching::ACTION),
            Evidence::Actions("alert."),
        ],
    },
];

const EU_AI_ACT: &[Requirement] = &[
    Requirement {
        id: "art-9",
        title: "Art. 9, risk management system",
        evidence: &[Evidence::Action("model.tier"), Evidence::Actions("finding."), Evidence::Action("gate.decide")],
    },
    Requirement {
        id: "art-10",
        title: "Art. 10, data and data governance",
        evidence: &[
            Evidence::Action("version.register"),
            Evidence::Monitors(&[MonitorKind::DataQuality, MonitorKind::Fairness]),
        ],
    },
    Requirement {
        id: "art-11",
        title: "Art. 11, technical documentation (written from these records)",
        evidence: &[Evidence::Action("version.register"), Evidence::Action("version.validate")],
    },
    Requirement {
        id: "art-12",
        title: "Art. 12, record-keeping: events logged over the system's lifetime (the ledger's entries of its \
                deployments and alerts; each decision is in the decision log, which the ledger does not hold)",
        evidence: &[
            Evidence::Action("model.promote"),
            Evidence::Action("model.rollback"),
            Evidence::Action("model.withdraw"),
            Evidence::Actions("alias."),
            Evidence::Action(vouching::ACTION),
            Evidence::Actions("alert."),
        ],
    },
    Requirement {
        id: "art-13",
        title: "Art. 13, transparency and information to deployers: intended purpose",
        evidence: &[Evidence::Action("model.create"), Evidence::Action("model.fields")],
    },
    Requirement {
        id: "art-14",
        title: "Art. 14, human oversight",
        evidence: &[
            Evidence::Action("version.approve"),
            Evidence::Action("version.reject"),
            Evidence::Action("alert.acknowledged"),
            Evidence::Action("model.withdraw"),
        ],
    },
    Requirement {
        id: "art-15",
        title: "Art. 15, accuracy, robustness and cybersecurity",
        evidence: &[
            Evidence::Action("version.validate"),
            Evidence::Monitors(PERFORMANCE),
            Evidence::Findings(FindingKind::Vulnerability),
        ],
    },
    Requirement {
        id: "art-72",
        title: "Art. 72, post-market monitoring",
        evidence: &[
            Evidence::Monitors(MonitorKind::ALL),
            Evidence::Action(vouching::ACTION),
            Evidence::Actions("alert."),
            Evidence::Actions("incident."),
        ],
    },
];

/// A model's matrix for one framework.
#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub model: String,
    pub framework: String,
    pub framework_title: String,
    /// The signed checkpoint's size the entries were read under.
    pub ledger_size: u64,
    pub requirements: Vec<TracedRequirement>,
    /// Requirements with no evidence.
    pub gaps: usize,
}

/// One requirement's row.
#[derive(Debug, Clone, Serialize)]
pub struct TracedRequirement {
    pub id: String,
    pub title: String,
    /// The kinds of record looked for.
    pub looked_for: Vec<String>,
    /// Entries of those kinds about the model.
    pub entries: usize,
    /// The newest of them.
    pub latest: Vec<CitedEntry>,
    /// `evidenced` or `no evidence`.
    pub status: String,
}

/// An entry as the matrix cites it.
#[derive(Debug, Clone, Serialize)]
pub struct CitedEntry {
    pub index: u64,
    pub action: String,
    pub subject: String,
    pub at: i64,
    pub actor: String,
}

/// Draws `model`'s matrix for `framework` from the ledger as the latest signed checkpoint covers it.
pub async fn matrix(warden: &Proof, caller: &Principal, model: &str, framework: Framework) -> Result<Matrix> {
    caller.require(Permission::ReadAudit)?;
    warden_registry::registry::get_model(warden, caller, model).await?;
    let ledger = ModelLedger::read(warden, model).await?;
    Ok(draw(&ledger, model, framework))
}

fn draw(ledger: &ModelLedger, model: &str, framework: Framework) -> Matrix {
    let disabled: HashSet<&str> = crate::docs::latest_monitors(ledger, model)
        .into_iter()
        .filter(|(_, (entry, payload))| entry.action == "monitor.disable" || payload["enabled"] == Value::Bool(false))
        .map(|(_, (entry, _))| entry.subject.as_str())
        .collect();
    // Policy bundles are everyone's (the ledger read holds them beside the model's entries): no requirement
    // counts them as this model's evidence.
    let requirements: Vec<TracedRequirement> = framework
        .requirements()
        .iter()
        .map(|requirement| {
            let matching: Vec<&Entry> = ledger
                .entries
                .iter()
                .filter(|(entry, _)| entry.subject != "policy")
                .filter(|(entry, payload)| requirement.evidence.iter().any(|e| e.matches(entry, payload, &disabled)))
                .map(|(entry, _)| entry)
                .collect();
            let latest = matching
                .iter()
                .rev()
                .take(LISTED)
                .map(|e| CitedEntry {
                    index: e.index,
                    action: e.action.clone(),
                    subject: e.subject.clone(),
                    at: e.at,
                    actor: e.actor.clone(),
                })
                .collect();
            TracedRequirement {
                id: requirement.id.to_owned(),
                title: requirement.title.to_owned(),
                looked_for: requirement.evidence.iter().map(|e| e.describe()).collect(),
                entries: matching.len(),
                latest,
                status: if matching.is_empty() { "no evidence" } else { "evidenced" }.to_owned(),
            }
        })
        .collect();
    let gaps = requirements.iter().filter(|r| r.entries == 0).count();
    Matrix {
        model: model.to_owned(),
        framework: framework.as_str().to_owned(),
        framework_title: framework.title().to_owned(),
        ledger_size: ledger.checkpoint.tree_size,
        requirements,
        gaps,
    }
}
