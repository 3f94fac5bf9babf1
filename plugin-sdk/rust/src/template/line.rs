//! One line of text a provider sends (an alert summary, a message title): the user's template
//! when the config has one, else the event's [`headline`](crate::lifecycle::headline); trimmed,
//! never empty (the event type stands in), and cut to the vendor's limit in characters.

use super::{TemplateCache, TemplateContext, TemplateError};
use crate::DeliveryContext;
use crate::lifecycle::{cut_chars, headline};

impl TemplateCache {
    /// Renders the one-line field at config path `path` (e.g. `/summaryTemplate`) from
    /// `source`, or the event's headline when `source` is `None`, cut to `limit` characters.
    ///
    /// # Errors
    /// When the template does not compile or fails to render (its error names `path`; turn it
    /// into a permanent outcome with `DeliveryResult::from`, or a save-time problem with
    /// [`TemplateError::diagnostic`]).
    pub fn line<C, K>(
        &self,
        path: &str,
        source: Option<&str>,
        ctx: &DeliveryContext<C, K>,
        limit: usize,
    ) -> Result<String, TemplateError> {
        let text = match source {
            Some(source) => self
                .get(path, source)
                .and_then(|t| t.render(&TemplateContext::of(ctx)))?,
            None => headline(&ctx.event.event_type, &ctx.event.payload),
        };
        let text = text.trim();
        let text = if text.is_empty() {
            ctx.event.event_type.as_str()
        } else {
            text
        };
        Ok(cut_chars(text, limit))
    }
}
