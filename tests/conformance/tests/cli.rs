//! The `switchyard-conformance` command line: JUnit XML that parses as JUnit, JSON output,
//! focus/skip selection, the config file, and exit statuses. Runs the real binary against the
//! fixture plugin (build the workspace's binaries first: `cargo build --workspace --bins`).

mod common;

use std::process::{Command, Output};

const HARNESS: &str = env!("CARGO_BIN_EXE_switchyard-conformance");

fn harness(args: &[&str]) -> Output {
    Command::new(HARNESS)
        .args(args)
        .output()
        .expect("run switchyard-conformance")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn junit_output_parses_as_junit_with_failures_and_skips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xml_path = dir.path().join("report.xml");
    let fixture = common::fixture();
    let out = harness(&[
        "--junit",
        xml_path.to_str().expect("utf-8 path"),
        fixture.to_str().expect("utf-8 path"),
        "leak-secret",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a failing plugin exits 1:\n{}",
        text(&out.stdout)
    );

    let xml = std::fs::read_to_string(&xml_path).expect("JUnit file written");
    let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let suites: Vec<_> = root
        .children()
        .filter(|n| n.has_tag_name("testsuite"))
        .collect();
    assert_eq!(suites.len(), 1);
    let suite = suites[0];
    let cases: Vec<_> = suite
        .children()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    let count = |attr: &str| suite.attribute(attr).and_then(|v| v.parse::<usize>().ok());
    assert_eq!(count("tests"), Some(cases.len()));
    let failed: Vec<_> = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
        .collect();
    let skipped = cases
        .iter()
        .filter(|c| c.children().any(|n| n.has_tag_name("skipped")))
        .count();
    assert_eq!(count("failures"), Some(failed.len()));
    assert_eq!(count("skipped"), Some(skipped));
    assert!(skipped > 0, "the fixture leaves some checks skipped");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attribute("name"), Some("secrets/not-in-output"));
    assert_eq!(failed[0].attribute("classname"), Some("secrets"));
    let failure = failed[0]
        .children()
        .find(|n| n.has_tag_name("failure"))
        .expect("failure element");
    assert!(
        failure
            .attribute("message")
            .is_some_and(|m| m.contains("stderr"))
    );
    for case in &cases {
        assert!(
            case.attribute("time")
                .and_then(|t| t.parse::<f64>().ok())
                .is_some()
        );
    }
}

#[test]
fn json_output_honours_focus_and_skip() {
    let fixture = common::fixture();
    let out = harness(&[
        "--json",
        "--focus",
        "^(handshake|describe)/",
        "--skip",
        "stable|no-cookie",
        fixture.to_str().expect("utf-8 path"),
        "good",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["passed"], true);
    assert_eq!(report["counts"]["failed"], 0);
    let checks = report["checks"].as_array().expect("checks array");
    let names: Vec<&str> = checks.iter().filter_map(|c| c["name"].as_str()).collect();
    assert!(
        names.contains(&"handshake/line") && names.contains(&"describe/ids"),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("handshake/") || n.starts_with("describe/")),
        "{names:?}"
    );
    assert!(
        !names.contains(&"describe/stable") && !names.contains(&"handshake/no-cookie"),
        "{names:?}"
    );
    for c in checks {
        assert!(
            matches!(c["status"].as_str(), Some("passed" | "skipped")),
            "{c}"
        );
    }
}

#[test]
fn config_file_values_reach_the_configs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("conformance.toml");
    // A value of the wrong type: the harness must refuse to use the merged config, naming why.
    // Both of the fixture's providers get one, so that no provider is left to deliver.
    let toml =
        "[providers.echo.config]\ndelayMs = \"soon\"\n[providers.linked.config]\nproject = 5\n";
    std::fs::write(&config, toml).expect("write config");
    let fixture = common::fixture();
    let out = harness(&[
        "--json",
        "--focus",
        "^deliver/answers$",
        "--config",
        config.to_str().expect("utf-8 path"),
        fixture.to_str().expect("utf-8 path"),
        "good",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let check = &report["checks"][0];
    assert_eq!(check["status"], "skipped", "{check}");
    let reason = check["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("/delayMs") && reason.contains("--config"),
        "{reason}"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(harness(&[]).status.code(), Some(2));
    let missing = harness(&["--config", "/nonexistent/conformance.json", "/bin/true"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("/nonexistent/conformance.json"));
}

#[test]
fn lists_every_check() {
    let out = harness(&["--list"]);
    assert!(out.status.success());
    let listing = text(&out.stdout);
    for name in [
        "handshake/no-cookie",
        "describe/schemas-valid",
        "deliver/concurrent-32",
        "lifecycle/parent-death",
    ] {
        assert!(listing.contains(name), "{name} missing from:\n{listing}");
    }
}
