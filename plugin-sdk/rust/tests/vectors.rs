//! The shared vectors at the repository's `tests/vectors/`, which the Python SDK's
//! `tests/test_vectors.py` runs too, so both SDKs provably agree: `templates.json` (a template,
//! its context and limits → the output or the kind of error, with words its message must hold;
//! one-line fields from a template or the event's headline) and `net_policy.json` (an address
//! under an allow-list → allowed, or refused with its category and embedding; the exact refusal
//! texts; how allow-lists parse). Every vector runs; a failure lists all that disagree.

use std::net::IpAddr;
use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard_plugin_sdk::net_policy::{Category, Embedding, NetworkPolicy, Refusal};
use switchyard_plugin_sdk::template::{Limits, Template, TemplateCache, TemplateError};
use switchyard_plugin_sdk::{DeliveryContext, Event, Subscription};

fn vectors(name: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("../../tests/vectors/{name}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text<'a>(case: &'a Value, key: &str) -> &'a str {
    case[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {case}"))
}

/// Fails with every disagreement at once, so one run shows the whole picture.
fn report(failures: &[String], total: usize, what: &str) {
    assert!(
        failures.is_empty(),
        "{} of {total} {what} vectors disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(total > 0, "no {what} vectors ran");
}

// === templates ===

fn limits(case: &Value) -> Limits {
    let mut limits = Limits::default();
    let given = &case["limits"];
    let number = |key: &str| given[key].as_u64();
    if let Some(n) = number("max_source_bytes") {
        limits.max_source_bytes = usize::try_from(n).unwrap();
    }
    if let Some(n) = number("max_output_bytes") {
        limits.max_output_bytes = usize::try_from(n).unwrap();
    }
    if let Some(n) = number("fuel") {
        limits.fuel = n;
    }
    if let Some(n) = number("max_depth") {
        limits.max_depth = usize::try_from(n).unwrap();
    }
    limits
}

/// The case's context: a named one from `contexts`, or an inline object.
fn context<'a>(doc: &'a Value, case: &'a Value) -> &'a Value {
    match &case["context"] {
        Value::String(name) => &doc["contexts"][name],
        Value::Null => &doc["contexts"]["default"],
        inline => inline,
    }
}

fn error_kind(error: &TemplateError) -> &'static str {
    match error {
        TemplateError::Compile { .. } => "compile",
        TemplateError::TooLong { .. } => "too_long",
        TemplateError::Render { .. } => "render",
    }
}

/// What is wrong with one template vector, if anything.
fn check_template(doc: &Value, case: &Value) -> Option<String> {
    let path = case["path"].as_str().unwrap_or("/template");
    let result = Template::compile(path, text(case, "template"), &limits(case))
        .and_then(|t| t.render_serialized(context(doc, case)));
    match (result, &case["output"], &case["error"]) {
        (Ok(out), Value::String(want), _) if out == *want => None,
        (Ok(out), Value::String(want), _) => Some(format!("rendered {out:?}, want {want:?}")),
        (Ok(out), _, error) => Some(format!("rendered {out:?}, want a {error} error")),
        (Err(err), _, Value::String(kind)) => check_error(case, path, &err, kind),
        (Err(err), _, _) => Some(format!("failed: {err}")),
    }
}

fn check_error(case: &Value, path: &str, err: &TemplateError, kind: &str) -> Option<String> {
    if error_kind(err) != kind {
        return Some(format!("a {} error ({err}), want {kind}", error_kind(err)));
    }
    if err.path() != path || err.diagnostic().json_path != path {
        return Some(format!("the error names {}, want {path}", err.path()));
    }
    let message = err.to_string();
    let words = case["message_contains"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    words
        .iter()
        .filter_map(Value::as_str)
        .find(|w| !message.contains(w))
        .map(|w| format!("error {message:?} lacks {w:?}"))
}

#[test]
fn every_template_vector_renders_as_specified() {
    let doc = vectors("templates.json");
    let cases = doc["cases"].as_array().expect("cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            check_template(&doc, case).map(|f| format!("{}: {f}", text(case, "name")))
        })
        .collect();
    report(&failures, cases.len(), "template");
}

fn delivery(case: &Value) -> DeliveryContext<(), ()> {
    DeliveryContext {
        event: Event {
            event_type: text(case, "event_type").to_owned(),
            payload: case["payload"].clone(),
            timestamp: chrono::DateTime::UNIX_EPOCH,
            delivery_id: "del-1".into(),
            attempt: 1,
            event_id: "evt-1".into(),
        },
        subscription: Subscription {
            id: "sub-1".into(),
            name: "Ops".into(),
        },
        config: (),
        connection: (),
        correlation: None,
    }
}

#[test]
fn every_line_vector_gives_its_line() {
    let doc = vectors("templates.json");
    let cases = doc["lines"].as_array().expect("lines");
    let cache = TemplateCache::default();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let limit = usize::try_from(case["limit"].as_u64().expect("limit")).unwrap();
            let got = cache.line(
                "/summary",
                case["template"].as_str(),
                &delivery(case),
                limit,
            );
            let want = &case["output"];
            match got {
                Ok(line) if json!(line) == *want => None,
                other => Some(format!(
                    "{}: got {other:?}, want {want}",
                    text(case, "name")
                )),
            }
        })
        .collect();
    report(&failures, cases.len(), "line");
}

