use super::*;
use serde_json::json;

fn good_input() -> serde_json::Value {
    json!({
        "model": {"name": "credit", "risk_tier": "medium", "owner": "retail-risk"},
        "version": {"number": 1, "format": "onnx", "created_by": "dana", "training_data_sha256": "ab12",
                    "code_ref": "git:4e1a", "protected": ["sex"]},
        "validation": {"version": 1, "created_at": 1_700_000_000, "auc": 0.78, "auc_lower": 0.74, "ece": 0.04,
                       "max_feature_psi": 0.02, "psi": {"age": 0.02}, "score_psi": 0.01,
                       "fairness": {"sex": {"disparate_impact": 0.9}}},
        "approvals": [{"by": "vera", "role": "validator", "decision": "approve", "comment": "fine"},
                      {"by": "rita", "role": "risk-officer", "decision": "approve", "comment": "fine"}],
        "target": {"alias": "champion"},
        "findings": [],
        "now": 1_700_100_000
    })
}

fn bundle(files: &[(&str, &str)]) -> Bundle {
    Bundle::from_files(files.iter().map(|(p, t)| (p.to_string(), t.to_string())).collect()).unwrap()
}

#[test]
fn the_default_bundle_passes_its_own_unit_tests() {
    let outcomes = run_tests(&Bundle::default_bundle()).unwrap();
    let failed: Vec<_> = outcomes.iter().filter(|o| !o.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(outcomes.len() >= 15, "only {} tests found", outcomes.len());
    assert!(
        outcomes
            .iter()
            .all(|o| o.name.starts_with("warden.gate_test.test_") || o.name.starts_with("warden.tiering_test.test_"))
    );
    assert!(outcomes.iter().any(|o| o.name.starts_with("warden.tiering_test.test_")));
}

#[test]
fn the_default_tiering_computes_a_tier_with_its_reasons_from_inventory_fields() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let of = |fields: serde_json::Value| json!({"model": {"name": "credit", "fields": fields}});
    let tiering = gate.tiering(&of(json!({"exposure": 20_000_000, "customer_impact": "low"}))).unwrap().unwrap();
    assert_eq!(tiering.tier, "medium");
    assert_eq!(tiering.reasons, ["exposure 20000000 is at least 10000000"]);
    let tiering = gate.tiering(&of(json!({"eu_ai_act_high_risk": true}))).unwrap().unwrap();
    assert_eq!((tiering.tier.as_str(), tiering.reasons.len()), ("high", 1));
    assert_eq!(gate.tiering(&of(json!({"business_line": "cards"}))).unwrap(), None);
    // The gate still decides as before on the same engine.
    assert!(gate.decide(&good_input()).unwrap().allow);
}

#[test]
fn a_bundle_without_tiering_rules_decides_no_tier_and_a_non_string_tier_is_refused() {
    let gate_only = "package warden.gate\n\ndeny contains \"no\" if false\n";
    let mut gate = Gate::compile(&bundle(&[("gate.rego", gate_only)])).unwrap();
    assert_eq!(gate.tiering(&json!({"model": {"fields": {"exposure": 1}}})).unwrap(), None);
    let numeric = "package warden.tiering\n\ntier := 3\n";
    let mut gate = Gate::compile(&bundle(&[("gate.rego", gate_only), ("tiering.rego", numeric)])).unwrap();
    let err = gate.tiering(&json!({"model": {}})).unwrap_err();
    assert_eq!(err.to_string(), "policy evaluation failed: tier must be a string, not 3");
}

#[test]
fn a_failing_rego_test_is_reported_as_failed() {
    let mut files = Bundle::default_bundle().files().clone();
    files.insert(
        "extra_test.rego".into(),
        "package extra_test\n\nimport data.warden.gate\n\ntest_wrongly_expects_allow if {\n\tcount(gate.deny) == 0 with input as {}\n}\n"
            .into(),
    );
    let outcomes = run_tests(&Bundle::from_files(files).unwrap()).unwrap();
    let extra = outcomes.iter().find(|o| o.name == "extra_test.test_wrongly_expects_allow").unwrap();
    assert!(!extra.passed);
    assert_eq!(extra.file, "extra_test.rego");
}

