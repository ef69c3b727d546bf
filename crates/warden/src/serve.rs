//! `warden serve`: open the data directory, bind, serve until SIGINT or SIGTERM.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::serve::ListenerExt;
use warden_lifecycle::Warden;
use warden_registry::Config;

use crate::cli::ServeArgs;
use crate::http_server::{self, ConnectionLimits};

pub(crate) async fn serve(mut args: ServeArgs) -> anyhow::Result<()> {
    if args.demo {
        if args.tls_cert.is_some() {
            anyhow::bail!("--demo serves plain HTTP on loopback; leave out --tls-cert");
        }
        if args.data_dir == std::path::Path::new(crate::cli::DEFAULT_DATA_DIR) {
            args.data_dir = "warden-demo".into();
        }
        crate::demo::prepare_data_dir(&args.data_dir)?;
        // The demo's story takes minutes, not hours: monitors look every two seconds.
        args.monitor_interval_seconds = args.monitor_interval_seconds.min(2);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warden=info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let webhook = match (&args.alert_webhook, &args.alert_webhook_secret_file) {
        (Some(url), Some(file)) => {
            let secret = read_secret(file)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                anyhow::bail!("the alert webhook must be an http:// or https:// URL");
            }
            Some(warden_registry::Webhook { url: url.clone(), secret })
        }
        _ => None,
    };
    let mlflow = match (&args.mlflow_tracking_uri, &args.mlflow_webhook_secret_file) {
        (Some(uri), Some(file)) => {
            // Checked now, not at the first delivery.
            warden_registry::mlflow::Tracking::new(uri)?;
            Some(warden_registry::mlflow::MlflowConfig {
                tracking_uri: uri.clone(),
                webhook_secret: read_secret(file)?,
            })
        }
        _ => None,
    };
    let notification_routes =
        args.notification_routes.as_deref().map(warden_registry::routing::Routes::load).transpose()?;
    let artifact_signers = match &args.artifact_signers {
        Some(path) => warden_registry::signing::read_trusted_signers(path)?,
        None => Vec::new(),
    };
    let external_trainers = args
        .external_trainers
        .iter()
        .map(|t| t.parse::<warden_oversight::retraining::ExternalTrainer>())
        .collect::<Result<Vec<_>, _>>()?;
    let identity = args.identity.as_deref().map(warden_registry::identity::IdentityConfig::load).transpose()?;
    let document_templates = match &args.document_templates {
        Some(dir) => read_document_templates(dir)?,
        None => Vec::new(),
    };
    let config = Config {
        artifact_signers,
        external_trainers,
        identity,
        mlflow,
        document_templates,
        max_upload_bytes: args.max_upload_bytes,
        webhook,
        notification_routes,
        ledger_key: args.ledger_key.clone(),
        personal_data_key: args.personal_data_key.clone(),
        database: args.database.clone(),
        artifacts: args.artifacts.clone(),
        ..Config::new(&args.data_dir)
    };
    let (warden, startup) = Warden::open(config)
        .await
        .with_context(|| format!("cannot open data directory {}", args.data_dir.display()))?;
    if let Some(path) = &startup.admin_token_file {
        let _ = writeln!(std::io::stdout(), "admin token written to {} (readable only by this user)", path.display());
    }
    if startup.orphan_blobs_removed > 0 {
        tracing::warn!(count = startup.orphan_blobs_removed, "removed blobs left by an interrupted registration");
    }
    let warden = Arc::new(warden);
    // Kafka options are checked (and the consumer started) before the server announces it listens.
    let streams = match &args.kafka_brokers {
        Some(brokers) => {
            if args.kafka_topics.is_empty() && args.kafka_outcomes_topics.is_empty() {
                anyhow::bail!("--kafka-brokers needs at least one --kafka-topic or --kafka-outcomes-topic TOPIC=MODEL");
            }
            let decisions = args.kafka_topics.iter().map(|t| ("--kafka-topic", t));
            let outcomes = args.kafka_outcomes_topics.iter().map(|t| ("--kafka-outcomes-topic", t));
            for (flag, (_, model)) in decisions.chain(outcomes) {
                if warden.metadata.get_model(model).await?.is_none() {
                    anyhow::bail!("{flag} names model '{model}', which does not exist");
                }
            }
            let config = warden_lifecycle::streams::StreamConfig {
                brokers: brokers.clone(),
                group: args.kafka_group.clone(),
                decisions: args.kafka_topics.clone(),
                outcomes: args.kafka_outcomes_topics.clone(),
                lag_alert: args.kafka_lag_alert,
                properties: args.kafka_properties.clone(),
            };
            Some(
                warden_lifecycle::streams::Streams::start(warden.clone(), config)
                    .context("cannot start the Kafka consumer")?,
            )
        }
        None => None,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(crate::tls::server_config(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    if tls.is_none()
        && let Some(warning) = crate::tls::plain_http_warning(address)
    {
        eprintln!("{warning}");
        tracing::warn!("{warning}");
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    let _ = writeln!(
        std::io::stdout(),
        "warden listening on {scheme}://{address} (data directory {})",
        args.data_dir.display()
    );
    let _ = writeln!(std::io::stdout(), "dashboard: {scheme}://{address}/ui");
    if args.demo {
        let url = format!("{scheme}://{address}");
        tokio::spawn(crate::demo::run(url, args.data_dir.clone()));
    }
    let scheduler = warden_lifecycle::scheduler::Scheduler::start(
        warden.clone(),
        warden_lifecycle::scheduler::Periods {
            monitor_evaluation: Duration::from_secs(args.monitor_interval_seconds),
            ledger_checkpoint: Duration::from_secs(args.checkpoint_interval_seconds),
        },
    );
    let limits = warden_api::Limits {
        request_timeout: Duration::from_secs(args.request_timeout_seconds),
        upload_timeout: Duration::from_secs(args.upload_timeout_seconds),
        rate_per_second: args.rate_limit,
    };
    let dashboard = warden_api::dashboard::DashboardOptions { secure_cookies: tls.is_some() };
    let app = warden_api::app_with_dashboard(warden.clone(), limits, dashboard);
    let connections = ConnectionLimits {
        header_read_timeout: Duration::from_secs(args.header_timeout_seconds),
        ..ConnectionLimits::default()
    };
    match tls {
        Some(config) => {
            let listener = crate::tls::TlsListener::new(listener, config)?;
            http_server::serve(listener, app, connections, shutdown_signal()).await;
        }
        None => {
            // Answers are small single writes: Nagle's algorithm would hold them back behind delayed ACKs.
            let listener = listener.tap_io(|tcp| {
                if let Err(err) = tcp.set_nodelay(true) {
                    tracing::warn!(error = %err, "cannot set TCP_NODELAY");
                }
            });
            http_server::serve(listener, app, connections, shutdown_signal()).await;
        }
    }
    if let Some(streams) = streams {
        streams.stop().await;
    }
    scheduler.stop();
    // No request is in flight any more: commit every queued decision before exiting.
    warden.scoring().flush().await.context("could not commit the decision log")?;
    // Sign what was appended since the last checkpoint, so the ledger's tail is covered too.
    if let Err(err) = warden_proof::ledger::checkpoint(&warden).await {
        tracing::error!(error = %err, "final ledger checkpoint failed");
    }
    let _ = writeln!(std::io::stdout(), "warden stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler installs");
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
    tracing::info!("shutting down: finishing requests in flight");
}

/// A shared secret from its file: trimmed, at least 16 characters.
fn read_secret(file: &std::path::Path) -> anyhow::Result<String> {
    let secret = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the webhook secret file {}", file.display()))?
        .trim()
        .to_owned();
    if secret.len() < 16 {
        anyhow::bail!("the webhook secret in {} is shorter than 16 characters", file.display());
    }
    Ok(secret)
}

/// The bank's document templates in `dir`: each `NAME.html`, checked (name, size, compiles) before the server
/// starts; other files are refused, so a misnamed template is not silently left out.
fn read_document_templates(dir: &std::path::Path) -> anyhow::Result<Vec<warden_registry::DocumentTemplate>> {
    use warden_proof::docs::{MAX_TEMPLATE_BYTES, MAX_TEMPLATES, check_template};
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read the templates folder {}", dir.display()))?;
    let mut templates = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read the templates folder {}", dir.display()))?.path();
        let name = match (path.extension().and_then(|e| e.to_str()), path.file_stem().and_then(|s| s.to_str())) {
            (Some("html"), Some(stem)) => stem.to_owned(),
            _ => anyhow::bail!("{}: a document template is a NAME.html file", path.display()),
        };
        if templates.len() == MAX_TEMPLATES {
            anyhow::bail!("{}: at most {MAX_TEMPLATES} document templates", dir.display());
        }
        let size = std::fs::metadata(&path).with_context(|| format!("cannot read {}", path.display()))?.len();
        if size > MAX_TEMPLATE_BYTES as u64 {
            anyhow::bail!("{}: {size} bytes; a template is at most {MAX_TEMPLATE_BYTES}", path.display());
        }
        let source = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        check_template(&name, &source).with_context(|| path.display().to_string())?;
        templates.push(warden_registry::DocumentTemplate { name, source });
    }
    templates.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(templates)
}
