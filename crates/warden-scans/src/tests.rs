use warden_core::FindingSeverity::{Critical, High, Low, Medium};
use warden_core::{FindingSeverity, ScanFormat};

use crate::{MAX_FINDINGS, MAX_REPORT_BYTES, ScanError, read};

fn fixture(name: &str) -> Vec<u8> {
    warden_testdata::read(&format!("scans/{name}"))
}

fn count(findings: &[crate::ScanFinding], severity: FindingSeverity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

#[test]
fn trivy_json_of_python_requirements_reads_both_werkzeug_cves() {
    let report = read(ScanFormat::Trivy, &fixture("trivy-pip.json")).unwrap();
    assert_eq!((report.tool.as_str(), report.target.as_str()), ("Trivy", "testdata/fixtures/repo/pip"));
    assert_eq!(report.scope(), "trivy:trivy:testdata/fixtures/repo/pip");
    let rules: Vec<(&str, &str, FindingSeverity)> =
        report.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str(), f.severity)).collect();
    assert_eq!(
        rules,
        [
            ("CVE-2019-14806", "requirements.txt: Werkzeug@0.11", High),
            ("CVE-2020-28724", "requirements.txt: Werkzeug@0.11", Medium),
        ]
    );
    assert_eq!(report.findings[0].title, "python-werkzeug: insufficient debugger PIN randomness vulnerability");
    assert!(report.findings[0].description.contains("Fixed in Werkzeug 0.15.3."), "{:?}", report.findings[0]);
}

#[test]
fn trivy_sarif_of_an_image_tells_packages_apart_by_the_locations_words() {
    let report = read(ScanFormat::Sarif, &fixture("trivy-alpine-310.sarif")).unwrap();
    assert_eq!(report.tool, "Trivy dev");
    assert_eq!(report.findings.len(), 4, "{:#?}", report.findings);
    // The same CVE in libcrypto and libssl: two findings, told apart by the location's message.
    let cve: Vec<&str> =
        report.findings.iter().filter(|f| f.rule == "CVE-2019-1549").map(|f| f.location.as_str()).collect();
    assert_eq!(cve.len(), 2, "{cve:?}");
    assert!(cve.iter().any(|l| l.contains("libcrypto1.1@1.1.1c-r0")) && cve.iter().any(|l| l.contains("libssl1.1")));
    // Trivy's rules carry a security-severity score: 5.3 is medium.
    assert!(report.findings.iter().all(|f| f.severity == Medium || f.severity == Low), "{:#?}", report.findings);
    assert_eq!(report.findings[0].title, "openssl: information disclosure in fork()");
}

#[test]
fn bandit_sarif_of_a_scoring_server_reads_file_and_line_and_bandits_own_severity() {
    let report = read(ScanFormat::Sarif, &fixture("bandit-mlflow-scoring-server.sarif")).unwrap();
    assert_eq!(report.tool, "Bandit 1.9.4");
    assert_eq!(report.scope(), "sarif:bandit");
    let found: Vec<(&str, &str)> = report.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str())).collect();
    assert_eq!(
        found,
        [
            ("B113", "mlflow/pyfunc/scoring_server/client.py:48"),
            ("B113", "mlflow/pyfunc/scoring_server/client.py:53"),
            ("B113", "mlflow/pyfunc/scoring_server/client.py:95"),
            ("B108", "mlflow/pyfunc/scoring_server/client.py:113"),
        ]
    );
    assert_eq!(count(&report.findings, Medium), 4);
    let later = read(ScanFormat::Sarif, &fixture("bandit-mlflow-scoring-server-without-b108.sarif")).unwrap();
    assert_eq!(later.scope(), report.scope(), "a later scan of the same service replaces the earlier one");
    assert_eq!(later.findings.len(), 3);
}

