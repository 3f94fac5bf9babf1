//! `switchyard events publish`, `switchyard deliveries list|show|watch|redeliver` and
//! `switchyard stats`.

use serde_json::{Value, json};
use switchyard_proto::coordinator::v1::{
    Delivery, DeliveryAttempt, DeliveryStatus, GetDeliveryRequest, GetDeliveryStatsRequest,
    ListDeliveriesRequest, ListDeliveryAttemptsRequest, PublishEventRequest,
    RedeliverDeliveryRequest, WatchDeliveriesRequest,
};

use super::{Body, DeliveriesCmd, EventsCmd, api_err, json_arg};
use crate::cli::client::Clients;
use crate::cli::output::{Output, dash, ts, ts_json};

pub(super) async fn events(cmd: EventsCmd, mut c: Clients, out: Output) -> Result<(), String> {
    let EventsCmd::Publish {
        event_type,
        payload,
        idempotency_key,
        file,
        batch_size,
    } = cmd;
    if let Some(path) = file {
        return super::publish_file::publish(&path, batch_size, c, out).await;
    }
    // clap requires both without --file.
    let (Some(event_type), Some(payload)) = (event_type, payload) else {
        return Err("give --type and --payload, or --file".into());
    };
    let req = PublishEventRequest {
        event_type,
        payload_json: json_arg(&payload)?,
        idempotency_key: idempotency_key.unwrap_or_default(),
        timestamp: None,
    };
    let r = c.events.publish_event(req).await.body()?;
    let json = json!({
        "eventId": r.event_id, "duplicate": r.duplicate,
        "deliveries": r.deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
    });
    out.note(&format!(
        "event {}{}: {} deliveries",
        r.event_id,
        if r.duplicate {
            " (duplicate, nothing new stored)"
        } else {
            ""
        },
        r.deliveries.len()
    ));
    out.table(
        &HEADERS,
        &r.deliveries.iter().map(row).collect::<Vec<_>>(),
        &json,
    );
    Ok(())
}

pub(super) async fn run(cmd: DeliveriesCmd, mut c: Clients, out: Output) -> Result<(), String> {
    match cmd {
        DeliveriesCmd::List {
            subscription,
            event_type,
            status,
            limit,
            page_token,
        } => {
            let status = status
                .as_deref()
                .map(parse_status)
                .transpose()?
                .unwrap_or_default();
            let req = ListDeliveriesRequest {
                subscription_id: subscription.unwrap_or_default(),
                event_type: event_type.unwrap_or_default(),
                status: status.into(),
                page_size: limit,
                page_token,
                ..ListDeliveriesRequest::default()
            };
            let page = c.deliveries.list_deliveries(req).await.body()?;
            let json = json!({
                "deliveries": page.deliveries.iter().map(delivery_json).collect::<Vec<_>>(),
                "total": page.total, "nextPageToken": page.next_page_token,
            });
            out.table(
                &HEADERS,
                &page.deliveries.iter().map(row).collect::<Vec<_>>(),
                &json,
            );
            if !page.next_page_token.is_empty() {
                out.note(&format!(
                    "({} in all; next page: --page-token {})",
                    page.total, page.next_page_token
                ));
            }
        }
        DeliveriesCmd::Show { id } => show(id, c, out).await?,
        DeliveriesCmd::Watch { subscription } => watch(subscription, c, out).await?,
        DeliveriesCmd::Redeliver { id } => {
            let d = c
                .deliveries
                .redeliver_delivery(RedeliverDeliveryRequest { id })
                .await;
            let d = d.body()?.delivery.unwrap_or_default();
            out.line(
                &format!("delivery {} queued for a manual attempt", d.id),
                &delivery_json(&d),
            );
        }
    }
    Ok(())
}

async fn show(id: String, mut c: Clients, out: Output) -> Result<(), String> {
    let d = c
        .deliveries
        .get_delivery(GetDeliveryRequest { id: id.clone() })
        .await;
    let d = d.body()?.delivery.unwrap_or_default();
    let attempts = c
        .deliveries
        .list_delivery_attempts(ListDeliveryAttemptsRequest { delivery_id: id })
        .await;
    let attempts = attempts.body()?.attempts;
    let mut json = delivery_json(&d);
    json["attemptList"] = Value::Array(attempts.iter().map(attempt_json).collect());
    let fields = [
        ("id", d.id.clone()),
        ("event", format!("{} ({})", d.event_id, d.event_type)),
        ("subscription", d.subscription_id.clone()),
        ("provider", d.provider_id.clone()),
        ("status", shown_status(&d)),
        ("attempts", d.attempts.to_string()),
        ("next attempt", ts(d.next_attempt_at.as_ref())),
        ("last error", dash(&d.last_error)),
    ];
    out.record(&fields, &json);
    let rows: Vec<Vec<String>> = attempts
        .iter()
        .map(|a| {
            vec![
                a.number.to_string(),
                ts(a.started_at.as_ref()),
                duration_text(a.duration.as_ref()),
                format!("{:?}", a.outcome()),
                a.status_code.to_string(),
                dash(&a.external_id),
                dash(&a.error),
                dash(&a.response_excerpt),
            ]
        })
        .collect();
    if !rows.is_empty() {
        out.subtable(
            &[
                "#",
                "STARTED",
                "DURATION",
                "OUTCOME",
                "STATUS",
                "EXTERNAL ID",
                "ERROR",
                "RESPONSE",
            ],
            &rows,
        );
    }
    Ok(())
}

