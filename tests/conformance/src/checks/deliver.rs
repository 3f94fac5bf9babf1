//! Deliver checks: a valid delivery against the local sink, an invalid config answered
//! in-band, an unknown provider, 32 concurrent calls, a cancelled call, and unusual payloads.
//! Every provider of the plugin is exercised with the config built for it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use switchyard_proto::plugin::v1::{
    DeliverRequest, DeliverResponse, Event, Outcome, Provider, Subscription,
};
use tokio::task::JoinSet;
use tonic::{Code, Status};

use super::context::Built;
use super::{CheckFuture, Ctx, Stop, Verdict, fail, skip};
use crate::blackhole::BlackHole;
use crate::client::request;

/// Event type used when a provider lists no supported events.
const DEFAULT_EVENT: &str = "incident.incident.created";

/// Counter making every delivery id of a run unique.
static DELIVERY: AtomicU64 = AtomicU64::new(1);

/// The providers of a check that have a valid config, with their configs.
pub(crate) type Ready = Vec<(Provider, Built)>;

/// The providers of the check that have a valid config and why the others have none; a skip
/// naming why when none has.
pub(crate) fn buildable(cx: &mut Ctx) -> Result<(Ready, Vec<String>), Stop> {
    let mut ready = Vec::new();
    let mut why_not = Vec::new();
    for p in cx.targets.clone() {
        match cx.built(&p) {
            Ok(b) => ready.push((p, b)),
            Err(Stop::Skip(why)) => why_not.push(why),
            Err(stop) => return Err(stop),
        }
    }
    if ready.is_empty() {
        return Err(skip(why_not.join("\n")));
    }
    Ok((ready, why_not))
}

/// A payload for `p`: its documented example when that is a JSON object, else a small event.
pub(crate) fn example(p: &Provider) -> String {
    let doc = p
        .documentation
        .as_ref()
        .map_or("", |d| d.example_payload.as_str());
    match serde_json::from_str::<Value>(doc) {
        Ok(v @ Value::Object(_)) => v.to_string(),
        _ => json!({"id": "conformance-1", "title": "Conformance check", "status": "open"})
            .to_string(),
    }
}

/// A complete Deliver request for `p` with `built`'s configs.
pub(crate) fn deliver_request(p: &Provider, built: &Built, payload: String) -> DeliverRequest {
    let n = DELIVERY.fetch_add(1, Ordering::Relaxed);
    let event_type = p
        .supported_events
        .first()
        .map_or(DEFAULT_EVENT, String::as_str);
    DeliverRequest {
        provider_id: p.id.clone(),
        event: Some(Event {
            event_type: event_type.to_owned(),
            payload_json: payload,
            timestamp: Some(prost_types::Timestamp::from(SystemTime::now())),
            delivery_id: format!("conformance-{n}"),
            attempt: 1,
            event_id: format!("conformance-event-{n}"),
        }),
        subscription: Some(Subscription {
            id: "conformance-subscription".to_owned(),
            name: "Conformance".to_owned(),
        }),
        config_json: built.config_json(),
        connection_json: built.connection_json(),
        // Correlation is optional for the plugin: most checks send none, as for an event type
        // without a correlation path.
        correlation: None,
    }
}

/// `code message`, for failure reasons.
pub(crate) fn status_text(s: &Status) -> String {
    format!("{:?}: {}", s.code(), s.message())
}

/// Adds what the check skipped to a passing detail.
fn with_skips(detail: String, why_not: &[String]) -> String {
    if why_not.is_empty() {
        detail
    } else {
        format!("{detail}; not exercised: {}", why_not.join("; "))
    }
}

fn verdict(problems: Vec<String>, detail: String, why_not: &[String]) -> Verdict {
    if problems.is_empty() {
        Ok(with_skips(detail, why_not))
    } else {
        Err(fail(problems.join("\n")))
    }
}

/// What is inconsistent in a response, by the protocol's rules.
fn inconsistencies(r: &DeliverResponse) -> Vec<String> {
    let outcome = Outcome::try_from(r.outcome).unwrap_or(Outcome::Unspecified);
    let mut out = Vec::new();
    if outcome == Outcome::Unspecified {
        out.push("outcome is OUTCOME_UNSPECIFIED; set it".to_owned());
    }
    if r.success != (outcome == Outcome::Delivered) {
        out.push(format!("success = {} but outcome = {outcome:?}", r.success));
    }
    if !r.diagnostics.is_empty() && outcome != Outcome::Permanent {
        out.push(format!(
            "diagnostics present but outcome = {outcome:?} (must be PERMANENT)"
        ));
    }
    out
}