#[test]
fn cyclonedx_vex_names_each_affected_package_from_its_bom_link() {
    let report = read(ScanFormat::CyclonedxVex, &fixture("trivy-centos-7.cdx.json")).unwrap();
    assert_eq!(report.tool, "trivy dev");
    assert_eq!(report.target, "integration/testdata/fixtures/images/centos-7.tar.gz");
    let found: Vec<(&str, FindingSeverity)> = report.findings.iter().map(|f| (f.rule.as_str(), f.severity)).collect();
    assert_eq!(found, [("CVE-2019-18276", High), ("CVE-2019-1559", Medium), ("CVE-2018-0734", Medium)]);
    assert!(report.findings[0].location.starts_with("pkg:rpm/centos/bash@4.2"), "{:?}", report.findings[0]);
}

#[test]
fn grype_json_keeps_one_finding_per_package_location() {
    let report = read(ScanFormat::Grype, &fixture("grype-msn-weather-wrapper.json")).unwrap();
    assert_eq!((report.tool.as_str(), report.target.as_str()), ("grype 0.104.1", "."));
    // 23 matches, each a distinct vulnerability at a distinct location.
    assert_eq!(report.findings.len(), 23);
    assert_eq!(
        (count(&report.findings, High), count(&report.findings, Medium), count(&report.findings, Low)),
        (10, 12, 1)
    );
    let go: Vec<&str> =
        report.findings.iter().filter(|f| f.rule == "CVE-2025-61723").map(|f| f.location.as_str()).collect();
    assert_eq!(
        go,
        [
            "stdlib@go1.23.12 (/frontend/node_modules/@esbuild/linux-x64/bin/esbuild)",
            "stdlib@go1.23.12 (/frontend/node_modules/esbuild/bin/esbuild)"
        ]
    );
    assert!(report.findings[0].description.contains("Fixed in stdlib 1.24.8, 1.25.2."));
}

#[test]
fn a_report_of_another_format_is_refused_naming_what_it_looks_like() {
    let cases = [
        (
            ScanFormat::Trivy,
            "bandit-mlflow-scoring-server.sarif",
            "\"SchemaVersion\" is missing, not 2 (it looks like sarif)",
        ),
        (ScanFormat::Sarif, "trivy-pip.json", "\"version\" is missing, not \"2.1.0\" (it looks like trivy)"),
        (ScanFormat::Grype, "trivy-centos-7.cdx.json", "\"matches\" is missing (it looks like cyclonedx-vex)"),
        (
            ScanFormat::CyclonedxVex,
            "grype-msn-weather-wrapper.json",
            "\"bomFormat\" is missing, not \"CycloneDX\" (it looks like grype)",
        ),
    ];
    for (claimed, file, reason) in cases {
        let error = read(claimed, &fixture(file)).unwrap_err();
        assert_eq!(error, ScanError::WrongFormat { claimed, reason: reason.into() }, "{file}");
        assert!(error.to_string().starts_with(&format!("the report is not {claimed}: ")), "{error}");
    }
    assert_eq!(
        read(ScanFormat::Grype, b"[1, 2]").unwrap_err(),
        ScanError::WrongFormat { claimed: ScanFormat::Grype, reason: "it is not a JSON object".into() }
    );
    let old = br#"{"bomFormat": "CycloneDX", "specVersion": "1.2", "components": []}"#;
    assert!(read(ScanFormat::CyclonedxVex, old).unwrap_err().to_string().contains("from 1.4 to 1.7"));
}