#[test]
fn the_default_gate_allows_a_complete_medium_risk_input() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let decision = gate.decide(&good_input()).unwrap();
    assert_eq!(decision, Decision { allow: true, deny: vec![], warn: vec![] });
}

#[test]
fn an_empty_input_is_denied_with_reasons_not_an_engine_error() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let decision = gate.decide(&json!({})).unwrap();
    assert!(!decision.allow);
    for section in ["model", "version", "validation", "approvals", "target", "findings", "now"] {
        let want = format!("input.{section} is missing: the gate cannot decide without it");
        assert!(decision.deny.contains(&want), "{want} not in {:?}", decision.deny);
    }
}

#[test]
fn a_validation_without_its_figures_is_denied_by_name() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let mut input = good_input();
    input["validation"] = json!({"version": 1, "created_at": 1_700_000_000, "auc": null});
    let decision = gate.decide(&input).unwrap();
    assert!(!decision.allow);
    for field in ["auc", "ece", "max_feature_psi", "score_psi"] {
        assert!(
            decision.deny.iter().any(|m| m.starts_with(&format!("validation.{field} is missing"))),
            "{field}: {:?}",
            decision.deny
        );
    }
    assert!(decision.deny.iter().any(|m| m.contains("'sex' has no fairness figures")));
}

#[test]
fn every_default_limit_refuses_its_case() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let cases: [(&str, serde_json::Value, &str); 7] = [
        ("/validation/auc", json!(0.69), "AUC 0.690 is below the minimum 0.70 for a medium-risk model"),
        ("/validation/psi/age", json!(0.3), "feature 'age' has PSI 0.300 against the reference, above the limit 0.25"),
        ("/validation/ece", json!(0.15), "expected calibration error 0.150 is above the limit 0.10"),
        (
            "/validation/fairness/sex/disparate_impact",
            json!(0.75),
            "disparate-impact ratio 0.750 for 'sex' is below 0.80 (four-fifths rule)",
        ),
        ("/version/code_ref", json!(""), "lineage incomplete: version.code_ref is missing"),
        ("/version/format", json!("pickle"), "artifact format 'pickle' is not allowed"),
        ("/now", json!(1_700_000_000 + 91 * 86_400), "the validation report is 91 days old; the limit is 90 days"),
    ];
    for (pointer, value, reason) in cases {
        let mut input = good_input();
        *input.pointer_mut(pointer).unwrap() = value;
        let decision = gate.decide(&input).unwrap();
        assert!(!decision.allow, "{pointer}");
        assert!(decision.deny.iter().any(|m| m.starts_with(reason)), "{pointer}: {:?}", decision.deny);
    }
}

#[test]
fn approvals_count_once_per_person_and_never_the_registrant() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let mut input = good_input();
    input["model"]["risk_tier"] = json!("high");
    input["validation"]["auc"] = json!(0.8);
    input["approvals"] = json!([
        {"by": "vera", "role": "validator", "decision": "approve", "comment": "a"},
        {"by": "vera", "role": "validator", "decision": "approve", "comment": "again"},
        {"by": "dana", "role": "validator", "decision": "approve", "comment": "my own"},
        {"by": "rita", "role": "risk-officer", "decision": "approve", "comment": "b"}
    ]);
    let decision = gate.decide(&input).unwrap();
    assert_eq!(decision.deny, vec!["high-risk models need 2 approval(s) from the validator role; 1 given"]);
}

