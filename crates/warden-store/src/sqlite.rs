//! [`MetadataStore`](crate::metadata::MetadataStore) on SQLite: the shared SQL of [`SqlStore`] with SQLite's
//! fragments and fast paths.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, Transaction};
use warden_ledger::hash_hex;

use crate::Result;
use std::collections::HashMap;
use std::future::Future;

use crate::metadata::{AuditRecord, LedgerLeaf, NewDecision};
use crate::sql::{Dialect, SqlStore};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// The SQLite metadata store. Its decision log has a connection of its own: that connection's page cache stays
/// warm for the decision table's indexes (SQLite drops a connection's cache whenever another connection has
/// written).
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::from_str("sqlite:")?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write survives power loss, not only a process crash.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Statement journals off the disk, and the WAL checkpointed every 64 MiB instead of every 4 MiB
            // (fewer, larger checkpoints cost less CPU per decision: +18% throughput measured).
            .pragma("temp_store", "MEMORY")
            .pragma("wal_autocheckpoint", "16384");
        // Page caches are per connection and fill up as the database grows: 8 MiB for each of the eight
        // general connections, 64 MiB for the decision log's own, which keeps the decision table's hot index
        // pages in memory. Memory stays bounded however large the log becomes.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
            .connect_with(options.clone().pragma("cache_size", "-8192"))
            .await?;
        MIGRATIONS.run(&pool).await?;
        // A connection whose transaction did not end (a COMMIT refused on a full disk leaves sqlx counting
        // one open transaction, and every later BEGIN on it fails) is closed and replaced, never reused.
        let decision_log = SqlitePoolOptions::new()
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
            .max_connections(Sqlite::DECISION_LOG_CONNECTIONS)
            .min_connections(1)
            .connect_with(options.pragma("cache_size", "-65536"))
            .await?;
        Ok(SqlStore::with_pools(pool, decision_log))
    }
}

impl Dialect for Sqlite {
    /// AUTOINCREMENT never hands out a number at or below the largest ever given, deleted rows included.
    const LAST_AUDIT_SEQ: &'static str = "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence \
         WHERE name = 'audit_events'), 0), COALESCE((SELECT MAX(seq) FROM audit_events), 0))";
    /// Through the index by name: SQLite's planner otherwise scans the log.
    const DECISIONS_BY_REQUEST: &'static str = "decisions d INDEXED BY decisions_by_request";
    /// CROSS JOIN fixes SQLite's join order: the outcomes outside.
    const DECISIONS_OF_OUTCOME: &'static str = Self::DECISIONS_BY_REQUEST;
    const VALIDATED_AUC: &'static str = "json_extract(r.body, '$.figures.discrimination.auc')";
    const GATE_ALLOW: &'static str = "json_extract(p.body, '$.allow')";
    const EXPOSURE: &'static str = "COALESCE(\
         CASE WHEN json_type(d.features, '$.\"' || $4 || '\"') IN ('integer', 'real') \
         THEN json_extract(d.features, '$.\"' || $4 || '\"') END, \
         CASE WHEN json_type(d.attributes, '$.\"' || $4 || '\"') IN ('integer', 'real') \
         THEN json_extract(d.attributes, '$.\"' || $4 || '\"') END)";
    /// One writer at a time is all SQLite has.
    const DECISION_LOG_CONNECTIONS: u32 = 1;
    const STREAM_LOCK_TIMEOUT: Option<&'static str> = None;

    /// Writes take the database lock up front, so concurrent writers queue instead of failing to upgrade.
    async fn write_tx(store: &SqliteStore) -> Result<Transaction<'static, Sqlite>> {
        Ok(store.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// The decision log writes on its own connection.
    async fn decision_tx(store: &SqliteStore) -> Result<Transaction<'static, Sqlite>> {
        Ok(store.decision_log.begin_with("BEGIN IMMEDIATE").await?)
    }

