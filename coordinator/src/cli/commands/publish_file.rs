//! `switchyard events publish --file FILE`: publishes a JSON Lines file (or stdin, `-`) through
//! `PublishEvents`, `--batch-size` lines per call, and reports every line as its batch returns:
//! the event it stored, the earlier event it repeats (same idempotency key), or why it was
//! refused. A line that is not a valid event is refused here, with its line number, and not
//! sent; the others still are. The command fails (after the whole file) when any line was
//! refused, so a script can tell.
//!
//! A line is one JSON object: `{"type": "incident.incident.created", "payload": {…},
//! "idempotencyKey": "…", "timestamp": "2026-12-03T10:00:00Z"}` (`eventType` or `event_type`
//! also name the type; only `type` and `payload` are required). Blank lines are skipped.

use std::io::BufRead;

use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    PublishEventRequest, PublishEventsRequest, publish_event_result::Outcome,
};

use super::Body;
use crate::cli::client::Clients;
use crate::cli::output::Output;

/// Most lines per call (the API's own limit per `PublishEvents`).
pub(super) const MAX_BATCH_SIZE: usize = 1000;

/// One line of the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    #[serde(rename = "type", alias = "eventType", alias = "event_type")]
    event_type: String,
    payload: serde_json::Map<String, Value>,
    #[serde(default, rename = "idempotencyKey", alias = "idempotency_key")]
    idempotency_key: Option<String>,
    #[serde(default)]
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

/// What happened to the lines so far.
#[derive(Debug, Default)]
struct Tally {
    published: usize,
    duplicates: usize,
    refused: usize,
}

/// Publishes `path` (`-`: stdin) in batches of `batch_size` lines.
pub(super) async fn publish(
    path: &str,
    batch_size: usize,
    mut c: Clients,
    out: Output,
) -> Result<(), String> {
    if !(1..=MAX_BATCH_SIZE).contains(&batch_size) {
        return Err(format!(
            "--batch-size {batch_size}: must be 1 to {MAX_BATCH_SIZE}"
        ));
    }
    let reader: Box<dyn BufRead> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut tally = Tally::default();
    // (line number, request) of the batch being filled.
    let mut batch: Vec<(usize, PublishEventRequest)> = Vec::with_capacity(batch_size);
    for (i, text) in reader.lines().enumerate() {
        let number = i + 1;
        let text = text.map_err(|e| format!("cannot read {path} at line {number}: {e}"))?;
        if text.trim().is_empty() {
            continue;
        }
        match request(&text) {
            Ok(req) => batch.push((number, req)),
            Err(e) => report_refused(&mut tally, out, number, "INVALID_ARGUMENT", &e),
        }
        if batch.len() == batch_size {
            send(&mut c, std::mem::take(&mut batch), &mut tally, out).await?;
        }
    }
    if !batch.is_empty() {
        send(&mut c, batch, &mut tally, out).await?;
    }
    out.note(&format!(
        "{} published, {} duplicates, {} refused",
        tally.published, tally.duplicates, tally.refused
    ));
    if tally.refused > 0 {
        return Err(format!(
            "{} of {} lines were refused (see above)",
            tally.refused,
            tally.published + tally.duplicates + tally.refused
        ));
    }
    Ok(())
}

/// The request of one line, or what is wrong with it.
fn request(text: &str) -> Result<PublishEventRequest, String> {
    let line: Line = serde_json::from_str(text).map_err(|e| {
        format!(
            "not an event line ({e}); expected {{\"type\": \"…\", \"payload\": {{…}}}} with \
             optional \"idempotencyKey\" and \"timestamp\" (RFC 3339)"
        )
    })?;
    Ok(PublishEventRequest {
        event_type: line.event_type,
        payload_json: Value::Object(line.payload).to_string(),
        idempotency_key: line.idempotency_key.unwrap_or_default(),
        timestamp: line.timestamp.map(|t| prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(0),
        }),
    })
}

/// Publishes one batch and reports each of its lines. A failed call (nothing stored, e.g.
/// RESOURCE_EXHAUSTED) ends the command: the lines before it were reported, the ones from this
/// batch on were not sent.
async fn send(
    c: &mut Clients,
    batch: Vec<(usize, PublishEventRequest)>,
    tally: &mut Tally,
    out: Output,
) -> Result<(), String> {
    let first = batch.first().map_or(0, |(n, _)| *n);
    let (numbers, events): (Vec<usize>, Vec<PublishEventRequest>) = batch.into_iter().unzip();
    let answer = c
        .events
        .publish_events(PublishEventsRequest { events })
        .await
        .body()
        .map_err(|e| {
            format!(
                "{e} (nothing from line {first} on was published; {} lines were before it)",
                tally.published + tally.duplicates + tally.refused
            )
        })?;
    for (number, result) in numbers.into_iter().zip(answer.results) {
        match result.outcome {
            Some(Outcome::Published(p)) => {
                let what = if p.duplicate {
                    tally.duplicates += 1;
                    "duplicate of event"
                } else {
                    tally.published += 1;
                    "event"
                };
                out.line(
                    &format!(
                        "line {number}: {what} {} ({} deliveries)",
                        p.event_id,
                        p.deliveries.len()
                    ),
                    &json!({
                        "line": number, "eventId": p.event_id, "duplicate": p.duplicate,
                        "deliveries": p.deliveries.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
                    }),
                );
            }
            Some(Outcome::Error(e)) => {
                report_refused(tally, out, number, &e.code_name, &e.message);
            }
            None => report_refused(tally, out, number, "UNKNOWN", "no result for this line"),
        }
    }
    Ok(())
}

fn report_refused(tally: &mut Tally, out: Output, number: usize, code: &str, message: &str) {
    tally.refused += 1;
    out.line(
        &format!("line {number}: refused: {code}: {message}"),
        &json!({"line": number, "error": {"code": code, "message": message}}),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_becomes_a_request_with_its_optional_fields() {
        let req = request(
            r#"{"eventType":"a.b.c","payload":{"x":1},"idempotencyKey":"k","timestamp":"2026-12-03T10:00:00.5Z"}"#,
        )
        .unwrap();
        assert_eq!(req.event_type, "a.b.c");
        assert_eq!(req.payload_json, r#"{"x":1}"#);
        assert_eq!(req.idempotency_key, "k");
        let t = req.timestamp.unwrap();
        assert_eq!((t.seconds, t.nanos), (1_796_292_000, 500_000_000));
        let bare = request(r#"{"type":"a.b.c","payload":{}}"#).unwrap();
        assert!(bare.idempotency_key.is_empty() && bare.timestamp.is_none());
    }

    #[test]
    fn a_bad_line_says_what_a_line_should_be() {
        for bad in [
            r#"{"type":"a.b.c"}"#,
            r#"{"type":"a.b.c","payload":[1]}"#,
            r#"{"type":"a.b.c","payload":{},"extra":1}"#,
            "not json",
        ] {
            let e = request(bad).unwrap_err();
            assert!(e.contains("expected {\"type\""), "{bad}: {e}");
        }
    }
}
