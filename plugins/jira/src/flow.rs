//! One delivery's steps against Jira, by the event's lifecycle stage (the SDK's
//! [`Stage`]) and the issue an earlier delivery of the same correlation key left behind:
//!
//! - no issue known yet (the incident's first event, or one whose "created" failed) → create
//!   the issue; a retried attempt first searches for the issue an earlier attempt may have
//!   created (a timeout after Jira created it is the common case) by the delivery's label;
//! - updated / acknowledged, or a repeated "created" → a comment on the known issue; a retried
//!   attempt first looks for the comment an earlier attempt added (its property names the
//!   delivery), so neither a lost answer nor a failed transition after it doubles the comment;
//! - resolved → a comment, then the configured transition (by id or name; an unknown one is
//!   a permanent error naming the available ones). An issue already in a "done" status is not
//!   transitioned again (someone resolved it by hand, or a retry's earlier attempt did).
//!
//! The external id is the issue key, and the state kept for the later events is
//! `{"issueKey": …}`.

use serde_json::{Value, json};
use switchyard_plugin_sdk::lifecycle::Stage;
use switchyard_plugin_sdk::template::TemplateCache;
use switchyard_plugin_sdk::{Correlation, DeliveryResult};

use crate::api::{Failure, Jira, api_path};
use crate::issue::{self, Ctx};
use crate::meta;

/// How many of an issue's newest comments a retry looks through for its own.
const RECENT_COMMENTS: usize = 20;

/// The issue an earlier delivery of this correlation key created or used: from its state
/// (`{"issueKey": …}`), else its external id; the oldest delivered one first.
#[must_use]
pub fn known_issue(correlation: Option<&Correlation>) -> Option<String> {
    correlation?
        .earlier
        .iter()
        .rev()
        .filter(|e| e.delivered)
        .find_map(|e| {
            let from_state = e
                .state
                .as_deref()
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| v.get("issueKey")?.as_str().map(str::to_owned));
            from_state.or_else(|| e.external_id.clone())
        })
        .filter(|key| !key.is_empty())
}

/// Delivers `ctx` (see the module docs).
pub async fn deliver(jira: &Jira<'_>, ctx: &Ctx, templates: &TemplateCache) -> DeliveryResult {
    match run(jira, ctx, templates).await {
        Ok(key) => DeliveryResult::delivered(Some(key.clone()))
            .with_state(json!({ "issueKey": key }).to_string()),
        Err(failure) => failure,
    }
}

async fn run(
    jira: &Jira<'_>,
    ctx: &Ctx,
    templates: &TemplateCache,
) -> Result<String, DeliveryResult> {
    let stage = Stage::of(&ctx.event.event_type, &ctx.event.payload);
    let key = match known_issue(ctx.correlation.as_ref()) {
        Some(key) => {
            comment(jira, &key, ctx, templates).await?;
            key
        }
        None => create(jira, ctx, templates).await?,
    };
    if stage == Stage::Resolved
        && let Some(wanted) = &ctx.config.resolve_transition
    {
        transition(jira, &key, wanted).await?;
    }
    Ok(key)
}

/// Comments on `key`, unless an earlier attempt of this delivery already did (a retry after
/// a lost answer, or after the transition that followed the comment failed).
async fn comment(
    jira: &Jira<'_>,
    key: &str,
    ctx: &Ctx,
    templates: &TemplateCache,
) -> Result<(), DeliveryResult> {
    let body = issue::comment_body(ctx, templates)?;
    if ctx.event.attempt > 1 && earlier_attempt_commented(jira, key, &ctx.event.delivery_id).await?
    {
        tracing::info!(issue = %key, "an earlier attempt added the comment; not adding another");
        return Ok(());
    }
    jira.post(&api_path(&["issue", key, "comment"]), &body)
        .await?;
    Ok(())
}

