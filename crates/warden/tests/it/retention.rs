//! A model's data policy on the suite's store (SQLite, or PostgreSQL with `WARDEN_TEST_DATABASE=postgres`):
//! personal fields kept tokenised or encrypted, one person's data erased, retention purged by the rounds on a
//! clock the test moves by days, the decision log's guards refusing any other change, and the ledger verifiable
//! throughout.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::json;
use sha2::Digest;
use warden_lifecycle::Warden;
use warden_oversight::monitoring::Round;
use warden_oversight::retention;
use warden_registry::Config;
use warden_registry::auth::{Principal, Role};
use warden_registry::binding::ScoreRequest;
use warden_registry::personal_data::DataPolicy;
use warden_serving::scoring::Outcome;
use warden_store::metadata::AuditQuery;

use crate::support::{database_for, on_postgres};
use crate::vouching::{applications, deployed};

const DAY: i64 = 86_400_000_000;

/// A decision row as a purge hashes it.
type Row = (i64, i64, String, i64, String, String, Option<f64>, String);

/// Runs `statement` on the suite's database directly: the rows it changed, or the database's refusal.
async fn raw(data: &Path, statement: &str) -> Result<u64, String> {
    let statement = sqlx::AssertSqlSafe(statement.to_owned());
    if on_postgres() {
        let pool = sqlx::PgPool::connect(&database_for(data)).await.unwrap();
        let done = sqlx::query(statement).execute(&pool).await.map(|d| d.rows_affected()).map_err(|e| e.to_string());
        pool.close().await;
        done
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("warden.db").display())).await.unwrap();
        let done = sqlx::query(statement).execute(&pool).await.map(|d| d.rows_affected()).map_err(|e| e.to_string());
        pool.close().await;
        done
    }
}

/// `credit`'s decisions as stored, in id order.
async fn stored(data: &Path) -> Vec<Row> {
    let query = "SELECT id, at, request_id, version, features, attributes, score, decision FROM decisions \
                 WHERE model_id = (SELECT id FROM models WHERE name = 'credit') ORDER BY id";
    if on_postgres() {
        let pool = sqlx::PgPool::connect(&database_for(data)).await.unwrap();
        let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    } else {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", data.join("warden.db").display())).await.unwrap();
        let rows = sqlx::query_as(query).fetch_all(&pool).await.unwrap();
        pool.close().await;
        rows
    }
}

/// The SHA-256 of decision rows' text as a purge records it.
fn purge_sha256(rows: &[&Row]) -> String {
    let text: String = rows
        .iter()
        .map(|(id, at, request_id, version, features, attributes, score, decision)| {
            let score = score.map_or_else(|| "null".to_owned(), |s| s.to_string());
            format!("{id}\t{at}\t{request_id}\t{version}\t{features}\t{attributes}\t{score}\t{decision}\n")
        })
        .collect();
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[test]
fn personal_data_is_kept_protected_erased_on_request_and_purged_after_its_retention() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = Config { database: on_postgres().then(|| database_for(&data)), ..Config::new(&data) };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(retained(config, &data));
}