/// `deliver/answers`.
pub(crate) fn answers(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let (ready, why_not) = buildable(cx)?;
        let client = cx.conn().await?.plugin();
        let mut problems = Vec::new();
        let mut seen = Vec::new();
        for (p, b) in &ready {
            let req = request(deliver_request(p, b, example(p)), cx.call_timeout());
            match client.clone().deliver(req).await {
                Ok(r) => {
                    let r = r.into_inner();
                    let bad = inconsistencies(&r);
                    problems.extend(bad.into_iter().map(|b| format!("provider {:?}: {b}", p.id)));
                    seen.push(format!(
                        "{}: {:?}",
                        p.id,
                        Outcome::try_from(r.outcome).unwrap_or_default()
                    ));
                }
                Err(s) => problems.push(format!(
                    "provider {:?}: Deliver failed: {}",
                    p.id,
                    status_text(&s)
                )),
            }
        }
        verdict(problems, seen.join(", "), &why_not)
    })
}

/// A config that violates `schema`, and the JSON path a diagnostic should name.
fn make_invalid(schema: &Value, valid: &Value) -> Option<(Value, String)> {
    let props = schema.get("properties").and_then(Value::as_object);
    let typed = props
        .into_iter()
        .flatten()
        .find(|(_, s)| s.get("type").is_some());
    let Some((name, prop)) = typed else {
        return Some((json!("not-an-object"), String::new()));
    };
    let wrong = match prop.get("type") {
        Some(Value::String(t)) if t == "string" => json!(12345),
        Some(Value::Array(ts)) if ts.iter().any(|t| t == "string") => json!({"not": "a string"}),
        _ => json!("conformance-wrong-type"),
    };
    let mut config = valid.clone();
    config.as_object_mut()?.insert(name.clone(), wrong);
    Some((
        config,
        format!("/{}", name.replace('~', "~0").replace('/', "~1")),
    ))
}

/// `deliver/invalid-config`.
pub(crate) fn invalid_config(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let (ready, why_not) = buildable(cx)?;
        let client = cx.conn().await?.plugin();
        let mut problems = Vec::new();
        for (p, b) in &ready {
            let schema = p
                .config_schema
                .as_ref()
                .map_or("", |s| s.json_schema.as_str());
            let schema: Value = serde_json::from_str(schema).unwrap_or(Value::Null);
            let Some((bad, path)) = make_invalid(&schema, &b.config) else {
                continue;
            };
            let mut req = deliver_request(p, b, example(p));
            req.config_json = bad.to_string();
            match client.clone().deliver(request(req, cx.call_timeout())).await {
                Ok(r) => problems.extend(
                    in_band_problems(&r.into_inner(), &path).into_iter().map(|m| format!("provider {:?}: {m}", p.id)),
                ),
                Err(s) => problems.push(format!(
                    "provider {:?}: config {bad} was answered with {} instead of in-band diagnostics \
                     (status OK, diagnostics with JSON paths, outcome PERMANENT)",
                    p.id,
                    status_text(&s)
                )),
            }
        }
        verdict(problems, "diagnostics with JSON paths".to_owned(), &why_not)
    })
}

fn in_band_problems(r: &DeliverResponse, path: &str) -> Vec<String> {
    if r.diagnostics.is_empty() {
        return vec![format!(
            "an invalid config (wrong type at {path:?}) got no diagnostics"
        )];
    }
    let mut out = inconsistencies(r);
    for d in &r.diagnostics {
        if !(d.json_path.is_empty() || d.json_path.starts_with('/')) {
            out.push(format!(
                "diagnostic path {:?} is not a JSON Pointer (RFC 6901)",
                d.json_path
            ));
        }
    }
    let names_it = r
        .diagnostics
        .iter()
        .any(|d| d.json_path == path || d.json_path.starts_with(&format!("{path}/")));
    if !path.is_empty() && !names_it {
        let paths: Vec<&str> = r.diagnostics.iter().map(|d| d.json_path.as_str()).collect();
        out.push(format!(
            "no diagnostic points at {path:?} (paths given: {paths:?})"
        ));
    }
    out
}

/// `deliver/unknown-provider`.
pub(crate) fn unknown_provider(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let client = cx.conn().await?.plugin();
        let p = Provider {
            id: "conformance-no-such-provider".to_owned(),
            ..Provider::default()
        };
        let built = Built {
            config: json!({}),
            connection: None,
        };
        let req = request(deliver_request(&p, &built, example(&p)), cx.call_timeout());
        match client.clone().deliver(req).await {
            Err(s) if s.code() == Code::NotFound => Ok("NOT_FOUND".to_owned()),
            Err(s) => Err(fail(format!(
                "expected NOT_FOUND for an unknown provider id, got {}",
                status_text(&s)
            ))),
            Ok(_) => Err(fail(
                "expected NOT_FOUND for an unknown provider id, got an OK answer",
            )),
        }
    })
}

