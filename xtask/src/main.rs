//! Developer tooling:
//! - `cargo run -p xtask -- bench profile [--rows N] [--runs K]`
//! - `cargo run -p xtask -- bench drift [--reference-rows N] [--current-rows M] [--runs K] [--peer-runs P]`
//! - `cargo run -p xtask -- bench serve [--runs K] [--seconds S] [--connections C]`
//! - `cargo run -p xtask -- bench onset [--runs K] [--rate DECISIONS_PER_S] [--interval MONITOR_S] [--consecutive N]`
//! - `cargo run -p xtask -- bench ingest [--runs K] [--seconds S] [--connections C] [--batch ROWS] [--kafka-records N] [--store sqlite|postgresql] [--only http|kafka]`
//! - `cargo run -p xtask -- bench identity [--runs K] [--rounds N]`
//! - `cargo run -p xtask -- bench docs [--runs K]`
//!
//! - `cargo run -p xtask -- architecture` (prints the crate dependency edges ARCHITECTURE.md must list)
//!
//! Benchmarks print a table; they are not part of the test suite. The architecture check is: `architecture.rs`
//! tests ARCHITECTURE.md against `cargo metadata`.

mod architecture;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

const NUMERIC: usize = 16;
const CATEGORICAL: usize = 4;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> anyhow::Result<usize> {
        match args.iter().position(|a| a == name) {
            Some(i) => args.get(i + 1).context("flag needs a value")?.parse().context("not a number"),
            None => Ok(default),
        }
    };
    match args.iter().map(String::as_str).take(2).collect::<Vec<_>>().as_slice() {
        ["architecture"] => architecture::print(),
        ["bench", "profile"] => bench_profile(flag("--rows", 1_000_000)?, flag("--runs", 5)?),
        ["bench", "drift"] if args.iter().any(|a| a == "--csv") => {
            bench_drift_csv(flag("--reference-rows", 100_000)?, flag("--current-rows", 100_000)?, flag("--runs", 5)?)
        }
        ["bench", "drift"] => bench_drift(
            flag("--reference-rows", 1_000_000)?,
            flag("--current-rows", 1_000_000)?,
            flag("--runs", 5)?,
            flag("--peer-runs", 1)?,
        ),
        ["bench", "serve"] => bench_serve(flag("--runs", 3)?, flag("--seconds", 15)?, flag("--connections", 16)?),
        ["bench", "onset"] => {
            bench_onset(flag("--runs", 3)?, flag("--rate", 1_000)?, flag("--interval", 10)?, flag("--consecutive", 2)?)
        }
        ["bench", "train"] => bench_train(flag("--rows", 1_000_000)?, flag("--runs", 3)?),
        ["bench", "store"] => bench_store(
            flag("--runs", 3)?,
            flag("--seconds", 15)?,
            flag("--connections", 16)?,
            flag("--decisions", 10_000_000)?,
        ),
        ["bench", "ingest"] => bench_ingest(
            flag("--runs", 3)?,
            flag("--seconds", 60)?,
            // Four senders: while two batches commit, two more are read and checked (with two, an eighth of
            // the machine sat idle).
            flag("--connections", 4)?,
            flag("--batch", 10_000)?,
            flag("--kafka-records", 2_000_000)?,
            match args.iter().position(|a| a == "--store") {
                Some(i) => Some(args.get(i + 1).context("--store needs sqlite or postgresql")?.to_lowercase()),
                None => None,
            },
            match args.iter().position(|a| a == "--only") {
                Some(i) => Some(args.get(i + 1).context("--only needs http or kafka")?.to_lowercase()),
                None => None,
            },
        ),
        ["bench", "identity"] => bench_identity(flag("--runs", 5)?, flag("--rounds", 5_000)?),
        ["bench", "reconstruction"] => bench_reconstruction(flag("--rows", 1_000_000)?, flag("--runs", 3)?),
        ["bench", "segments"] => bench_segments(
            flag("--runs", 3)?,
            flag("--seconds", 15)?,
            flag("--connections", 16)?,
            flag("--segments", 20)?,
        ),
        ["bench", "docs"] => bench_docs(flag("--runs", 5)?),
        ["soak", ..] => soak(flag("--minutes", 10)?),
        _ => bail!(
            "usage: cargo run -p xtask -- bench profile|drift|serve|onset|train|store|ingest|identity|docs|reconstruction|segments | soak [options] | architecture (see xtask/src/main.rs)"
        ),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

/// A credit-style reference file: 16 numeric features (some skewed, ~1% missing), 4 categorical, a target.
fn generate(path: &Path, rows: usize) -> anyhow::Result<()> {
    let mut rng = StdRng::seed_from_u64(20_261_122);
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut header: Vec<String> = (0..NUMERIC).map(|i| format!("num_{i}")).collect();
    header.extend((0..CATEGORICAL).map(|i| format!("cat_{i}")));
    header.push("default".into());
    writeln!(out, "{}", header.join(","))?;
    let categories = ["own", "rent", "mortgage", "other", "unknown", "family"];
    let mut line = String::new();
    for _ in 0..rows {
        line.clear();
        for i in 0..NUMERIC {
            if rng.random::<f64>() < 0.01 {
                line.push(',');
                continue;
            }
            let u: f64 = rng.random();
            let value = match i % 4 {
                0 => 1000.0 + 50_000.0 * u * u,        // skewed amounts
                1 => (18.0 + 60.0 * u).floor(),        // ages
                2 => (u * 1e4).round() / 1e4,          // rates
                _ => -3.0 + 6.0 * rng.random::<f64>(), // scores
            };
            line.push_str(&format!("{value},"));
        }
        for i in 0..CATEGORICAL {
            line.push_str(categories[rng.random_range(0..(3 + i))]);
            line.push(',');
        }
        line.push(if rng.random::<f64>() < 0.08 { '1' } else { '0' });
        line.push('\n');
        out.write_all(line.as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// One row of a benchmark table: runs, median, min and max seconds, and the peak memory as given.
fn timing_row(name: &str, seconds: &mut [f64], peak: &str) {
    let (min, max) =
        (seconds.iter().cloned().fold(f64::INFINITY, f64::min), seconds.iter().cloned().fold(0.0, f64::max));
    println!("| {name} | {} | {:.3} | {min:.3} | {max:.3} | {peak} |", seconds.len(), median(seconds));
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 }
}

/// Resident memory now, in MiB.
fn vm_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn vm_hwm_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 = status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// The release binary, built now; or `WARDEN_BENCH_BINARY` when set (to measure another build, such as the
/// commit before a change, on the same machine in the same session).
fn release_warden(root: &Path) -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("WARDEN_BENCH_BINARY") {
        return Ok(PathBuf::from(binary));
    }
    let status = Command::new(env!("CARGO")).args(["build", "--release", "-p", "warden"]).current_dir(root).status()?;
    if !status.success() {
        bail!("release build failed");
    }
    Ok(root.join("target/release/warden"))
}

/// Seconds and peak MiB from a `--timing` line: "... in 1.234 s; peak memory 56.7 MiB".
fn timing_line(stderr: &str) -> anyhow::Result<(f64, f64)> {
    let secs = stderr.split(" in ").nth(1).and_then(|r| r.split(' ').next()).context("timing line")?.parse()?;
    let peak = stderr.split("peak memory ").nth(1).and_then(|r| r.split(' ').next()).context("peak line")?.parse()?;
    Ok((secs, peak))
}

fn bench_profile(rows: usize, runs: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let warden = release_warden(&root)?;
    let dir = root.join("target/bench");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("reference_{rows}x{}.csv", NUMERIC + CATEGORICAL));
    if !file.exists() {
        eprintln!("generating {} ...", file.display());
        generate(&file, rows)?;
    }
    let size_mib = std::fs::metadata(&file)?.len() as f64 / (1 << 20) as f64;

    // 1. Profiling alone, in a fresh process per run (time and peak RSS reported by the process itself).
    let (mut seconds, mut peaks) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let out = Command::new(&warden)
            .arg("profile")
            .arg(&file)
            .args(["--target", "default", "--json", "--timing"])
            .stdout(Stdio::null())
            .output()?;
        let report = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("profile failed: {report}");
        }
        let (secs, peak) = timing_line(&report)?;
        seconds.push(secs);
        peaks.push(peak);
    }

    // 2. Full registration through the HTTP API: upload, profile, store (wall time at the client).
    let data = dir.join("bench-data");
    let _ = std::fs::remove_dir_all(&data);
    let mut server = Command::new(&warden)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().context("server exited")??;
        if let Some(rest) = line.strip_prefix("warden listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let artifact = dir.join("bench-model.json");
    std::fs::write(&artifact, r#"{"intercept": -2.0, "coefficients": {"num_0": 0.00001}}"#)?;
    let cli = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(&warden).args(args).env("WARDEN_URL", &url).env("WARDEN_DATA_DIR", &data).output()?;
        if !out.status.success() {
            bail!("{}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    cli(&["model", "create", "bench", "--owner", "bench", "--risk-tier", "low"])?;
    let mut register_seconds = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        cli(&[
            "model",
            "register",
            "bench",
            "--artifact",
            artifact.to_str().unwrap(),
            "--format",
            "linear-json",
            "--reference",
            file.to_str().unwrap(),
            "--target",
            "default",
        ])?;
        register_seconds.push(started.elapsed().as_secs_f64());
    }
    let server_peak = vm_hwm_mib(server.id());
    let _ = Command::new("sh").args(["-c", &format!("kill -TERM {}", server.id())]).status();
    let _ = server.wait();

    println!();
    println!(
        "reference file: {rows} rows x {} columns ({NUMERIC} numeric, {CATEGORICAL} categorical) + target, {size_mib:.0} MiB CSV",
        NUMERIC + CATEGORICAL
    );
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!("| benchmark | runs | median s | min s | max s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    let peak_median = format!("{:.0} (median)", median(&mut peaks.clone()));
    timing_row("profile reference (warden profile)", &mut seconds, &peak_median);
    timing_row(
        "register version over HTTP (upload + profile + store)",
        &mut register_seconds,
        &server_peak.map_or("unknown".into(), |p| format!("{p:.0} (server, max over runs)")),
    );
    Ok(())
}

/// Built-in trainers against scikit-learn and XGBoost on the same generated data: `rows` training rows × 20
/// features, a fifth as many held out. Prints fit times (median of `runs` for Warden, one peer run) and AUCs.
fn bench_train(rows: usize, runs: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let python = root.join(".venv/bin/python");
    let ready =
        Command::new(&python).args(["-c", "import xgboost, sklearn, pandas"]).status().is_ok_and(|s| s.success());
    if !ready {
        let status = Command::new("bash").arg(root.join("scripts/peers/setup.sh")).status()?;
        if !status.success() {
            bail!("installing the peer tools failed (scripts/peers/setup.sh)");
        }
    }
    let dir = root.join(format!("target/bench/train_{rows}"));
    std::fs::create_dir_all(&dir)?;
    let script = root.join("scripts/peers/train_peers.py");
    if !dir.join("test.csv").exists() {
        eprintln!("generating {} ...", dir.display());
        let status = Command::new(&python)
            .arg(&script)
            .arg("generate")
            .arg(&dir)
            .args([rows.to_string(), (rows / 5).to_string()])
            .status()?;
        if !status.success() {
            bail!("generating the data failed");
        }
    }
    let warden = release_warden(&root)?;
    let mut table = Vec::new();
    for (trainer, extra) in [("builtin-lr", vec![]), ("builtin-gbt", vec!["--trees", "100", "--depth", "6"])] {
        let (mut fits, mut loads, mut auc) = (Vec::new(), Vec::new(), f64::NAN);
        for _ in 0..runs {
            let out = Command::new(&warden)
                .args(["train", "--target", "label", "--trainer", trainer, "--json"])
                .arg("--data")
                .arg(dir.join("train.csv"))
                .arg("--test")
                .arg(dir.join("test.csv"))
                .arg("--out")
                .arg(dir.join(format!("{trainer}.json")))
                .args(&extra)
                .output()?;
            if !out.status.success() {
                bail!("warden train failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
            fits.push(report["fit_seconds"].as_f64().context("fit_seconds")?);
            loads.push(report["load_seconds"].as_f64().context("load_seconds")?);
            auc = report["test_auc"].as_f64().context("test_auc")?;
        }
        table.push((trainer, median(&mut fits), fits.clone(), median(&mut loads), auc));
    }
    eprintln!("fitting scikit-learn and XGBoost ...");
    let out = Command::new(&python).arg(&script).arg("fit").arg(&dir).output()?;
    if !out.status.success() {
        bail!("the peers failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let peers: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    println!();
    println!("data: {rows} training rows × 20 features, {} held out (scripts/peers/train_peers.py, seeded)", rows / 5);
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!("| trainer | fit seconds | held-out AUC | peer | peer fit seconds | peer AUC |");
    println!("|---|---|---|---|---|---|");
    let runs_text = |fits: &[f64]| fits.iter().map(|f| format!("{f:.2}")).collect::<Vec<_>>().join(" / ");
    let (lr, gbt) = (&table[0], &table[1]);
    println!(
        "| Warden builtin-lr (C = 1) | {:.2} ({}) | {:.4} | scikit-learn {} LogisticRegression (C = 1, lbfgs) | {:.2} | {:.4} |",
        lr.1,
        runs_text(&lr.2),
        lr.4,
        peers["sklearn"].as_str().unwrap_or("?"),
        peers["sklearn_lr_seconds"].as_f64().unwrap_or(f64::NAN),
        peers["sklearn_lr_auc"].as_f64().unwrap_or(f64::NAN)
    );
    println!(
        "| Warden builtin-gbt (100 trees, depth 6) | {:.2} ({}) | {:.4} | XGBoost {} hist (100 trees, depth 6, 2 threads) | {:.2} | {:.4} |",
        gbt.1,
        runs_text(&gbt.2),
        gbt.4,
        peers["xgboost"].as_str().unwrap_or("?"),
        peers["xgboost_seconds"].as_f64().unwrap_or(f64::NAN),
        peers["xgboost_auc"].as_f64().unwrap_or(f64::NAN)
    );
    println!();
    println!(
        "reading the CSV: {:.2} s (builtin-lr runs) / {:.2} s (builtin-gbt runs), not included in fit seconds",
        lr.3, gbt.3
    );
    Ok(())
}

/// The Python of a peer environment (`venv` in the workspace), installed by `scripts/peers/SETUP` first when
/// it is missing.
fn peer_python(root: &Path, venv: &str, setup: &str) -> anyhow::Result<PathBuf> {
    let python = root.join(venv).join("bin/python");
    if !python.exists() {
        let status = Command::new("bash").arg(root.join("scripts/peers").join(setup)).status()?;
        if !status.success() {
            bail!("installing the peer tools failed (scripts/peers/{setup})");
        }
    }
    Ok(python)
}

/// The drift benchmark's Parquet files (generated once): reference and current.
fn drift_data(
    root: &Path,
    python: &Path,
    reference_rows: usize,
    current_rows: usize,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = root.join("target/bench/drift");
    let reference = dir.join(format!("reference_{reference_rows}.parquet"));
    let current = dir.join(format!("current_{current_rows}.parquet"));
    if !reference.exists() || !current.exists() {
        eprintln!("generating {} and {} ...", reference.display(), current.display());
        let status = Command::new(&python)
            .arg(root.join("scripts/peers/make_drift_data.py"))
            .args([reference_rows.to_string(), current_rows.to_string()])
            .arg(&dir)
            .status()?;
        if !status.success() {
            bail!("generating the data failed");
        }
    }
    Ok((reference, current))
}

/// Runs `warden drift --json --timing` on two files `runs` times: seconds, peak RSS (MiB) and the last report.
fn time_warden_drift(
    warden: &Path,
    reference: &Path,
    current: &Path,
    runs: usize,
) -> anyhow::Result<(Vec<f64>, Vec<f64>, serde_json::Value)> {
    let (mut seconds, mut peaks, mut last) = (Vec::new(), Vec::new(), None);
    for _ in 0..runs {
        let out = Command::new(warden)
            .arg("drift")
            .arg("--reference")
            .arg(reference)
            .arg("--current")
            .arg(current)
            .args(["--json", "--timing"])
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("warden drift failed: {stderr}");
        }
        let (secs, peak) = timing_line(&stderr)?;
        seconds.push(secs);
        peaks.push(peak);
        last = Some(out.stdout);
    }
    Ok((seconds, peaks, serde_json::from_slice(&last.context("no run")?)?))
}

/// `warden drift` on the same data as CSV and as Parquet, in one run: CSV's time and memory against
/// Parquet's, and the two reports' statistics compared.
fn bench_drift_csv(reference_rows: usize, current_rows: usize, runs: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let python = peer_python(&root, ".venv", "setup.sh")?;
    let (reference, current) = drift_data(&root, &python, reference_rows, current_rows)?;
    let csv = |parquet: &Path| -> anyhow::Result<PathBuf> {
        let path = parquet.with_extension("csv");
        if !path.exists() {
            let script = "import sys, pandas as pd; pd.read_parquet(sys.argv[1]).to_csv(sys.argv[2], index=False)";
            let status = Command::new(&python).args(["-c", script]).arg(parquet).arg(&path).status()?;
            if !status.success() {
                bail!("writing {} failed", path.display());
            }
        }
        Ok(path)
    };
    let (reference_csv, current_csv) = (csv(&reference)?, csv(&current)?);
    let warden = release_warden(&root)?;
    let (mut csv_seconds, mut csv_peaks, csv_report) = time_warden_drift(&warden, &reference_csv, &current_csv, runs)?;
    let (mut pq_seconds, mut pq_peaks, pq_report) = time_warden_drift(&warden, &reference, &current, runs)?;
    let mut worst = 0.0f64;
    for (name, f) in pq_report["features"].as_object().context("features")? {
        for statistic in ["psi", "ks_statistic", "wasserstein_normed", "js_distance"] {
            if let (Some(a), Some(b)) = (f[statistic].as_f64(), csv_report["features"][name][statistic].as_f64()) {
                worst = worst.max((a - b).abs());
            }
        }
    }
    println!();
    println!("data: {reference_rows} reference rows x {current_rows} current rows x 20 numeric features (1% missing)");
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!("| input | runs | median s | min s | max s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    let runs = |seconds: &[f64]| seconds.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(" / ");
    let (csv_runs, pq_runs) = (runs(&csv_seconds), runs(&pq_seconds));
    timing_row("warden drift on CSV", &mut csv_seconds, &format!("{:.0}", median(&mut csv_peaks)));
    timing_row("warden drift on Parquet", &mut pq_seconds, &format!("{:.0}", median(&mut pq_peaks)));
    println!();
    println!("runs, s: CSV {csv_runs}; Parquet {pq_runs}");
    println!();
    println!(
        "CSV / Parquet time: {:.2}; largest difference of a statistic between the two reports: {worst:.2e}",
        median(&mut csv_seconds) / median(&mut pq_seconds)
    );
    Ok(())
}

fn bench_drift(reference_rows: usize, current_rows: usize, runs: usize, peer_runs: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let python = peer_python(&root, ".venv", "setup.sh")?;
    let (reference, current) = drift_data(&root, &python, reference_rows, current_rows)?;
    let warden = release_warden(&root)?;
    let (mut seconds, mut peaks, ours) = time_warden_drift(&warden, &reference, &current, runs)?;

    let (mut peer_seconds, mut peer_peaks, mut theirs) = (Vec::new(), Vec::new(), serde_json::Value::Null);
    for _ in 0..peer_runs {
        let started = Instant::now();
        let out = Command::new(&python)
            .arg(root.join("scripts/peers/evidently_drift.py"))
            .arg(&reference)
            .arg(&current)
            .output()?;
        let wall = started.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!("Evidently failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        theirs = serde_json::from_slice(&out.stdout)?;
        peer_seconds.push(wall);
        peer_peaks.push(theirs["peak_rss_mib"].as_f64().unwrap_or(f64::NAN));
    }

    println!();
    println!(
        "data: {reference_rows} reference rows x {current_rows} current rows x 20 numeric features (Parquet, 1% missing; features f00-f04 shifted)"
    );
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!("| tool | runs | median s | min s | max s | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    timing_row("warden drift (all statistics + quality)", &mut seconds, &format!("{:.0}", median(&mut peaks)));
    if !peer_seconds.is_empty() {
        timing_row("Evidently 0.7.23 DataDriftPreset", &mut peer_seconds, &format!("{:.0}", median(&mut peer_peaks)));
    }
    if !peer_seconds.is_empty() {
        println!();
        println!(
            "speed-up (median): {:.0}x; memory: {:.1}% of Evidently's",
            median(&mut peer_seconds) / median(&mut seconds),
            100.0 * median(&mut peaks) / median(&mut peer_peaks)
        );
        // Verdicts where the statistic is the same: Evidently's default for numeric columns of this size is the
        // normed Wasserstein distance with threshold 0.1.
        let (mut same, mut compared, mut worst) = (0, 0, 0.0f64);
        println!();
        println!(
            "| feature | Evidently method | Evidently score | Warden wasserstein_normed | Evidently drifted | Warden drifted |"
        );
        println!("|---|---|---|---|---|---|");
        if let Some(columns) = theirs["columns"].as_object() {
            for (name, c) in columns {
                let (Some(score), Some(mine)) =
                    (c["score"].as_f64(), ours["features"][name]["wasserstein_normed"].as_f64())
                else {
                    continue;
                };
                let method = c["method"].as_str().unwrap_or("?");
                let threshold = c["threshold"].as_f64().unwrap_or(0.1);
                let (theirs_drift, ours_drift) = (score >= threshold, mine >= threshold);
                if method.to_lowercase().contains("wasserstein") {
                    compared += 1;
                    same += usize::from(theirs_drift == ours_drift);
                    worst = worst.max((score - mine).abs() / score.abs().max(1e-12));
                }
                println!("| {name} | {method} | {score:.6} | {mine:.6} | {theirs_drift} | {ours_drift} |");
            }
        }
        println!();
        println!(
            "same verdict on {same} of {compared} features compared on the same statistic; largest relative difference of the statistic {worst:.2e}"
        );
    }
    Ok(())
}

/// One wrk run: requests/s, p50 and p99 in milliseconds, non-2xx responses, total requests.
struct LoadResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
    requests: u64,
}

/// Medians of several load runs, failures summed, and each run's requests/s and p99.
struct LoadSummary {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    failed: u64,
    runs: String,
}

impl LoadSummary {
    fn of(results: &[LoadResult]) -> LoadSummary {
        let each: Vec<String> = results.iter().map(|r| format!("{:.0}/{:.2}", r.rps, r.p99_ms)).collect();
        LoadSummary {
            rps: median_of(&results.iter().map(|r| r.rps).collect::<Vec<_>>()),
            p50_ms: median_of(&results.iter().map(|r| r.p50_ms).collect::<Vec<_>>()),
            p99_ms: median_of(&results.iter().map(|r| r.p99_ms).collect::<Vec<_>>()),
            failed: results.iter().map(|r| r.failed).sum(),
            runs: each.join(", "),
        }
    }
}

fn wrk_duration_ms(text: &str) -> anyhow::Result<f64> {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        bail!("unknown wrk duration '{text}'")
    };
    Ok(number.parse::<f64>()? * factor)
}

/// Runs wrk with a Lua script that POSTs `body` (a Lua quoted string, so `]]` in JSON is harmless).
fn wrk(
    url: &str,
    body: &str,
    token: Option<&str>,
    seconds: usize,
    connections: usize,
    dir: &Path,
) -> anyhow::Result<LoadResult> {
    let quoted = body.replace('\\', "\\\\").replace('"', "\\\"");
    let mut script = format!(
        "wrk.method = \"POST\"\nwrk.body = \"{quoted}\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    if let Some(token) = token {
        script.push_str(&format!("wrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"));
    }
    let lua = dir.join("post.lua");
    std::fs::write(&lua, script)?;
    wrk_run(url, Some(&lua), seconds, connections)
}

/// Runs wrk POSTing `bodies` in turn, one per request.
fn wrk_rotating(
    url: &str,
    bodies: &[String],
    token: &str,
    seconds: usize,
    connections: usize,
    dir: &Path,
) -> anyhow::Result<LoadResult> {
    let quoted: Vec<String> =
        bodies.iter().map(|b| format!("\"{}\"", b.replace('\\', "\\\\").replace('"', "\\\""))).collect();
    let script = format!(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
         wrk.headers[\"Authorization\"] = \"Bearer {token}\"\nlocal bodies = {{{}}}\nlocal i = 0\n\
         request = function()\n  i = i + 1\n  return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])\nend\n",
        quoted.join(", ")
    );
    let lua = dir.join("rotating.lua");
    std::fs::write(&lua, script)?;
    wrk_run(url, Some(&lua), seconds, connections)
}

/// `GET url` under wrk: the server's own limit on this machine when `url` is a no-op endpoint (`/healthz`).
fn wrk_get(url: &str, seconds: usize, connections: usize) -> anyhow::Result<LoadResult> {
    wrk_run(url, None, seconds, connections)
}

fn wrk_run(url: &str, script: Option<&Path>, seconds: usize, connections: usize) -> anyhow::Result<LoadResult> {
    let mut command = Command::new("wrk");
    // One load thread drives 16 connections easily; a second would only take CPU from the server under test.
    command.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let out = command.arg(url).output().context("wrk did not run (scripts/peers/setup_mlflow.sh installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let field = |prefix: &str| -> Option<&str> {
        text.lines().map(str::trim).find_map(|l| l.strip_prefix(prefix)).map(str::trim)
    };
    let rps = field("Requests/sec:").context("no Requests/sec in wrk output")?.parse()?;
    let p50_ms = wrk_duration_ms(field("50%").context("no p50")?)?;
    let p99_ms = wrk_duration_ms(field("99%").context("no p99")?)?;
    let failed = field("Non-2xx or 3xx responses:").map_or(Ok(0), str::parse)?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .context("no request count")?
        .parse()?;
    Ok(LoadResult { rps, p50_ms, p99_ms, failed, requests })
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn http_post(url: &str, body: &str, token: Option<&str>) -> anyhow::Result<serde_json::Value> {
    let mut command = Command::new("curl");
    command.args(["-sf", "-X", "POST", "-H", "Content-Type: application/json", "--data", body, url]);
    if let Some(token) = token {
        command.args(["-H", &format!("Authorization: Bearer {token}")]);
    }
    let out = command.output().context("curl did not run")?;
    if !out.status.success() {
        bail!("POST {url} failed");
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// A GET with `token` to the server under test, answered 200; its body. In this process: the benchmarks poll
/// `/metrics` every few milliseconds, and a `curl` process each time took a quarter of a core from the server
/// they measure.
fn http_get(url: &str, token: &str) -> anyhow::Result<String> {
    let path = url.trim_start_matches("http://").find('/').map_or("/", |i| &url.trim_start_matches("http://")[i..]);
    let mut connection = Connection::open(url)?;
    connection.send_get(path, token)?;
    let (status, body) = connection.answer_with_body()?;
    if status != 200 {
        bail!("GET {url} failed: {status}");
    }
    Ok(String::from_utf8(body)?)
}

/// Sums a Prometheus counter over all its label sets.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && (l[name.len()..].starts_with('{') || l[name.len()..].starts_with(' ')))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Starts `warden serve` on a free loopback port over `data`; the server (stopped when dropped) and its URL.
fn start_warden(warden: &Path, data: &Path, extra: &[&str]) -> anyhow::Result<(Stopped, String)> {
    let mut server = Stopped(
        Command::new(warden)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data)
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let mut lines = BufReader::new(server.0.stdout.take().context("server stdout")?).lines();
    let url = loop {
        let line = lines.next().context("server exited")??;
        if let Some(rest) = line.strip_prefix("warden listening on ") {
            break rest.split_whitespace().next().context("listening line")?.to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Ok((server, url))
}

/// Runs a `warden` CLI command against a server; its standard output.
fn run_cli(warden: &Path, url: &str, data: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(warden).args(args).env("WARDEN_URL", url).env("WARDEN_DATA_DIR", data).output()?;
    if !out.status.success() {
        bail!("warden {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A child process stopped (SIGTERM, then wait) however the benchmark ends.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = Command::new("sh").args(["-c", &format!("kill -TERM {} 2>/dev/null", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

struct MlflowServer(std::process::Child);

impl Drop for MlflowServer {
    fn drop(&mut self) {
        // uvicorn's workers follow their parent on SIGTERM.
        let _ = Command::new("sh")
            .args(["-c", &format!("kill -TERM -{0} 2>/dev/null || kill -TERM {0}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

fn start_mlflow(root: &Path, model: &Path, workers: usize) -> anyhow::Result<(MlflowServer, String)> {
    let bin = root.join(".venv-mlflow/bin");
    let port = free_port()?;
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let child = Command::new("setsid")
        .arg(bin.join("mlflow"))
        .args([
            "models",
            "serve",
            "--env-manager",
            "local",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-w",
            &workers.to_string(),
            "-m",
        ])
        .arg(model)
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start mlflow (run scripts/peers/setup_mlflow.sh)")?;
    let server = MlflowServer(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..120 {
        let ok = Command::new("curl").args(["-sf", &format!("{url}/ping")]).output().map(|o| o.status.success());
        if ok.unwrap_or(false) {
            return Ok((server, url));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    bail!("mlflow did not come up on {url}")
}

/// Multivariate drift (data reconstruction error) of `rows` analysis rows against `rows` reference rows of 20
/// numeric features (Parquet, 1% missing, the first pair's correlation turned in the second half), chunks of
/// 10,000: `warden drift --multivariate` against NannyML's `DataReconstructionDriftCalculator` on the same
/// files, `runs` times each, in one run of this command.
fn bench_reconstruction(rows: usize, runs: usize) -> anyhow::Result<()> {
    const CHUNK: usize = 10_000;
    let root = workspace_root();
    let python = peer_python(&root, ".venv-nannyml", "setup_nannyml.sh")?;
    let script = root.join("scripts/peers/nannyml_reconstruction.py");
    let dir = root.join(format!("target/bench/reconstruction_{rows}"));
    let (reference, analysis) = (dir.join("reference.parquet"), dir.join("analysis.parquet"));
    if !reference.exists() || !analysis.exists() {
        eprintln!("generating {} ...", dir.display());
        let status = Command::new(&python).arg(&script).arg("--make").arg(rows.to_string()).arg(&dir).status()?;
        if !status.success() {
            bail!("generating the data failed");
        }
    }
    let warden = release_warden(&root)?;
    let seconds_after = |text: &str, marker: &str| -> anyhow::Result<f64> {
        let rest = text.split(marker).nth(1).context("no multivariate timing line")?;
        Ok(rest.split(' ').next().context("timing")?.parse()?)
    };
    let (mut read, mut computed, mut last) = (Vec::new(), Vec::new(), None);
    let (mut peer_read, mut peer_computed, mut theirs) = (Vec::new(), Vec::new(), serde_json::Value::Null);
    for _ in 0..runs {
        let out = Command::new(&warden)
            .arg("drift")
            .arg("--reference")
            .arg(&reference)
            .arg("--current")
            .arg(&analysis)
            .args(["--multivariate", "--chunk-size", &CHUNK.to_string(), "--json", "--timing"])
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            bail!("warden drift failed: {stderr}");
        }
        let line = stderr.lines().find(|l| l.starts_with("multivariate drift:")).context("no multivariate timing")?;
        read.push(seconds_after(line, " rows in ")?);
        computed.push(seconds_after(line, "fitted and computed in ")?);
        last = Some(out.stdout);
        let out = Command::new(&python).arg(&script).arg(&reference).arg(&analysis).arg(CHUNK.to_string()).output()?;
        if !out.status.success() {
            bail!("NannyML failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        theirs = serde_json::from_slice(&out.stdout)?;
        peer_read.push(theirs["read_seconds"].as_f64().unwrap_or(f64::NAN));
        peer_computed.push(
            theirs["fit_seconds"].as_f64().unwrap_or(f64::NAN)
                + theirs["calculate_seconds"].as_f64().unwrap_or(f64::NAN),
        );
    }
    let ours: serde_json::Value = serde_json::from_slice(&last.context("no run")?)?;
    let current = ours["multivariate"]["current"].as_array().context("no multivariate chunks")?;
    let values: Vec<f64> = current.iter().filter_map(|c| c["value"].as_f64()).collect();
    let peer_values: Vec<f64> =
        theirs["values"].as_array().context("no NannyML values")?.iter().filter_map(|v| v.as_f64()).collect();
    let alerts: Vec<bool> = current.iter().map(|c| c["alert"] == true).collect();
    let peer_alerts: Vec<bool> =
        theirs["alerts"].as_array().context("no NannyML alerts")?.iter().map(|v| v == true).collect();
    let worst = values.iter().zip(&peer_values).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    let each = |v: &[f64]| v.iter().map(|s| format!("{s:.3}")).collect::<Vec<_>>().join(" / ");
    println!();
    println!(
        "data: {rows} reference rows and {rows} analysis rows x 20 numeric features (Parquet, 1% missing), chunks of {CHUNK}"
    );
    println!("cores: {}", std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!();
    println!(
        "| step | Warden median s | runs | NannyML {} median s | runs | NannyML / Warden |",
        theirs["nannyml"].as_str().unwrap_or("?")
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| fit on the reference + errors of both sides | {:.3} | {} | {:.3} | {} | {:.1}x |",
        median_of(&computed),
        each(&computed),
        median_of(&peer_computed),
        each(&peer_computed),
        median_of(&peer_computed) / median_of(&computed)
    );
    println!(
        "| reading both Parquet files | {:.3} | {} | {:.3} | {} | {:.1}x |",
        median_of(&read),
        each(&read),
        median_of(&peer_read),
        each(&peer_read),
        median_of(&peer_read) / median_of(&read)
    );
    println!();
    println!(
        "components kept: Warden {}, NannyML {}; {} analysis chunks each, largest |difference| of a chunk's error {worst:.2e}; alerts agree on {} of {}",
        ours["multivariate"]["components"],
        theirs["components"],
        values.len(),
        alerts.iter().zip(&peer_alerts).filter(|(a, b)| a == b).count(),
        alerts.len().max(peer_alerts.len())
    );
    Ok(())
}

fn median_of(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    median(&mut v)
}

/// A fresh `target/bench/NAME` holding the German credit scikit-learn pipeline trained in the MLflow peers'
/// environment and its ONNX export (`model.onnx`), with one applicant's request (`request.json`): the directory,
/// the data file and the request.
fn german_onnx_model(root: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf, serde_json::Value)> {
    let python = root.join(".venv-mlflow/bin/python");
    if !python.exists() {
        bail!("no .venv-mlflow: run scripts/peers/setup_mlflow.sh first");
    }
    let dir = root.join("target/bench").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let german = root.join("crates/warden-testdata/data/datasets/german.csv");
    let status =
        Command::new(&python).arg(root.join("scripts/peers/mlflow_model.py")).arg(&german).arg(&dir).status()?;
    if !status.success() {
        bail!("training the model failed");
    }
    let request = serde_json::from_slice(&std::fs::read(dir.join("request.json"))?)?;
    Ok((dir, german, request))
}

/// Warden (ONNX export, every decision logged) against `mlflow models serve` on the same scikit-learn
/// logistic regression, single-row requests, keep-alive, `connections` connections, wrk with one thread.
fn bench_serve(runs: usize, seconds: usize, connections: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let (dir, german, request) = german_onnx_model(&root, "serve")?;
    let expected = request["expected_score"].as_f64().context("expected score")?;
    let warden_body = serde_json::json!({"features": request["features"]}).to_string();
    let mlflow_body = serde_json::json!({"dataframe_records": [request["features"]]}).to_string();

    let warden = release_warden(&root)?;
    let data = dir.join("warden-data");
    let (server, url) = start_warden(&warden, &data, &[])?;
    let (token, admin) =
        promote_credit(&warden, &url, &data, &german, &dir.join("model.onnx"), "onnx", "benchmark: serving only")?;

    let score_url = format!("{url}/v1/models/credit/score");
    let answer = http_post(&score_url, &warden_body, Some(&token))?;
    let warden_score = answer["score"].as_f64().context("no score")?;
    eprintln!("warden score {warden_score:.9}, scikit-learn {expected:.9}");
    if (warden_score - expected).abs() > 1e-6 {
        bail!("Warden's score differs from scikit-learn's by more than 1e-6");
    }

    let mut rows: Vec<(String, Vec<LoadResult>)> = Vec::new();
    let mut warden_runs = Vec::new();
    for _ in 0..runs {
        warden_runs.push(wrk(&score_url, &warden_body, Some(&token), seconds, connections, &dir)?);
    }
    let peak = vm_hwm_mib(server.0.id()).map_or("-".into(), |m| format!("{m:.0} MiB"));
    // Every answered request must be in the decision log.
    let answered: u64 = warden_runs.iter().map(|r| r.requests).sum::<u64>() + 1;
    let committed = decisions_committed(&url, &admin, answered, 50)?;
    drop(server);
    rows.push((format!("Warden (ONNX, logged; peak {peak})"), warden_runs));

    for workers in [1, 2] {
        let (mlflow, mlflow_url) = start_mlflow(&root, &dir.join("mlflow"), workers)?;
        let invocations = format!("{mlflow_url}/invocations");
        let answer = http_post(&invocations, &mlflow_body, None)?;
        let mlflow_score = answer["predictions"][0][1].as_f64().context("no MLflow prediction")?;
        if (mlflow_score - expected).abs() > 1e-6 {
            bail!("MLflow's score {mlflow_score} differs from scikit-learn's {expected}");
        }
        let mut results = Vec::new();
        for _ in 0..runs {
            results.push(wrk(&invocations, &mlflow_body, None, seconds, connections, &dir)?);
        }
        drop(mlflow);
        rows.push((format!("MLflow 3.17 serve, {workers} worker(s)"), results));
    }

    println!(
        "\nsingle-row scoring, {connections} connections, keep-alive, wrk -t1, {seconds} s x {runs} runs (medians)"
    );
    let medians = load_table(&rows, 44);
    println!(
        "Warden / MLflow: {:.0}x (1 worker), {:.0}x (2 workers); decisions logged {} for {} requests wrk counted",
        medians[0] / medians[1],
        medians[0] / medians[2],
        committed,
        answered
    );
    Ok(())
}

/// Scoring throughput with and without a segmented feature-drift monitor: two servers with the same model
/// (the German credit ONNX export), one whose `feature_drift` is split by a `channel` attribute into
/// `segments` segments, loaded in turn with requests that rotate over the channels; the no-op `/healthz` as
/// the machine's limit in the same run.
fn bench_segments(runs: usize, seconds: usize, connections: usize, segments: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let (dir, german, request) = german_onnx_model(&root, "segments")?;
    let bodies: Vec<String> = (0..segments)
        .map(|c| {
            serde_json::json!({"features": request["features"], "attributes": {"channel": format!("ch{c:02}")}})
                .to_string()
        })
        .collect();
    let warden = release_warden(&root)?;
    let mut servers = Vec::new();
    for name in ["whole", "segmented"] {
        let data = dir.join(name);
        let (server, url) = start_warden(&warden, &data, &[])?;
        let (token, admin) =
            promote_credit(&warden, &url, &data, &german, &dir.join("model.onnx"), "onnx", "benchmark: segments")?;
        servers.push((name, server, url, data, token, admin));
    }
    {
        let (_, _, url, data, _, admin) = &servers[1];
        run_cli(
            &warden,
            url,
            data,
            &[
                "monitor",
                "set",
                "credit",
                "feature_drift",
                "--segment-by",
                "channel",
                "--max-segments",
                &segments.to_string(),
                "--min-segment-decisions",
                "100",
            ],
        )?;
        // The segmentation is installed at the next round.
        http_post(&format!("{url}/v1/monitors/evaluate"), "{}", Some(admin))?;
    }
    let (mut whole, mut segmented, mut noop) = (Vec::new(), Vec::new(), Vec::new());
    for run in 0..runs {
        // Alternate which server goes first, so neither always follows the other's load.
        let order: [usize; 2] = if run.is_multiple_of(2) { [0, 1] } else { [1, 0] };
        for i in order {
            let (_, _, url, _, token, _) = &servers[i];
            let result =
                wrk_rotating(&format!("{url}/v1/models/credit/score"), &bodies, token, seconds, connections, &dir)?;
            if i == 0 { whole.push(result) } else { segmented.push(result) }
        }
        noop.push(wrk_get(&format!("{}/healthz", servers[0].2), seconds, connections)?);
    }
    // The segmented server's latest feature-drift evaluation names every segment.
    let (_, _, url, _, _, admin) = &servers[1];
    http_post(&format!("{url}/v1/monitors/evaluate"), "{}", Some(admin))?;
    let history: serde_json::Value = serde_json::from_str(&http_get(
        &format!("{url}/v1/models/credit/monitors/history?monitor=feature_drift&limit=1"),
        admin,
    )?)?;
    let keys = history[0]["details"]["features"]
        .as_object()
        .map_or(0, |f| f.keys().filter(|k| k.starts_with("channel=")).count());
    let peaks: Vec<String> =
        servers.iter().map(|s| vm_hwm_mib(s.1.0.id()).map_or("-".into(), |m| format!("{m:.0} MiB"))).collect();
    println!(
        "\nsingle-row scoring, {connections} connections, wrk -t1, {seconds} s x {runs} runs (medians), requests rotating over {segments} channels"
    );
    let rows = [
        (format!("Warden, feature_drift whole (peak {})", peaks[0]), whole),
        (format!("Warden, feature_drift in {segments} segments (peak {})", peaks[1]), segmented),
        ("no-op /healthz (the limit)".to_owned(), noop),
    ];
    let medians = load_table(&rows, 46);
    println!(
        "segmented / whole throughput: {:.3} (a request costs {:.2}x the time with segments); segment keys in the last evaluation: {keys}",
        medians[1] / medians[0],
        medians[0] / medians[1]
    );
    Ok(())
}

/// Prints a table of load runs, a row per server named in a column `width` wide (median requests/s, p50, p99,
/// failures, and each run's requests/s and p99); the medians of requests/s, in order.
fn load_table(rows: &[(String, Vec<LoadResult>)], width: usize) -> Vec<f64> {
    println!("{:<width$} {:>12} {:>10} {:>10} {:>9}", "server", "requests/s", "p50 ms", "p99 ms", "non-2xx");
    rows.iter()
        .map(|(name, results)| {
            let summary = LoadSummary::of(results);
            println!(
                "{name:<width$} {:>12.0} {:>10.3} {:>10.3} {:>9}   runs (req/s / p99 ms): {}",
                summary.rps, summary.p50_ms, summary.p99_ms, summary.failed, summary.runs
            );
            summary.rps
        })
        .collect()
}

/// The decisions the server has committed to its log, once they reach `answered` or after `polls` tenths of
/// a second.
fn decisions_committed(url: &str, admin: &str, answered: u64, polls: usize) -> anyhow::Result<u64> {
    let mut committed = 0.0;
    for _ in 0..polls {
        committed = metric_sum(&http_get(&format!("{url}/metrics"), admin)?, "warden_decision_log_committed_total");
        if committed as u64 >= answered {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(committed as u64)
}

/// A keep-alive HTTP/1.1 connection that POSTs JSON and reads each answer whole (content-length bodies).
struct Connection {
    reader: BufReader<std::net::TcpStream>,
    writer: std::net::TcpStream,
    host: String,
}

impl Connection {
    fn open(url: &str) -> anyhow::Result<Connection> {
        let host = url.trim_start_matches("http://").split('/').next().context("url host")?.to_owned();
        let stream = std::net::TcpStream::connect(&host)?;
        stream.set_nodelay(true)?;
        Ok(Connection { reader: BufReader::new(stream.try_clone()?), writer: stream, host })
    }

    /// POSTs `body` to `path`; the status.
    fn post(&mut self, path: &str, token: &str, body: &str) -> anyhow::Result<u16> {
        write!(
            self.writer,
            "POST {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        )?;
        self.answer()
    }

    /// GETs `path` without a token; the status.
    fn get(&mut self, path: &str) -> anyhow::Result<u16> {
        write!(self.writer, "GET {path} HTTP/1.1\r\nhost: {}\r\n\r\n", self.host)?;
        self.answer()
    }

    /// GETs `path` with `token`; the status.
    fn get_as(&mut self, path: &str, token: &str) -> anyhow::Result<u16> {
        self.send_get(path, token)?;
        self.answer()
    }

    fn send_get(&mut self, path: &str, token: &str) -> anyhow::Result<()> {
        write!(self.writer, "GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\n\r\n", self.host)?;
        Ok(())
    }

    /// Reads one answer whole; its status.
    fn answer(&mut self) -> anyhow::Result<u16> {
        Ok(self.answer_with_body()?.0)
    }

    /// Reads one answer whole; its status and body.
    fn answer_with_body(&mut self) -> anyhow::Result<(u16, Vec<u8>)> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status: u16 = line.split_whitespace().nth(1).context("status line")?.parse()?;
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse()?;
            }
        }
        let mut body = vec![0; length];
        std::io::Read::read_exact(&mut self.reader, &mut body)?;
        Ok((status, body))
    }
}

/// One replay of the drift-onset benchmark.
struct OnsetRun {
    /// Seconds from the first drifted decision to the first critical / first any alert of a drift monitor.
    critical_after: Option<f64>,
    warning_after: Option<f64>,
    /// Alerts opened before the onset (any monitor, any severity).
    false_alerts: usize,
    /// Alerts opened after it, by monitor.
    after: Vec<String>,
    sent: usize,
    failed: usize,
    achieved_rate: f64,
}

/// Replays NannyML's synthetic credit-card set (drift from analysis row 30,000) into a running Warden at a
/// steady rate of single-row requests, and reports the time from the onset to the first alert and the
/// alerts raised on the stable part.
fn bench_onset(runs: usize, rate: usize, interval: usize, consecutive: usize) -> anyhow::Result<()> {
    const ONSET_ROW: usize = 30_000;
    let root = workspace_root();
    let dir = root.join("target/bench/onset");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let source = root.join("xtask/data/nannyml_mc");
    for name in ["reference", "analysis"] {
        let out = Command::new("gzip").arg("-dc").arg(source.join(format!("{name}.csv.gz"))).output()?;
        if !out.status.success() {
            bail!("gzip -dc {name}.csv.gz failed");
        }
        std::fs::write(dir.join(format!("{name}.csv")), out.stdout)?;
    }
    let text = std::fs::read_to_string(dir.join("analysis.csv"))?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let numeric = ["app_behavioral_score", "requested_credit_limit", "credit_bureau_score", "stated_income"];
    let bodies: Vec<String> = lines
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let mut features = serde_json::Map::new();
            for (name, cell) in header.iter().zip(&cells) {
                if *name == "id" || *name == "upmarket" {
                    continue;
                }
                let value = if numeric.contains(name) {
                    serde_json::json!(cell.parse::<f64>().unwrap_or(f64::NAN))
                } else {
                    serde_json::json!(cell)
                };
                features.insert((*name).to_owned(), value);
            }
            serde_json::json!({"request_id": format!("mc-{}", cells[0]), "features": features}).to_string()
        })
        .collect();
    let warden = release_warden(&root)?;

    let mut results = Vec::new();
    for number in 0..runs {
        let data = dir.join(format!("data-{number}"));
        let (server, url) = start_warden(&warden, &data, &["--monitor-interval-seconds", &interval.to_string()])?;
        let cli = |args: &[&str]| run_cli(&warden, &url, &data, args);
        cli(&["model", "create", "cards", "--owner", "cards-risk", "--risk-tier", "medium"])?;
        let (model, reference) = (source.join("model.json"), dir.join("reference.csv"));
        cli(&[
            "model",
            "register",
            "cards",
            "--artifact",
            model.to_str().unwrap(),
            "--format",
            "linear-json",
            "--reference",
            reference.to_str().unwrap(),
            "--target",
            "upmarket",
            "--exclude",
            "id",
        ])?;
        cli(&["promote", "cards", "1", "--override", "--reason", "benchmark: monitoring only"])?;
        // Drift bands learned from the reference in chunks of 5,000 (NannyML's way), over the newest 5,000+
        // decisions, firing after `consecutive` breaches in a row; every other monitor as the tier gives it.
        let consecutive = consecutive.to_string();
        for monitor in ["feature_drift", "score_drift"] {
            let window = ["--window-decisions", "5000", "--learned", "3", "--consecutive", &consecutive];
            cli(&[&["monitor", "set", "cards", monitor][..], &window[..]].concat())?;
        }
        let admin = std::fs::read_to_string(data.join("admin.token"))?.trim().to_owned();
        let token = cli(&["token", "create", "--name", "cards-app", "--role", "scorer"])?.trim().to_owned();

        // Replay: `threads` connections share the rows; row i is due at start + i / rate.
        let threads = 4;
        let started = Instant::now();
        let epoch_micros = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() as i64;
        let onset_micros = epoch_micros + (ONSET_ROW as f64 / rate as f64 * 1e6) as i64;
        let failed = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|scope| -> anyhow::Result<()> {
            let mut handles = Vec::new();
            for t in 0..threads {
                let (bodies, url, token, failed) = (&bodies, &url, &token, &failed);
                handles.push(scope.spawn(move || -> anyhow::Result<()> {
                    let mut connection = Connection::open(url)?;
                    for i in (t..bodies.len()).step_by(threads) {
                        let due = std::time::Duration::from_secs_f64(i as f64 / rate as f64);
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                        if connection.post("/v1/models/cards/score", token, &bodies[i])? != 200 {
                            failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Ok(())
                }));
            }
            for h in handles {
                h.join().map_err(|_| anyhow::anyhow!("a sender panicked"))??;
            }
            Ok(())
        })?;
        let seconds = started.elapsed().as_secs_f64();
        // One more round of evaluations sees the end of the replay.
        std::thread::sleep(std::time::Duration::from_secs(interval as u64 + 1));
        let alerts: serde_json::Value =
            serde_json::from_str(&http_get(&format!("{url}/v1/alerts?model=cards"), &admin)?)?;
        drop(server);
        let alerts = alerts.as_array().cloned().unwrap_or_default();
        let opened = |a: &serde_json::Value| a["opened_at"].as_i64().unwrap_or(i64::MAX);
        let drift = |a: &&serde_json::Value| a["monitor"] == "feature_drift" || a["monitor"] == "score_drift";
        let first_after = |severity: Option<&str>| {
            alerts
                .iter()
                .filter(drift)
                .filter(|a| severity.is_none_or(|s| a["severity"] == s))
                .map(opened)
                .filter(|&at| at >= onset_micros)
                .min()
                .map(|at| (at - onset_micros) as f64 / 1e6)
        };
        let run = OnsetRun {
            critical_after: first_after(Some("critical")),
            warning_after: first_after(None),
            false_alerts: alerts.iter().filter(|a| opened(a) < onset_micros).count(),
            after: alerts
                .iter()
                .filter(|a| opened(a) >= onset_micros)
                .map(|a| {
                    format!(
                        "{}/{} {}",
                        a["monitor"].as_str().unwrap_or("?"),
                        a["feature"].as_str().unwrap_or(""),
                        a["severity"].as_str().unwrap_or("")
                    )
                })
                .collect(),
            sent: bodies.len(),
            failed: failed.into_inner(),
            achieved_rate: bodies.len() as f64 / seconds,
        };
        if run.false_alerts > 0 {
            eprintln!(
                "run {number}: alerts before the onset: {:?}",
                alerts.iter().filter(|a| opened(a) < onset_micros).collect::<Vec<_>>()
            );
        }
        eprintln!(
            "run {number}: {} decisions at {:.0}/s ({} failed); first drift alert {:?} s, first critical {:?} s after the onset; \
             false alerts before: {}; after: {:?}",
            run.sent, run.achieved_rate, run.failed, run.warning_after, run.critical_after, run.false_alerts, run.after
        );
        results.push(run);
    }

    let seconds_of = |pick: &dyn Fn(&OnsetRun) -> Option<f64>| -> String {
        let mut v: Vec<f64> = results.iter().filter_map(pick).collect();
        if v.len() < results.len() {
            return format!("no alert in {} of {} runs", results.len() - v.len(), results.len());
        }
        let each: Vec<String> = v.iter().map(|s| format!("{s:.1}")).collect();
        format!("{:.1} (runs {})", median(&mut v), each.join(" / "))
    };
    println!(
        "\nNannyML synthetic credit-card set: 60,000 analysis rows replayed as single-row requests at {rate}/s, \
         drift from row {ONSET_ROW}; monitors every {interval} s; drift bands learned (k = 3, chunks of 5,000), \
         alerts after {consecutive} breach(es) in a row; {runs} runs"
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!("| onset to first drift alert, s (median) | {} |", seconds_of(&|r| r.warning_after));
    println!("| onset to first critical drift alert, s (median) | {} |", seconds_of(&|r| r.critical_after));
    println!(
        "| alerts before the onset (stable part), per run | {} |",
        results.iter().map(|r| r.false_alerts.to_string()).collect::<Vec<_>>().join(" / ")
    );
    println!(
        "| achieved rate, decisions/s | {} |",
        results.iter().map(|r| format!("{:.0}", r.achieved_rate)).collect::<Vec<_>>().join(" / ")
    );
    println!("| failed requests | {} |", results.iter().map(|r| r.failed).sum::<usize>());
    Ok(())
}

/// `minutes` of mixed traffic against a release server: four scoring clients (single rows, some with
/// explanations), one reporting outcomes, one doing registry work (registering versions, moving the canary,
/// reading the audit trail) and monitor rounds. Prints the server's resident memory every 30 s and the
/// error count (target 0: every answer must be the expected status), and fails when any request failed.
fn soak(minutes: usize) -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let root = workspace_root();
    let warden = release_warden(&root)?;
    let dir = root.join("target/soak");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data");
    let (server, url) = start_warden(&warden, &data, &["--monitor-interval-seconds", "5"])?;
    let pid = server.0.id();
    let cli = |args: &[&str]| run_cli(&warden, &url, &data, args);
    let german = root.join("crates/warden-testdata/data/datasets/german.csv");
    let artifact = root.join("crates/warden-testdata/data/models/lr_german_linear.json");
    let register = |extra: &[&str]| -> anyhow::Result<String> {
        let mut args = vec!["model", "register", "credit", "--artifact", artifact.to_str().unwrap()];
        args.extend(["--format", "linear-json", "--reference", german.to_str().unwrap(), "--target", "risk"]);
        args.extend_from_slice(extra);
        cli(&args)
    };
    cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "high"])?;
    register(&[])?;
    cli(&["promote", "credit", "1", "--override", "--reason", "soak"])?;
    let token = cli(&["token", "create", "--name", "app", "--role", "scorer"])?.trim().to_owned();
    let admin = std::fs::read_to_string(data.join("admin.token"))?.trim().to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let (requests, errors) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let rows: Vec<String> = std::fs::read_to_string(&german)?.lines().map(str::to_owned).collect();
    let header: Vec<String> = rows[0].split(',').map(str::to_owned).collect();
    let bodies: Arc<Vec<(String, String)>> = Arc::new(
        rows[1..]
            .iter()
            .enumerate()
            .map(|(i, line)| {
                let mut features = serde_json::Map::new();
                for (name, value) in header.iter().zip(line.split(',')) {
                    if name == "risk" {
                        continue;
                    }
                    let v = value.parse::<f64>().map_or(serde_json::json!(value), |n| serde_json::json!(n));
                    features.insert(name.clone(), v);
                }
                let id = format!("soak-{i}");
                let body = serde_json::json!({"request_id": id, "features": features, "explain": i % 10 == 0});
                (id, body.to_string())
            })
            .collect(),
    );
    let mut clients = Vec::new();
    for client in 0..4 {
        let (url, token, stop, requests, errors, bodies) =
            (url.clone(), token.clone(), stop.clone(), requests.clone(), errors.clone(), bodies.clone());
        clients.push(std::thread::spawn(move || {
            let mut connection = Connection::open(&url).expect("connect");
            let mut i = client;
            while !stop.load(Ordering::Relaxed) {
                let (_, body) = &bodies[i % bodies.len()];
                let body = body.replace("soak-", &format!("soak-{i}-"));
                match connection.post("/v1/models/credit/score", &token, &body) {
                    Ok(200) => {}
                    Ok(status) => {
                        eprintln!("score: status {status}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("score: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                        connection = Connection::open(&url).expect("reconnect");
                    }
                }
                requests.fetch_add(1, Ordering::Relaxed);
                i += 4;
                // A steady load, not a saturating one: about 1,000 requests/s per client.
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }));
    }
    {
        let (url, token, stop, requests, errors, bodies) =
            (url.clone(), token.clone(), stop.clone(), requests.clone(), errors.clone(), bodies.clone());
        clients.push(std::thread::spawn(move || {
            let mut connection = Connection::open(&url).expect("connect");
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(20));
                // Outcomes for requests the first scoring client sent a while ago.
                let (id, _) = &bodies[i % bodies.len()];
                let id = id.replace("soak-", &format!("soak-{i}-"));
                let body =
                    serde_json::json!({"outcomes": [{"request_id": id, "label": (i % 3 == 0) as u8}]}).to_string();
                match connection.post("/v1/outcomes", &token, &body) {
                    // 404: that request has not been scored yet (the scorers are behind): not an error.
                    Ok(200 | 201 | 404) => {}
                    Ok(status) => {
                        eprintln!("outcomes: status {status}");
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("outcomes: {e}");
                        errors.fetch_add(1, Ordering::Relaxed);
                        connection = Connection::open(&url).expect("reconnect");
                    }
                }
                requests.fetch_add(1, Ordering::Relaxed);
                i += 4;
            }
        }));
    }
    let started = std::time::Instant::now();
    let end = started + std::time::Duration::from_secs(60 * minutes as u64);
    let mut samples = Vec::new();
    let mut next_sample = started;
    let mut registry_ops = 0u64;
    let mut version = 1;
    while std::time::Instant::now() < end {
        if std::time::Instant::now() >= next_sample {
            let rss = vm_rss_mib(pid).unwrap_or(f64::NAN);
            samples.push((started.elapsed().as_secs(), rss, requests.load(Ordering::Relaxed)));
            eprintln!(
                "{:>5} s  rss {rss:>7.1} MiB  requests {}",
                started.elapsed().as_secs(),
                requests.load(Ordering::Relaxed)
            );
            next_sample += std::time::Duration::from_secs(30);
        }
        // Registry traffic: a new version, the canary moved to it, the audit trail read, a monitor round.
        let step = match registry_ops % 4 {
            0 => register(&["--code-ref", "soak"]).map(|_| {
                version += 1;
            }),
            // The canary is a production alias: it moves through the gate (overridden: no validation here).
            1 => cli(&[
                "promote",
                "credit",
                &version.to_string(),
                "--alias",
                "canary",
                "--traffic",
                "0.1",
                "--override",
                "--reason",
                "soak",
            ])
            .map(|_| ()),
            2 => http_get(&format!("{url}/v1/audit/events?limit=100"), &admin).map(|_| ()),
            _ => http_post(&format!("{url}/v1/monitors/evaluate"), "{}", Some(&admin)).map(|_| ()),
        };
        if let Err(e) = step {
            eprintln!("registry step {}: {e}", registry_ops % 4);
            errors.fetch_add(1, Ordering::Relaxed);
        }
        registry_ops += 1;
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        let _ = client.join();
    }
    let verified = cli(&["audit", "verify"]);
    drop(server);
    println!(
        "\nsoak: {minutes} min, {} requests, {registry_ops} registry operations, {version} versions",
        requests.load(Ordering::Relaxed)
    );
    println!("| seconds | resident memory (MiB) | requests so far |");
    println!("|---|---|---|");
    for (second, rss, count) in &samples {
        println!("| {second} | {rss:.1} | {count} |");
    }
    let errors = errors.load(Ordering::Relaxed);
    let first_half: Vec<f64> = samples.iter().skip(1).take(samples.len() / 2).map(|s| s.1).collect();
    let last = samples.last().map_or(f64::NAN, |s| s.1);
    println!(
        "errors: {errors} (target 0); memory: {:.1} MiB after the first minute, {last:.1} MiB at the end; ledger verify: {}",
        first_half.first().copied().unwrap_or(f64::NAN),
        if verified.is_ok() { "ok" } else { "FAILED" }
    );
    if errors > 0 || verified.is_err() {
        bail!("the soak test saw {errors} failed requests");
    }
    Ok(())
}

/// A PostgreSQL server for a benchmark (durable settings), stopped when this process exits; its base URL.
fn bench_postgres(root: &Path, dir: &Path) -> anyhow::Result<String> {
    let out = Command::new("bash")
        .arg(root.join("scripts/test-postgres.sh"))
        .arg(dir)
        .arg(std::process::id().to_string())
        .env("WARDEN_PG_DURABLE", "1")
        .stderr(Stdio::inherit())
        .output()?;
    if !out.status.success() {
        bail!("PostgreSQL did not start");
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Runs SQL on a PostgreSQL database with psql.
fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let out = Command::new("psql").args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output()?;
    if !out.status.success() {
        bail!("psql: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Runs SQL on a SQLite file with Python's sqlite3 module (the benchmark needs no SQLite shell).
fn sqlite(path: &Path, sql: &str) -> anyhow::Result<()> {
    let script =
        "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=60)\nc.executescript(sys.argv[2])\nc.commit()\n";
    let status = Command::new("python3").args(["-c", script]).arg(path).arg(sql).status()?;
    if !status.success() {
        bail!("sqlite3 script failed");
    }
    Ok(())
}

/// One backend under test: a data directory and, for PostgreSQL, the database URL.
struct Backend {
    name: &'static str,
    data: PathBuf,
    database: Option<String>,
}

impl Backend {
    /// The server's store arguments (PostgreSQL needs the ledger key named: `<data>.ledger.key`, made here).
    fn args(&self) -> anyhow::Result<Vec<String>> {
        let Some(url) = &self.database else { return Ok(Vec::new()) };
        let key = self.data.with_extension("ledger.key");
        std::fs::write(&key, format!("{}\n", hex_seed()))?;
        Ok(vec!["--database".into(), url.clone(), "--ledger-key".into(), key.display().to_string()])
    }
}

/// 32 random bytes in hex (a ledger key).
fn hex_seed() -> String {
    (0..32).map(|_| format!("{:02x}", rand::rng().random::<u8>())).collect()
}

/// A server with the German credit logistic regression registered and promoted, a scorer token and the
/// admin token.
fn serve_credit(
    warden: &Path,
    root: &Path,
    backend: &Backend,
    extra: &[&str],
) -> anyhow::Result<(Stopped, String, String, String)> {
    let store_args = backend.args()?;
    let mut args: Vec<&str> = store_args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let (server, url) = start_warden(warden, &backend.data, &args)?;
    let german = root.join("crates/warden-testdata/data/datasets/german.csv");
    let model = root.join("crates/warden-testdata/data/models/lr_german_linear.json");
    let (token, admin) = promote_credit(warden, &url, &backend.data, &german, &model, "linear-json", "benchmark")?;
    Ok((server, url, token, admin))
}

/// Creates the high-risk model `credit`, registers `artifact` on the German reference data (target risk,
/// protected sex), promotes it with an override and makes a scorer token: (scorer token, admin token).
fn promote_credit(
    warden: &Path,
    url: &str,
    data: &Path,
    german: &Path,
    artifact: &Path,
    format: &str,
    reason: &str,
) -> anyhow::Result<(String, String)> {
    let cli = |args: &[&str]| run_cli(warden, url, data, args);
    cli(&["model", "create", "credit", "--owner", "retail-risk", "--risk-tier", "high"])?;
    let (artifact, german) = (artifact.to_str().context("artifact path")?, german.to_str().context("data path")?);
    cli(&[
        "model",
        "register",
        "credit",
        "--artifact",
        artifact,
        "--format",
        format,
        "--reference",
        german,
        "--target",
        "risk",
        "--protected",
        "sex",
    ])?;
    cli(&["promote", "credit", "1", "--override", "--reason", reason])?;
    let token = cli(&["token", "create", "--name", "loan-app", "--role", "scorer"])?.trim().to_owned();
    let admin = std::fs::read_to_string(data.join("admin.token"))?.trim().to_owned();
    Ok((token, admin))
}

/// Scoring with the decision log on SQLite and on PostgreSQL (requests/s, p99), and monitor evaluation
/// with `decisions` decisions in the log.
fn bench_store(runs: usize, seconds: usize, connections: usize, decisions: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let dir = root.join("target/bench/store");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let warden = release_warden(&root)?;
    let postgres = bench_postgres(&root, &dir.join("postgres"))?;
    for name in ["scoring", "monitors"] {
        psql(&format!("{postgres}/postgres"), &format!("CREATE DATABASE {name}"))?;
    }
    let backends = |part: &str| {
        [
            Backend { name: "SQLite", data: dir.join(format!("sqlite-{part}")), database: None },
            Backend {
                name: "PostgreSQL",
                data: dir.join(format!("pg-{part}")),
                database: Some(format!("{postgres}/{part}")),
            },
        ]
    };
    let body = serde_json::json!({"features": {"duration": 24, "credit_amount": 4000, "job": 2, "age": 35,
        "housing": "own", "saving_accounts": "little", "checking_account": "moderate", "purpose": "car"},
        "attributes": {"sex": "female"}})
    .to_string();

    let mut scoring = Vec::new();
    for backend in backends("scoring") {
        let (server, url, token, admin) = serve_credit(&warden, &root, &backend, &[])?;
        let score_url = format!("{url}/v1/models/credit/score");
        http_post(&score_url, &body, Some(&token))?;
        let (mut results, mut limits) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            results.push(wrk(&score_url, &body, Some(&token), seconds, connections, &dir)?);
            // The same server's no-op endpoint, right after: the limit of this machine and HTTP stack.
            limits.push(wrk_get(&format!("{url}/healthz"), seconds, connections)?);
        }
        let answered: u64 = results.iter().map(|r| r.requests).sum::<u64>() + 1;
        let committed = decisions_committed(&url, &admin, answered, 100)?;
        drop(server);
        scoring.push((backend.name, results, limits, committed, answered));
    }

    // Monitor evaluation: `decisions` decisions in the log over the last ~17 minutes, labels on the newest
    // 100,000, and a minute of live traffic in the windows; every monitor of the model evaluated on request.
    let labelled = 100_000.min(decisions);
    let mut evaluation = Vec::new();
    for backend in backends("monitors") {
        let (server, url, token, admin) = serve_credit(&warden, &root, &backend, &[])?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_micros() as i64;
        let spacing = (1_000_000_000 / decisions.max(1) as i64).max(1); // ~1000 s of decisions
        let start = now - spacing * decisions as i64;
        let features = "'{\"duration\":' || (6 + i % 48) || ',\"credit_amount\":' || (500 + (i * 37) % 15000) || \
             ',\"job\":' || (i % 4) || ',\"age\":' || (19 + i % 56) || ',\"housing\":\"own\",\"saving_accounts\":\"little\",\
             \"checking_account\":\"moderate\",\"purpose\":\"car\"}'";
        let select = format!(
            "SELECT {start} + i * {spacing}, 'bulk-' || i, 1, 1, 'champion', {features}, \
             '{{\"sex\":\"' || CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END || '\"}}', \
             (i % 997) / 997.0, CASE WHEN i % 997 < 600 THEN 'approve' ELSE 'decline' END, 150"
        );
        let insert = "INSERT INTO decisions (at, request_id, model_id, version, route, features, attributes, score, \
             decision, latency_us)";
        let outcomes = format!(
            "INSERT INTO outcomes (request_id, at, label, kind, recorded_by) SELECT 'bulk-' || i, {now}, \
             CASE WHEN i % 7 = 0 THEN 1 ELSE 0 END, 'default', 'bench'"
        );
        let started = Instant::now();
        match &backend.database {
            Some(db) => {
                psql(db, &format!("{insert} {select} FROM generate_series(1, {decisions}) AS i"))?;
                psql(db, &format!("{outcomes} FROM generate_series({}, {decisions}) AS i", decisions - labelled + 1))?;
                psql(db, "ANALYZE")?;
            }
            None => {
                let file = backend.data.join("warden.db");
                sqlite(
                    &file,
                    &format!(
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {decisions}) {insert} {select} FROM n;"
                    ),
                )?;
                sqlite(
                    &file,
                    &format!(
                        "WITH RECURSIVE n(i) AS (SELECT {} UNION ALL SELECT i + 1 FROM n WHERE i < {decisions}) {outcomes} FROM n; ANALYZE;",
                        decisions - labelled + 1
                    ),
                )?;
            }
        }
        let loaded = started.elapsed().as_secs_f64();
        // Live traffic for the window monitors.
        let score_url = format!("{url}/v1/models/credit/score");
        wrk(&score_url, &body, Some(&token), 5, connections, &dir)?;
        let evaluate = format!("{url}/v1/monitors/evaluate");
        let mut times = Vec::new();
        let mut evaluated = 0;
        for _ in 0..runs.max(3) + 1 {
            let started = Instant::now();
            let answer = http_post(&evaluate, "{}", Some(&admin))?;
            times.push(started.elapsed().as_secs_f64() * 1e3);
            evaluated = answer["evaluations"].as_u64().unwrap_or(0);
        }
        times.remove(0); // the first evaluation also learns each monitor's bands from the reference
        drop(server);
        evaluation.push((backend.name, loaded, times, evaluated));
    }

    println!(
        "\nsingle-row scoring with the decision log, {connections} connections, wrk -t1, {seconds} s x {runs} runs (medians)"
    );
    println!(
        "{:<12} {:>12} {:>10} {:>10} {:>9} {:>22}",
        "store", "requests/s", "p50 ms", "p99 ms", "non-2xx", "logged / answered"
    );
    for (name, results, limits, committed, answered) in &scoring {
        let summary = LoadSummary::of(results);
        println!(
            "{name:<12} {:>12.0} {:>10.3} {:>10.3} {:>9} {:>22}   runs (req/s / p99 ms): {}",
            summary.rps,
            summary.p50_ms,
            summary.p99_ms,
            summary.failed,
            format!("{committed} / {answered}"),
            summary.runs
        );
        let limit = LoadSummary::of(limits);
        let ratios: Vec<String> = results.iter().zip(limits).map(|(r, l)| format!("{:.2}", r.rps / l.rps)).collect();
        println!(
            "{:<12} {:>12.0} {:>10.3} {:>10.3}   GET /healthz, same server, after each run: scoring / limit {} (runs)",
            "  limit",
            limit.rps,
            limit.p50_ms,
            limit.p99_ms,
            ratios.join(", ")
        );
    }
    println!(
        "\nmonitor evaluation (POST /v1/monitors/evaluate, every monitor) with {decisions} decisions logged, {labelled} labelled"
    );
    println!("{:<12} {:>14} {:>16} {:>12}   runs (ms)", "store", "bulk load s", "evaluate ms", "evaluations");
    for (name, loaded, times, evaluated) in &evaluation {
        let each: Vec<String> = times.iter().map(|t| format!("{t:.0}")).collect();
        println!("{name:<12} {loaded:>14.1} {:>16.1} {evaluated:>12}   {}", median_of(times), each.join(", "));
    }
    Ok(())
}

/// A vendor scorecard's probability for a German credit row (the benchmark's external model reports it).
fn vendor_score(row: &std::collections::HashMap<&str, &str>) -> f64 {
    let number = |name: &str| row[name].parse::<f64>().unwrap_or(0.0);
    let checking = match row["checking_account"] {
        "little" => 1.2,
        "moderate" => 0.6,
        "not_known" => -1.0,
        _ => 0.0,
    };
    let z = -2.0 + 0.03 * number("duration") + 0.0001 * number("credit_amount") + checking;
    1.0 / (1.0 + (-z).exp())
}

/// The German credit rows as decision records without their request id (`,"version":…}` and a newline: the
/// id is put in front of each), and the reference data with the vendor's scores in `pd`.
fn vendor_records(german: &Path, at: &str) -> anyhow::Result<(Vec<String>, String)> {
    let text = std::fs::read_to_string(german)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().context("header")?.split(',').collect();
    let mut reference = format!("{},pd\n", header.join(","));
    let mut tails = Vec::new();
    for line in lines {
        let row: std::collections::HashMap<&str, &str> = header.iter().copied().zip(line.split(',')).collect();
        let score = vendor_score(&row);
        reference.push_str(&format!("{line},{score}\n"));
        let mut features = serde_json::Map::new();
        for name in ["job", "credit_amount", "duration", "age"] {
            features.insert(name.into(), serde_json::json!(row[name].parse::<f64>()?));
        }
        for name in ["housing", "saving_accounts", "checking_account", "purpose"] {
            features.insert(name.into(), serde_json::json!(row[name]));
        }
        let record = serde_json::json!({"version": 1, "at": at, "features": features,
            "attributes": {"sex": row["sex"]}, "score": score});
        // `{"at":…}` without its opening brace: the request id goes first.
        tails.push(format!("{}\n", &record.to_string()[1..]));
    }
    Ok((tails, reference))
}

/// Decisions made elsewhere sent to `POST /v1/models/{name}/decisions` as NDJSON batches, on SQLite and on
/// PostgreSQL: decisions/s sustained, every one logged and folded into the live windows, peak memory; and
/// whylogs profiling the same rows.
fn bench_ingest(
    runs: usize,
    seconds: usize,
    connections: usize,
    batch: usize,
    kafka_records: usize,
    only_store: Option<String>,
    only_source: Option<String>,
) -> anyhow::Result<()> {
    // `--only` measures one source alone.
    let (http, kafka) = match only_source.as_deref() {
        None => (true, true),
        Some("http") => (true, false),
        Some("kafka") => (false, true),
        Some(other) => bail!("--only takes http or kafka, not '{other}'"),
    };
    let root = workspace_root();
    let dir = root.join("target/bench/ingest");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let warden = release_warden(&root)?;
    let postgres = bench_postgres(&root, &dir.join("postgres"))?;
    psql(&format!("{postgres}/postgres"), "CREATE DATABASE ingest")?;
    let german = root.join("crates/warden-testdata/data/datasets/german.csv");
    let (tails, reference) = vendor_records(&german, &rfc3339_now()?)?;
    let reference_path = dir.join("vendor.csv");
    std::fs::write(&reference_path, &reference)?;

    let backends = [
        Backend { name: "SQLite", data: dir.join("sqlite"), database: None },
        Backend { name: "PostgreSQL", data: dir.join("pg"), database: Some(format!("{postgres}/ingest")) },
    ];
    // `--store` measures one store alone.
    let backends: Vec<&Backend> =
        backends.iter().filter(|b| only_store.as_ref().is_none_or(|only| b.name.to_lowercase() == *only)).collect();
    if backends.is_empty() {
        bail!("--store takes sqlite or postgresql");
    }
    let mut table = Vec::new();
    for backend in backends.iter().copied().filter(|_| http) {
        let store_args = backend.args()?;
        let args: Vec<&str> = store_args.iter().map(String::as_str).collect();
        let (server, url) = start_warden(&warden, &backend.data, &args)?;
        serve_vendor(&warden, &url, &backend.data, &reference_path)?;
        let cli = |args: &[&str]| run_cli(&warden, &url, &backend.data, args);
        let token = cli(&["token", "create", "--name", "platform", "--role", "scorer"])?.trim().to_owned();
        let admin = std::fs::read_to_string(backend.data.join("admin.token"))?.trim().to_owned();
        // Decided now, after the promotion: champion traffic.
        let (tails, _) = vendor_records(&german, &rfc3339_now()?)?;

        let (mut rates, mut limits) = (Vec::new(), Vec::new());
        let mut sent_total = 0u64;
        for run in 0..runs {
            let started = Instant::now();
            let workers: Vec<_> = (0..connections)
                .map(|worker| {
                    let (url, token, tails) = (url.clone(), token.clone(), tails.clone());
                    std::thread::spawn(move || -> anyhow::Result<u64> {
                        let mut connection = Connection::open(&url)?;
                        let (mut sent, mut body) = (0u64, String::with_capacity(batch * 400));
                        let mut sequence = 0usize;
                        while started.elapsed().as_secs() < seconds as u64 {
                            body.clear();
                            for i in 0..batch {
                                let tail = &tails[(sequence * batch + i) % tails.len()];
                                body.push_str(&format!("{{\"request_id\":\"r{run}-{worker}-{sequence}-{i}\","));
                                body.push_str(tail);
                            }
                            let status = connection.post("/v1/models/vendor/decisions", &token, &body)?;
                            if status != 200 {
                                bail!("ingestion answered {status}");
                            }
                            sent += batch as u64;
                            sequence += 1;
                        }
                        Ok(sent)
                    })
                })
                .collect();
            let mut sent = 0;
            for worker in workers {
                sent += worker.join().map_err(|_| anyhow::anyhow!("a sender panicked"))??;
            }
            let elapsed = started.elapsed().as_secs_f64();
            rates.push(sent as f64 / elapsed);
            sent_total += sent;
            limits.push(wrk_get(&format!("{url}/healthz"), 10, 16)?.rps);
        }
        let peak = vm_hwm_mib(server.0.id()).unwrap_or(f64::NAN);
        let metrics = http_get(&format!("{url}/metrics"), &admin)?;
        let logged = metrics
            .lines()
            .filter(|l| l.starts_with("warden_ingested_decisions_total{") && l.contains("outcome=\"logged\""))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64;
        let live: serde_json::Value =
            serde_json::from_str(&http_get(&format!("{url}/v1/models/vendor/live"), &admin)?)?;
        let folded = live
            .as_array()
            .map_or(0, |v| v.iter().map(|p| p["profile"]["decisions"].as_u64().unwrap_or(0)).sum::<u64>());
        drop(server);
        table.push((backend.name, rates, limits, peak, sent_total, logged, folded));
        // A minute of this traffic is gigabytes of log: freed before the next store's runs.
        std::fs::remove_dir_all(&backend.data)?;
        if let Some(database) = &backend.database {
            let name = database.rsplit('/').next().unwrap();
            psql(&format!("{postgres}/postgres"), &format!("DROP DATABASE {name}"))?;
        }
    }

    // whylogs, the closest peer that profiles a stream of predictions: the same rows, the same batch size.
    let python = root.join(".venv-whylogs/bin/python");
    let mut peer = None;
    if http && python.exists() {
        let rows = dir.join("records.ndjson");
        let mut out = BufWriter::new(std::fs::File::create(&rows)?);
        for (i, tail) in tails.iter().cycle().take(200_000).enumerate() {
            write!(out, "{{\"request_id\":\"p{i}\",{tail}")?;
        }
        out.flush()?;
        drop(out);
        let output = Command::new(&python)
            .arg(root.join("scripts/peers/whylogs_profile.py"))
            .arg(&rows)
            .arg(batch.to_string())
            .arg(runs.to_string())
            .stderr(Stdio::inherit())
            .output()?;
        if !output.status.success() {
            bail!("the whylogs peer failed");
        }
        peer = Some(String::from_utf8(output.stdout)?);
    }

    if http {
        println!(
            "\ningestion over HTTP: NDJSON batches of {batch}, {connections} connections, {seconds} s x {runs} runs (medians; each run's value after)"
        );
        println!(
            "{:<12} {:>14} {:>16} {:>11} {:>10} {:>10} {:>10}",
            "store", "decisions/s", "/healthz req/s", "peak MiB", "sent", "logged", "folded"
        );
        for (name, rates, limits, peak, sent, logged, folded) in &table {
            let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            let limit_runs: Vec<String> = limits.iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "{name:<12} {:>14.0} {:>16.0} {:>11.0} {:>10} {:>10} {:>10}   runs: {} | /healthz: {}",
                median_of(rates),
                median_of(limits),
                peak,
                sent,
                logged,
                folded,
                runs.join(", "),
                limit_runs.join(", ")
            );
            if sent != logged || logged != folded {
                bail!("{name}: {sent} sent, {logged} logged, {folded} folded into the windows");
            }
        }
        match peer {
            Some(text) => print!("{text}"),
            None => println!("whylogs: not run (no .venv-whylogs: scripts/peers/setup_whylogs.sh installs it)"),
        }
    }
    if !kafka {
        return Ok(());
    }

    // Kafka: a topic of 4 partitions on librdkafka's mock cluster (in this process, on 127.0.0.1), consumed
    // by `serve --kafka-topic`; kill -9 in the middle, restart, then a new group replaying from offset 0.
    println!(
        "\ningestion from Kafka: {kafka_records} records a run on 4 partitions (librdkafka's mock cluster, in this process: it keeps 5 MiB of a partition, so records arrive in rounds of {ROUND} produced while the server is idle; the rate is over the rounds' consumption), {runs} timed runs after one killed with kill -9 half-way"
    );
    println!(
        "{:<12} {:>14} {:>11} {:>12} {:>12} {:>14}",
        "store", "decisions/s", "peak MiB", "after kill -9", "replay adds", "dead records"
    );
    for backend in backends.iter().copied() {
        let database = backend.database.as_ref().map(|_| format!("{postgres}/kafka{}", backend.name.len()));
        if let Some(db) = &database {
            psql(&format!("{postgres}/postgres"), &format!("CREATE DATABASE {}", db.rsplit('/').next().unwrap()))?;
        }
        let kafka = Backend { name: backend.name, data: dir.join(format!("kafka-{}", backend.name)), database };
        let (rates, peak, after_kill, replay, dead) =
            bench_kafka(&warden, &kafka, &reference_path, runs, kafka_records)?;
        let runs_text: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<12} {:>14.0} {:>11.0} {:>12} {:>12} {:>14}   runs: {}",
            kafka.name,
            median_of(&rates),
            peak,
            after_kill,
            replay,
            dead,
            runs_text.join(", ")
        );
    }
    Ok(())
}

/// The time now, RFC 3339, whole seconds rounded up (so it is after anything done in this second).
fn rfc3339_now() -> anyhow::Result<String> {
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let out = Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"]).output()?;
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Creates the high-risk model `vendor`, registers it as an external model on `reference` (scores in `pd`,
/// target risk, protected sex) and promotes version 1 by an override: the benchmark measures ingestion only.
fn serve_vendor(warden: &Path, url: &str, data: &Path, reference: &Path) -> anyhow::Result<()> {
    let cli = |args: &[&str]| run_cli(warden, url, data, args);
    cli(&["model", "create", "vendor", "--owner", "retail-risk", "--risk-tier", "high"])?;
    let reference = reference.to_str().context("path")?;
    cli(&[
        "model",
        "register",
        "vendor",
        "--format",
        "external",
        "--score-column",
        "pd",
        "--platform",
        "bench",
        "--reference",
        reference,
        "--target",
        "risk",
        "--protected",
        "sex",
    ])?;
    cli(&["promote", "vendor", "1", "--override", "--reason", "benchmark: ingestion only"])?;
    Ok(())
}

/// The topic's partitions (as the issue's target names).
const PARTITIONS: i32 = 4;
/// Records produced in one round, while the server is idle: they fit in the mock cluster's 5 MiB a partition.
const ROUND: usize = 40_000;

/// One backend's Kafka runs: decisions/s of each run (a fresh topic, produced in rounds while the server is
/// idle, timed over the rounds' consumption), the server's peak memory, what the log holds after a kill -9 in the
/// middle and a restart (must be every record), what a new group replaying the topic adds (must be 0), and the
/// dead records (the one bad record per run).
fn bench_kafka(
    warden: &Path,
    backend: &Backend,
    reference: &Path,
    runs: usize,
    records: usize,
) -> anyhow::Result<(Vec<f64>, f64, String, String, u64)> {
    let cluster = rdkafka::mocking::MockCluster::new(1)?;
    let brokers = cluster.bootstrap_servers();
    let store_args = backend.args()?;
    let mut args: Vec<String> = store_args.clone();
    // The models the topics feed must exist before `serve` consumes them.
    {
        let base: Vec<&str> = args.iter().map(String::as_str).collect();
        let (server, url) = start_warden(warden, &backend.data, &base)?;
        serve_vendor(warden, &url, &backend.data, reference)?;
        drop(server);
    }
    let admin = std::fs::read_to_string(backend.data.join("admin.token"))?.trim().to_owned();
    let german = workspace_root().join("crates/warden-testdata/data/datasets/german.csv");
    let (tails, _) = vendor_records(&german, &rfc3339_now()?)?;
    let (mut rates, mut peak, mut expected) = (Vec::new(), 0f64, 0u64);
    let logged = |url: &str| -> anyhow::Result<u64> {
        let metrics = http_get(&format!("{url}/metrics"), &admin)?;
        Ok(metric_sum_where(&metrics, "warden_ingested_decisions_total", "outcome=\"logged\"") as u64)
    };
    let mut after_kill = String::from("-");
    let mut replay_text = String::from("-");
    // Run 0 is killed half-way (and not timed); runs 1..=runs are timed.
    for run in 0..=runs {
        let topic = format!("decisions-{run}");
        cluster.create_topic(&topic, PARTITIONS, 1)?;
        args.truncate(store_args.len());
        args.extend(["--kafka-brokers".into(), brokers.clone(), "--kafka-topic".into(), format!("{topic}=vendor")]);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (mut server, mut url) = start_warden(warden, &backend.data, &argv)?;
        let in_log_before = expected;
        expected += records as u64;
        // In rounds of ROUND records, each produced while the server is idle (the mock cluster keeps only
        // 5 MiB of a partition, about 16,000 of these records, and drops the oldest beyond that), then
        // consumed: the rate is the records over the consumption time summed over the rounds, from the first
        // decision of a round logged to its last (so the producer, in this process, takes no time from it).
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        // What this run's topic has put in the log: the server's count since it started, plus what the log
        // held when it was restarted.
        let (mut base, mut before) = (0u64, logged(&url)?);
        let (mut killed, mut consuming, mut counted) = (false, std::time::Duration::ZERO, 0u64);
        for from in (0..records).step_by(ROUND) {
            let to = (from + ROUND).min(records);
            let round = (from..to).map(|i| {
                let tail = &tails[i % tails.len()];
                let id = format!("k{run}-{i}");
                (Some(id.clone().into_bytes()), format!("{{\"request_id\":\"{id}\",{tail}").into_bytes())
            });
            runtime.block_on(warden_stream::produce(&brokers, &topic, round))?;
            if to == records {
                let bad = std::iter::once((None, b"not a decision record".to_vec()));
                runtime.block_on(warden_stream::produce(&brokers, &topic, bad))?;
            }
            let deadline = Instant::now() + std::time::Duration::from_secs(300);
            let mut first = None;
            loop {
                if Instant::now() > deadline {
                    bail!("{} of {to} records logged after 300 s", base + logged(&url)? - before);
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
                let now = base + logged(&url)? - before;
                if now > from as u64 && first.is_none() {
                    first = Some((Instant::now(), now));
                }
                // The first run is killed half-way and restarted: the rest must arrive once.
                if run == 0 && !killed && now >= records as u64 / 2 {
                    kill9(&mut server);
                    killed = true;
                    let restarted = start_warden(warden, &backend.data, &argv)?;
                    server = restarted.0;
                    url = restarted.1;
                    base = log_size(backend)? - in_log_before;
                    before = logged(&url)?;
                    first = None;
                    continue;
                }
                if now >= to as u64 {
                    if let Some((start, at_start)) = first {
                        consuming += start.elapsed();
                        counted += to as u64 - at_start;
                    }
                    break;
                }
            }
        }
        let expired =
            metric_sum_where(&http_get(&format!("{url}/metrics"), &admin)?, "warden_stream_expired_records", "");
        if expired > 0.0 {
            bail!("{expired} records expired from the mock cluster before they were stored: lower ROUND");
        }
        if killed {
            after_kill = format!("{}/{}", log_size(backend)?, expected);
        }
        if !killed {
            rates.push(counted as f64 / consuming.as_secs_f64());
        }
        peak = peak.max(vm_hwm_mib(server.0.id()).unwrap_or(0.0));
        drop(server);
        if run == runs {
            // A new consumer group replays every topic from offset 0: nothing may be added.
            let before_replay = expected;
            args.truncate(store_args.len() + 2);
            for run in 0..=runs {
                args.extend(["--kafka-topic".into(), format!("decisions-{run}=vendor")]);
            }
            args.extend(["--kafka-group".into(), "replay".into()]);
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let (server, url) = start_warden(warden, &backend.data, &argv)?;
            let deadline = Instant::now() + std::time::Duration::from_secs(600);
            // The mock cluster has dropped all but the last 5 MiB of each partition: those records count as
            // expired for the new group, every other one must be skipped as logged already.
            let (mut duplicates, mut expired) = (0.0, 0.0);
            while Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let metrics = http_get(&format!("{url}/metrics"), &admin)?;
                duplicates = metric_sum_where(&metrics, "warden_ingested_decisions_total", "outcome=\"duplicate\"");
                expired = metric_sum_where(&metrics, "warden_stream_expired_records", "");
                if (duplicates + expired) as u64 >= expected {
                    break;
                }
            }
            let in_log = log_size(backend)?;
            replay_text =
                format!("{} ({duplicates:.0} skipped, {expired:.0} gone)", in_log as i64 - before_replay as i64);
            drop(server);
        }
    }
    let dead = {
        let argv: Vec<&str> = store_args.iter().map(String::as_str).collect();
        let (server, url) = start_warden(warden, &backend.data, &argv)?;
        let state: serde_json::Value = serde_json::from_str(&http_get(&format!("{url}/v1/ingestion"), &admin)?)?;
        drop(server);
        state["dead_letters"].as_u64().unwrap_or(0)
    };
    Ok((rates, peak, after_kill, replay_text, dead))
}

/// The decisions in the log of `vendor`, counted in the database.
fn log_size(backend: &Backend) -> anyhow::Result<u64> {
    let sql = "SELECT COUNT(*) FROM decisions";
    match &backend.database {
        Some(db) => Ok(psql(db, sql)?.parse()?),
        None => {
            let script = "import sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=60)\nprint(c.execute(sys.argv[2]).fetchone()[0])\n";
            let out =
                Command::new("python3").args(["-c", script]).arg(backend.data.join("warden.db")).arg(sql).output()?;
            Ok(String::from_utf8(out.stdout)?.trim().parse()?)
        }
    }
}

/// SIGKILL: the server gets no chance to flush or leave its consumer group.
fn kill9(server: &mut Stopped) {
    let _ = Command::new("kill").args(["-9", &server.0.id().to_string()]).status();
    let _ = server.0.wait();
}

/// The sum of a metric's series whose labels contain `labels`.
fn metric_sum_where(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Serves an OpenID provider's discovery document and key set on 127.0.0.1 (the committed test keys) until
/// the process ends; its issuer URL.
fn serve_test_provider(keys: serde_json::Value) -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let issuer = format!("http://{}", listener.local_addr()?);
    let base = issuer.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("a socket clones"));
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let body = if request.contains("/.well-known/openid-configuration") {
                serde_json::json!({"issuer": base, "jwks_uri": format!("{base}/certs")})
            } else {
                keys.clone()
            }
            .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    Ok(issuer)
}

/// Times one request: microseconds, and an error unless it answered 200.
fn timed(send: impl FnOnce() -> anyhow::Result<u16>) -> anyhow::Result<f64> {
    let started = Instant::now();
    let status = send()?;
    let micros = started.elapsed().as_secs_f64() * 1e6;
    if status != 200 {
        bail!("a request answered {status}");
    }
    Ok(micros)
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// The model documentation of the demo's champion model (its full history: versions, validations,
/// approvals, promotions, a rollback, monitors): the HTML as the server writes it, and HTML and PDF as
/// `warden docs generate` writes them (Chromium printing), each run timed beside `/healthz` (the no-op limit).
fn bench_docs(runs: usize) -> anyhow::Result<()> {
    let root = workspace_root();
    let dir = root.join("target/bench/docs");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let warden = release_warden(&root)?;
    let data = dir.join("data");
    let (_server, url) = start_warden(&warden, &data, &["--demo"])?;
    let admin = std::fs::read_to_string(data.join("admin.token"))?.trim().to_owned();
    let path = "/v1/models/credit-approval/docs?template=model-documentation";
    // The demo has written its history once the champion's document cites a validation.
    let deadline = Instant::now() + std::time::Duration::from_secs(600);
    let html = loop {
        match http_get(&format!("{url}{path}"), &admin) {
            Ok(html) if html.contains("Validated by") && html.contains("rollback") => break html,
            _ if Instant::now() > deadline => bail!("the demo wrote no validated, rolled-back champion in 600 s"),
            _ => std::thread::sleep(std::time::Duration::from_secs(2)),
        }
    };
    let figures = html.matches("<data class=\"figure\"").count();
    let (mut served, mut limit, mut cli) = (Vec::new(), Vec::new(), Vec::new());
    let mut connection = Connection::open(&url)?;
    for _ in 0..runs {
        limit.push(timed(|| connection.get("/healthz"))? / 1e3);
        served.push(timed(|| connection.get_as(path, &admin))? / 1e3);
        let out = dir.join("out");
        let started = Instant::now();
        let status = Command::new(&warden)
            .args(["docs", "generate", "credit-approval", "--out", out.to_str().context("path")?, "--url", &url])
            .env("WARDEN_TOKEN", &admin)
            .stdout(Stdio::null())
            .status()?;
        if !status.success() {
            bail!("warden docs generate failed (is Chromium installed? scripts/install-browser.sh)");
        }
        cli.push(started.elapsed().as_secs_f64() * 1e3);
    }
    let show = |v: &[f64]| v.iter().map(|ms| format!("{ms:.2}")).collect::<Vec<_>>().join(" / ");
    println!(
        "\nmodel documentation of the demo's credit-approval ({figures} figures, {} KiB of HTML), {runs} runs",
        html.len() / 1024
    );
    println!("{:<44} {:>10}   runs (ms)", "", "median ms");
    for (name, values) in [
        ("/healthz (no-op limit)", &mut limit),
        ("GET docs: HTML written by the server", &mut served),
        ("warden docs generate: HTML and PDF", &mut cli),
    ] {
        let shown = show(values);
        println!("{name:<44} {:>10.2}   {shown}", median(values));
    }
    Ok(())
}

/// What a bearer JWT of the identity provider adds to a request: one keep-alive connection, one request
/// after another, the same scoring request (and `/v1/whoami`, authentication alone) with a Warden token, with
/// a JWT the application reuses (RS256, ES256), and with a JWT never seen before; `/healthz` is the no-op
/// limit. Medians over `runs` runs of each mode's p50.
fn bench_identity(runs: usize, requests: usize) -> anyhow::Result<()> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let root = workspace_root();
    let dir = root.join("target/bench/identity");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let fixture = |name: &str| std::fs::read(root.join("crates/warden-testdata/data/identity").join(name));
    let jwk = |name: &str| -> anyhow::Result<serde_json::Value> { Ok(serde_json::from_slice(&fixture(name)?)?) };
    let issuer = serve_test_provider(
        serde_json::json!({"keys": [jwk("rsa-test-key.jwk.json")?, jwk("ec-test-key.jwk.json")?]}),
    )?;
    let identity = dir.join("identity.toml");
    std::fs::write(
        &identity,
        format!("[oidc]\nissuer = \"{issuer}\"\nclient_id = \"warden\"\n[roles]\n\"loan-apps\" = \"scorer\"\n"),
    )?;
    let warden = release_warden(&root)?;
    let data = dir.join("data");
    let (server, url) = start_warden(&warden, &data, &["--identity", identity.to_str().context("path")?])?;
    let german = root.join("crates/warden-testdata/data/datasets/german.csv");
    let model = root.join("crates/warden-testdata/data/models/lr_german_linear.json");
    let (token, _admin) = promote_credit(&warden, &url, &data, &german, &model, "linear-json", "benchmark")?;

    let rsa = EncodingKey::from_rsa_pem(&fixture("rsa-test-key.pem")?)?;
    let ec = EncodingKey::from_ec_pem(&fixture("ec-test-key.pem")?)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_secs();
    let sign = |key: &EncodingKey, alg: Algorithm, kid: &str, n: usize| -> anyhow::Result<String> {
        let claims = serde_json::json!({"iss": issuer, "sub": format!("loan-app-{n}"), "aud": "warden",
            "exp": now + 3600, "iat": now, "azp": "loan-app", "groups": ["loan-apps"]});
        Ok(jsonwebtoken::encode(&Header { kid: Some(kid.into()), ..Header::new(alg) }, &claims, key)?)
    };
    let reused_rs = sign(&rsa, Algorithm::RS256, "rsa-1", 0)?;
    let reused_es = sign(&ec, Algorithm::ES256, "ec-1", 0)?;
    // Tokens never seen before: one in ten rounds, distinct per request.
    let fresh_count = 2 * (requests / 10 + 1) * runs;
    let mut fresh_rs = Vec::new();
    let mut fresh_es = Vec::new();
    for i in 0..fresh_count {
        fresh_rs.push(sign(&rsa, Algorithm::RS256, "rsa-1", i + 1)?);
        fresh_es.push(sign(&ec, Algorithm::ES256, "ec-1", i + 1)?);
    }
    let body = serde_json::json!({"features": {"duration": 24, "credit_amount": 4000, "job": 2, "age": 35,
        "housing": "own", "saving_accounts": "little", "checking_account": "moderate", "purpose": "car"},
        "attributes": {"sex": "female"}})
    .to_string();
    let score = "/v1/models/credit/score";
    let mut connection = Connection::open(&url)?;
    // Warm-up: the model loaded, the reused tokens verified once.
    for _ in 0..1_000 {
        for caller in [&token, &reused_rs, &reused_es] {
            timed(|| connection.post(score, caller, &body))?;
        }
    }

    // Each round sends one request of every mode, so drift of the machine falls on all modes alike; a token
    // never seen before goes out every tenth round.
    let modes = [
        "/healthz (no-op limit)",
        "whoami, Warden token",
        "whoami, JWT reused RS256",
        "whoami, JWT first seen RS256",
        "score, Warden token",
        "score, JWT reused RS256",
        "score, JWT reused ES256",
        "score, JWT first seen RS256",
        "score, JWT first seen ES256",
    ];
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
    let mut fresh = 0;
    let mut order = StdRng::seed_from_u64(7);
    for _ in 0..runs {
        let mut measured: Vec<Vec<f64>> = vec![Vec::new(); modes.len()];
        for round in 0..requests {
            measured[0].push(timed(|| connection.get("/healthz"))?);
            // A random order each round: a scoring request right after another waits on the decision log's
            // previous commit, which a fixed order would put on the same modes every time.
            let fresh_now = round % 10 == 0;
            let mut sends: Vec<(usize, &str, bool)> = vec![(1, token.as_str(), false), (2, reused_rs.as_str(), false)];
            if fresh_now {
                sends.push((3, fresh_rs[fresh].as_str(), false));
            }
            sends.extend([(4, token.as_str(), true), (5, reused_rs.as_str(), true), (6, reused_es.as_str(), true)]);
            if fresh_now {
                sends.extend([(7, fresh_rs[fresh + 1].as_str(), true), (8, fresh_es[fresh].as_str(), true)]);
                fresh += 2;
            }
            for i in (1..sends.len()).rev() {
                sends.swap(i, order.random_range(0..=i));
            }
            for (mode, caller, scoring) in sends {
                let micros = if scoring {
                    timed(|| connection.post(score, caller, &body))?
                } else {
                    timed(|| connection.get_as("/v1/whoami", caller))?
                };
                measured[mode].push(micros);
            }
        }
        for (m, values) in measured.iter_mut().enumerate() {
            p50[m].push(percentile(values, 0.5));
            p99[m].push(percentile(values, 0.99));
        }
    }
    drop(server);
    println!(
        "\none keep-alive connection, {requests} rounds per run ({} with first-seen tokens), {runs} runs",
        requests / 10
    );
    println!("{:<32} {:>10} {:>10}   runs (p50 µs)", "request", "p50 µs", "p99 µs");
    for (m, name) in modes.iter().enumerate() {
        let runs_text: Vec<String> = p50[m].iter().map(|v| format!("{v:.1}")).collect();
        println!("{name:<32} {:>10.1} {:>10.1}   {}", median_of(&p50[m]), median_of(&p99[m]), runs_text.join(", "));
    }
    for (m, base) in [(2, 1), (3, 1), (5, 4), (6, 4), (7, 4), (8, 4)] {
        let added: Vec<String> = p50[m].iter().zip(&p50[base]).map(|(j, w)| format!("{:.1}", j - w)).collect();
        println!(
            "{}: adds {:.1} µs at the median over a Warden token (per run: {})",
            modes[m],
            median_of(&p50[m]) - median_of(&p50[base]),
            added.join(", ")
        );
    }
    Ok(())
}