// === network policy ===

fn category_name(category: Category) -> &'static str {
    match category {
        Category::Loopback => "loopback",
        Category::Private => "private",
        Category::LinkLocal => "link_local",
        Category::Cgnat => "cgnat",
        Category::UniqueLocal => "unique_local",
        Category::Multicast => "multicast",
        Category::Unspecified => "unspecified",
        Category::Metadata => "metadata",
        Category::Reserved => "reserved",
    }
}

fn embedding_name(embedding: Embedding) -> &'static str {
    match embedding {
        Embedding::Ipv4Mapped => "ipv4_mapped",
        Embedding::Ipv4Compatible => "ipv4_compatible",
        Embedding::Nat64 => "nat64",
        Embedding::SixToFour => "6to4",
        Embedding::Teredo => "teredo",
    }
}

fn judge(case: &Value) -> Result<(), Refusal> {
    let policy = NetworkPolicy::parse(text(case, "allow")).expect("a valid allow-list");
    let address: IpAddr = text(case, "address").parse().expect("an address");
    policy.check(address)
}

/// The verdict in the vectors' terms: `{verdict, category?, embedding?, embedded?}`.
fn verdict_of(result: &Result<(), Refusal>) -> Value {
    match result {
        Ok(()) => json!({"verdict": "allowed"}),
        Err(refusal) => {
            let mut v = json!({
                "verdict": "refused",
                "category": category_name(refusal.verdict.category),
            });
            if let Some((form, v4)) = refusal.verdict.embedded {
                v["embedding"] = json!(embedding_name(form));
                v["embedded"] = json!(v4.to_string());
            }
            v
        }
    }
}

#[test]
fn every_address_vector_gets_its_verdict() {
    let doc = vectors("net_policy.json");
    let cases = doc["cases"].as_array().expect("cases");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got = verdict_of(&judge(case));
            let mut want = json!({"verdict": case["verdict"]});
            for key in ["category", "embedding", "embedded"] {
                if !case[key].is_null() {
                    want[key] = case[key].clone();
                }
            }
            (got != want).then(|| {
                format!(
                    "{} under {:?}: got {got}, want {want}",
                    text(case, "address"),
                    text(case, "allow")
                )
            })
        })
        .collect();
    report(&failures, cases.len(), "address");
}

#[test]
fn every_refusal_text_is_word_for_word() {
    let doc = vectors("net_policy.json");
    let cases = doc["messages"].as_array().expect("messages");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let mut refusal = judge(case).err()?;
            refusal.host = case["host"].as_str().map(str::to_owned);
            let got = refusal.to_string();
            (got != text(case, "message"))
                .then(|| format!("{}: got {got:?}", text(case, "address")))
        })
        .collect();
    report(&failures, cases.len(), "refusal text");
    for case in cases {
        assert!(
            judge(case).is_err(),
            "{} is not refused",
            text(case, "address")
        );
    }
}

#[test]
fn every_allow_list_parses_as_specified() {
    let doc = vectors("net_policy.json");
    let cases = doc["allow_lists"].as_array().expect("allow_lists");
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got = match NetworkPolicy::parse(text(case, "allow")) {
                Ok(policy) => {
                    json!({"subnets": policy.allow.iter().map(ToString::to_string).collect::<Vec<_>>()})
                }
                Err(err) => {
                    let switchyard_plugin_sdk::net_policy::PolicyError::BadEntry { position, entry } =
                        &err;
                    json!({"error": {"position": position, "entry": entry, "message": err.to_string()}})
                }
            };
            let mut want = json!({});
            if let Some(subnets) = case.get("subnets") {
                want["subnets"] = subnets.clone();
            }
            if let Some(error) = case.get("error") {
                want["error"] = error.clone();
                if error.get("message").is_none() {
                    want["error"]["message"] = got["error"]["message"].clone();
                }
            }
            (got != want).then(|| format!("{:?}: got {got}, want {want}", text(case, "allow")))
        })
        .collect();
    report(&failures, cases.len(), "allow-list");
}