#[test]
fn a_syntax_error_names_its_file_and_line() {
    let broken = bundle(&[("gate.rego", "package warden.gate\n\ndeny contains msg if {\n  msg := \n}\n")]);
    match Gate::compile(&broken) {
        Err(PolicyError::Syntax { file, line, message }) => {
            assert_eq!(file, "gate.rego");
            assert!(matches!(line, Some(4) | Some(5)), "line {line:?}: {message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    let bad_data = bundle(&[("gate.rego", "package warden.gate\n"), ("limits.json", "{\"a\": ")]);
    assert!(matches!(Gate::compile(&bad_data), Err(PolicyError::Syntax { file, .. }) if file == "limits.json"));
}

#[test]
fn a_bundle_without_the_gate_package_is_refused() {
    let other = bundle(&[("x.rego", "package something.else\n\nallow := true\n")]);
    let err = Gate::compile(&other).unwrap_err();
    assert_eq!(err.to_string(), "the bundle defines no package warden.gate (found: data.something.else)");
}

#[test]
fn bundle_files_must_be_relative_rego_or_json() {
    for path in ["../gate.rego", "/etc/gate.rego", "gate.py", "a//b.rego", ""] {
        let files = BTreeMap::from([(path.to_string(), "package warden.gate\n".to_string())]);
        assert!(matches!(Bundle::from_files(files), Err(PolicyError::Bundle(_))), "{path}");
    }
    assert!(matches!(Bundle::from_files(BTreeMap::new()), Err(PolicyError::Bundle(_))));
}

#[test]
fn the_digest_covers_paths_and_texts() {
    let a = bundle(&[("gate.rego", "package warden.gate\n")]);
    let b = bundle(&[("gate2.rego", "package warden.gate\n")]);
    let c = bundle(&[("gate.rego", "package warden.gate\n\n")]);
    assert_eq!(a.digest(), a.clone().digest());
    assert_ne!(a.digest(), b.digest());
    assert_ne!(a.digest(), c.digest());
    assert_eq!(a.digest().len(), 64);
}

#[test]
fn messages_may_be_objects_with_msg() {
    let custom = bundle(&[(
        "gate.rego",
        "package warden.gate\n\ndeny contains {\"msg\": \"object message\", \"code\": 7} if input.x\nwarn contains \"w\" if input.x\n",
    )]);
    let mut gate = Gate::compile(&custom).unwrap();
    let decision = gate.decide(&json!({"x": true})).unwrap();
    assert_eq!(decision, Decision { allow: false, deny: vec!["object message".into()], warn: vec!["w".into()] });
    assert!(gate.decide(&json!({"x": false})).unwrap().allow);
}

/// Hostile bundles: recursion is refused when the bundle is compiled (before regorus evaluates anything and
/// overflows its stack), with the rule named; evaluation stops at its time limit; output is bounded. Each
/// runs on a thread with a small stack, so an overflow would abort this test binary.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(512 * 1024).spawn(f).unwrap().join().expect("no panic")
}

#[test]
fn recursive_rules_and_functions_are_refused_naming_the_rule() {
    let cases = [
        (
            "package warden.gate\nf(x) := y if { y := f(x) }\ndeny contains m if { m := f(1) }\n",
            "warden.gate.f -> warden.gate.f",
        ),
        (
            "package warden.gate\na(x) := y if { y := b(x) }\nb(x) := y if { y := a(x) }\ndeny contains m if { m := a(1) }\n",
            "warden.gate.a -> warden.gate.b -> warden.gate.a",
        ),
        (
            "package warden.gate\ndeny contains m if { some m in data.warden.gate.deny }\n",
            "warden.gate.deny -> warden.gate.deny",
        ),
        ("package warden.gate\nx := data.warden.helpers.y\n", "warden.gate.x -> warden.helpers.y -> warden.gate.x"),
    ];
    for (text, cycle) in cases {
        let mut files = vec![("gate.rego", text)];
        let helpers = "package warden.helpers\nimport data.warden.gate as g\ny := g.x\n";
        if text.contains("helpers") {
            files.push(("helpers.rego", helpers));
        }
        let bundle = bundle(&files);
        let err = on_small_stack(move || Gate::compile(&bundle)).unwrap_err().to_string();
        assert!(err.contains("is recursive") && err.contains(cycle), "{err}");
        let bundle_for_tests = self::bundle(&files);
        let err = on_small_stack(move || run_tests(&bundle_for_tests)).unwrap_err().to_string();
        assert!(err.contains(cycle), "{err}");
    }
}