async fn watch(subscription: Option<String>, mut c: Clients, out: Output) -> Result<(), String> {
    let req = WatchDeliveriesRequest {
        subscription_id: subscription.unwrap_or_default(),
        event_id: String::new(),
    };
    let mut stream = c.deliveries.watch_deliveries(req).await.body()?;
    while let Some(msg) = stream.message().await.map_err(api_err)? {
        if msg.lagged > 0 {
            out.line(
                &format!("(missed {} changes)", msg.lagged),
                &json!({"lagged": msg.lagged}),
            );
        }
        if let Some(d) = msg.delivery {
            out.line(&row(&d).join("  "), &delivery_json(&d));
        }
    }
    Ok(())
}

pub(super) async fn stats(hours: u32, mut c: Clients, out: Output) -> Result<(), String> {
    let s = c
        .deliveries
        .get_delivery_stats(GetDeliveryStatsRequest { hours })
        .await;
    let s = s.body()?;
    let mut rows = Vec::new();
    for b in &s.by_status {
        rows.push(vec![
            "status".into(),
            status_name(b.status),
            b.count.to_string(),
        ]);
    }
    for b in &s.by_event_type {
        rows.push(vec![
            "event type".into(),
            b.key.clone(),
            b.count.to_string(),
        ]);
    }
    for b in &s.by_provider {
        rows.push(vec!["provider".into(), b.key.clone(), b.count.to_string()]);
    }
    let counts = |v: Vec<(String, u64)>| {
        v.into_iter()
            .map(|(k, n)| json!({"key": k, "count": n}))
            .collect::<Vec<_>>()
    };
    let json = json!({
        "since": ts_json(s.since.as_ref()), "total": s.total,
        "byStatus": counts(s.by_status.iter().map(|b| (status_name(b.status), b.count)).collect()),
        "byEventType": counts(s.by_event_type.iter().map(|b| (b.key.clone(), b.count)).collect()),
        "byProvider": counts(s.by_provider.iter().map(|b| (b.key.clone(), b.count)).collect()),
    });
    out.note(&format!(
        "{} deliveries since {}",
        s.total,
        ts(s.since.as_ref())
    ));
    out.table(&["BY", "KEY", "COUNT"], &rows, &json);
    Ok(())
}

const HEADERS: [&str; 6] = [
    "ID",
    "EVENT TYPE",
    "SUBSCRIPTION",
    "STATUS",
    "ATTEMPTS",
    "NEXT ATTEMPT",
];

fn row(d: &Delivery) -> Vec<String> {
    vec![
        d.id.clone(),
        d.event_type.clone(),
        d.subscription_id.clone(),
        shown_status(d),
        d.attempts.to_string(),
        ts(d.next_attempt_at.as_ref()),
    ]
}

/// The status for people: a test delivery says so (`succeeded (test)`).
pub(super) fn shown_status(d: &Delivery) -> String {
    let status = status_name(d.status);
    if d.test {
        format!("{status} (test)")
    } else {
        status
    }
}

/// The status as the CLI spells it (`in_flight`), from the enum's number.
fn status_name(status: i32) -> String {
    DeliveryStatus::try_from(status).map_or_else(
        |_| format!("unknown({status})"),
        |s| {
            s.as_str_name()
                .trim_start_matches("DELIVERY_STATUS_")
                .to_ascii_lowercase()
        },
    )
}

fn parse_status(text: &str) -> Result<DeliveryStatus, String> {
    DeliveryStatus::from_str_name(&format!("DELIVERY_STATUS_{}", text.to_ascii_uppercase()))
        .filter(|s| *s != DeliveryStatus::Unspecified)
        .ok_or_else(|| format!(
            "unknown status {text:?}: use pending, in_flight, succeeded, retrying, failed or cancelled"
        ))
}

pub(super) fn delivery_json(d: &Delivery) -> Value {
    json!({
        "id": d.id, "eventId": d.event_id, "eventType": d.event_type,
        "subscriptionId": d.subscription_id, "providerId": d.provider_id,
        "status": status_name(d.status), "attempts": d.attempts, "test": d.test,
        "nextAttemptAt": ts_json(d.next_attempt_at.as_ref()), "lastError": d.last_error,
        "createdAt": ts_json(d.created_at.as_ref()), "updatedAt": ts_json(d.updated_at.as_ref()),
        "correlationKey": d.correlation_key,
    })
}

/// A duration as `123 ms`; "-" when absent.
fn duration_text(d: Option<&prost_types::Duration>) -> String {
    d.map_or_else(
        || "-".to_owned(),
        |d| {
            let ms = d.seconds.saturating_mul(1000) + i64::from(d.nanos / 1_000_000);
            format!("{ms} ms")
        },
    )
}

fn attempt_json(a: &DeliveryAttempt) -> Value {
    let ms = |d: Option<&prost_types::Duration>| {
        d.map(|d| d.seconds.saturating_mul(1000) + i64::from(d.nanos / 1_000_000))
    };
    json!({
        "number": a.number, "startedAt": ts_json(a.started_at.as_ref()),
        "endedAt": ts_json(a.ended_at.as_ref()), "durationMs": ms(a.duration.as_ref()),
        "outcome": format!("{:?}", a.outcome()), "error": a.error, "externalId": a.external_id,
        "retryAfterMs": ms(a.retry_after.as_ref()), "trigger": format!("{:?}", a.trigger()),
        "statusCode": a.status_code, "responseExcerpt": a.response_excerpt,
    })
}
