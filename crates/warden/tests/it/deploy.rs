//! The deployment files agree with the binary they deploy: the Kubernetes manifests name flags `warden serve`
//! accepts and probe endpoints the server answers, keep their secrets in a Secret, run as non-root, and the
//! Dockerfile builds in one stage and runs unprivileged in another. (Building the image needs a Docker daemon
//! and registry access; the image's entry point is the same `warden serve` tested everywhere else.)

use std::path::Path;
use std::process::Command;

use serde_yaml_ng::Value;

use crate::support::{self, Server, stdout};

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

/// The Kubernetes manifests, their Deployment, and its pod spec and first container.
fn deployment_parts(docs: &[Value]) -> (&Value, &Value, &Value) {
    let deployment = of_kind(docs, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    (deployment, pod, &pod["containers"][0])
}

#[test]
fn the_kubernetes_deployment_runs_several_non_root_replicas() {
    let docs = manifests();
    let (deployment, pod, container) = deployment_parts(&docs);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], Value::Bool(true));
    assert_eq!(container["securityContext"]["allowPrivilegeEscalation"], Value::Bool(false));
    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2, "several replicas");
}

#[test]
fn every_flag_and_variable_the_container_is_given_warden_serve_knows() {
    let docs = manifests();
    let (_, _, container) = deployment_parts(&docs);
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
    let port = container["ports"][0]["containerPort"].as_u64().unwrap();
    assert!(args.contains(&format!("0.0.0.0:{port}").as_str()), "the server listens on the container port");
}

#[test]
fn the_database_url_and_the_signing_key_come_from_the_secret() {
    let docs = manifests();
    let (_, pod, container) = deployment_parts(&docs);
    // The database URL and the signing key come from the Secret, never from plain values.
    let secret = of_kind(&docs, "Secret");
    for key in ["database-url", "ledger-key", "personal-data-key"] {
        assert!(secret["stringData"][key].is_string(), "the Secret holds {key}");
    }
    let database = container["env"].as_sequence().unwrap().iter().find(|e| e["name"] == "WARDEN_DATABASE_URL").unwrap();
    assert_eq!(database["valueFrom"]["secretKeyRef"]["key"], "database-url");
    let key_volume = pod["volumes"].as_sequence().unwrap().iter().find(|v| v["name"] == "ledger-key").unwrap();
    assert_eq!(key_volume["secret"]["items"][0]["key"], "ledger-key");
    assert_eq!(key_volume["secret"]["items"][1]["key"], "personal-data-key", "every replica holds the same key");
}

#[test]
fn the_probes_paths_answer_on_a_running_server() {
    let docs = manifests();
    let (_, _, container) = deployment_parts(&docs);
    // The probes' paths answer on a running server: liveness always, readiness when the database does.
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
        assert_eq!(container[probe]["httpGet"]["path"], path);
        let answer = server.get_json(path);
        assert!(answer["status"].is_string(), "{path}: {answer}");
    }
}

#[test]
fn the_service_and_the_autoscaler_point_at_the_deployment() {
    let docs = manifests();
    let (deployment, _, _) = deployment_parts(&docs);
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