/// `deliver/concurrent-32`.
pub(crate) fn concurrent(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        const CALLS: usize = 32;
        let (ready, why_not) = buildable(cx)?;
        let client = cx.conn().await?.plugin();
        let mut problems = Vec::new();
        for (p, b) in &ready {
            let mut calls = JoinSet::new();
            for _ in 0..CALLS {
                let req = request(deliver_request(p, b, example(p)), cx.call_timeout());
                let mut c = client.clone();
                calls.spawn(async move { c.deliver(req).await });
            }
            let mut errors = Vec::new();
            while let Some(done) = calls.join_next().await {
                match done {
                    Ok(Ok(_)) => {}
                    Ok(Err(s)) => errors.push(status_text(&s)),
                    Err(e) => errors.push(e.to_string()),
                }
            }
            if !errors.is_empty() {
                problems.push(format!(
                    "provider {:?}: {} of {CALLS} concurrent calls failed, e.g. {}",
                    p.id,
                    errors.len(),
                    errors[0]
                ));
            }
        }
        verdict(
            problems,
            format!("{CALLS} calls answered per provider"),
            &why_not,
        )
    })
}

/// `deliver/cancel`.
pub(crate) fn cancel(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(async move {
        let (ready, _) = buildable(cx)?;
        let sink = cx.sink_url();
        let with_url: Vec<_> = ready
            .into_iter()
            .filter(|(_, b)| b.config_json().contains(&sink) || b.connection_json().contains(&sink))
            .collect();
        if with_url.is_empty() {
            return Err(skip(
                "no provider config has a URL field the harness can point at a slow endpoint",
            ));
        }
        let mut notes = Vec::new();
        for (p, b) in &with_url {
            notes.push(
                cancel_one(cx, p, b)
                    .await
                    .map_err(|m| fail(format!("provider {:?}: {m}", p.id)))?,
            );
        }
        Ok(notes.join("; "))
    })
}

async fn cancel_one(cx: &mut Ctx, p: &Provider, b: &Built) -> Result<String, String> {
    let hole = BlackHole::start()
        .await
        .map_err(|e| format!("cannot bind a local port: {e}"))?;
    let client = cx
        .conn()
        .await
        .map_err(|_| "the plugin is not running".to_owned())?
        .plugin();
    let mut slow = deliver_request(p, b, example(p));
    slow.config_json = slow.config_json.replace(&cx.sink_url(), hole.url());
    slow.connection_json = slow.connection_json.replace(&cx.sink_url(), hole.url());
    let mut c = client.clone();
    let mut call =
        tokio::spawn(async move { c.deliver(request(slow, Duration::from_secs(60))).await });
    let note = tokio::select! {
        connected = hole.wait_connection(cx.call_timeout()) => if connected {
            "cancelled while the provider waited on the endpoint"
        } else {
            "cancelled before the provider contacted the endpoint"
        },
        _ = &mut call => "the call finished before it could be cancelled",
    };
    if !call.is_finished() {
        // Dropping the call's future resets the HTTP/2 stream: the plugin sees a cancellation.
        call.abort();
        let _ = call.await;
    }
    let req = request(deliver_request(p, b, example(p)), cx.call_timeout());
    match client.clone().deliver(req).await {
        Ok(_) => Ok(note.to_owned()),
        Err(s) => Err(format!(
            "after a cancelled call ({note}), the next call failed: {}",
            status_text(&s)
        )),
    }
}

/// Delivers `payload` for every provider; any gRPC OK answer is clean.
async fn payload_check(cx: &mut Ctx, what: &str, payload: String) -> Verdict {
    let (ready, why_not) = buildable(cx)?;
    let client = cx.conn().await?.plugin();
    let mut problems = Vec::new();
    for (p, b) in &ready {
        let req = request(deliver_request(p, b, payload.clone()), cx.call_timeout());
        if let Err(s) = client.clone().deliver(req).await {
            problems.push(format!(
                "provider {:?}: {what} payload answered with {} instead of a DeliverResponse",
                p.id,
                status_text(&s)
            ));
        }
    }
    verdict(problems, format!("{what} payload answered"), &why_not)
}

/// `deliver/payload-empty`.
pub(crate) fn payload_empty(cx: &mut Ctx) -> CheckFuture<'_> {
    Box::pin(payload_check(cx, "an empty", "{}".to_owned()))
}

/// `deliver/payload-nested-64`.
pub(crate) fn payload_nested(cx: &mut Ctx) -> CheckFuture<'_> {
    let payload = format!("{}{{}}{}", "{\"a\":".repeat(64), "}".repeat(64));
    Box::pin(payload_check(cx, "a 64-level nested", payload))
}

/// `deliver/payload-1mib`.
pub(crate) fn payload_large(cx: &mut Ctx) -> CheckFuture<'_> {
    let payload = json!({"id": "conformance-large", "data": "x".repeat(1024 * 1024)}).to_string();
    Box::pin(payload_check(cx, "a 1 MiB", payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_config_breaks_a_typed_property() {
        let schema = json!({"type": "object", "properties": {"url": {"type": "string"}}});
        let (bad, path) = make_invalid(&schema, &json!({"url": "http://x"})).expect("some");
        assert_eq!(bad, json!({"url": 12345}));
        assert_eq!(path, "/url");
    }
}