#[test]
fn a_broken_report_is_refused_naming_the_place() {
    let trivy = br#"{"SchemaVersion": 2, "ArtifactName": "img", "Results": [{"Target": "t",
        "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "LOW"}, {"VulnerabilityID": "CVE-2", "Severity": "HIGH"}]}]}"#;
    let error = read(ScanFormat::Trivy, trivy).unwrap_err();
    assert_eq!(
        error,
        ScanError::Invalid {
            claimed: ScanFormat::Trivy,
            path: "Results[0].Vulnerabilities[1]".into(),
            message: "missing field `PkgName`".into()
        },
        "{error}"
    );
    let severe = br#"{"SchemaVersion": 2, "ArtifactName": "img", "Results": [{"Target": "t",
        "Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a", "Severity": "SEVERE"}]}]}"#;
    assert_eq!(
        read(ScanFormat::Trivy, severe).unwrap_err().to_string(),
        "trivy report, at Results[0].Vulnerabilities[0].Severity: unknown severity 'SEVERE'"
    );
    let sarif = br#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}}]}]}"#;
    assert_eq!(
        read(ScanFormat::Sarif, sarif).unwrap_err().to_string(),
        "sarif report, at runs[0].results[0].ruleId: the result names no rule"
    );
    let index = br#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleIndex": 3, "message": {}}]}]}"#;
    assert!(read(ScanFormat::Sarif, index).unwrap_err().to_string().contains("runs[0].results[0].ruleIndex: rule 3"));
    let grype = br#"{"matches": [{"vulnerability": {"id": "CVE-1"}, "artifact": {"name": "a", "version": 7}}], "descriptor": {"name": "grype"}}"#;
    assert!(
        read(ScanFormat::Grype, grype)
            .unwrap_err()
            .to_string()
            .contains("at matches[0].artifact.version: invalid type")
    );
    let other = br#"{"matches": [], "descriptor": {"name": "syft"}}"#;
    assert!(read(ScanFormat::Grype, other).unwrap_err().to_string().contains("\"descriptor.name\" is \"syft\""));
}

#[test]
fn what_is_not_json_too_deep_or_too_large_is_refused() {
    assert!(matches!(read(ScanFormat::Sarif, b"{\"version\": "), Err(ScanError::NotJson(_))));
    assert!(matches!(read(ScanFormat::Sarif, b"PK\x03\x04"), Err(ScanError::NotJson(_))));
    // Components nest in components: 10,000 levels stop at serde_json's limit of 128, the stack intact.
    let nested = format!(
        "{{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.5\", \"components\": [{}{}]}}",
        "{\"name\": \"a\", \"components\": [".repeat(10_000),
        "]}".repeat(10_000)
    );
    let error = read(ScanFormat::CyclonedxVex, nested.as_bytes()).unwrap_err();
    assert!(matches!(&error, ScanError::NotJson(m) if m.contains("recursion limit exceeded")), "{error}");
    // Deep nesting where nothing is kept is skipped without recursing; the place is named where it breaks.
    let deep = format!("{{\"version\": \"2.1.0\", \"runs\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    let error = read(ScanFormat::Sarif, deep.as_bytes()).unwrap_err();
    assert!(error.to_string().contains("at runs[0]"), "{error}");
    let huge = vec![b' '; MAX_REPORT_BYTES + 1];
    assert_eq!(
        read(ScanFormat::Grype, &huge).unwrap_err(),
        ScanError::TooLarge { size: MAX_REPORT_BYTES + 1, limit: MAX_REPORT_BYTES }
    );
}

#[test]
fn settled_vex_analyses_are_no_findings_and_duplicates_keep_the_gravest_severity() {
    let vex = br#"{"bomFormat": "CycloneDX", "specVersion": "1.6",
        "metadata": {"tools": {"components": [{"name": "scanner", "version": "2"}]}, "component": {"bom-ref": "svc", "name": "scoring", "version": "1.0"}},
        "components": [{"bom-ref": "lib", "name": "openssl", "version": "3.0.1", "components": [{"bom-ref": "inner", "name": "zlib", "version": "1.2"}]}],
        "vulnerabilities": [
            {"id": "CVE-A", "ratings": [{"severity": "low"}, {"score": 9.8}], "affects": [{"ref": "lib"}, {"ref": "inner"}]},
            {"id": "CVE-B", "analysis": {"state": "not_affected"}, "affects": [{"ref": "lib"}]},
            {"id": "CVE-C", "analysis": {"state": "exploitable"}, "ratings": [{"severity": "unknown"}]},
            {"id": "CVE-A", "ratings": [{"severity": "high"}], "affects": [{"ref": "lib"}]}
        ]}"#;
    let report = read(ScanFormat::CyclonedxVex, vex).unwrap();
    assert_eq!((report.tool.as_str(), report.target.as_str()), ("scanner 2", "scoring@1.0"));
    let found: Vec<(&str, &str, FindingSeverity)> =
        report.findings.iter().map(|f| (f.rule.as_str(), f.location.as_str(), f.severity)).collect();
    assert_eq!(
        found,
        [("CVE-A", "openssl@3.0.1", Critical), ("CVE-A", "zlib@1.2", Critical), ("CVE-C", "scoring@1.0", Medium)]
    );
}