#[test]
fn rules_sharing_names_across_packages_or_with_locals_are_not_recursion() {
    let gate = "package warden.gate\nimport data.warden.lib\n\
                deny contains msg if { msg := lib.deny[_] }\n\
                warn contains msg if { some msg in lib.messages(input) }\n";
    let lib = "package warden.lib\ndeny contains \"from lib\" if { true }\nmessages(x) := [\"w\"] if { x }\n";
    let mut gate = Gate::compile(&bundle(&[("gate.rego", gate), ("lib.rego", lib)])).unwrap();
    let decision = gate.decide(&json!({})).unwrap();
    assert_eq!(decision.deny, vec!["from lib".to_owned()]);
}

#[test]
fn evaluation_stops_at_its_time_limit_and_output_is_bounded() {
    // Nine nested ranges of 100: 10^18 iterations unless stopped.
    let slow = "package warden.gate\ndeny contains \"x\" if {\n\
                some a in numbers.range(1, 100)\nsome b in numbers.range(1, 100)\nsome c in numbers.range(1, 100)\n\
                some d in numbers.range(1, 100)\nsome e in numbers.range(1, 100)\nsome f in numbers.range(1, 100)\n\
                a + b + c + d + e + f < 0\n}\n";
    let mut gate = Gate::compile(&bundle(&[("gate.rego", slow)])).unwrap();
    let started = std::time::Instant::now();
    let err = gate.decide(&json!({})).unwrap_err().to_string();
    assert!(err.contains("deny exceeded the evaluation limit"), "{err}");
    assert!(started.elapsed() < MAX_EVALUATION_TIME * 3, "{:?}", started.elapsed());

    let many = "package warden.gate\ndeny contains sprintf(\"m%d\", [i]) if { some i in numbers.range(1, 5000) }\n";
    let err = Gate::compile(&bundle(&[("gate.rego", many)])).unwrap().decide(&json!({})).unwrap_err().to_string();
    assert!(err.contains("deny holds 5000 messages; the limit is 1000"), "{err}");
    let long = "package warden.gate\ndeny contains concat(\"\", [\"x\" | some i in numbers.range(1, 10000)])\n";
    let err = Gate::compile(&bundle(&[("gate.rego", long)])).unwrap().decide(&json!({})).unwrap_err().to_string();
    assert!(err.contains("a message of 10000 bytes"), "{err}");
}

#[test]
fn deep_and_long_expressions_are_refused_or_compiled_without_overflowing_the_stack() {
    let cases = [
        format!("package warden.gate\nx := {}1{}\n", "(".repeat(5_000), ")".repeat(5_000)),
        format!("package warden.gate\nx := {}\n", vec!["1"; 20_000].join(" + ")),
        format!("package warden.gate\nx := {}1{}\n", "[".repeat(5_000), "]".repeat(5_000)),
        format!("package warden.gate\nx := {}\n", vec!["input.a"; 20_000].join(" == ")),
    ];
    for text in cases {
        let outcome = on_small_stack(move || {
            let bundle = bundle(&[("gate.rego", text.as_str())]);
            Gate::compile(&bundle).and_then(|mut gate| gate.decide(&json!({}))).map(|_| ())
        });
        if let Err(err) = outcome {
            assert!(!err.to_string().is_empty());
        }
    }
}

#[test]
fn nesting_beyond_the_limit_is_a_syntax_error_naming_the_line_and_strings_do_not_count() {
    let deep = format!("package warden.gate\n\nx := {}1{}\n", "[".repeat(MAX_NESTING + 1), "]".repeat(MAX_NESTING + 1));
    let err = Gate::compile(&bundle(&[("gate.rego", &deep)])).unwrap_err();
    assert_eq!(
        err,
        PolicyError::Syntax {
            file: "gate.rego".into(),
            line: Some(3),
            message: "brackets nest deeper than 64 levels".into()
        }
    );
    let text =
        format!("package warden.gate\n# {}\ndeny contains \"{}\" if {{ false }}\n", "(".repeat(100), "[".repeat(100));
    Gate::compile(&bundle(&[("gate.rego", &text)])).unwrap();
}

