//! Command-line grammar.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "warden", version, about = "Model risk control plane")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The data directory when none is given.
pub(crate) const DEFAULT_DATA_DIR: &str = "warden-data";

/// Where the server is and who we are.
#[derive(Debug, Args, Clone)]
pub(crate) struct Connection {
    /// Server URL.
    #[arg(long, env = "WARDEN_URL", default_value = "http://127.0.0.1:8700")]
    pub(crate) url: String,
    /// Bearer token; defaults to the admin token file of the local data directory.
    #[arg(long, env = "WARDEN_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Data directory whose admin token file is used when no token is given.
    #[arg(long = "token-data-dir", env = "WARDEN_DATA_DIR", default_value = "warden-data")]
    pub(crate) data_dir: PathBuf,
    /// Also trust this PEM CA certificate for an https:// URL (a private CA, a self-signed server).
    #[arg(long, env = "WARDEN_CA_CERT")]
    pub(crate) ca_cert: Option<PathBuf>,
}

// Parsed once per process: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the HTTP API on the embedded store.
    Serve(ServeArgs),
    /// Models and versions.
    #[command(subcommand)]
    Model(ModelCommand),
    /// Aliases (champion, challenger, any name) and their history.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import a model version from elsewhere (MLflow's model registry).
    #[command(subcommand)]
    Import(ImportCommand),
    /// Sign in through the bank's identity provider (device flow); later commands use the sign-in.
    Login(LoginArgs),
    /// Forget this server's sign-in.
    Logout(Connection),
    /// Who the server takes you for: name, roles and scopes.
    Whoami(Connection),
    /// Profile a CSV or Parquet file locally, as registration would (no server needed).
    Profile(ProfileArgs),
    /// Compare a current data file with a reference file: drift per feature and data quality (local).
    Drift(DriftArgs),
    /// Performance, calibration and fairness of scored data; estimated (CBPE) when it has no labels (local).
    Metrics(MetricsArgs),
    /// Score a CSV or Parquet file in bulk through the server's scoring path (every row logged).
    Score(ScoreArgs),
    /// Post late outcomes (defaults, chargebacks) from a CSV or Parquet file, in chunks; each chunk is recorded
    /// whole or not at all, and the report says which rows were recorded.
    Outcomes(OutcomesArgs),
    /// Validate a version on labelled data; the report is stored with the version, immutable.
    Validate(ValidateArgs),
    /// Approve (or with --reject, reject) a version. Its registrant never can.
    Approve(ApproveArgs),
    /// Move a production alias (champion, canary) to a version through the policy gate.
    Promote(PromoteArgs),
    /// The promotion gate, for CI pipelines.
    #[command(subcommand)]
    Gate(GateCommand),
    /// Policy bundles: test locally, put in force, show.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Monitors of deployed models: list, set, disable, history.
    #[command(subcommand)]
    Monitor(MonitorCommand),
    /// Alerts raised by the monitors, newest first.
    Alerts(AlertsArgs),
    /// Acknowledge a firing alert.
    Ack(AckArgs),
    /// Incidents opened by critical alerts, newest first, or one with its timeline.
    Incidents(IncidentsArgs),
    /// Every model with its tier, owner, champion, last validation, policy status, open alerts and incidents.
    Inventory(InventoryArgs),
    /// Governance KPIs for the board over the last days.
    Kpis(KpiArgs),
    /// Resolve an open incident by hand, with the reason.
    Resolve(ResolveArgs),
    /// Review one decision (human oversight): confirm it, override it with another decision or reverse it, with
    /// one of the policy's reason codes. Without --confirm, --override or --reverse: show the decision and its
    /// reviews.
    Review(ReviewArgs),
    /// Erase one person's data (right to erasure): every decision naming the subject key, in every model whose
    /// data policy declares one, loses its features and attributes; each model's erasure is recorded with the
    /// SHA-256 of what went, and audited. Exit 1 when no decision names the key.
    Erase(EraseArgs),
    /// Train a candidate from the logged decisions and their outcomes; it is registered, validated, gated and,
    /// when only sign-offs remain, deployed as challenger (shadow). `--list` shows the model's jobs.
    Retrain(RetrainArgs),
    /// The champion-versus-challenger report from shadow traffic.
    Challenger(ChallengerArgs),
    /// Train a model locally on a CSV file with a built-in trainer (no server): writes the model file, prints
    /// the fit time and, with --test, the held-out AUC.
    Train(TrainArgs),
    /// The tamper-evident ledger: entries, inclusion proofs, checkpoints, verification.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Evidence bundles: export a model's whole history, verify one offline.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Model documents written from the ledger, every figure citing its entry: generate one, verify one
    /// offline.
    #[command(subcommand)]
    Docs(DocsCommand),
    /// A version as a standard machine-readable export written from the ledger: a CycloneDX 1.6 ML-BOM or an
    /// SPDX 3.0.1 document (AI and Dataset profiles).
    Export(ExportArgs),
    /// A model's regulatory traceability matrix: each requirement of a framework with the ledger entries that
    /// evidence it, or "no evidence"; exit 1 when any requirement has none.
    Traceability(TraceabilityArgs),
    /// Findings against models: raise, list, show, propose a remediation, close, accept as a limitation,
    /// grant a policy exception.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// Owner attestations: list them, submit one (the model is still used as documented, its limitations
    /// still hold), review a submitted one.
    #[command(subcommand)]
    Attest(AttestCommand),
    /// Incidents on regulators' clocks: classify one (DORA, the AI Act, an internal severity), record a report
    /// as submitted to the authority, show what is owed and when.
    #[command(subcommand)]
    Clocks(ClocksCommand),
    /// Artifact signing keys and signatures (offline, no server).
    #[command(subcommand)]
    Artifact(ArtifactCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum ClocksCommand {
    /// The reports an incident owes, when each is due, what is left, and those submitted.
    Show {
        /// Incident id.
        id: i64,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A DORA report's content (initial, intermediate or final) in the ESAs' template fields, filled from the
    /// incident, its timeline, the model and its decisions in the affected period; the fields only the firm
    /// knows are marked to complete. `--json` writes what is submitted (its SHA-256 goes with `clocks report
    /// --content-sha256`).
    DoraReport {
        /// Incident id.
        id: i64,
        /// initial, intermediate or final.
        #[arg(long)]
        kind: String,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Classify an incident: its clocks start from the classification's time.
    Classify {
        /// Incident id.
        id: i64,
        /// dora, ai_act or internal.
        #[arg(long)]
        framework: String,
        /// When it was classified (RFC 3339).
        #[arg(long)]
        classified_at: String,
        /// When the firm became aware (RFC 3339; default: when the incident opened).
        #[arg(long)]
        aware_at: Option<String>,
        /// AI Act: death, widespread_or_critical_infrastructure or other.
        #[arg(long)]
        ground: Option<String>,
        /// Internal: the firm's severity.
        #[arg(long)]
        severity: Option<String>,
        /// Free text.
        #[arg(long, default_value = "")]
        note: String,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Record a report as submitted to the authority.
    Report {
        /// Incident id.
        id: i64,
        /// dora or ai_act.
        #[arg(long)]
        framework: String,
        /// initial, intermediate or final (DORA); report (AI Act).
        #[arg(long)]
        kind: String,
        /// The authority's reference (or the firm's).
        #[arg(long)]
        reference: String,
        /// When it was submitted (RFC 3339; default now).
        #[arg(long)]
        submitted_at: Option<String>,
        /// SHA-256 of the content submitted.
        #[arg(long)]
        content_sha256: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum AttestCommand {
    /// Attestations, newest first.
    List {
        /// One model's.
        #[arg(long)]
        model: Option<String>,
        /// Only those unresolved past their due date.
        #[arg(long)]
        overdue: bool,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Submit an open (or rejected) attestation.
    Submit {
        /// Attestation id.
        id: i64,
        /// Whether the model is still used as documented (yes or no).
        #[arg(long, value_parser = yes_no, action = clap::ArgAction::Set)]
        used_as_documented: bool,
        /// Whether its limitations still hold (yes or no).
        #[arg(long, value_parser = yes_no, action = clap::ArgAction::Set)]
        limitations_hold: bool,
        /// What changed (required when either is no).
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Accept or reject a submitted attestation.
    Review {
        /// Attestation id.
        id: i64,
        /// Accept it.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        accept: bool,
        /// Reject it (with --comment saying why).
        #[arg(long)]
        reject: bool,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        connection: Connection,
    },
}

/// `yes` or `no`.
fn yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(format!("'{other}' is not yes or no")),
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum FindingsCommand {
    /// Findings, newest first.
    List {
        /// Only this model's.
        #[arg(long)]
        model: Option<String>,
        /// Only in this state: open, remediation_proposed, closed or accepted.
        #[arg(long)]
        state: Option<warden_core::FindingState>,
        /// Only those unresolved past their due date.
        #[arg(long)]
        overdue: bool,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One finding.
    Show {
        /// Finding id.
        id: i64,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Raise a finding against a model or one of its versions; its due date follows from its severity.
    Raise {
        /// Model name.
        model: String,
        /// The version it concerns (default: every version of the model).
        #[arg(long)]
        version: Option<i64>,
        /// validation, limitation, policy_exception, vulnerability or monitoring_breach.
        #[arg(long)]
        kind: warden_core::FindingKind,
        /// low, medium, high or critical.
        #[arg(long)]
        severity: warden_core::FindingSeverity,
        /// A line.
        #[arg(long)]
        title: String,
        /// What was found.
        #[arg(long, default_value = "")]
        description: String,
        /// Who must remediate it (default: the model's owner).
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Import a scanner report on a version: each vulnerability becomes a finding (once per rule and
    /// location); findings of the same scan's earlier imports that the report no longer has are closed.
    Import {
        /// Model name.
        #[arg(long)]
        model: String,
        /// The version scanned.
        #[arg(long)]
        version: i64,
        /// sarif, cyclonedx-vex, trivy or grype.
        #[arg(long)]
        format: warden_core::ScanFormat,
        /// What was scanned, when the report does not say (Bandit's SARIF) or to tell two scans of one tool
        /// apart: a later import of the same format, tool and target closes what it no longer reports.
        #[arg(long)]
        target: Option<String>,
        /// The report, as the scanner wrote it.
        file: std::path::PathBuf,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Propose how an open finding is remediated.
    Propose {
        /// Finding id.
        id: i64,
        /// How.
        #[arg(long)]
        remediation: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Close a finding as remediated, with the evidence.
    Close {
        /// Finding id.
        id: i64,
        /// What shows it remediated.
        #[arg(long)]
        evidence: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Accept an open finding as a limitation until a time.
    Accept {
        /// Finding id.
        id: i64,
        /// Until when: RFC 3339, or a span from now (`30d`, `12h`).
        #[arg(long)]
        until: String,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Grant a policy exception covering an unresolved finding until a time: the gate passes over it until then.
    Except {
        /// Finding id.
        id: i64,
        /// Until when: RFC 3339, or a span from now (`30d`, `12h`).
        #[arg(long)]
        until: String,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ArtifactCommand {
    /// Make an Ed25519 signing key (a 0600 file) and print the line for a server's --artifact-signers file.
    Keygen {
        /// Where to write the key (refused if it exists).
        #[arg(long)]
        out: PathBuf,
        /// The signer's name in the trusted-signers line.
        #[arg(long)]
        name: String,
    },
    /// Sign an artifact file's SHA-256; prints the base64 signature for `model register --signature`.
    Sign {
        /// The artifact.
        file: PathBuf,
        /// The key made by `warden artifact keygen`.
        #[arg(long)]
        key: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum EvidenceCommand {
    /// Write a model's evidence bundle (tar) to a file.
    Export {
        /// Model name.
        model: String,
        /// From this time (RFC 3339, e.g. 2026-01-01T00:00:00Z).
        #[arg(long)]
        from: Option<String>,
        /// Up to this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
    /// Check a bundle offline, with no server; exit 1 naming what does not check out.
    Verify {
        /// The bundle.
        file: PathBuf,
        /// The ledger's verifier key you trust (the key itself, or a file holding it); without it the
        /// bundle's own key is used and the report says so.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum DocsCommand {
    /// Write a model document (HTML) into a folder, as NAME-vVERSION-TEMPLATE.html, or the inventory's
    /// monitoring report (`--inventory`), as inventory-monitoring-report.html.
    Generate {
        /// Model name.
        #[arg(required_unless_present = "inventory")]
        model: Option<String>,
        /// The version (default: the latest).
        version: Option<i64>,
        /// The monitoring report of every model in the inventory instead of one model's document.
        #[arg(long, conflicts_with_all = ["model", "version"])]
        inventory: bool,
        /// The template: `model-documentation` (a model's default), `eu-ai-act-annex-iv`, `monitoring-report`
        /// (the inventory's default and only one), or one the bank added to the server.
        #[arg(long)]
        template: Option<String>,
        /// The period a monitoring report covers: `YYYY-MM` (a month), `YYYY-QN` (a quarter) or
        /// `last-N-days` (default `last-30-days`).
        #[arg(long)]
        period: Option<String>,
        /// The folder to write it into (made if missing).
        #[arg(long)]
        out: PathBuf,
        /// Write the HTML only (no PDF, no Chromium needed).
        #[arg(long)]
        no_pdf: bool,
        /// The Chromium that prints the PDF.
        #[arg(long, env = "WARDEN_CHROMIUM", default_value = "chromium")]
        chromium: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
    /// Check a document offline, with no server: each figure against the ledger entry it cites; exit 1
    /// naming each figure that does not check out.
    Verify {
        /// The document (HTML).
        file: PathBuf,
        /// The ledger's verifier key you trust (the key itself, or a file holding it); without it the
        /// document's own key is used and the report says so.
        #[arg(long)]
        key: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// `cyclonedx` or `spdx`.
    #[arg(value_parser = ["cyclonedx", "spdx"])]
    pub format: String,
    /// Model name.
    pub model: String,
    /// Version number.
    pub version: i64,
    /// The file to write (JSON).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct TraceabilityArgs {
    /// Model name.
    pub model: String,
    /// The framework: `sr-26-2`, `ss1-23` or `eu-ai-act`.
    #[arg(long, value_parser = ["sr-26-2", "ss1-23", "eu-ai-act"])]
    pub framework: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connection: Connection,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Ledger entries in order.
    Log {
        /// Only this subject, or every subject under a prefix ending in `/` (e.g. `model/credit/`).
        #[arg(long)]
        subject: Option<String>,
        /// From this entry index on.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// An entry's inclusion proof against the latest signed checkpoint, checked here before it is shown.
    Proof {
        /// Entry index.
        entry: u64,
        /// The ledger's verifier key to check the checkpoint with (default: the server's published key).
        #[arg(long)]
        key: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recompute the ledger from every stored entry and check every checkpoint; exit 1 naming the first bad
    /// entry.
    Verify {
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint now.
    Checkpoint {
        #[command(flatten)]
        connection: Connection,
    },
    /// Print the ledger's verifier key.
    Key {
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Debug, Args)]
pub(crate) struct IncidentsArgs {
    /// Show this incident with its timeline.
    pub(crate) id: Option<i64>,
    /// open or resolved.
    #[arg(long)]
    pub(crate) state: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct InventoryArgs {
    #[command(subcommand)]
    pub(crate) command: Option<InventoryCommand>,
    /// Only models whose inventory field has this value (a list field: holds it); repeatable, all must match.
    #[arg(long = "where", value_name = "NAME=VALUE", value_parser = key_value)]
    pub(crate) filters: Vec<(String, String)>,
    /// Only models whose name, owner, use case or a field's value contains this text (any case).
    #[arg(long)]
    pub(crate) search: Option<String>,
    /// Only models of this tier (high, medium or low).
    #[arg(long)]
    pub(crate) tier: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum InventoryCommand {
    /// The organisation's inventory fields: a JSON Schema of what is recorded for every model.
    #[command(subcommand)]
    Fields(InventoryFieldsCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum InventoryFieldsCommand {
    /// Put a JSON Schema of the organisation's fields in force (risk officer, admin): an object schema whose
    /// `properties` are the fields; `"x-warden-material": true` marks a field whose change is material.
    Put {
        /// The schema (JSON).
        file: PathBuf,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the schema in force.
    Show {
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct KpiArgs {
    /// Days back from now.
    #[arg(long, default_value_t = 90)]
    pub(crate) days: i64,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RetrainArgs {
    /// Model name.
    pub(crate) model: String,
    /// The trainer: builtin-lr, builtin-gbt or external:NAME (configured on the server).
    #[arg(long, default_value = "builtin-lr")]
    pub(crate) trainer: String,
    /// The logistic regression's inverse regularisation strength.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) c: f64,
    /// Boosted trees: how many.
    #[arg(long)]
    pub(crate) trees: Option<usize>,
    /// Boosted trees: the deepest split level.
    #[arg(long)]
    pub(crate) depth: Option<usize>,
    /// Share of requests held out for validation.
    #[arg(long, default_value_t = 0.3)]
    pub(crate) holdout: f64,
    /// List the model's jobs instead of running one.
    #[arg(long)]
    pub(crate) list: bool,
    /// Run a job with this trainer every so many hours from now on (0 clears the schedule) instead of now.
    #[arg(long)]
    pub(crate) every_hours: Option<f64>,
    /// Also train on the champion's reference data; its target value that marks the bad event.
    #[arg(long)]
    pub(crate) reference_bad_value: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct TrainArgs {
    /// Training data (CSV with a header).
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// The label column (1 = the event the score predicts, 0 = not).
    #[arg(long)]
    pub(crate) target: String,
    /// builtin-lr or builtin-gbt.
    #[arg(long, default_value = "builtin-lr")]
    pub(crate) trainer: String,
    /// The logistic regression's inverse regularisation strength.
    #[arg(long, default_value_t = 1.0)]
    pub(crate) c: f64,
    /// Boosted trees: how many.
    #[arg(long, default_value_t = 100)]
    pub(crate) trees: usize,
    /// Boosted trees: the deepest split level.
    #[arg(long, default_value_t = 6)]
    pub(crate) depth: usize,
    /// Where to write the model.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// Held-out data (same columns) to report the AUC on.
    #[arg(long)]
    pub(crate) test: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ChallengerArgs {
    /// Model name.
    pub(crate) model: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ResolveArgs {
    /// Incident id.
    pub(crate) id: i64,
    /// Why it is resolved (required).
    #[arg(long)]
    pub(crate) comment: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("review_action").args(["confirm", "override_with", "reverse"]))]
pub(crate) struct ReviewArgs {
    /// Model name.
    pub(crate) model: String,
    /// The decision's request id.
    pub(crate) request_id: String,
    /// The decision stands.
    #[arg(long, requires = "reason")]
    pub(crate) confirm: bool,
    /// The decision becomes this one.
    #[arg(long = "override", value_name = "DECISION", requires = "reason")]
    pub(crate) override_with: Option<String>,
    /// The decision becomes the other of its version's two decisions.
    #[arg(long, requires = "reason")]
    pub(crate) reverse: bool,
    /// One of the policy's reason codes (the policy bundle's `review.reason_codes`).
    #[arg(long, requires = "review_action")]
    pub(crate) reason: Option<String>,
    /// Free text.
    #[arg(long, default_value = "", requires = "review_action")]
    pub(crate) note: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct EraseArgs {
    /// The person's subject key, as the business application sends it (e.g. a customer number).
    #[arg(long)]
    pub(crate) subject_key: String,
    /// Why (the erasure request's reference).
    #[arg(long)]
    pub(crate) reason: String,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct AlertsArgs {
    /// Show this alert with its events.
    pub(crate) id: Option<i64>,
    /// firing, acknowledged, resolved or open (firing and acknowledged).
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only this model's.
    #[arg(long)]
    pub(crate) model: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct AckArgs {
    /// Alert id.
    pub(crate) id: i64,
    /// What is being done about it.
    #[arg(long, default_value = "")]
    pub(crate) comment: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub(crate) enum MonitorCommand {
    /// A model's monitors.
    List {
        /// Model name.
        model: String,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Create or change a monitor (unset options keep their value).
    Set {
        /// Model name.
        model: String,
        /// Monitor name (a model's defaults are named after their kind).
        monitor: String,
        /// feature_drift, score_drift, data_quality, performance, estimated_performance, fairness,
        /// money_at_risk or integrity (needed for a new monitor of another name).
        #[arg(long)]
        kind: Option<String>,
        /// Seconds of recent traffic evaluated.
        #[arg(long)]
        window_seconds: Option<i64>,
        /// Evaluate the newest N decisions instead of a time window (0: back to the time window).
        #[arg(long)]
        window_decisions: Option<u64>,
        /// Below this many decisions the result is "insufficient".
        #[arg(long)]
        min_decisions: Option<u64>,
        /// The figure watched: psi or jensen_shannon (drift), auc, brier or ece (performance), auc, accuracy,
        /// precision, recall or f1 (estimated_performance), disparate_impact or equal_opportunity (fairness),
        /// expected_loss or fraud_missed (money_at_risk).
        #[arg(long)]
        statistic: Option<String>,
        /// Warn at or beyond this value (at or below for AUC, estimated performance and disparate impact).
        #[arg(long)]
        warn: Option<f64>,
        /// Alert at or beyond this value.
        #[arg(long)]
        alert: Option<f64>,
        /// Learn the bands from the reference: alert beyond mean ± K·σ of reference chunks (0: static bands).
        #[arg(long, value_name = "K")]
        learned: Option<f64>,
        /// Rows per reference chunk for learned bands.
        #[arg(long, requires = "learned")]
        chunk_size: Option<u64>,
        /// Fairness: the attribute whose groups are compared.
        #[arg(long)]
        attribute: Option<String>,
        /// The reference data's outcome column (CBPE, learned bands of outcome-based figures).
        #[arg(long)]
        target: Option<String>,
        /// The target value meaning the event happened.
        #[arg(long)]
        bad_value: Option<String>,
        /// Evaluations in a row that must breach a band before an alert fires (default 1).
        #[arg(long)]
        consecutive: Option<u32>,
        /// Clean evaluations in a row before an open alert resolves (default 3).
        #[arg(long)]
        resolve_after: Option<u32>,
        /// Split by the value of this decision attribute or feature (drift and data quality): each segment gets
        /// its own figures, bands and alerts ("" stops splitting).
        #[arg(long)]
        segment_by: Option<String>,
        /// Most segments with figures of their own (1 to 50, default 20); later values share "(other)".
        #[arg(long)]
        max_segments: Option<u32>,
        /// Below this many decisions a segment is insufficient (default: --min-decisions).
        #[arg(long)]
        min_segment_decisions: Option<u64>,
        /// Only this feature (repeat).
        #[arg(long = "feature")]
        features: Vec<String>,
        /// What a critical alert does: notify, rollback (champion back to the previous gate-approved one) or
        /// stop_canary.
        #[arg(long)]
        action: Option<String>,
        /// Enable a disabled monitor.
        #[arg(long)]
        enable: bool,
        #[command(flatten)]
        connection: Connection,
    },
    /// Stop evaluating a monitor (its history is kept).
    Disable {
        /// Model name.
        model: String,
        /// Monitor name.
        monitor: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Evaluations of a model's monitors, oldest first.
    History {
        /// Model name.
        model: String,
        /// Only this monitor.
        #[arg(long)]
        monitor: Option<String>,
        /// The newest N.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// Print CSV for charting: a row per evaluation and feature (or other key), with its bands.
        #[arg(long)]
        csv: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// Model name.
    pub(crate) model: String,
    /// Version number or alias.
    pub(crate) version: String,
    /// Labelled data (CSV with header, or Parquet) holding every feature and the target.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Label column: 1 for the bad event the score predicts, 0 otherwise.
    #[arg(long)]
    pub(crate) target: String,
    /// Protected attribute column for fairness (repeat; default: the version's).
    #[arg(long)]
    pub(crate) protected: Vec<String>,
    /// The target value that marks the bad event the score predicts; every other value is good.
    #[arg(long, default_value = "1")]
    pub(crate) bad_value: String,
    /// Stress scenarios, TOML or YAML (.yaml/.yml): [[scenario]] name = "...", changes = ["income *= 0.8"].
    #[arg(long)]
    pub(crate) scenarios: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print the whole report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ApproveArgs {
    /// Model name.
    pub(crate) model: String,
    /// Version number or alias.
    pub(crate) version: String,
    /// Reject instead of approving.
    #[arg(long)]
    pub(crate) reject: bool,
    /// Why (required).
    #[arg(long)]
    pub(crate) comment: String,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct PromoteArgs {
    /// Model name.
    pub(crate) model: String,
    /// Version number or alias.
    pub(crate) version: String,
    /// The production alias to move.
    #[arg(long, default_value = "champion")]
    pub(crate) alias: String,
    /// The canary's share of traffic, 0 to 1.
    #[arg(long)]
    pub(crate) traffic: Option<f64>,
    /// Why (required with --override).
    #[arg(long, default_value = "")]
    pub(crate) reason: String,
    /// Emergency override of a refusal (admin only; recorded and shown as an override).
    #[arg(long = "override")]
    pub(crate) override_gate: bool,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// How `gate check` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum GateFormat {
    Text,
    Json,
    Junit,
    Sarif,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GateCommand {
    /// Evaluate the gate for a version (recorded). Exit 0 allow, 1 deny, 2 error.
    Check {
        /// Model name.
        model: String,
        /// Version number or alias.
        version: String,
        /// The production alias the version would move to.
        #[arg(long, default_value = "champion")]
        alias: String,
        /// Report format.
        #[arg(long, value_enum, default_value = "text")]
        format: GateFormat,
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Run a bundle's Rego unit tests (rules named test_*) locally. Exit 0 all pass, 1 a test fails, 2 error.
    Test {
        /// Directory holding the bundle's .rego and .json files.
        dir: PathBuf,
    },
    /// Put the bundle in a directory in force (risk-officer, admin); it must pass its own tests.
    Push {
        /// Directory holding the bundle's .rego and .json files.
        dir: PathBuf,
        #[command(flatten)]
        connection: Connection,
    },
    /// Show the bundle in force (or write its files to a directory).
    Show {
        /// Write the files here instead of listing them.
        #[arg(long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every bundle ever in force.
    History {
        #[command(flatten)]
        connection: Connection,
    },
}

#[derive(Debug, Args)]
pub(crate) struct ScoreArgs {
    /// Model name.
    pub(crate) model: String,
    /// Input data (CSV with header, or Parquet); columns the schema does not know are carried through.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Output CSV: the input columns plus request_id, version, score, decision (and contributions).
    #[arg(long)]
    pub(crate) output: PathBuf,
    /// Version number or alias to score with (default: the champion).
    #[arg(long)]
    pub(crate) version: Option<String>,
    /// Add one contribution column per feature (linear and tree models).
    #[arg(long)]
    pub(crate) explain: bool,
    /// Column holding request ids (otherwise Warden makes them).
    #[arg(long)]
    pub(crate) id_column: Option<String>,
    /// Rows per request to the server.
    #[arg(long, default_value_t = 5000)]
    pub(crate) batch_rows: usize,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct OutcomesArgs {
    /// The outcomes (CSV with header, or Parquet): a row per scored request.
    #[arg(long)]
    pub(crate) input: PathBuf,
    /// Column holding the request id of the scored decision.
    #[arg(long)]
    pub(crate) request_id_column: String,
    /// Column holding the outcome: 1 (or true) the bad event happened, 0 (or false) it did not.
    #[arg(long)]
    pub(crate) label_column: String,
    /// Column holding the kind of event (default `default`).
    #[arg(long)]
    pub(crate) kind_column: Option<String>,
    /// Column holding the amount involved (a non-negative number; empty for none).
    #[arg(long)]
    pub(crate) amount_column: Option<String>,
    /// Column holding the realized value a regression model predicted (the loss given default, the exposure,
    /// the income; empty for none).
    #[arg(long)]
    pub(crate) value_column: Option<String>,
    /// Column holding the realized class a multiclass classifier predicted (one of its class labels; empty
    /// for none).
    #[arg(long)]
    pub(crate) class_column: Option<String>,
    /// Outcomes per request to the server (at most 10,000), each recorded all or none.
    #[arg(long, default_value_t = 5000)]
    pub(crate) batch_rows: usize,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct MetricsArgs {
    /// Scored data (CSV with header, or Parquet).
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Score column: probability of the positive class.
    #[arg(long, required_unless_present = "class_scores")]
    pub(crate) score: Option<String>,
    /// A multiclass classifier: one class and the column holding its probability, as CLASS=COLUMN (repeat
    /// for every class). --prediction and --label then hold class names.
    #[arg(
        long = "class-score",
        value_parser = key_value,
        conflicts_with_all = ["score", "groups", "thresholds"]
    )]
    pub(crate) class_scores: Vec<(String, String)>,
    /// A regression model: --score is the predicted value and --label the actual one. Without outcomes,
    /// performance is estimated by direct loss estimation (DLE) from --reference, learning from --feature.
    #[arg(long, conflicts_with_all = ["class_scores", "groups", "thresholds", "prediction"])]
    pub(crate) regression: bool,
    /// A feature column DLE's loss models learn from, with the prediction (repeatable; with --regression).
    #[arg(long = "feature", requires = "regression")]
    pub(crate) features: Vec<String>,
    /// Label column (0/1; class names with --class-score; numbers with --regression). If the data lacks
    /// it, performance is estimated from --reference.
    #[arg(long)]
    pub(crate) label: Option<String>,
    /// Predicted-label column: 1/0, or decisions as `warden score` writes them (see --positive-decision);
    /// default: score >= the first threshold. With --class-score, the predicted class; default: the class
    /// with the highest probability.
    #[arg(long)]
    pub(crate) prediction: Option<String>,
    /// The text of a predicted positive (the bad event: a declined applicant) in the prediction column.
    #[arg(long, default_value = "decline")]
    pub(crate) positive_decision: String,
    /// The text of a predicted negative (an approved applicant) in the prediction column.
    #[arg(long, default_value = "approve")]
    pub(crate) negative_decision: String,
    /// Protected attribute column for fairness (repeatable).
    #[arg(long = "group")]
    pub(crate) groups: Vec<String>,
    /// Decision threshold (repeatable; default 0.5).
    #[arg(long = "threshold")]
    pub(crate) thresholds: Vec<f64>,
    /// Labelled reference data for estimating performance without labels (CBPE).
    #[arg(long)]
    pub(crate) reference: Option<PathBuf>,
    /// Rows per estimation chunk.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) chunk_size: usize,
    /// Exit 1 when the verdict reaches this level (for CI). The verdict: alert when a group's approval-rate
    /// ratio is below 0.8 (the four-fifths rule) or a CBPE estimate leaves its thresholds, warn below 0.9.
    #[arg(long, value_enum)]
    pub(crate) fail_on: Option<FailOn>,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The verdict at which `drift` and `metrics` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum FailOn {
    /// A warning or an alert.
    Warn,
    /// An alert only.
    Alert,
}

#[derive(Debug, Args)]
pub(crate) struct DriftArgs {
    /// Reference data (CSV with header, or Parquet).
    #[arg(long)]
    pub(crate) reference: PathBuf,
    /// Current data, with the reference's feature columns.
    #[arg(long)]
    pub(crate) current: PathBuf,
    /// Column to treat as categorical even if it holds numbers (repeatable).
    #[arg(long = "categorical")]
    pub(crate) categorical: Vec<String>,
    /// Column to leave out, e.g. an id or the target (repeatable).
    #[arg(long = "exclude")]
    pub(crate) exclude: Vec<String>,
    /// PSI at or above this warns.
    #[arg(long, default_value_t = 0.10)]
    pub(crate) psi_warn: f64,
    /// PSI at or above this alerts.
    #[arg(long, default_value_t = 0.25)]
    pub(crate) psi_alert: f64,
    /// Equal-frequency reference bins for PSI and Jensen-Shannon on numeric features (deciles by default).
    #[arg(long, default_value_t = 10)]
    pub(crate) bins: usize,
    /// Exit 1 when any feature's verdict reaches this level (for CI).
    #[arg(long, value_enum)]
    pub(crate) fail_on: Option<FailOn>,
    /// Also measure multivariate drift: NannyML's data reconstruction error (a PCA fitted on the reference)
    /// per chunk of rows, alerting outside the reference chunks' mean ± 3σ. Holds every feature of both files
    /// in memory.
    #[arg(long)]
    pub(crate) multivariate: bool,
    /// Rows per chunk of the multivariate drift (default: a tenth of the reference).
    #[arg(long, requires = "multivariate")]
    pub(crate) chunk_size: Option<usize>,
    /// Share of the reference's variance the principal components keep (NannyML's default 0.65).
    #[arg(long, requires = "multivariate", default_value_t = warden_stats::reconstruction::DEFAULT_VARIANCE_SHARE)]
    pub(crate) variance_share: f64,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Report elapsed time and peak memory on stderr.
    #[arg(long)]
    pub(crate) timing: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Data directory (database, artifacts, admin token).
    #[arg(long, env = "WARDEN_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub(crate) data_dir: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "WARDEN_LISTEN", default_value = "127.0.0.1:8700")]
    pub(crate) listen: SocketAddr,
    /// The metadata database: a `postgres://user:password@host:port/db` URL, which several replicas may
    /// share. Default: SQLite in the data directory.
    /// Needs --ledger-key: every replica must sign the ledger's checkpoints with one key.
    #[arg(long, env = "WARDEN_DATABASE_URL", hide_env_values = true, requires = "ledger_key")]
    pub(crate) database: Option<String>,
    /// Keep artifacts in S3-compatible object storage: `s3://bucket/prefix` (credentials, region and endpoint
    /// from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION, AWS_ENDPOINT, AWS_ALLOW_HTTP). Default: the
    /// data directory. Replicas sharing a database must share this too.
    #[arg(long, env = "WARDEN_ARTIFACTS_URL")]
    pub(crate) artifacts: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, env = "WARDEN_TLS_CERT", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "WARDEN_TLS_KEY", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Trusted artifact signers: one `NAME BASE64-PUBLIC-KEY` per line (from `warden artifact keygen`).
    #[arg(long, env = "WARDEN_ARTIFACT_SIGNERS")]
    pub(crate) artifact_signers: Option<PathBuf>,
    /// A folder of the bank's document templates: each NAME.html (minijinja, at most 256 KiB, at most 32) is
    /// a template `warden docs generate --template NAME` writes, its figures cited like the shipped ones.
    #[arg(long, env = "WARDEN_DOCUMENT_TEMPLATES")]
    pub(crate) document_templates: Option<PathBuf>,
    /// The bank's OpenID provider and how its groups map to roles (TOML: `[oidc]`, `[roles]`; see the README).
    #[arg(long, env = "WARDEN_IDENTITY")]
    pub(crate) identity: Option<PathBuf>,
    /// Requests per second each token may make (bursts of as many); more get 429 with Retry-After.
    #[arg(long, default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) rate_limit: u32,
    /// Seconds a JSON request may take, body included (408 after).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) request_timeout_seconds: u64,
    /// Seconds an upload or a batch may take.
    #[arg(long, default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) upload_timeout_seconds: u64,
    /// Seconds a client may take to send a request's headers before it is disconnected.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub(crate) header_timeout_seconds: u64,
    /// Largest accepted upload (artifact or reference file), in bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub(crate) max_upload_bytes: u64,
    /// POST alert notifications here (JSON, signed with HMAC-SHA256; needs --alert-webhook-secret-file).
    #[arg(long, requires = "alert_webhook_secret_file")]
    pub(crate) alert_webhook: Option<String>,
    /// File holding the webhook's shared secret.
    #[arg(long, requires = "alert_webhook")]
    pub(crate) alert_webhook_secret_file: Option<PathBuf>,
    /// Receivers (signed webhook, Slack, PagerDuty, Jira, ServiceNow) and the rules routing alert, report and
    /// governance events to them, by event, model, tier and severity (YAML or JSON; see the README).
    #[arg(long)]
    pub(crate) notification_routes: Option<PathBuf>,
    /// The MLflow tracking server whose registry webhooks make candidate versions (POSTed to
    /// /v1/integrations/mlflow/webhook; needs --mlflow-webhook-secret-file).
    #[arg(long, env = "WARDEN_MLFLOW_TRACKING_URI", requires = "mlflow_webhook_secret_file")]
    pub(crate) mlflow_tracking_uri: Option<String>,
    /// File holding the secret MLflow signs its webhook deliveries with.
    #[arg(long, requires = "mlflow_tracking_uri")]
    pub(crate) mlflow_webhook_secret_file: Option<PathBuf>,
    /// Seconds between monitor evaluations.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) monitor_interval_seconds: u64,
    /// The ledger's Ed25519 seed (32 bytes of hex); default `ledger.key` in the data directory, made at first
    /// start with mode 0600.
    #[arg(long)]
    pub(crate) ledger_key: Option<PathBuf>,
    /// The key personal data is tokenised and encrypted with (32 bytes of hex); default `personal-data.key` in
    /// the data directory, made at first start with mode 0600. Replicas sharing a database share it.
    #[arg(long)]
    pub(crate) personal_data_key: Option<PathBuf>,
    /// Seconds between signed ledger checkpoints.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) checkpoint_interval_seconds: u64,
    /// A training command retraining jobs may run as `external:NAME`: `NAME=FORMAT:COMMAND`, where the command
    /// reads `{data}` (CSV) and writes `{model}` in FORMAT (repeatable).
    #[arg(long = "external-trainer")]
    pub(crate) external_trainers: Vec<String>,
    /// Kafka brokers (`HOST:PORT[,HOST:PORT…]`) to consume decision and outcome records from.
    #[arg(long, env = "WARDEN_KAFKA_BROKERS")]
    pub(crate) kafka_brokers: Option<String>,
    /// A topic of decision records and the model they are for: `TOPIC=MODEL` (repeatable).
    #[arg(long = "kafka-topic", requires = "kafka_brokers", value_parser = topic_model)]
    pub(crate) kafka_topics: Vec<(String, String)>,
    /// A topic of outcome records and the model whose decisions they label: `TOPIC=MODEL` (repeatable).
    #[arg(long = "kafka-outcomes-topic", requires = "kafka_brokers", value_parser = topic_model)]
    pub(crate) kafka_outcomes_topics: Vec<(String, String)>,
    /// The consumer group replicas share; each partition's position is kept per group in the database.
    #[arg(long, default_value = "warden", requires = "kafka_brokers")]
    pub(crate) kafka_group: String,
    /// Lag (records behind, per partition) above which the integrity monitor raises an alert.
    #[arg(long, default_value_t = 100_000, requires = "kafka_brokers")]
    pub(crate) kafka_lag_alert: i64,
    /// A librdkafka consumer property, `KEY=VALUE` (repeatable): TLS and SASL settings (`security.protocol`,
    /// `ssl.ca.location`, `sasl.mechanisms`, …), `session.timeout.ms`. Offsets and the group are Warden's own.
    #[arg(long = "kafka-property", requires = "kafka_brokers", value_parser = key_value)]
    pub(crate) kafka_properties: Vec<(String, String)>,
    /// Start a live example on a fresh data directory (`warden-demo` unless --data-dir is given): a portfolio
    /// of four models (healthy, drifting, promoted by override, awaiting approval), steady traffic with
    /// outcomes, then a drift that fires one model's monitors and rolls its champion back. Open the dashboard
    /// to watch.
    #[arg(long)]
    pub(crate) demo: bool,
}

#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum ModelCommand {
    /// Create a model.
    Create {
        /// Unique name (a-z 0-9 . _ -).
        name: String,
        /// Accountable owner.
        #[arg(long)]
        owner: String,
        /// high, medium or low.
        #[arg(long)]
        risk_tier: String,
        /// Free text.
        #[arg(long, default_value = "")]
        description: String,
        /// Business use.
        #[arg(long, default_value = "")]
        use_case: String,
        /// The business line it serves (roles can be scoped to one).
        #[arg(long, default_value = "")]
        business_line: String,
        /// Label (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The stop switch: every replica stops answering the model's production traffic with its versions and
    /// answers the fallback instead (decline, refer, or a version the gate let into the champion alias before),
    /// logged on route `fallback`, until it is resumed. Without --reason: show whether it is suspended.
    Suspend {
        /// Model name.
        name: String,
        /// Why (required to suspend).
        #[arg(long)]
        reason: Option<String>,
        /// decline, refer or version.
        #[arg(long, default_value = "refer", requires = "reason")]
        fallback: String,
        /// The version a `version` fallback answers with.
        #[arg(long, requires = "reason")]
        fallback_version: Option<i64>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// A model's data policy: how long its decisions, features and outcomes are kept, which inputs are personal
    /// (kept tokenised or encrypted) and which attribute names the person; with its purges and erasures. With
    /// --file (JSON with `retention` and `personal`) and --reason: declare it.
    DataPolicy {
        /// Model name.
        name: String,
        /// The policy to declare, as JSON.
        #[arg(long, requires = "reason")]
        file: Option<PathBuf>,
        /// Why (required to declare).
        #[arg(long, requires = "file")]
        reason: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Resume a suspended model: its aliases answer again.
    Resume {
        /// Model name.
        name: String,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Retire a model: it stops serving (scoring answers 410), ingesting and taking new versions; its records
    /// stay. A high tier model needs a second person to run this again to confirm.
    Retire {
        /// Model name.
        name: String,
        /// Why.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model's inventory fields, or write them (validated against the schema in force; the tier
    /// follows them through the policy's tiering rules).
    Fields {
        /// Model name.
        name: String,
        /// A value to write (JSON, or text when it is not JSON: `--set exposure=5000000 --set
        /// business_line=retail`); repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE", value_parser = key_value)]
        set: Vec<(String, String)>,
        /// A field to remove; repeatable.
        #[arg(long, value_name = "NAME")]
        unset: Vec<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model's tier, how it was set and what the policy computes from its fields; or (risk officer,
    /// admin, with a reason) override it, or have it follow the rules again.
    Tier {
        /// Model name.
        name: String,
        /// The tier to hold whatever the fields say: high, medium or low.
        #[arg(long = "override", value_name = "TIER", requires = "reason", conflicts_with = "follow_rules")]
        override_tier: Option<String>,
        /// Take the tier the policy computes (or the declared one when it decides nothing): clears an override,
        /// or applies a lower tier that a data scientist's field write could not.
        #[arg(long, requires = "reason")]
        follow_rules: bool,
        /// Why (required with --override and --follow-rules).
        #[arg(long)]
        reason: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Register a new version from an artifact and reference data.
    Register(RegisterArgs),
    /// List models.
    List {
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a model, or one of its versions (number or alias).
    Show {
        /// Model name.
        name: String,
        /// Version number or alias.
        version: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct RegisterArgs {
    /// Model name.
    pub(crate) name: String,
    /// The model artifact file (not for --format external).
    #[arg(long, required_unless_present = "score_column")]
    pub(crate) artifact: Option<PathBuf>,
    /// onnx, xgboost-json, xgboost-ubj, lightgbm-text, linear-json, or external (a model served outside Warden).
    #[arg(long)]
    pub(crate) format: String,
    /// External model: the reference (and validation) data column holding the model's scores.
    #[arg(long, conflicts_with = "artifact")]
    pub(crate) score_column: Option<String>,
    /// External model: where it is served (kserve, sagemaker, a vendor's product).
    #[arg(long, requires = "score_column")]
    pub(crate) platform: Option<String>,
    /// External model: its serving endpoint.
    #[arg(long, requires = "score_column")]
    pub(crate) endpoint: Option<String>,
    /// External model: the vendor, for a model bought rather than built.
    #[arg(long, requires = "score_column")]
    pub(crate) vendor: Option<String>,
    /// Reference data (CSV with header, or Parquet).
    #[arg(long)]
    pub(crate) reference: PathBuf,
    #[command(flatten)]
    pub(crate) columns: ColumnArgs,
    /// Feature schema JSON file: [{"name", "type": numeric|categorical, "categories"?, "nullable"?}].
    #[arg(long)]
    pub(crate) schema: Option<PathBuf>,
    /// Training data file; its SHA-256 and row count are recorded (the data is not uploaded).
    #[arg(long)]
    pub(crate) training_data: Option<PathBuf>,
    /// Code reference, e.g. a git commit.
    #[arg(long)]
    pub(crate) code_ref: Option<String>,
    /// Hyperparameter KEY=VALUE; VALUE is JSON if it parses, else a string (repeatable).
    #[arg(long = "param")]
    pub(crate) params: Vec<String>,
    /// Parent version number.
    #[arg(long)]
    pub(crate) parent: Option<i64>,
    /// The artifact's signature (base64, from `warden artifact sign`), by --signer.
    #[arg(long, requires = "signer")]
    pub(crate) signature: Option<String>,
    /// The trusted signer who made --signature.
    #[arg(long, requires = "signature")]
    pub(crate) signer: Option<String>,
    /// Decision threshold: scores at or above it are declined (default 0.5).
    #[arg(long)]
    pub(crate) threshold: Option<f64>,
    /// What the model predicts: binary_classification (default; the probability of the bad event),
    /// regression (a value) or multiclass_classification (a probability per --class).
    #[arg(long, value_parser = ["binary_classification", "regression", "multiclass_classification"])]
    pub(crate) task: Option<String>,
    /// A multiclass classifier's class label, in the order of the model's outputs (repeatable; with --task
    /// multiclass_classification).
    #[arg(long = "class")]
    pub(crate) classes: Vec<String>,
    /// Loss given default, 0 to 1, for expected loss in stress scenarios (with --exposure-column).
    #[arg(long)]
    pub(crate) lgd: Option<f64>,
    /// The data column holding the exposure at default (with --lgd).
    #[arg(long)]
    pub(crate) exposure_column: Option<String>,
    /// JSON file of categorical encodings the model was trained with: {"feature": {"category": code}}.
    #[arg(long)]
    pub(crate) encodings: Option<PathBuf>,
    /// What an undeclared category becomes: refuse (422, default) or missing.
    #[arg(long, value_parser = ["refuse", "missing"])]
    pub(crate) unknown_category: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AliasCommand {
    /// Point an alias at a version.
    Set {
        /// Model name.
        model: String,
        /// Alias.
        alias: String,
        /// Version number.
        version: i64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// Share of traffic the alias answers, 0 to 1 (the `canary` alias).
        #[arg(long)]
        traffic: Option<f64>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an alias (kept in its history). Removing `champion` or `canary` takes the model (or its canary)
    /// out of production: it needs the authority to promote and a reason.
    Unset {
        /// Model name.
        model: String,
        /// Alias.
        alias: String,
        /// Why (required for a production alias).
        #[arg(long, default_value = "")]
        reason: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// Which version an alias points at, now or at a past time.
    Get {
        /// Model name.
        model: String,
        /// Alias.
        alias: String,
        /// RFC 3339 time, e.g. 2026-03-01T00:00:00Z.
        #[arg(long)]
        at: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every assignment of a model's aliases.
    History {
        /// Model name.
        model: String,
        /// Only this alias.
        alias: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token; its secret is printed once.
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// viewer, data-scientist, validator, risk-officer, admin, scorer or reviewer.
        #[arg(long)]
        role: String,
        /// Lifetime, from now: a number with s, m, h or d (`90d`, `12h`). Default: no expiry.
        #[arg(long, value_parser = parse_lifetime, conflicts_with = "expires_at")]
        expires_in: Option<time::Duration>,
        /// Expiry as an RFC 3339 time.
        #[arg(long)]
        expires_at: Option<String>,
        /// Tie the token to a person of the identity provider (`ISSUER|SUBJECT`): what it does is theirs.
        #[arg(long = "for")]
        subject: Option<String>,
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a token.
    Revoke {
        /// Token name.
        name: String,
        #[command(flatten)]
        connection: Connection,
    },
    /// List tokens.
    List {
        #[command(flatten)]
        connection: Connection,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ImportCommand {
    /// A version of an MLflow model registry: its onnx, xgboost (JSON) or lightgbm flavour, signature, input
    /// example (as reference data unless --reference) and run (parameters, metrics, git commit, datasets).
    Mlflow(ImportMlflowArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ImportMlflowArgs {
    /// The MLflow tracking server, e.g. http://mlflow.internal:5000.
    #[arg(long, env = "MLFLOW_TRACKING_URI")]
    pub(crate) tracking_uri: String,
    /// models:/NAME/VERSION or models:/NAME@ALIAS.
    pub(crate) model_uri: String,
    /// The Warden model to register it under (default: MLflow's name); it must exist.
    #[arg(long = "as")]
    pub(crate) as_model: Option<String>,
    /// Reference data (CSV or Parquet); default: the input example MLflow logged with the model.
    #[arg(long)]
    pub(crate) reference: Option<std::path::PathBuf>,
    /// Target column of the reference data.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Protected attribute column (repeatable; monitored, never scored).
    #[arg(long)]
    pub(crate) protected: Vec<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct LoginArgs {
    /// The provider's issuer URL (by default, the one the server names at /v1/identity-provider).
    #[arg(long)]
    pub(crate) issuer: Option<String>,
    /// The client id to sign in as (with --issuer).
    #[arg(long)]
    pub(crate) client_id: Option<String>,
    #[command(flatten)]
    pub(crate) connection: Connection,
}

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    /// CSV or Parquet file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) columns: ColumnArgs,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Report elapsed time and peak memory on stderr.
    #[arg(long)]
    pub(crate) timing: bool,
}

/// Which data columns are the target, protected attributes, or to be ignored.
#[derive(Debug, Args)]
pub(crate) struct ColumnArgs {
    /// Target column.
    #[arg(long)]
    pub(crate) target: Option<String>,
    /// Protected attribute column, monitor-only, never a model input (repeatable).
    #[arg(long = "protected")]
    pub(crate) protected: Vec<String>,
    /// Column to ignore, e.g. an id (repeatable).
    #[arg(long = "exclude")]
    pub(crate) exclude: Vec<String>,
}

/// `90d`, `12h`, `30m`, `45s`: a positive whole number of days, hours, minutes or seconds.
fn parse_lifetime(text: &str) -> Result<time::Duration, String> {
    let bad = || format!("'{text}' is not a lifetime (a positive whole number with s, m, h or d, such as 90d)");
    let split = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number.parse().ok().filter(|n| *n > 0).ok_or_else(bad)?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        "d" => n.checked_mul(86_400),
        _ => None,
    };
    seconds.filter(|s| *s <= 100 * 366 * 86_400).map(time::Duration::seconds).ok_or_else(bad)
}

#[cfg(test)]
mod lifetime_tests {
    use super::parse_lifetime;

    #[test]
    fn lifetimes_parse_and_nonsense_is_refused() {
        assert_eq!(parse_lifetime("90d").unwrap(), time::Duration::days(90));
        assert_eq!(parse_lifetime("12h").unwrap(), time::Duration::hours(12));
        assert_eq!(parse_lifetime("1s").unwrap(), time::Duration::seconds(1));
        for bad in ["", "d", "0d", "-5d", "5", "5w", "1.5h", "99999999999d"] {
            assert!(parse_lifetime(bad).is_err(), "{bad}");
        }
    }
}

/// `TOPIC=MODEL`.
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("'{text}' is not KEY=VALUE")),
    }
}

fn topic_model(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((topic, model)) if !topic.is_empty() && !model.is_empty() => Ok((topic.to_owned(), model.to_owned())),
        _ => Err(format!("'{text}' is not TOPIC=MODEL")),
    }
}