async fn retained(config: Config, data: &Path) {
    let start = 1_800_000_000_000_000;
    let now = Arc::new(AtomicI64::new(start));
    let clock = now.clone();
    let (warden, _) = Warden::open_with_clock(config, Arc::new(move || clock.load(Ordering::SeqCst))).await.unwrap();
    deployed(&warden).await;
    let (rita, dana, admin) = (
        Principal::token("rita", Role::RiskOfficer),
        Principal::token("dana", Role::DataScientist),
        Principal::token("admin", Role::Admin),
    );

    // Refused, with nothing written: below the bundle's floor, features outliving decisions, a token for a model
    // input, and a data scientist declaring.
    let policy = |value: serde_json::Value| serde_json::from_value::<DataPolicy>(value).unwrap();
    let refused = [
        (json!({"retention": {"decisions_days": 90}}), "shorter than the 183 days"),
        (json!({"retention": {"decisions_days": 200, "features_days": 300}}), "longer than decisions_days"),
        (json!({"personal": {"fields": {"age": "tokenise"}}}), "declare it 'encrypt'"),
    ];
    for (value, expected) in refused {
        let err = retention::declare(&warden, &rita, "credit", policy(value), "r").await.unwrap_err().to_string();
        assert!(err.contains(expected), "{err}");
    }
    let fine = policy(json!({"retention": {"decisions_days": 200}}));
    assert!(retention::declare(&warden, &dana, "credit", fine.clone(), "r").await.is_err(), "a data scientist");
    assert!(retention::declare(&warden, &rita, "credit", fine, " ").await.is_err(), "no reason");
    assert!(warden.metadata.data_policies("credit").await.unwrap().is_empty(), "nothing written");

    let declared = policy(json!({
        "retention": {"decisions_days": 200, "features_days": 190, "outcomes_days": 190},
        "personal": {"fields": {"age": "encrypt", "postcode": "tokenise"}, "subject_key": "customer"}
    }));
    retention::declare(&warden, &rita, "credit", declared, "credit files: seven months in this drill").await.unwrap();

    // 30 decisions by 10 customers, each with a postcode; outcomes for the first 12.
    let scorer = Principal::token("loan-app", Role::Scorer);
    let pool = applications(false);
    let batch: Vec<ScoreRequest> = (0..30)
        .map(|i| {
            let attributes =
                json!({"customer": format!("C-{}", i % 10), "postcode": format!("EC{i}A"), "sex": "female"});
            ScoreRequest {
                request_id: Some(format!("app-{i}")),
                features: pool[i].clone(),
                attributes: attributes.as_object().unwrap().clone(),
                explain: false,
            }
        })
        .collect();
    warden_serving::scoring::score_batch(&warden, &scorer, "credit", batch, None).await.unwrap();
    let outcomes = (0..12).map(|i| Outcome {
        request_id: format!("app-{i}"),
        label: i % 2,
        kind: "default".into(),
        amount: None,
        value: None,
        class: None,
    });
    warden_serving::scoring::record_outcomes(&warden, &scorer, outcomes.collect()).await.unwrap();
    warden.scoring.flush().await.unwrap();

    // Stored: the customer and postcode as tokens, the age encrypted; nothing else changed, no clear value left.
    let rows = stored(data).await;
    assert_eq!(rows.len(), 30);
    let key = &warden.personal_data_key;
    for (i, row) in rows.iter().enumerate() {
        let features: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&row.4).unwrap();
        let attributes: serde_json::Value = serde_json::from_str(&row.5).unwrap();
        assert_eq!(attributes["customer"], json!(key.subject_token(&format!("C-{}", i % 10))), "{}", row.5);
        assert!(attributes["postcode"].as_str().unwrap().starts_with("tok:"), "{}", row.5);
        assert_eq!(attributes["sex"], "female", "an undeclared attribute stays as it came");
        let (customer, postcode) = (format!("\"C-{}\"", i % 10), format!("\"EC{i}A\""));
        assert!(!row.5.contains(&customer) && !row.5.contains(&postcode), "{}", row.5);
        let age = features["age"].as_str().unwrap();
        assert!(age.starts_with("enc:"), "{}", row.4);
        assert_eq!(key.decrypt(age).unwrap(), pool[i]["age"], "read back with the key");
        assert_eq!(features["duration"], pool[i]["duration"]);
    }

    // The guards: no change but a recorded purge or erasure.
    for statement in [
        "UPDATE decisions SET features = '{}', attributes = '{}'",
        "UPDATE decisions SET decision = 'approve'",
        "DELETE FROM decisions",
        "DELETE FROM outcomes",
    ] {
        let refused = raw(data, statement).await.unwrap_err();
        assert!(refused.contains("append-only"), "{statement}: {refused}");
    }

    // Erasure of customer C-3 (app-3, app-13, app-23): their features and attributes go, recorded with the hash
    // of what went; a second erasure, or a key nobody has, finds nothing.
    let before: Vec<Row> =
        rows.iter().filter(|r| ["app-3", "app-13", "app-23"].contains(&r.2.as_str())).cloned().collect();
    assert!(retention::erase(&warden, &dana, "C-3", "request 118").await.is_err(), "a data scientist");
    let erased = retention::erase(&warden, &rita, "C-3", "request 118").await.unwrap();
    assert_eq!(erased.len(), 1);
    assert_eq!((erased[0].kind.as_str(), erased[0].rows), ("erasure", 3));
    assert_eq!(erased[0].sha256, purge_sha256(&before.iter().collect::<Vec<_>>()));
    let rows = stored(data).await;
    for row in &rows {
        let gone = ["app-3", "app-13", "app-23"].contains(&row.2.as_str());
        assert_eq!((row.4 == "{}", row.5 == "{}"), (gone, gone), "{row:?}");
    }
    assert!(rows.iter().all(|r| r.6.is_some()), "scores and decisions stay");
    for key in ["C-3", "C-404"] {
        let err = retention::erase(&warden, &rita, key, "again").await.unwrap_err();
        assert!(matches!(err, warden_oversight::Error::NotFound(_)), "{key}: {err}");
    }

    // 100 days on, decisions of the day are kept in clear of their purges; 191 days on, the first day's
    // features and outcomes go, then 201 days on, its decisions.
    now.store(start + 100 * DAY, Ordering::SeqCst);
    let later = (0..5).map(|i| ScoreRequest {
        request_id: Some(format!("later-{i}")),
        features: pool[i].clone(),
        attributes: json!({"customer": "C-1"}).as_object().unwrap().clone(),
        explain: false,
    });
    warden_serving::scoring::score_batch(&warden, &scorer, "credit", later.collect(), None).await.unwrap();
    let outcome = Outcome {
        request_id: "later-1".into(),
        label: 1,
        kind: "default".into(),
        amount: Some(900.0),
        value: None,
        class: None,
    };
    warden_serving::scoring::record_outcomes(&warden, &scorer, vec![outcome]).await.unwrap();
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    assert!(warden.metadata.data_purges("credit").await.unwrap().iter().all(|p| p.kind == "erasure"));

    now.store(start + 191 * DAY, Ordering::SeqCst);
    let first_day: Vec<Row> = stored(data).await.into_iter().filter(|r| r.2.starts_with("app-")).collect();
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    let purges = warden.metadata.data_purges("credit").await.unwrap();
    let kinds: Vec<(&str, i64)> = purges.iter().map(|p| (p.kind.as_str(), p.rows)).collect();
    assert_eq!(kinds, [("erasure", 3), ("outcomes", 12), ("features", 27)], "the erased rows have no data to purge");
    let with_data: Vec<&Row> = first_day.iter().filter(|r| r.4 != "{}").collect();
    assert_eq!(purges[2].sha256, purge_sha256(&with_data));
    assert_eq!(purges[2].actor, retention::RETENTION_ACTOR);
    let rows = stored(data).await;
    assert!(rows.iter().filter(|r| r.2.starts_with("app-")).all(|r| r.4 == "{}" && r.5 == "{}"));
    assert!(rows.iter().filter(|r| r.2.starts_with("later-")).all(|r| r.4 != "{}"), "younger decisions stay");

    now.store(start + 201 * DAY, Ordering::SeqCst);
    let blanked: Vec<Row> = rows.iter().filter(|r| r.2.starts_with("app-")).cloned().collect();
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    let purges = warden.metadata.data_purges("credit").await.unwrap();
    assert_eq!((purges.len(), purges[3].kind.as_str(), purges[3].rows), (4, "decisions", 30));
    assert_eq!(purges[3].sha256, purge_sha256(&blanked.iter().collect::<Vec<_>>()));
    let rows = stored(data).await;
    assert_eq!(
        rows.iter().map(|r| r.2.as_str()).collect::<Vec<_>>(),
        ["later-0", "later-1", "later-2", "later-3", "later-4"]
    );
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    assert_eq!(warden.metadata.data_purges("credit").await.unwrap().len(), 4, "nothing left to purge");

    // A policy keeping outcomes as long as their decisions: a decision purged takes its outcome with it, in a
    // purge of its own recorded beside the decisions'.
    let longer = policy(json!({"retention": {"decisions_days": 200}, "personal": {"subject_key": "customer"}}));
    retention::declare(&warden, &rita, "credit", longer, "outcomes go with their decisions").await.unwrap();
    now.store(start + 301 * DAY, Ordering::SeqCst);
    warden_oversight::round::run(&warden, Round::Now).await.unwrap();
    let purges = warden.metadata.data_purges("credit").await.unwrap();
    let kinds: Vec<(&str, i64)> = purges[4..].iter().map(|p| (p.kind.as_str(), p.rows)).collect();
    assert_eq!(kinds, [("decisions", 5), ("outcomes", 1)]);
    assert!(stored(data).await.is_empty());
    assert_eq!(raw(data, "DELETE FROM outcomes").await, Ok(0), "no outcome left behind");

    // Every purge and the erasure is an audit event carrying its record, in the ledger, which verifies.
    let query = AuditQuery { subject: Some("model/credit".into()), limit: 10_000, ..Default::default() };
    let events = warden.metadata.audit_events(&query).await.unwrap();
    let recorded: Vec<(&str, &str)> = events
        .iter()
        .filter_map(|e| {
            let records = ["purge", "outcomes_purge", "erasure"].into_iter().filter_map(|k| e.event.payload.get(k));
            Some(records.map(|r| (e.event.action.as_str(), r["sha256"].as_str().unwrap())).collect::<Vec<_>>())
        })
        .flatten()
        .collect();
    let expected: Vec<(&str, &str)> = purges
        .iter()
        .map(|p| (if p.kind == "erasure" { "subject.erase" } else { "retention.purge" }, p.sha256.as_str()))
        .collect();
    assert_eq!(recorded, expected);
    assert!(events.iter().all(|e| !e.event.payload.to_string().contains("\"C-3\"")), "no subject key in the trail");
    warden_proof::ledger::checkpoint(&warden).await.unwrap();
    let verified = warden_proof::ledger::verify(&warden, &admin).await.unwrap();
    assert!(verified.ok, "{:?}", verified.problems);
    // The model's evidence bundle, purges and erasure included, verifies offline with the ledger's key.
    let bundle = warden_proof::evidence::export(&warden, &admin, "credit", None, None).await.unwrap();
    let files = warden_proof::evidence::read_archive(&bundle).unwrap();
    let key = warden_proof::ledger::public_key(&warden);
    let report = warden_proof::evidence::verify_bundle(&files, Some(&key));
    assert!(report.ok && !report.key_from_bundle, "{:?}", report.problems);
    let entries = String::from_utf8(
        files.iter().find(|(p, _)| p.as_str() == "ledger/entries.json").map(|(_, b)| b.clone()).unwrap_or_default(),
    )
    .unwrap();
    assert!(entries.contains("retention.purge") && entries.contains("subject.erase"), "the bundle carries them");
}
