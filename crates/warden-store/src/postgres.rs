//! [`MetadataStore`](crate::metadata::MetadataStore) on PostgreSQL: the same SQL as SQLite ([`SqlStore`]), with
//! PostgreSQL's schema (`migrations/postgres`) and its own write lock.
//!
//! Several Warden replicas may share one database. Every audited write takes one transaction-scoped
//! advisory lock first, as SQLite's `BEGIN IMMEDIATE` takes the database lock: audit sequence numbers and
//! ledger positions are read and written by one writer at a time, whichever replica it runs in, so the
//! ledger cannot fork (its positions are also primary keys, so a fork could not commit). Decision-log
//! inserts do not take it.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::Result;
use std::collections::HashMap;
use std::future::Future;

use crate::metadata::{AuditRecord, LedgerLeaf, NewDecision};
use crate::sql::{Dialect, SqlStore};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The advisory lock key every audited write holds (an arbitrary constant: "WARDEN" in ASCII).
const WRITE_LOCK: i64 = 0x5741_5244_454e;

/// The PostgreSQL metadata store. Its decision log has connections of its own, so that a burst of scoring never
/// waits behind the API's reads.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies pending migrations.
    /// Replicas starting together are safe: sqlx runs migrations under an advisory lock of its own.
    pub async fn open(url: &str) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        let options = options.application_name("warden");
        let pool = PgPoolOptions::new()
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
            .max_connections(16)
            // While the database is unreachable a request waits this long for a connection, then is refused
            // (503): within the timeouts senders put on their calls, so they learn the outcome.
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options.clone())
            .await?;
        MIGRATIONS.run(&pool).await?;
        let decision_log = PgPoolOptions::new()
            .before_acquire(|conn, _| Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) }))
            .max_connections(Postgres::DECISION_LOG_CONNECTIONS)
            .min_connections(1)
            .connect_with(options)
            .await?;
        Ok(SqlStore::with_pools(pool, decision_log))
    }
}

/// Groups of at least this many decisions are written by COPY (the ingestion tests send batches of 600 and
/// 1,200 to reach it).
const COPY_FROM_ROWS: usize = 500;
/// The INSERT of one statement of column arrays, followed by `$tail`.
macro_rules! insert_unnest {
    ($tail:literal) => {
        concat!(
            "INSERT INTO decisions (at, request_id, model_id, version, route, features, attributes, score, decision, \
             latency_us, source, probabilities) SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::bigint[], \
             $4::bigint[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::text[], $10::bigint[], $11::text[], \
             $12::text[]) \
             ON CONFLICT DO NOTHING",
            $tail
        )
    };
}
const INSERT: &str = insert_unnest!("");
const INSERT_RETURNING: &str = insert_unnest!(" RETURNING model_id, version, request_id");