    async fn ledger_page(store: &SqliteStore, from: u64, to: u64) -> Result<Vec<(LedgerLeaf, Option<AuditRecord>)>> {
        // A page is read as one row of per-column aggregates (values split by record separators, written as
        // literals: `char(30)` would be a function call per value; hashes as fixed-width hex): the SQLite driver's cost is per row and a page holds tens of thousands, and
        // aggregating each column apart avoids building a string per row. Every aggregate sees the rows in
        // the same scan order; the index column checks it. Payloads are JSON text (control characters
        // escaped); a separator inside a name shifts the columns, which verification reports.
        type Columns = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let columns: Columns = sqlx::query_as(
            "SELECT group_concat(l.idx || ',' || l.audit_seq, '\u{1e}'), \
             group_concat(hex(l.payload_sha256 || l.leaf_hash), ''), group_concat(COALESCE(a.at, ''), '\u{1e}'), \
             group_concat(COALESCE(a.actor, ''), '\u{1e}'), group_concat(COALESCE(a.action, ''), '\u{1e}'), \
             group_concat(COALESCE(a.subject, ''), '\u{1e}'), group_concat(COALESCE(a.payload, ''), '\u{1e}') \
             FROM ledger_entries l LEFT JOIN audit_events a ON a.seq = l.audit_seq WHERE l.idx >= $1 AND l.idx < $2",
        )
        .bind(from as i64)
        .bind(to as i64)
        .fetch_one(&store.pool)
        .await?;
        let (Some(positions), Some(hashes), at, actor, action, subject, payload) = columns else {
            return Ok(Vec::new());
        };
        let split = |column: Option<String>| -> Vec<String> {
            column.as_deref().unwrap_or_default().split('\u{1e}').map(str::to_owned).collect()
        };
        let positions: Vec<(u64, i64)> = positions
            .split('\u{1e}')
            .map(|p| {
                let (idx, seq) = p.split_once(',').unwrap_or_default();
                (idx.parse().unwrap_or(u64::MAX), seq.parse().unwrap_or(-1))
            })
            .collect();
        let (at, actor, action, subject, payload) =
            (split(at), split(actor), split(action), split(subject), split(payload));
        let rows = positions.len();
        let consistent =
            [&at, &actor, &action, &subject, &payload].iter().all(|c| c.len() == rows) && hashes.len() == rows * 128;
        if !consistent {
            // A separator inside a field: read this page row by row instead.
            return store.ledger_page_rows(from, to).await;
        }
        let mut out = Vec::with_capacity(rows);
        let mut fields = at.into_iter().zip(actor).zip(action).zip(subject).zip(payload);
        for (i, &(index, audit_seq)) in positions.iter().enumerate() {
            let ((((at, actor), action), subject), payload) = fields.next().expect("same length");
            let hashed = &hashes[i * 128..(i + 1) * 128];
            let row = LedgerLeaf {
                index,
                audit_seq,
                payload_sha256: hash_hex::decode(&hashed.as_bytes()[..64]).map_or_else(Vec::new, |h| h.to_vec()),
                leaf_hash: hash_hex::decode(&hashed.as_bytes()[64..]).map_or_else(Vec::new, |h| h.to_vec()),
            };
            // No audit event joined: `at` is empty.
            let record = at.parse().ok().map(|at| AuditRecord { seq: audit_seq, at, actor, action, subject, payload });
            out.push((row, record));
        }
        if !out.windows(2).all(|w| w[0].0.index < w[1].0.index) {
            out.sort_by_key(|(row, _)| row.index);
        }
        Ok(out)
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// The portable multi-row INSERT is SQLite's fastest.
    fn insert_decision_rows<'a>(
        _tx: &'a mut Transaction<'static, Sqlite>,
        _decisions: &'a [NewDecision],
        _model_ids: &'a HashMap<&'a str, i64>,
        _returning: bool,
    ) -> Option<impl Future<Output = Result<crate::sql::Written>> + Send + 'a> {
        None::<std::future::Ready<Result<crate::sql::Written>>>
    }

    async fn leaf_hashes(store: &SqliteStore, from: u64, to: u64) -> Result<Vec<u8>> {
        // Scan order is index order (a rowid range); the index column checks it rather than a sort.
        let (indexes, hexed): (Option<String>, Option<String>) = sqlx::query_as(
            "SELECT group_concat(idx, ','), group_concat(hex(leaf_hash), '') FROM ledger_entries \
             WHERE idx >= $1 AND idx < $2",
        )
        .bind(from as i64)
        .bind(to as i64)
        .fetch_one(&store.pool)
        .await?;
        let in_order = indexes
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.parse::<u64>().unwrap_or(u64::MAX))
            .eq(from..from + indexes.as_deref().map_or(0, |s| s.split(',').count()) as u64);
        let hexed = if in_order {
            hexed
        } else {
            sqlx::query_scalar(
                "SELECT group_concat(hex(leaf_hash), '' ORDER BY idx) FROM ledger_entries WHERE idx >= $1 AND idx < $2",
            )
            .bind(from as i64)
            .bind(to as i64)
            .fetch_one(&store.pool)
            .await?
        };
        let decoded: Option<Vec<[u8; 32]>> =
            hexed.as_deref().unwrap_or_default().as_bytes().chunks(64).map(hash_hex::decode).collect();
        Ok(decoded.map(|hashes| hashes.concat()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::Error;
    use crate::metadata::*;

    /// A database (`options` names its file) with the schema as it was before migration `first_missing`: the
    /// migrations numbered below it applied, in a copy of them under `dir`.
    async fn schema_before(dir: &Path, first_missing: &str, options: SqliteConnectOptions) -> sqlx::SqlitePool {
        let before = dir.join("before");
        std::fs::create_dir(&before).unwrap();
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name().to_string_lossy().as_ref() < first_missing {
                std::fs::copy(entry.path(), before.join(entry.file_name())).unwrap();
            }
        }
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        sqlx::migrate::Migrator::new(before.as_path()).await.unwrap().run(&pool).await.unwrap();
        pool
    }

    /// Alerts stored before an alert belonged to one version take back the version they fired on (an evaluation
    /// of another version used to relabel them), and two versions may then each have an open alert.
    #[tokio::test]
    async fn migrated_alerts_take_back_the_version_they_fired_on() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        // The schema as it was before the migration, with one relabelled alert.
        let options = SqliteConnectOptions::from_str("sqlite:").unwrap().filename(&path).create_if_missing(true);
        let pool = schema_before(dir.path(), "0016", options).await;
        sqlx::raw_sql(
            "INSERT INTO models VALUES (1, 'credit', '', 'o', 'high', 'u', '[]', 0, 'a');
             INSERT INTO alerts (id, model_id, monitor, feature, version, severity, state, opened_at, updated_at)
                 VALUES (1, 1, 'feature_drift', 'age', 1, 'critical', 'firing', 0, 0);
             INSERT INTO alert_events (alert_id, at, kind, actor, details)
                 VALUES (1, 0, 'fired', 'warden', '{\"value\": 0.4, \"version\": 2}'),
                        (1, 5, 'escalated', 'warden', '{\"value\": 0.5, \"version\": 1}');",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        let store = SqliteStore::open(&path).await.unwrap();
        let alert = store.alert(1).await.unwrap().unwrap();
        assert_eq!(alert.version, 2, "the version it fired on");
        let mut other = AlertRow { id: 0, version: 1, ..alert };
        other.model_name = "credit".into();
        let event = AlertEvent { at: 9, kind: "fired".into(), actor: "warden".into(), details: Value::Null };
        store.save_alert(&other, &event, None).await.expect("version 1 has an alert of its own");
        let err = store.save_alert(&other, &event, None).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "one open alert per version: {err}");
        let incident = store.open_incident("credit", "t", 1, 1).await.unwrap();
        assert_eq!((incident.resolved_by, incident.resolution), (None, None));
    }

    /// A log written under the two request id indexes keeps its rows and its rule under the one that replaced
    /// them: scored decisions sharing a request id are left alone, an ingested one is still logged once.
    #[tokio::test]
    async fn the_merged_request_index_keeps_the_logged_once_rule() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let options = SqliteConnectOptions::from_str("sqlite:")
            .unwrap()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(false);
        let pool = schema_before(dir.path(), "0024", options.clone()).await;
        let row = |id: &str, version: i64, source: &str| {
            format!("(1, '{id}', 1, {version}, 'champion', '{{}}', '{{}}', 0.5, 'approve', 0, '{source}')")
        };
        let rows = [row("s", 1, "scored"), row("s", 1, "scored"), row("k", 1, "http"), row("k", 2, "http")];
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "INSERT INTO decisions (at, request_id, model_id, version, route, features, attributes, score, decision, \
             latency_us, source) VALUES {}",
            rows.join(", ")
        )))
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        drop(SqliteStore::open(&path).await.unwrap());
        // Without foreign keys, as before: the rows name a model and versions this file does not hold.
        let pool = SqlitePoolOptions::new().connect_with(options).await.unwrap();
        let indexes: Vec<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decisions'")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(!indexes.iter().any(|i| i == "decisions_ingested_once"), "{indexes:?}");
        let insert = |id: &str, version: i64, source: &str| {
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "INSERT INTO decisions (at, request_id, model_id, version, route, features, attributes, score, \
                 decision, latency_us, source) VALUES {} ON CONFLICT DO NOTHING",
                row(id, version, source)
            )))
            .execute(&pool)
        };
        assert_eq!(insert("k", 1, "kafka").await.unwrap().rows_affected(), 0, "logged once");
        assert_eq!(insert("k", 3, "kafka").await.unwrap().rows_affected(), 1, "another version");
        assert_eq!(insert("s", 1, "scored").await.unwrap().rows_affected(), 1, "scored: not constrained");
        assert_eq!(insert("k", 1, "scored").await.unwrap().rows_affected(), 1, "scored under an ingested id");
    }

    /// Audit events written before the ledger existed get the entries the append path would have given them.
    #[tokio::test]
    async fn backfilled_entries_equal_appended_ones() {
        let dir = tempfile::tempdir().unwrap();
        let appended = SqliteStore::open(&dir.path().join("a.db")).await.unwrap();
        let backfilled = SqliteStore::open(&dir.path().join("b.db")).await.unwrap();
        let events: Vec<AuditEventDraft> = (0..700).map(|i| audit("model.create", &format!("model/m{i}"))).collect();
        appended.append_audit_batch(&events).await.unwrap();
        for e in &events {
            sqlx::query(
                "INSERT INTO audit_events (at, actor, action, subject, payload) VALUES ($1, $2, $3, $4, 'null')",
            )
            .bind(e.at)
            .bind(&e.actor)
            .bind(&e.action)
            .bind(&e.subject)
            .execute(&backfilled.pool)
            .await
            .unwrap();
        }
        assert_eq!(backfilled.ledger_backfill().await.unwrap(), 700);
        assert_eq!(backfilled.ledger_backfill().await.unwrap(), 0, "nothing left to backfill");
        assert_eq!(
            backfilled.ledger_leaf_hashes(0, 700).await.unwrap(),
            appended.ledger_leaf_hashes(0, 700).await.unwrap()
        );
    }

    /// A long history comes back at the asked resolution: the last evaluation of each equal slice of the span
    /// the evaluations cover, per monitor, oldest first, and nothing before `since`.
    #[tokio::test]
    async fn monitor_series_keeps_the_last_evaluation_of_each_slice() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).await.unwrap();
        store.create_model(model("credit"), audit("model.create", "model/credit")).await.unwrap();
        for name in ["drift", "quality"] {
            let monitor = MonitorRow {
                model_name: "credit".into(),
                name: name.into(),
                kind: "feature_drift".into(),
                config: Value::Null,
                enabled: true,
                updated_at: 1,
                updated_by: "token:test".into(),
            };
            store.put_monitor(monitor, None).await.unwrap();
        }
        let evaluation = |monitor: &str, second: i64| MonitorEvaluation {
            model_name: "credit".into(),
            monitor: monitor.into(),
            at: second * 1_000_000,
            version: 1,
            window_start: 0,
            decisions: 10,
            status: "ok".into(),
            value: Some(second as f64),
            details: serde_json::json!({}),
        };
        let all: Vec<MonitorEvaluation> =
            (0..1000).flat_map(|s| [evaluation("drift", s), evaluation("quality", s)]).collect();
        store.insert_monitor_evaluations(&all, &[]).await.unwrap();

        let series = store.monitor_series("credit", 0, 10).await.unwrap();
        let drift: Vec<f64> = series.iter().filter(|e| e.monitor == "drift").map(|e| e.value.unwrap()).collect();
        // 999 s in 10 slices of 100 s: the last evaluation of each is at 99, 199, ... 999.
        assert_eq!(drift, (1..=10).map(|k| (k * 100 - 1) as f64).collect::<Vec<_>>());
        assert_eq!(series.iter().filter(|e| e.monitor == "quality").count(), 10);
        assert!(series.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");

        let recent = store.monitor_series("credit", 900 * 1_000_000, 10).await.unwrap();
        assert!(recent.iter().all(|e| e.at >= 900 * 1_000_000) && !recent.is_empty());
        assert!(store.monitor_series("credit", 2_000 * 1_000_000, 10).await.unwrap().is_empty());
    }

    fn audit(action: &str, subject: &str) -> AuditEventDraft {
        AuditEventDraft {
            at: 1,
            actor: "token:test".into(),
            action: action.into(),
            subject: subject.into(),
            payload: Value::Null,
        }
    }

    fn model(name: &str) -> NewModel {
        NewModel {
            name: name.into(),
            description: String::new(),
            owner: "risk".into(),
            risk_tier: "high".into(),
            use_case: "credit".into(),
            business_line: "retail".into(),
            tags: vec!["retail".into()],
            created_at: 1,
            created_by: "token:test".into(),
        }
    }

    fn version(sha: &str) -> NewVersion {
        NewVersion {
            artifact_sha256: sha.into(),
            artifact_size: 3,
            format: "linear-json".into(),
            feature_schema: serde_json::json!([]),
            target_column: None,
            protected_columns: vec![],
            reference_sha256: "r".into(),
            reference_size: 1,
            reference_format: "csv".into(),
            reference_profile: serde_json::json!({}),
            training_data_sha256: None,
            training_data_rows: None,
            code_ref: None,
            hyperparameters: serde_json::json!({}),
            parent_version: None,
            artifact_signer: None,
            artifact_signature: None,
            serving_config: Value::Object(Default::default()),
            input_warnings: serde_json::json!([]),
            created_at: 1,
            created_by: "token:test".into(),
        }
    }

    async fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("warden.db")).await.unwrap();
        (dir, store)
    }

    async fn event_count(store: &SqliteStore) -> usize {
        store.audit_events(&AuditQuery { limit: 1000, ..Default::default() }).await.unwrap().len()
    }

    fn decision(request_id: &str, version: i64, at: Micros) -> NewDecision {
        NewDecision {
            at,
            request_id: request_id.into(),
            model_name: "a".into(),
            version,
            route: "champion".into(),
            features: serde_json::json!({"x": at}),
            features_text: None,
            attributes: serde_json::json!({}),
            score: at as f64 / 100.0,
            probabilities: Vec::new(),
            decision: "approve".into(),
            latency_us: 5,
            source: "scored".into(),
            late_period: None,
            subject: None,
        }
    }

    fn outcome(request_id: &str, at: Micros, label: i64) -> NewOutcome {
        NewOutcome {
            request_id: request_id.into(),
            at,
            label,
            kind: "default".into(),
            amount: None,
            value: None,
            class: None,
            recorded_by: "token:test".into(),
        }
    }

    /// Features kept as the text they came in are stored as that text; others are serialised.
    #[tokio::test]
    async fn features_read_as_text_are_stored_as_that_text() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        store.insert_version("a", version("x"), &|n| audit("version.register", &format!("model/a/{n}"))).await.unwrap();
        let as_sent = "{ \"x\" : 7,\"b\":[1, 2] }";
        let kept = NewDecision {
            features: serde_json::from_str(as_sent).unwrap(),
            features_text: Some(as_sent.into()),
            ..decision("kept", 1, 10)
        };
        store.insert_decisions(&[kept, decision("serialised", 1, 11)]).await.unwrap();
        let stored: Vec<(String, String)> =
            sqlx::query_as("SELECT request_id, features FROM decisions ORDER BY request_id")
                .fetch_all(&store.pool)
                .await
                .unwrap();
        assert_eq!(stored, [("kept".into(), as_sent.into()), ("serialised".into(), "{\"x\":11}".into())]);
    }

    /// The labelled decisions of one version since a time, newest first, each with its latest outcome.
    #[tokio::test]
    async fn scored_outcomes_join_the_latest_label_of_this_version() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        for sha in ["x", "y"] {
            store
                .insert_version("a", version(sha), &|n| audit("version.register", &format!("model/a/{n}")))
                .await
                .unwrap();
        }
        let decisions: Vec<NewDecision> =
            (0..50).map(|i| decision(&format!("r{i}"), if i % 10 == 9 { 2 } else { 1 }, 1_000 + i)).collect();
        store.insert_decisions(&decisions).await.unwrap();
        // r3 is corrected to 0; r9 belongs to version 2; r1 scored before `since`; r77 was never scored.
        let outcomes = [outcome("r1", 2_000, 1), outcome("r3", 2_001, 1), outcome("r3", 2_002, 0)];
        store.insert_outcomes(&outcomes).await.unwrap();
        store
            .insert_outcomes(&[outcome("r9", 2_003, 1), outcome("r20", 2_004, 1), outcome("r5", 2_005, 0)])
            .await
            .unwrap();
        assert!(store.insert_outcomes(&[outcome("r77", 2_006, 1)]).await.is_err(), "unknown request id");

        let labelled = store.scored_outcomes("a", 1, 1_002, 10, true).await.unwrap();
        let got: Vec<(Micros, Option<bool>)> = labelled.iter().map(|o| (o.at, o.label)).collect();
        assert_eq!(got, [(1_020, Some(true)), (1_005, Some(false)), (1_003, Some(false))]);
        assert_eq!(labelled[0].features, serde_json::json!({"x": 1_020}));
        assert_eq!(store.scored_outcomes("a", 1, 1_002, 2, true).await.unwrap().len(), 2, "limit");
        let v2 = store.scored_outcomes("a", 2, 0, 10, true).await.unwrap();
        assert_eq!(v2.iter().map(|o| o.at).collect::<Vec<_>>(), [1_009]);
        assert!(store.scored_outcomes("b", 1, 0, 10, true).await.unwrap().is_empty(), "unknown model");

        // Unlabelled path: every decision of the version, newest first, the label where one arrived.
        let all = store.scored_outcomes("a", 1, 1_040, 100, false).await.unwrap();
        assert_eq!(
            all.iter().map(|o| o.at).collect::<Vec<_>>(),
            [1_048, 1_047, 1_046, 1_045, 1_044, 1_043, 1_042, 1_041, 1_040]
        );
        assert!(all.iter().all(|o| o.label.is_none()));
    }

    /// A late decision's period is noted in the transaction that logs it, survives a restart, and is cleared
    /// only by a round that read its latest note.
    #[tokio::test]
    async fn late_periods_are_noted_with_their_decisions_and_cleared_only_as_read() {
        let (dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        store.insert_version("a", version("x"), &|n| audit("version.register", &format!("model/a/{n}"))).await.unwrap();
        let late =
            |id: &str, period| NewDecision { source: "http".into(), late_period: Some(period), ..decision(id, 1, 10) };
        store.insert_decisions(&[late("l1", 0), late("l2", 0), decision("s1", 1, 20)]).await.unwrap();
        // A batch that fails after its notes were written (a route the log refuses) leaves none of them.
        let refused = NewDecision { route: "nowhere".into(), ..late("l3", 3_600) };
        assert!(store.insert_decisions(&[late("l4", 3_600), refused]).await.is_err());
        let noted = store.late_periods(100).await.unwrap();
        let first = LatePeriod { model_name: "a".into(), version: 1, start: 0, generation: 1 };
        assert_eq!(noted, [first.clone()]);

        // After a restart the note is still there; a later note of the same period raises its generation.
        drop(store);
        let store = SqliteStore::open(&dir.path().join("warden.db")).await.unwrap();
        assert_eq!(store.late_periods(100).await.unwrap(), [first.clone()]);
        store.insert_decisions(&[late("l5", 0)]).await.unwrap();
        // A round that read the first note does not clear the second.
        store.insert_monitor_evaluations(&[], &[first.clone()]).await.unwrap();
        let second = LatePeriod { generation: 2, ..first };
        assert_eq!(store.late_periods(100).await.unwrap(), [second.clone()]);
        store.insert_monitor_evaluations(&[], &[second]).await.unwrap();
        assert_eq!(store.late_periods(100).await.unwrap(), []);
    }

    /// An outcome read before its decision waits: recorded once the decision is logged, set aside as a dead
    /// record when none comes in time, in one transaction each.
    #[tokio::test]
    async fn outcomes_ahead_of_their_decisions_wait_for_them() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        store.insert_version("a", version("x"), &|n| audit("version.register", &format!("model/a/{n}"))).await.unwrap();
        let read_at = |offset| DeadLetter {
            at: 7,
            source: "kafka".into(),
            topic: Some("outcomes".into()),
            partition: Some(0),
            offset: Some(offset),
            model: Some("a".into()),
            reason: String::new(),
            payload: format!("{{\"offset\": {offset}}}"),
        };
        let early = |id: &str, at, offset| (outcome(id, at, 1), read_at(offset));
        let commit = StreamCommit {
            at: 7,
            outcomes: vec![early("late-decision", 100, 0), early("never", 5, 1)],
            ..Default::default()
        };
        assert_eq!(store.commit_stream(&commit).await.unwrap().pending_outcomes, 2);
        let labelled = |store: &SqliteStore| {
            let pool = store.pool.clone();
            async move { sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outcomes").fetch_one(&pool).await.unwrap() }
        };
        // Nothing to settle yet, and nothing old enough to give up on.
        assert_eq!(store.settle_pending_outcomes(200, 0).await.unwrap(), PendingSettled::default());
        store
            .insert_decisions(&[NewDecision { source: "kafka".into(), ..decision("late-decision", 1, 90) }])
            .await
            .unwrap();
        assert_eq!(store.settle_pending_outcomes(200, 0).await.unwrap(), PendingSettled { recorded: 1, expired: 0 });
        assert_eq!(labelled(&store).await, 1);
        let scored = store.scored_outcomes("a", 1, 0, 10, true).await.unwrap();
        assert_eq!((scored.len(), scored[0].label), (1, Some(true)), "the decision is labelled now");
        // The other never gets its decision: past the deadline it is a dead record, and no longer waits.
        assert_eq!(store.settle_pending_outcomes(300, 50).await.unwrap(), PendingSettled { recorded: 0, expired: 1 });
        assert_eq!(store.pending_outcome_count().await.unwrap(), 0);
        let (letters, total) = store.dead_letters(10).await.unwrap();
        assert_eq!(total, 1);
        assert!(letters[0].reason.contains("'never'"), "{letters:?}");
        assert_eq!((letters[0].topic.as_deref(), letters[0].offset, letters[0].at), (Some("outcomes"), Some(1), 300));
        // The recorded outcome read again (a replay) is not recorded twice.
        let replay = StreamCommit { at: 8, outcomes: vec![early("late-decision", 100, 0)], ..Default::default() };
        let done = store.commit_stream(&replay).await.unwrap();
        assert_eq!((done.outcomes, done.pending_outcomes), (0, 0));
        assert_eq!(labelled(&store).await, 1);
    }

    /// A stream commit writes decisions, outcomes, dead records and positions together; a stale position
    /// refuses the whole commit; an ingested decision logged twice is kept once.
    #[tokio::test]
    async fn stream_commits_are_atomic_and_ingested_decisions_are_logged_once() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        store.insert_version("a", version("x"), &|n| audit("version.register", &format!("model/a/{n}"))).await.unwrap();
        let ingested = |id: &str| NewDecision { source: "kafka".into(), ..decision(id, 1, 10) };
        let advance = |from, to| StreamAdvance { group: "g".into(), topic: "t".into(), partition: 0, from, to };
        let read_at = |offset| DeadLetter {
            at: 7,
            source: "kafka".into(),
            topic: Some("t".into()),
            partition: Some(0),
            offset: Some(offset),
            model: Some("a".into()),
            reason: String::new(),
            payload: "{}".into(),
        };
        let commit = StreamCommit {
            at: 7,
            decisions: vec![ingested("k1"), ingested("k2"), ingested("k1")],
            outcomes: vec![(outcome("k1", 11, 1), read_at(0)), (outcome("nobody", 12, 0), read_at(1))],
            dead_letters: vec![],
            advances: vec![advance(None, 3)],
        };
        let done = store.commit_stream(&commit).await.unwrap();
        let new_decisions = vec![true, true, false];
        let pending =
            StreamCommitted { new_decisions, decisions: 2, outcomes: 1, pending_outcomes: 1, dead_letters: 0 };
        assert_eq!(done, pending, "the outcome without its decision waits for it");
        assert_eq!(store.stream_positions("g", "t").await.unwrap(), [(0, 3)]);
        assert_eq!(store.pending_outcome_count().await.unwrap(), 1);

        // The same records again from a consumer that read no position: refused, nothing written.
        let err = store.commit_stream(&commit).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)) && err.to_string().contains("not none"), "{err}");
        assert_eq!(store.count_decisions("a").await.unwrap(), 2);
        // A new group replaying the topic reads the same records at the same offsets: nothing is added, not
        // the decisions, the outcome, the one waiting, or the dead record given.
        let replay_advance = StreamAdvance { group: "replay".into(), ..advance(None, 3) };
        let given = DeadLetter { reason: "not JSON".into(), payload: "{".into(), ..read_at(2) };
        let first = StreamCommit { dead_letters: vec![given.clone()], advances: vec![], ..commit.clone() };
        let first_done = store
            .commit_stream(&StreamCommit {
                advances: vec![StreamAdvance { group: "h".into(), ..advance(None, 3) }],
                ..first
            })
            .await
            .unwrap();
        assert_eq!(
            (first_done.decisions, first_done.outcomes, first_done.dead_letters),
            (0, 0, 1),
            "only the new dead record"
        );
        let replay =
            StreamCommit { dead_letters: vec![given.clone()], advances: vec![replay_advance], ..commit.clone() };
        let done = store.commit_stream(&replay).await.unwrap();
        assert_eq!(done, StreamCommitted { new_decisions: vec![false; 3], ..Default::default() });
        assert_eq!(store.dead_letters(10).await.unwrap().1, 1);
        assert_eq!(store.pending_outcome_count().await.unwrap(), 1);
        let outcomes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outcomes").fetch_one(&store.pool).await.unwrap();
        assert_eq!(outcomes, 1);
        // A topic created again under the same name starts its offsets over: a different record there is kept.
        let other = DeadLetter { payload: "[".into(), ..given };
        let again = StreamAdvance { group: "replay".into(), ..advance(Some(3), 4) };
        let done = store
            .commit_stream(&StreamCommit {
                at: 9,
                dead_letters: vec![other],
                advances: vec![again],
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(done.dead_letters, 1);
        // The same decisions without positions (an HTTP retry): skipped, and said so row by row.
        assert_eq!(store.insert_decisions(&[ingested("k2"), ingested("k3")]).await.unwrap(), [false, true]);
        assert_eq!(store.count_decisions("a").await.unwrap(), 3);
        // Scored decisions are not subject to it (a shadow answer shares its request id with the champion's).
        assert_eq!(store.insert_decisions(&[decision("s", 1, 1), decision("s", 1, 2)]).await.unwrap(), [true, true]);
        assert_eq!(store.insert_decisions(&[decision("k1", 1, 3)]).await.unwrap(), [true], "an ingested id, scored");
        assert_eq!(store.count_decisions("a").await.unwrap(), 6);
        // A version that does not exist: nothing of the group is written.
        let unknown = NewDecision { version: 9, ..ingested("k4") };
        let err = store.insert_decisions(&[ingested("k5"), unknown]).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)) && err.to_string().contains("no version 9"), "{err}");
        assert_eq!(store.count_decisions("a").await.unwrap(), 6);
        let moved = StreamCommit { at: 8, advances: vec![advance(Some(3), 9)], ..Default::default() };
        store.commit_stream(&moved).await.unwrap();
        assert_eq!(store.stream_positions("g", "t").await.unwrap(), [(0, 9)]);

        // A batch's records are written at once, its positions only once its turn comes (the batch before it
        // has committed).
        let (turn_comes, turn) = tokio::sync::oneshot::channel::<()>();
        let next = StreamCommit {
            at: 10,
            decisions: vec![ingested("k6")],
            advances: vec![advance(Some(9), 12)],
            ..Default::default()
        };
        let writer = store.clone();
        let batch = tokio::spawn(async move {
            writer
                .commit_stream_after(
                    &next,
                    Box::pin(async move {
                        let _ = turn.await;
                    }),
                )
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!batch.is_finished(), "it waits for its turn");
        assert_eq!(store.stream_positions("g", "t").await.unwrap(), [(0, 9)]);
        turn_comes.send(()).unwrap();
        assert_eq!(batch.await.unwrap().unwrap().decisions, 1);
        assert_eq!(store.stream_positions("g", "t").await.unwrap(), [(0, 12)]);
    }

    #[tokio::test]
    async fn duplicate_model_is_a_conflict_and_appends_no_event() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        let err = store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");
        assert_eq!(event_count(&store).await, 1);
    }

    /// Two promotions that read the clock in one order and commit in the other: the later commit is dated no
    /// earlier than the one before it, so "which version at time T" follows the commit order.
    #[tokio::test]
    async fn alias_assignments_are_dated_in_commit_order() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        for sha in ["x", "y"] {
            store
                .insert_version("a", version(sha), &|n| audit("version.register", &format!("model/a/{n}")))
                .await
                .unwrap();
        }
        let assignment = |version: i64, at: i64| AliasAssignment {
            model_name: "a".into(),
            alias: "champion".into(),
            version: Some(version),
            assigned_at: at,
            assigned_by: "token:t".into(),
            reason: "r".into(),
            traffic: None,
            decision_id: None,
            overridden: false,
        };
        let event = |at: i64| AuditEventDraft { at, ..audit("model.promote", "model/a/alias/champion") };
        let first = store.assign_alias(assignment(1, 2_000), event(2_000)).await.unwrap();
        let second = store.assign_alias(assignment(2, 1_000), event(1_000)).await.unwrap();
        assert_eq!((first.assigned_at, second.assigned_at), (2_000, 2_000));
        let current = store.alias_at("a", "champion", 2_000).await.unwrap().unwrap();
        assert_eq!(current.version, Some(2), "the later commit is the alias at that time");
        let history = store.alias_history("a", Some("champion")).await.unwrap();
        assert!(history.windows(2).all(|w| w[0].assigned_at <= w[1].assigned_at), "{history:?}");
        let events = store.audit_events(&AuditQuery { after_seq: 0, subject: None, limit: 100 }).await.unwrap();
        let promoted: Vec<i64> =
            events.iter().filter(|e| e.event.action == "model.promote").map(|e| e.event.at).collect();
        assert_eq!(promoted, vec![2_000, 2_000], "the audit event carries the same time");
    }

    #[tokio::test]
    async fn versions_are_numbered_and_immutable() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        let v1 = store
            .insert_version("a", version("x"), &|n| audit("version.register", &format!("model/a/{n}")))
            .await
            .unwrap();
        let v2 = store
            .insert_version("a", version("y"), &|n| audit("version.register", &format!("model/a/{n}")))
            .await
            .unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(store.get_model("a").await.unwrap().unwrap().latest_version, Some(2));
        let err = sqlx::query("UPDATE versions SET format = 'onnx'").execute(&store.pool).await.unwrap_err();
        assert!(err.to_string().contains("immutable"), "{err}");
        let err = sqlx::query("DELETE FROM audit_events").execute(&store.pool).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let events = store
            .audit_events(&AuditQuery { subject: Some("model/a".into()), limit: 10, ..Default::default() })
            .await
            .unwrap();
        let subjects: Vec<_> = events.iter().map(|e| e.event.subject.as_str()).collect();
        assert_eq!(subjects, ["model/a", "model/a/1", "model/a/2"]);
        assert!(store.blob_referenced("y").await.unwrap());
        assert!(!store.blob_referenced("z").await.unwrap());
    }

    #[tokio::test]
    async fn version_of_unknown_model_is_not_found_and_writes_nothing() {
        let (_dir, store) = fresh().await;
        let err =
            store.insert_version("nope", version("x"), &|_| audit("version.register", "model/nope")).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)), "{err}");
        assert_eq!(event_count(&store).await, 0);
    }

    #[tokio::test]
    async fn alias_history_answers_which_version_at_time_t() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        for sha in ["x", "y"] {
            store.insert_version("a", version(sha), &|_| audit("version.register", "model/a")).await.unwrap();
        }
        let assign = |version: Option<i64>, at: i64| AliasAssignment {
            model_name: "a".into(),
            alias: "champion".into(),
            version,
            assigned_at: at,
            assigned_by: "token:test".into(),
            reason: String::new(),
            traffic: None,
            decision_id: None,
            overridden: false,
        };
        store.assign_alias(assign(Some(1), 100), audit("alias.set", "model/a")).await.unwrap();
        store.assign_alias(assign(Some(2), 200), audit("alias.set", "model/a")).await.unwrap();
        store.assign_alias(assign(None, 300), audit("alias.delete", "model/a")).await.unwrap();
        let err = store.assign_alias(assign(Some(9), 400), audit("alias.set", "model/a")).await.unwrap_err();
        assert!(matches!(err, Error::NotFound(_)));
        assert_eq!(store.alias_at("a", "champion", 99).await.unwrap(), None);
        assert_eq!(store.alias_at("a", "champion", 150).await.unwrap().unwrap().version, Some(1));
        assert_eq!(store.alias_at("a", "champion", 200).await.unwrap().unwrap().version, Some(2));
        assert_eq!(store.alias_at("a", "champion", 350).await.unwrap().unwrap().version, None);
        assert!(store.current_aliases("a").await.unwrap().is_empty());
        assert_eq!(store.alias_history("a", Some("champion")).await.unwrap().len(), 3);
        assert_eq!(store.alias_history("a", None).await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn tokens_revoke_once() {
        let (_dir, store) = fresh().await;
        let token = NewToken {
            name: "ci".into(),
            role: "viewer".into(),
            secret_sha256: "h".into(),
            created_at: 1,
            created_by: "x".into(),
            expires_at: Some(99),
            subject: Some("https://idp|u-1".into()),
        };
        store.create_token(token, audit("token.create", "token/ci")).await.unwrap();
        assert!(store.find_token("h").await.unwrap().unwrap().revoked_at.is_none());
        assert_eq!(store.find_token("h").await.unwrap().unwrap().token.subject.as_deref(), Some("https://idp|u-1"));
        assert_eq!(store.find_token("h").await.unwrap().unwrap().token.expires_at, Some(99));
        store.revoke_token("ci", 5, "x", audit("token.revoke", "token/ci")).await.unwrap();
        assert_eq!(store.find_token("h").await.unwrap().unwrap().revoked_at, Some(5));
        let err = store.revoke_token("ci", 6, "x", audit("token.revoke", "token/ci")).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)));
        assert!(matches!(store.revoke_token("nobody", 6, "x", audit("t", "t")).await.unwrap_err(), Error::NotFound(_)));
        assert_eq!(store.count_tokens().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn a_lease_has_one_holder_until_it_lapses() {
        let (_dir, store) = fresh().await;
        assert!(store.try_lease("work", "r1", 0, 100).await.unwrap(), "free: taken");
        assert!(!store.try_lease("work", "r2", 50, 150).await.unwrap(), "held by r1");
        assert!(store.try_lease("work", "r1", 60, 160).await.unwrap(), "renewed by its holder");
        assert!(!store.try_lease("work", "r2", 160, 260).await.unwrap(), "held until its end");
        assert!(store.try_lease("work", "r2", 161, 261).await.unwrap(), "lapsed: taken over");
        assert!(!store.try_lease("work", "r1", 200, 300).await.unwrap(), "the old holder lost it");
        assert!(store.try_lease("other", "r1", 200, 300).await.unwrap(), "leases are independent");
    }

    #[tokio::test]
    async fn window_buckets_are_replaced_pruned_and_read_without_the_readers_own() {
        let (_dir, store) = fresh().await;
        store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        let bucket =
            |start: i64, decisions: i64| WindowBucket { start, decisions, body: format!("{{\"n\":{decisions}}}") };
        store.put_window_buckets("a", 1, "r1", &[bucket(10, 1), bucket(20, 2)], 0).await.unwrap();
        store.put_window_buckets("a", 1, "r2", &[bucket(20, 5)], 0).await.unwrap();
        // r1's bucket 20 grew; its bucket 10 fell out of its window.
        store.put_window_buckets("a", 1, "r1", &[bucket(20, 3)], 15).await.unwrap();
        let seen_by_r2 = store.window_buckets("a", 1, 0, "r2").await.unwrap();
        assert_eq!(seen_by_r2, [bucket(20, 3)]);
        let seen_by_r3 = store.window_buckets("a", 1, 0, "r3").await.unwrap();
        assert_eq!(seen_by_r3.iter().map(|b| b.decisions).collect::<Vec<_>>(), [3, 5]);
        assert!(store.window_buckets("a", 1, 21, "r3").await.unwrap().is_empty(), "since");
        assert!(store.window_buckets("a", 2, 0, "r3").await.unwrap().is_empty(), "other version");
        store.prune_window_buckets(25).await.unwrap();
        assert!(store.window_buckets("a", 1, 0, "r3").await.unwrap().is_empty(), "pruned");
        assert!(matches!(
            store.put_window_buckets("nope", 1, "r1", &[bucket(10, 1)], 0).await.unwrap_err(),
            Error::NotFound(_)
        ));
    }

    #[tokio::test]
    async fn an_inventory_write_based_on_an_older_read_is_refused_and_stores_nothing() {
        let (_dir, store) = fresh().await;
        let created = store.create_model(model("a"), audit("model.create", "model/a")).await.unwrap();
        let read = created.inventory.clone();
        assert_eq!(read.declared_tier, created.model.risk_tier);
        let events =
            async || store.audit_events(&AuditQuery { limit: 1000, ..Default::default() }).await.unwrap().len();
        let monitor = |config: serde_json::Value| MonitorRow {
            model_name: "a".into(),
            name: "drift".into(),
            kind: "feature_drift".into(),
            config,
            enabled: true,
            updated_at: 1,
            updated_by: "warden".into(),
        };
        store.put_monitor(monitor(serde_json::json!({"window_seconds": 300})), None).await.unwrap();
        let retune = |from: serde_json::Value| MonitorRetune {
            monitor: monitor(serde_json::json!({"window_seconds": 1800})),
            from,
        };
        let mut first = read.clone();
        first.fields = serde_json::json!({"exposure": 1});
        first.tier_basis = "computed".into();
        let tier_event = [audit("model.tier", "model/a")];

        // A monitor whose settings are not those the retune read, or another bundle in force: nothing is written.
        let stale = [retune(serde_json::json!({"window_seconds": 600}))];
        let before = events().await;
        let err = store.update_model_inventory("a", "low", &first, None, &stale, &tier_event).await;
        assert!(matches!(err, Err(Error::Conflict(_))), "{err:?}");
        let err = store.update_model_inventory("a", "low", &first, Some(99), &[], &tier_event).await;
        assert!(matches!(err, Err(Error::Conflict(_))), "{err:?}");
        assert_eq!(events().await, before);
        assert_eq!(store.get_model("a").await.unwrap().unwrap().inventory.revision, 0);

        let retuned = [retune(serde_json::json!({"window_seconds": 300}))];
        let written = store.update_model_inventory("a", "low", &first, None, &retuned, &tier_event).await.unwrap();
        assert_eq!((written.model.risk_tier.as_str(), written.inventory.revision), ("low", 1));
        assert_eq!(written.inventory.fields, serde_json::json!({"exposure": 1}));
        assert_eq!(store.monitors(Some("a")).await.unwrap()[0].config["window_seconds"], 1800);
        // A second writer that read revision 0 loses, and leaves no event behind.
        let mut second = read;
        second.fields = serde_json::json!({"exposure": 2});
        let before = events().await;
        let err = store.update_model_inventory("a", "high", &second, None, &[], &tier_event).await;
        assert!(matches!(err, Err(Error::Conflict(_))), "{err:?}");
        assert_eq!(events().await, before);
        let now = store.get_model("a").await.unwrap().unwrap();
        assert_eq!((now.model.risk_tier.as_str(), now.inventory.fields["exposure"].as_i64()), ("low", Some(1)));
        assert_eq!(now.inventory.declared_tier, created.model.risk_tier, "the declared tier stays");
        let err = store.update_model_inventory("nope", "low", &first, None, &[], &[]).await;
        assert!(matches!(err, Err(Error::NotFound(_))), "{err:?}");
    }

    #[tokio::test]
    async fn an_exact_bundle_number_is_taken_once_and_zero_means_next() {
        let (_dir, store) = fresh().await;
        let bundle = |number: i64| PolicyBundleRow {
            number,
            created_at: 1,
            created_by: "warden".into(),
            digest: "d".into(),
            files: Default::default(),
        };
        assert_eq!(store.append_policy_bundle(bundle(1), audit("policy.put", "policy")).await.unwrap().number, 1);
        let before = event_count(&store).await;
        let err = store.append_policy_bundle(bundle(1), audit("policy.put", "policy")).await.unwrap_err();
        assert!(matches!(err, Error::Conflict(_)), "{err}");
        assert_eq!(event_count(&store).await, before, "a refused bundle writes no audit event");
        assert_eq!(store.append_policy_bundle(bundle(0), audit("policy.put", "policy")).await.unwrap().number, 2);
    }
}
