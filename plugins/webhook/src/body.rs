//! What a delivery sends as its body: the config's `bodyTemplate` rendered (compiled once per
//! text through the provider's [`TemplateCache`]) or, without one, the default [`Body`], then
//! encoded in the configured content type. A rendered body must be JSON, so both content
//! types carry the same data; errors are diagnostics at `/bodyTemplate` when the template is
//! the cause.

use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext};
use switchyard_plugin_sdk::{DeliveryContext, Diagnostic, NoConnection};

use crate::config::{ContentType, WebhookConfig};
use crate::encode;
use crate::provider::Body;

/// The JSON Pointer of the body template.
pub const TEMPLATE_PATH: &str = "/bodyTemplate";

/// The body bytes of one delivery.
///
/// # Errors
/// A diagnostic naming the field at fault: the template (compile, render, not JSON, not an
/// object for `form`) or the whole config when the default body cannot be encoded.
pub fn encoded(
    ctx: &DeliveryContext<WebhookConfig, NoConnection>,
    templates: &TemplateCache,
) -> Result<Vec<u8>, Diagnostic> {
    let Some(source) = &ctx.config.body_template else {
        return default_body(ctx);
    };
    let rendered = templates
        .get(TEMPLATE_PATH, source)
        .and_then(|template| template.render(&TemplateContext::of(ctx)))
        .map_err(|error| error.diagnostic())?;
    let value: serde_json::Value = serde_json::from_str(&rendered).map_err(|error| {
        Diagnostic::new(
            TEMPLATE_PATH,
            format!("the rendered body is not valid JSON ({error}); fix the template"),
        )
    })?;
    match ctx.config.content_type {
        // The rendered text as it is: the receiver gets exactly what the template says.
        ContentType::Json => Ok(rendered.into_bytes()),
        ContentType::Form => encode::form(&value).map_err(|error| {
            Diagnostic::new(TEMPLATE_PATH, format!("contentType is form, but {error}"))
        }),
    }
}

fn default_body(ctx: &DeliveryContext<WebhookConfig, NoConnection>) -> Result<Vec<u8>, Diagnostic> {
    let cannot =
        |error: serde_json::Error| Diagnostic::new("", format!("cannot encode the body: {error}"));
    let body = Body::new(ctx);
    match ctx.config.content_type {
        ContentType::Json => serde_json::to_vec(&body).map_err(cannot),
        ContentType::Form => {
            let value = serde_json::to_value(&body).map_err(cannot)?;
            encode::form(&value).map_err(|error| {
                Diagnostic::new("/contentType", format!("contentType is form, but {error}"))
            })
        }
    }
}