/// Whether one of the newest comments on `key` carries this delivery's property.
async fn earlier_attempt_commented(
    jira: &Jira<'_>,
    key: &str,
    delivery_id: &str,
) -> Result<bool, Failure> {
    let query = [
        ("orderBy", "-created".to_owned()),
        ("maxResults", RECENT_COMMENTS.to_string()),
    ];
    let newest = jira
        .get(&api_path(&["issue", key, "comment"]), &query)
        .await?;
    let ids: Vec<i64> = newest
        .get("comments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("id")?.as_str()?.parse().ok())
        .collect();
    if ids.is_empty() {
        return Ok(false);
    }
    // Comment properties come only with the comments fetched by id.
    let expand = [("expand", "properties".to_owned())];
    let listed = jira
        .post_with(
            &api_path(&["comment", "list"]),
            &expand,
            &json!({ "ids": ids }),
        )
        .await?;
    Ok(listed
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .any(|c| issue::is_comment_of(c, delivery_id)))
}

/// Creates the issue of `ctx`, or finds the one an earlier attempt of this delivery created.
async fn create(
    jira: &Jira<'_>,
    ctx: &Ctx,
    templates: &TemplateCache,
) -> Result<String, DeliveryResult> {
    let config = &ctx.config;
    if ctx.event.attempt > 1
        && let Some(key) = earlier_attempt_issue(jira, ctx).await?
    {
        tracing::info!(issue = %key, "an earlier attempt created the issue; not creating another");
        return Ok(key);
    }
    let metas = if config.field_mappings.is_empty() {
        Vec::new()
    } else {
        meta::fields(jira, &config.project_key, &config.issue_type_id).await?
    };
    let body = issue::create_body(ctx, templates, &metas)?;
    let created = jira.post(&api_path(&["issue"]), &body).await?;
    match created.get("key").and_then(Value::as_str) {
        Some(key) if !key.is_empty() => Ok(key.to_owned()),
        _ => Err(DeliveryResult::permanent(
            "Jira created the issue but answered without its key",
        )),
    }
}

/// The key of the issue carrying this delivery's label in the project, if there is one.
async fn earlier_attempt_issue(jira: &Jira<'_>, ctx: &Ctx) -> Result<Option<String>, Failure> {
    let label = issue::delivery_label(&ctx.event.delivery_id);
    let body = issue::search_body(&ctx.config.project_key, &label);
    let found = jira.post(&api_path(&["search", "jql"]), &body).await?;
    Ok(found
        .get("issues")
        .and_then(Value::as_array)
        .and_then(|issues| issues.first())
        .and_then(|i| i.get("key"))
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// Applies the transition named (or numbered) `wanted` to `key`.
async fn transition(jira: &Jira<'_>, key: &str, wanted: &str) -> Result<(), Failure> {
    let path = api_path(&["issue", key, "transitions"]);
    let listed = jira.get(&path, &[]).await?;
    let transitions: Vec<&Value> = listed
        .get("transitions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let name = |t: &Value| {
        t.get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let chosen = transitions.iter().find(|t| {
        t.get("id").and_then(Value::as_str) == Some(wanted) || name(t).eq_ignore_ascii_case(wanted)
    });
    if let Some(id) = chosen.and_then(|t| t.get("id")).and_then(Value::as_str) {
        jira.post(&path, &issue::transition_body(id)).await?;
        return Ok(());
    }
    if is_done(jira, key).await? {
        tracing::info!(issue = %key, "the issue is already done; no transition applied");
        return Ok(());
    }
    let available: Vec<String> = transitions
        .iter()
        .map(|t| {
            let id = t.get("id").and_then(Value::as_str).unwrap_or("?");
            format!("{} (id {id})", name(t))
        })
        .collect();
    Err(Failure::permanent(format!(
        "/resolveTransition: issue {key} has no transition {wanted:?}; available: {}",
        if available.is_empty() {
            "none".to_owned()
        } else {
            available.join(", ")
        }
    )))
}

/// Whether `key` is in a status of the "done" category.
async fn is_done(jira: &Jira<'_>, key: &str) -> Result<bool, Failure> {
    let found = jira
        .get(
            &api_path(&["issue", key]),
            &[("fields", "status".to_owned())],
        )
        .await?;
    Ok(found
        .pointer("/fields/status/statusCategory/key")
        .and_then(Value::as_str)
        == Some("done"))
}

#[cfg(test)]
mod tests {
    use switchyard_plugin_sdk::CorrelatedDelivery;

    use super::*;

    fn earlier(external_id: &str, state: Option<&str>, delivered: bool) -> CorrelatedDelivery {
        CorrelatedDelivery {
            event_type: "incident.incident.created".into(),
            external_id: Some(external_id.into()),
            state: state.map(str::to_owned),
            delivered,
            ended_at: chrono::DateTime::UNIX_EPOCH,
            delivery_id: "d".into(),
        }
    }

    #[test]
    fn the_known_issue_is_the_oldest_delivered_ones_state_or_external_id() {
        let correlation = |earlier: Vec<CorrelatedDelivery>| Correlation {
            key: "inc-1".into(),
            earlier,
        };
        // Most recent first: the failed newest one is passed over, the oldest delivered wins.
        let c = correlation(vec![
            earlier("", None, false),
            earlier("OPS-9", Some(r#"{"issueKey":"OPS-9"}"#), true),
            earlier("OPS-1", Some(r#"{"issueKey":"OPS-1"}"#), true),
        ]);
        assert_eq!(known_issue(Some(&c)).as_deref(), Some("OPS-1"));
        let by_id = correlation(vec![earlier("OPS-2", Some("not json"), true)]);
        assert_eq!(known_issue(Some(&by_id)).as_deref(), Some("OPS-2"));
        assert_eq!(
            known_issue(Some(&correlation(vec![earlier("OPS-3", None, false)]))),
            None
        );
        assert_eq!(known_issue(None), None);
    }
}