#[test]
fn a_report_with_more_findings_than_the_budget_is_refused() {
    let matches: Vec<String> = (0..=MAX_FINDINGS)
        .map(|i| format!(r#"{{"vulnerability": {{"id": "CVE-{i}", "severity": "Low"}}, "artifact": {{"name": "a", "version": "1"}}}}"#))
        .collect();
    let report = format!(r#"{{"matches": [{}], "descriptor": {{"name": "grype"}}}}"#, matches.join(","));
    assert_eq!(read(ScanFormat::Grype, report.as_bytes()).unwrap_err(), ScanError::TooMany { limit: MAX_FINDINGS });
}

#[test]
fn a_long_text_shared_by_many_findings_is_cut_before_it_is_copied() {
    // One vulnerability affecting 5,000 components with a 1 MiB description: 5 GiB if copied whole.
    let description = "x".repeat(1 << 20);
    let affects: Vec<String> = (0..5_000).map(|i| format!(r#"{{"ref": "c{i}"}}"#)).collect();
    let vex = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [{{"id": "CVE-1", "description": "{description}", "affects": [{}]}}]}}"#,
        affects.join(",")
    );
    let started = std::time::Instant::now();
    let report = read(ScanFormat::CyclonedxVex, vex.as_bytes()).unwrap();
    assert_eq!(report.findings.len(), 5_000);
    assert!(report.findings.iter().all(|f| f.description.chars().count() == crate::DESCRIPTION_CHARS + 1));
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    // More than the budget of findings, counted before de-duplication, is refused.
    let many: Vec<String> = (0..=MAX_FINDINGS).map(|_| r#"{"ref": "same"}"#.to_owned()).collect();
    let vex = format!(
        r#"{{"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [{{"id": "CVE-1", "affects": [{}]}}]}}"#,
        many.join(",")
    );
    assert_eq!(read(ScanFormat::CyclonedxVex, vex.as_bytes()).unwrap_err(), ScanError::TooMany { limit: MAX_FINDINGS });
}

#[test]
fn a_sarif_fingerprint_keeps_a_finding_the_same_when_its_line_moves() {
    let report = |line: u32| {
        format!(
            r#"{{"version": "2.1.0", "runs": [{{"tool": {{"driver": {{"name": "CodeQL"}}}}, "results": [
                {{"ruleId": "py/sql-injection", "message": {{"text": "query built from user input"}},
                  "partialFingerprints": {{"primaryLocationLineHash": "39fa2ee980eb94b0:1"}},
                  "locations": [{{"physicalLocation": {{"artifactLocation": {{"uri": "app.py"}}, "region": {{"startLine": {line}}}}}}}]}}]}}]}}"#
        )
    };
    let before = read(ScanFormat::Sarif, report(10).as_bytes()).unwrap();
    let after = read(ScanFormat::Sarif, report(14).as_bytes()).unwrap();
    assert_eq!(after.findings[0].location, "app.py:14");
    assert_eq!(before.findings[0].key(), after.findings[0].key());
    assert_eq!(after.findings[0].key(), "py/sql-injection at primaryLocationLineHash=39fa2ee980eb94b0:1");
}