/// Decisions as rows of COPY's binary format, in the column order of the COPY statement: each field its
/// length and its bytes (text as UTF-8, integers and floats big-endian), so nothing is quoted here or parsed
/// back there, and a score arrives to the last bit.
fn binary_rows(decisions: &[NewDecision], model_ids: &HashMap<&str, i64>) -> Vec<u8> {
    const COLUMNS: i16 = 12;
    // A field's length is an i32: text here comes from bounded request bodies and records, far below 2 GiB.
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    fn json(out: &mut Vec<u8>, value: &serde_json::Value) {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        // Writing a JSON value into memory cannot fail; the text is the one `to_json` gives.
        let _ = serde_json::to_writer(&mut *out, value);
        let len = (out.len() - start - 4) as i32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }
    let mut out = Vec::with_capacity(21 + decisions.len() * 512);
    // Signature, flags (no OIDs), no header extension.
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for d in decisions {
        out.extend_from_slice(&COLUMNS.to_be_bytes());
        field(&mut out, &d.at.to_be_bytes());
        field(&mut out, d.request_id.as_bytes());
        field(&mut out, &model_ids[d.model_name.as_str()].to_be_bytes());
        field(&mut out, &d.version.to_be_bytes());
        field(&mut out, d.route.as_bytes());
        field(&mut out, d.features_json().as_bytes());
        json(&mut out, &d.attributes);
        match d.stored_score() {
            Some(score) => field(&mut out, &score.to_bits().to_be_bytes()),
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
        field(&mut out, d.decision.as_bytes());
        field(&mut out, &d.latency_us.to_be_bytes());
        field(&mut out, d.source.as_bytes());
        match d.stored_probabilities() {
            Some(text) => field(&mut out, text.as_bytes()),
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    out
}

impl Dialect for Postgres {
    /// Sequence numbers are given under the write lock: the next one follows the largest.
    const LAST_AUDIT_SEQ: &'static str = "SELECT COALESCE(MAX(seq), 0) FROM audit_events";
    const DECISIONS_BY_REQUEST: &'static str = "decisions d";
    /// A lateral subquery the planner may not flatten (`OFFSET 0`): it runs once per outcome, through the
    /// request id index.
    const DECISIONS_OF_OUTCOME: &'static str =
        "LATERAL (SELECT * FROM decisions d WHERE d.request_id = o.request_id OFFSET 0) d";
    const VALIDATED_AUC: &'static str =
        "CAST(CAST(r.body AS jsonb) #>> '{figures,discrimination,auc}' AS DOUBLE PRECISION)";
    const GATE_ALLOW: &'static str = "CASE WHEN p.body IS NULL THEN NULL \
         WHEN CAST(p.body AS jsonb) ->> 'allow' = 'true' THEN CAST(1 AS BIGINT) ELSE CAST(0 AS BIGINT) END";
    const EXPOSURE: &'static str = "COALESCE(\
         CASE WHEN jsonb_typeof(CAST(d.features AS jsonb) -> CAST($4 AS TEXT)) = 'number' \
         THEN CAST(CAST(d.features AS jsonb) ->> CAST($4 AS TEXT) AS DOUBLE PRECISION) END, \
         CASE WHEN jsonb_typeof(CAST(d.attributes AS jsonb) -> CAST($4 AS TEXT)) = 'number' \
         THEN CAST(CAST(d.attributes AS jsonb) ->> CAST($4 AS TEXT) AS DOUBLE PRECISION) END)";
    /// Two groups commit at once: one group's rows are written while the next is serialised (one at a time
    /// left a quarter of two cores idle).
    const DECISION_LOG_CONNECTIONS: u32 = 2;
    /// Two stream commits run at once; a lock one waits for longer than this is refused (and retried).
    const STREAM_LOCK_TIMEOUT: Option<&'static str> = Some("SET LOCAL lock_timeout = '10s'");

    /// A write transaction holding the write lock.
    async fn write_tx(store: &PostgresStore) -> Result<Transaction<'static, Postgres>> {
        let mut tx = store.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn decision_tx(store: &PostgresStore) -> Result<Transaction<'static, Postgres>> {
        Ok(store.decision_log.begin().await?)
    }

    async fn ledger_page(store: &PostgresStore, from: u64, to: u64) -> Result<Vec<(LedgerLeaf, Option<AuditRecord>)>> {
        // PostgreSQL's driver decodes rows cheaply: the row-at-a-time read is the fast one here.
        store.ledger_page_rows(from, to).await
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// COPY when no keys are asked for; otherwise one statement of column arrays (`UNNEST`): a multi-row VALUES
    /// of thousands of rows spends most of its time binding and planning eleven parameters per row.
    fn insert_decision_rows<'a>(
        tx: &'a mut Transaction<'static, Postgres>,
        decisions: &'a [NewDecision],
        model_ids: &'a HashMap<&'a str, i64>,
        returning: bool,
    ) -> Option<impl Future<Output = Result<crate::sql::Written>> + Send + 'a> {
        Some(async move {
            let column = |f: &dyn Fn(&NewDecision) -> i64| decisions.iter().map(f).collect::<Vec<i64>>();
            let text = |f: &dyn Fn(&NewDecision) -> String| decisions.iter().map(f).collect::<Vec<String>>();
            // COPY costs two round trips to the INSERT's one: a small group (live scoring) takes the INSERT.
            if returning || decisions.len() < COPY_FROM_ROWS {
                let sql = if returning { INSERT_RETURNING } else { INSERT };
                let query = sqlx::query_as::<_, (i64, i64, String)>(sql)
                    .bind(column(&|d| d.at))
                    .bind(text(&|d| d.request_id.clone()))
                    .bind(column(&|d| model_ids[d.model_name.as_str()]))
                    .bind(column(&|d| d.version))
                    .bind(text(&|d| d.route.clone()))
                    .bind(text(&|d| d.features_json().into_owned()))
                    .bind(text(&|d| crate::sql::to_json(&d.attributes)))
                    .bind(decisions.iter().map(NewDecision::stored_score).collect::<Vec<Option<f64>>>())
                    .bind(text(&|d| d.decision.clone()))
                    .bind(column(&|d| d.latency_us))
                    .bind(text(&|d| d.source.clone()))
                    .bind(decisions.iter().map(NewDecision::stored_probabilities).collect::<Vec<Option<String>>>());
                if !returning {
                    let done = sqlx::Executor::execute(&mut **tx, query).await?;
                    return Ok(crate::sql::Written { count: done.rows_affected(), keys: Vec::new() });
                }
                let keys = query.fetch_all(&mut **tx).await?;
                return Ok(crate::sql::Written { count: keys.len() as u64, keys });
            }
            // Without keys to return: COPY (10,000 rows took 55-82 ms against the INSERT's 87-108). It cannot skip
            // a decision logged before: a repeat fails it (unique violation), which reads as nothing written,
            // and the caller writes the batch again by the INSERT.
            let mut copy = tx
                .copy_in_raw(
                    "COPY decisions (at, request_id, model_id, version, route, features, attributes, score, \
                     decision, latency_us, source, probabilities) FROM STDIN WITH (FORMAT binary)",
                )
                .await?;
            copy.send(binary_rows(decisions, model_ids)).await?;
            match copy.finish().await {
                Ok(count) => Ok(crate::sql::Written { count, keys: Vec::new() }),
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    Ok(crate::sql::Written { count: 0, keys: Vec::new() })
                }
                Err(e) => Err(e.into()),
            }
        })
    }

    async fn leaf_hashes(store: &PostgresStore, from: u64, to: u64) -> Result<Vec<u8>> {
        let rows: Vec<(i64, Vec<u8>)> =
            sqlx::query_as("SELECT idx, leaf_hash FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx")
                .bind(from as i64)
                .bind(to as i64)
                .fetch_all(&store.pool)
                .await?;
        // Positions are contiguous from `from`; a gap ends the answer there, as SQLite's read does.
        let mut out = Vec::with_capacity(rows.len() * 32);
        for (expected, (idx, leaf)) in (from as i64..).zip(rows) {
            if idx != expected || leaf.len() != 32 {
                break;
            }
            out.extend_from_slice(&leaf);
        }
        Ok(out)
    }
}
