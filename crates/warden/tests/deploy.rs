//! The deployment files agree with the binary they deploy: the Kubernetes manifests name flags `warden serve`
//! accepts and probe endpoints the server answers, keep their secrets in a Secret, run as non-root, and the
//! Dockerfile builds in one stage and runs unprivileged in another. (Building the image needs a Docker daemon
//! and registry access; the image's entry point is the same `warden serve` tested everywhere else.)

mod support;

use std::path::Path;
use std::process::Command;

use serde_yaml_ng::Value;
use support::{Server, stdout};

fn repository_file(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)).unwrap()
}

fn manifests() -> Vec<Value> {
    let text = repository_file("deploy/kubernetes/warden.yaml");
    serde_yaml_ng::Deserializer::from_str(&text).map(|doc| serde::Deserialize::deserialize(doc).unwrap()).collect()
}

fn of_kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter().find(|d| d["kind"] == kind).unwrap_or_else(|| panic!("no {kind}"))
}

#[test]
fn the_kubernetes_manifests_match_the_binary() {
    let docs = manifests();
    let deployment = of_kind(&docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true));
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], Value::Bool(false));
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2, "several replicas");

    // Every flag and environment variable the container is given, `warden serve` knows.
    let help = stdout(&Command::new(support::WARDEN).args(["serve", "--help"]).output().unwrap());
    let args: Vec<&str> = container["args"].as_sequence().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[0], "serve");
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        assert!(help.contains(flag), "`warden serve` has no {flag}");
    }
    for env in container["env"].as_sequence().unwrap() {
        let name = env["name"].as_str().unwrap();
        assert!(name.starts_with("AWS_") || help.contains(&format!("env: {name}")), "`warden serve` reads no {name}");
    }
    // The database URL and the signing key come from the Secret, never from plain values.
    let secret = of_kind(&docs, "Secret");
    for key in ["database-url", "ledger-key"] {
        assert!(secret["stringData"][key].is_string(), "the Secret holds {key}");
    }
    let database = container["env"].as_sequence().unwrap().iter().find(|e| e["name"] == "WARDEN_DATABASE_URL").unwrap();
    assert_eq!(database["valueFrom"]["secretKeyRef"]["key"], "database-url");
    let key_volume = pod["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == "ledger-key").unwrap();
    assert_eq!(key_volume["secret"]["items"][0]["key"], "ledger-key");

    // The probes' paths answer on a running server: liveness always, readiness when the database does.
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(container[probe]["httpGet"]["path"], path);
        let answer = server.get_json(path);
        assert!(answer["status"].is_string(), "{path}: {answer}");
    }
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(args.contains(&format!("0.0.0.0:{port}").as_str()), "the server listens on the container port");

    let service = of_kind(&docs, "Service");
    assert_eq!(service["spec"]["selector"], deployment["spec"]["selector"]["matchLabels"]);
    let autoscaler = of_kind(&docs, "HorizontalPodAutoscaler");
    assert_eq!(autoscaler["spec"]["scaleTargetRef"]["name"], deployment["metadata"]["name"]);
    assert!(autoscaler["spec"]["minReplicas"].as_u64().unwrap() >= 2);
}

#[test]
fn the_dockerfile_builds_in_one_stage_and_runs_unprivileged_in_another() {
    let dockerfile = repository_file("Dockerfile");
    let stages: Vec<&str> = dockerfile.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains(" AS build"), "{stages:?}");
    let runtime = dockerfile.split(stages[1]).nth(1).unwrap();
    assert!(runtime.contains("COPY --from=build"), "the runtime stage takes only the built binary");
    let user = runtime.lines().find(|l| l.starts_with("USER ")).expect("a USER line");
    assert!(!user.contains("root") && !user.trim_end().ends_with(" 0"), "{user}");
    assert!(dockerfile.contains("cargo build --release --locked -p warden"));
}
