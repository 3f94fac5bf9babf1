//! `PreviewDelivery`: the request a provider would send for one event, rendered by the plugin
//! and sent nowhere. The target is a saved subscription (its stored config, decrypted in
//! memory) or an unsaved config checked as on create. The plugin masks secrets itself; the
//! coordinator then scrubs every form of every secret it handed the plugin once more
//! (`switchyard-scrub`, as for every plugin answer), so a plugin that forgets cannot leak one
//! through here.

use serde_json::Value;
use switchyard_proto::coordinator::v1 as api;
use switchyard_proto::plugin::v1 as plugin;

use super::sample::{Sample, sample};
use crate::api::ApiContext;
use crate::api::convert::parse_json_object;
use crate::api::providers::{require, resolve};
use crate::api::status::{ApiError, ApiResult};
use crate::app::config_pipeline::{self as configs, Kind};
use crate::app::plugin_check::refusal;
use crate::host::ProviderEntry;
use crate::model::Subscription;
use switchyard_scrub::Scrubber;

/// What a delivery would be made with, in plaintext (memory only).
#[derive(Debug)]
pub(super) struct Target {
    pub(super) entry: ProviderEntry,
    /// The saved subscription, if one is previewed.
    pub(super) sub: Option<Subscription>,
    pub(super) config: Value,
    pub(super) connection_json: String,
    /// Scrubs every form of the secrets of the config and the connection config.
    pub(super) secrets: Scrubber,
    /// The request field the config came from, for errors.
    pub(super) field: &'static str,
}

/// Serves `PreviewDelivery`.
pub(super) async fn preview(
    ctx: &ApiContext,
    req: api::PreviewDeliveryRequest,
) -> ApiResult<api::PreviewDeliveryResponse> {
    let target = if req.subscription_id.is_empty() {
        unsaved(ctx, &req)?
    } else {
        saved(ctx, &req.subscription_id)?
    };
    let sample = sample(
        ctx,
        &target.entry,
        target.sub.as_ref(),
        &req.event_type,
        &req.payload_json,
    )?;
    let call = plugin::PreviewRequest {
        delivery: Some(deliver_request(&target, &sample)),
    };
    let answer = target
        .entry
        .plugin
        .preview(call)
        .await
        .map_err(|e| e.scrubbed(&target.secrets))?;
    if !answer.diagnostics.is_empty() {
        let diagnostics = answer
            .diagnostics
            .into_iter()
            .map(|d| plugin::Diagnostic {
                message: target.secrets.scrub(&d.message).into_owned(),
                ..d
            })
            .collect();
        return Err(refusal(target.field, diagnostics).into());
    }
    let rendered = answer.request.ok_or_else(|| {
        ApiError::Internal(format!(
            "provider {} answered a preview with neither a request nor diagnostics",
            target.entry.qualified_id
        ))
    })?;
    Ok(api::PreviewDeliveryResponse {
        request: Some(masked(rendered, &target.secrets)),
        event_type: sample.event_type.id,
        payload_json: sample.payload.to_string(),
        example_payload: sample.example,
    })
}

/// The stored subscription `id`, decrypted.
fn saved(ctx: &ApiContext, id: &str) -> ApiResult<Target> {
    let sub = super::get(ctx, id)?;
    let entry = resolve(ctx, &sub.provider_id)?;
    require(&entry, |c| c.preview, "previews")?;
    let schema = configs::schema(&entry, Kind::Provider)?;
    if sub.schema_version != schema.version {
        return Err(ApiError::FailedPrecondition(format!(
            "subscription {} stores its config at version {}, but provider {} is at version {}; \
             update the subscription first",
            sub.id, sub.schema_version, entry.qualified_id, schema.version
        )));
    }
    let config = configs::decrypt(&ctx.app(), &schema, &sub.config)?;
    let field = "subscription config";
    target(ctx, entry, config, "", field).map(|t| Target {
        sub: Some(sub),
        ..t
    })
}

/// An unsaved config, checked as CreateSubscription checks it.
fn unsaved(ctx: &ApiContext, req: &api::PreviewDeliveryRequest) -> ApiResult<Target> {
    let entry = resolve(ctx, &req.provider_id)?;
    require(&entry, |c| c.preview, "previews")?;
    let schema = configs::schema(&entry, Kind::Provider)?;
    let mut config = parse_json_object("config_json", &req.config_json)?;
    configs::refuse_markers(&schema, "config_json", &config)?;
    configs::complete_and_validate(&schema, "config_json", &mut config)?;
    target(ctx, entry, config, &req.connection_id, "config_json")
}

fn target(
    ctx: &ApiContext,
    entry: ProviderEntry,
    config: Value,
    connection_id: &str,
    field: &'static str,
) -> ApiResult<Target> {
    let connection_json = configs::connection_json_for(&ctx.app(), &entry, &config, connection_id)?
        .unwrap_or_default();
    let secrets = configs::scrubber_of(&entry, Kind::Provider, &config, &connection_json);
    Ok(Target {
        entry,
        sub: None,
        config,
        connection_json,
        secrets,
        field,
    })
}

/// The Deliver request the engine would make for `sample` (a placeholder delivery id).
pub(super) fn deliver_request(target: &Target, sample: &Sample) -> plugin::DeliverRequest {
    let now = chrono::Utc::now();
    let (id, name) = target.sub.as_ref().map_or_else(
        || ("preview".to_owned(), "preview".to_owned()),
        |s| (s.id.to_string(), s.name.clone()),
    );
    plugin::DeliverRequest {
        provider_id: target.entry.local_id().to_owned(),
        event: Some(plugin::Event {
            event_type: sample.event_type.id.clone(),
            payload_json: sample.payload.to_string(),
            timestamp: Some(crate::api::convert::timestamp(now)),
            delivery_id: "preview".to_owned(),
            attempt: 1,
            event_id: "preview".to_owned(),
        }),
        subscription: Some(plugin::Subscription { id, name }),
        config_json: target.config.to_string(),
        connection_json: target.connection_json.clone(),
        // A preview stands outside any correlation order.
        correlation: None,
    }
}

/// `rendered` with every form of a secret replaced by the marker.
fn masked(rendered: plugin::RenderedRequest, secrets: &Scrubber) -> api::RenderedRequest {
    let mask = |text: String| secrets.scrub(&text).into_owned();
    api::RenderedRequest {
        method: mask(rendered.method),
        url: mask(rendered.url),
        headers: rendered
            .headers
            .into_iter()
            .map(|h| api::RenderedHeader {
                name: mask(h.name),
                value: mask(h.value),
            })
            .collect(),
        body: mask(rendered.body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_a_secret_is_masked() {
        let rendered = plugin::RenderedRequest {
            method: "POST".into(),
            url: "https://h/?k=s3cr\"et".into(),
            headers: vec![plugin::RenderedHeader {
                name: "authorization".into(),
                value: "Bearer s3cr\"et".into(),
            }],
            body: r#"{"echo":"s3cr\"et"}"#.into(),
        };
        let secrets = Scrubber::for_config(
            &serde_json::json!({"token": "s3cr\"et"}),
            &["/token".to_owned()],
        );
        let out = masked(rendered, &secrets);
        assert_eq!(out.url, "https://h/?k=[REDACTED]");
        assert_eq!(out.headers[0].value, "Bearer [REDACTED]");
        assert_eq!(out.body, r#"{"echo":"[REDACTED]"}"#);
    }
}