#[test]
fn finding_limits_come_from_the_bundle_and_are_absent_from_one_without_them() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    assert_eq!(gate.finding_due_days("critical").unwrap(), Some(2));
    assert_eq!(gate.finding_due_days("low").unwrap(), Some(180));
    assert_eq!(gate.finding_due_days("extreme").unwrap(), None);
    assert_eq!(gate.finding_exception_max_days().unwrap(), Some(90));
    let bare = bundle(&[("gate.rego", "package warden.gate\n\ndeny contains \"never\" if false\n")]);
    let mut gate = Gate::compile(&bare).unwrap();
    assert_eq!(gate.finding_due_days("critical").unwrap(), None);
    assert_eq!(gate.finding_exception_max_days().unwrap(), None);
}

#[test]
fn the_review_policy_comes_from_the_bundle_and_a_malformed_one_is_named() {
    let mut gate = Gate::compile(&Bundle::default_bundle()).unwrap();
    let policy = gate.review_policy().unwrap();
    assert!(policy.reason_codes.contains(&"model_error".to_owned()), "{policy:?}");
    assert!(!policy.self_review && !policy.labels_from_reviews);
    let bare = bundle(&[("gate.rego", "package warden.gate\n\ndeny contains \"never\" if false\n")]);
    assert_eq!(Gate::compile(&bare).unwrap().review_policy().unwrap(), ReviewPolicy::default());
    let with = |rule: &str| {
        let text = format!("package warden.gate\n\nreview := {rule}\n");
        Gate::compile(&bundle(&[("gate.rego", &text)])).unwrap().review_policy()
    };
    let own = with(r#"{"reason_codes": ["a-1", "b_2"], "self_review": true}"#).unwrap();
    assert_eq!(
        (own.reason_codes, own.self_review, own.labels_from_reviews),
        (vec!["a-1".into(), "b_2".into()], true, false)
    );
    for (rule, message) in [
        (r#""yes""#, r#"review must be an object, not "yes""#),
        (r#"{"self_review": 1}"#, "review.self_review must be true or false, not 1"),
        (r#"{"reason_codes": "other"}"#, r#"review.reason_codes must be a list of codes, not "other""#),
        (r#"{"reason_codes": []}"#, "review.reason_codes holds 1 to 200 codes, not 0"),
        (r#"{"reason_codes": ["Bad Code"]}"#, r#"review.reason_codes: "Bad Code" is not a code"#),
    ] {
        let PolicyError::Evaluation(error) = with(rule).unwrap_err() else { panic!("{rule}") };
        assert!(error.starts_with(message), "{rule}: {error}");
    }
}

#[test]
fn a_bundle_without_warn_rules_decides_with_no_warnings() {
    let mut gate =
        Gate::compile(&bundle(&[("gate.rego", "package warden.gate\n\ndeny contains \"no\" if input.x\n")])).unwrap();
    let decision = gate.decide(&json!({"x": true})).unwrap();
    assert_eq!((decision.allow, decision.deny, decision.warn), (false, vec!["no".to_owned()], Vec::<String>::new()));
    assert!(gate.decide(&json!({"x": false})).unwrap().allow);
}

/// POLICIES.md's example rule over the validation's multivariate drift compiles and decides as it reads.
#[test]
fn a_bundle_can_deny_on_the_validations_multivariate_drift() {
    let rule = "package warden.gate\n\ndeny contains \"multivariate drift\" if input.validation.multivariate_alert\n";
    let mut gate = Gate::compile(&bundle(&[("gate.rego", rule)])).unwrap();
    let mut input = good_input();
    input["validation"]["multivariate_alert"] = json!(false);
    assert!(gate.decide(&input).unwrap().allow);
    input["validation"]["multivariate_alert"] = json!(true);
    let decision = gate.decide(&input).unwrap();
    assert!(!decision.allow);
    assert_eq!(decision.deny, ["multivariate drift"]);
}
