//! The shared vectors (`vectors.json`, also run by the Python SDK) and the Rust-only API.

use base64::Engine as _;
use serde_json::{Value, json};

use super::*;

#[test]
fn every_shared_vector_holds() {
    let vectors: Vec<Value> =
        serde_json::from_str(include_str!("../vectors.json")).expect("vectors.json is JSON");
    assert!(vectors.len() >= 10, "the vectors file lost its cases");
    for case in &vectors {
        let secrets = case["secrets"].as_array().expect("secrets");
        let others: Vec<&str> = case["others"]
            .as_array()
            .expect("others")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let scrubber = Scrubber::new(secrets, others);
        let input = case["input"].as_str().expect("input");
        let expected = case["expected"].as_str().expect("expected");
        assert_eq!(scrubber.scrub(input), expected, "vector {:?}", case["name"]);
        // The same through the automaton, which texts longer than the scan limit take.
        let pad = " ".repeat(SCAN_UP_TO_BYTES);
        assert_eq!(
            scrubber.scrub(&format!("{input}{pad}")),
            format!("{expected}{pad}"),
            "vector {:?} (automaton)",
            case["name"]
        );
    }
}

#[test]
fn for_config_takes_secrets_at_the_pointers_and_every_other_string() {
    let config = json!({
        "url": "https://example.com/hook",
        "auth": {"type": "basic", "username": "ops-user", "password": "hunter2-pw"}
    });
    let scrubber = Scrubber::for_config(&config, &["/auth/password".to_owned()]);
    let basic = base64::engine::general_purpose::STANDARD.encode("ops-user:hunter2-pw");
    let text = format!("Basic {basic} / hunter2-pw / ops-user");
    assert_eq!(
        scrubber.scrub(&text),
        "Basic [REDACTED] / [REDACTED] / ops-user"
    );
}

#[test]
fn the_builder_combines_a_config_and_its_connection() {
    let mut builder = Scrubber::builder();
    builder.config(&json!({"channel": "ops"}), &[]);
    builder.config(
        &json!({"apiToken": "tok-123456"}),
        &["/apiToken".to_owned()],
    );
    let scrubber = builder.build();
    assert_eq!(scrubber.scrub("ops tok-123456"), "ops [REDACTED]");
}

#[test]
fn a_clean_text_is_borrowed_and_debug_shows_no_secret() {
    let scrubber = Scrubber::new(&[json!("canary-secret")], []);
    assert!(matches!(scrubber.scrub("nothing here"), Cow::Borrowed(_)));
    assert!(!format!("{scrubber:?}").contains("canary"));
    let mut text = "x canary-secret".to_owned();
    scrubber.scrub_string(&mut text);
    assert_eq!(text, "x [REDACTED]");
    assert!(Scrubber::new(&[json!("abc")], []).is_empty());
}

#[test]
fn debug_output_shows_no_secret_nor_other_string() {
    let config = serde_json::json!({"user": "alice", "password": "hunter2-secret"});
    let mut builder = crate::Scrubber::builder();
    builder.config(&config, &["/password".to_owned()]);
    let shown = format!("{builder:?} {:?}", builder.build());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(!shown.contains("alice"), "{shown}");
    assert!(shown.contains("secrets: 1"), "{shown}");
}
