//! Templates in config fields (`{{ payload.title }}`), rendered in a sandbox: minijinja without
//! a loader, includes, imports or macros (a template cannot reach a file or another template),
//! with bounded source size, output size, work ("fuel": loops and expressions) and nesting
//! depth ([`Limits`]). A [`Template`] is compiled once from one config field and remembers the
//! field's JSON Pointer, so every error names it; [`TemplateCache`] keeps compiled templates by
//! their text so a plugin does not recompile per delivery.
//!
//! Variables: see [`TemplateContext`]. Filters: see [`filters`]. A missing value renders empty
//! (`{{ payload.missing }}` and `{{ payload.missing.deeper }}` give nothing, as Checkstack's
//! templates expect); `| required` makes it an error. Objects and lists render as JSON.
//!
//! What the bounds do not cover: the size of intermediate values. A string repeated with `*`
//! (minijinja caps one repetition at 100 MB) or text captured by `{% set x %}…{% endset %}`
//! lives in memory before any of it reaches the bounded output; fuel limits how many such
//! values a render makes, not how large they are.
//!
//! Errors ([`TemplateError`]): a template that does not compile, or is too long, is a config
//! problem ([`TemplateError::diagnostic`] at the field's path); a failure while rendering
//! (a `required` value missing, out of fuel, output too large) is a permanent delivery outcome
//! whose text names the field (`From<TemplateError> for DeliveryResult`).
//!
//! Schemas: a template field uses one of the `*_template_schema` helpers, so its schema
//! carries `x-editor-types` from the host's vocabulary: `json` for a JSON body, `markdown` for
//! a message text, `raw` for a line of plain text.
//!
//! ```
//! use switchyard_plugin_sdk::template::{TemplateCache, TemplateContext};
//! use switchyard_plugin_sdk::{Event, Subscription};
//!
//! let cache = TemplateCache::default();
//! let event = Event {
//!     event_type: "incident.incident.created".into(),
//!     payload: serde_json::json!({"title": "Disk \"full\""}),
//!     timestamp: chrono::DateTime::UNIX_EPOCH,
//!     delivery_id: "del-1".into(),
//!     attempt: 1,
//!     event_id: "evt-1".into(),
//! };
//! let subscription = Subscription { id: "sub-1".into(), name: "Ops".into() };
//! let template = cache.get("/bodyTemplate", r#"{"text":"{{ payload.title | json_escape }}"}"#)?;
//! let body = template.render(&TemplateContext::new(&event, &subscription))?;
//! assert_eq!(body, r#"{"text":"Disk \"full\""}"#);
//! # Ok::<(), switchyard_plugin_sdk::template::TemplateError>(())
//! ```

mod cache;
pub mod context;
pub mod filters;
mod line;
mod schema;

use std::io;
use std::sync::Arc;

use minijinja::value::Value;
use minijinja::{Environment, ErrorKind, Output, State, UndefinedBehavior};

pub use cache::TemplateCache;
pub use context::TemplateContext;
pub use schema::{
    json_template_schema, markdown_template_schema, template_schema, text_template_schema,
};

use crate::result::{DeliveryResult, Diagnostic};

/// The bounds every render stays within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest template source, in bytes.
    pub max_source_bytes: usize,
    /// The longest rendered output, in bytes.
    pub max_output_bytes: usize,
    /// Engine instructions per render (each loop iteration, lookup, filter call costs some).
    pub fuel: u64,
    /// The deepest nesting of blocks, loops and recursive loop calls.
    pub max_depth: usize,
}

impl Default for Limits {
    /// 64 KiB of source, 512 KiB of output (what webhook senders accept as a body), 100,000
    /// instructions (a loop over a few thousand payload items), 32 levels.
    fn default() -> Self {
        Self {
            max_source_bytes: 64 * 1024,
            max_output_bytes: 512 * 1024,
            fuel: 100_000,
            max_depth: 32,
        }
    }
}

/// Why a template cannot be used. Messages never quote the context's values except what the
/// engine names in its own error detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template does not compile (a config problem).
    #[error("{path}: the template does not compile: {message}")]
    Compile {
        /// The field's JSON Pointer, e.g. `/bodyTemplate`.
        path: String,
        /// What is wrong and where (line).
        message: String,
    },
    /// The template is longer than [`Limits::max_source_bytes`] (a config problem).
    #[error("{path}: the template is {size} bytes long, more than the {limit} allowed")]
    TooLong {
        /// The field's JSON Pointer.
        path: String,
        /// Its length.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Rendering failed (a permanent outcome for the delivery).
    #[error("the template in {path} failed to render: {message}")]
    Render {
        /// The field's JSON Pointer.
        path: String,
        /// What failed and where (line).
        message: String,
    },
}

impl TemplateError {
    /// The JSON Pointer of the template's field.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            Self::Compile { path, .. } | Self::TooLong { path, .. } | Self::Render { path, .. } => {
                path
            }
        }
    }

    /// True for a problem of the config itself (it will fail for every event).
    #[must_use]
    pub fn is_config_problem(&self) -> bool {
        !matches!(self, Self::Render { .. })
    }

    /// The error as an in-band diagnostic at the field's path.
    #[must_use]
    pub fn diagnostic(&self) -> Diagnostic {
        let message = match self {
            Self::Compile { message, .. } => format!("the template does not compile: {message}"),
            Self::TooLong { size, limit, .. } => {
                format!("the template is {size} bytes long, more than the {limit} allowed")
            }
            Self::Render { message, .. } => format!("the template failed to render: {message}"),
        };
        Diagnostic::new(self.path(), message)
    }
}

impl From<TemplateError> for DeliveryResult {
    /// Permanent: the same template and event fail the same way on every attempt.
    fn from(error: TemplateError) -> Self {
        if error.is_config_problem() {
            DeliveryResult::permanent(format!("invalid config: {error}"))
        } else {
            DeliveryResult::permanent(error.to_string())
        }
    }
}

/// A template compiled from one config field.
#[derive(Clone)]
pub struct Template {
    path: Arc<str>,
    compiled: Arc<Compiled>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// One environment per template: it holds the compiled source and the limits, and nothing
/// else can be loaded into it.
struct Compiled {
    env: Environment<'static>,
    max_output_bytes: usize,
}

/// The name of the one template in a [`Compiled`] environment.
const NAME: &str = "template";

impl Template {
    /// Compiles `source`, the value of the config field at `path` (a JSON Pointer).
    ///
    /// # Errors
    /// [`TemplateError::Compile`] or [`TemplateError::TooLong`].
    pub fn compile(path: &str, source: &str, limits: &Limits) -> Result<Self, TemplateError> {
        Ok(Self {
            path: path.into(),
            compiled: Arc::new(compile(path, source, limits)?),
        })
    }

    /// The JSON Pointer of the field the template came from.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Renders with `context`.
    ///
    /// # Errors
    /// [`TemplateError::Render`] when a strict filter fails, the fuel runs out, the nesting is
    /// too deep or the output exceeds [`Limits::max_output_bytes`].
    pub fn render(&self, context: &TemplateContext<'_>) -> Result<String, TemplateError> {
        self.render_serialized(context)
    }

    /// Renders with any serializable context (tests, providers with extra variables).
    ///
    /// # Errors
    /// As [`Template::render`].
    pub fn render_serialized(
        &self,
        context: &impl serde::Serialize,
    ) -> Result<String, TemplateError> {
        let limit = self.compiled.max_output_bytes;
        let mut out = BoundedWriter::new(limit);
        let rendered = self
            .compiled
            .env
            .get_template(NAME)
            .and_then(|template| template.render_captured_to(context, &mut out).map(|_| ()));
        match rendered {
            Ok(()) => String::from_utf8(out.buffer)
                .map_err(|_| self.render_error("the output is not UTF-8")),
            Err(_) if out.overflowed => {
                Err(self.render_error(&format!("the output is longer than {limit} bytes")))
            }
            Err(err) => Err(self.render_error(&describe(&err))),
        }
    }

    fn render_error(&self, message: &str) -> TemplateError {
        TemplateError::Render {
            path: self.path.to_string(),
            message: message.to_owned(),
        }
    }
}

fn compile(path: &str, source: &str, limits: &Limits) -> Result<Compiled, TemplateError> {
    if source.len() > limits.max_source_bytes {
        return Err(TemplateError::TooLong {
            path: path.to_owned(),
            size: source.len(),
            limit: limits.max_source_bytes,
        });
    }
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_fuel(Some(limits.fuel));
    env.set_recursion_limit(limits.max_depth);
    env.set_formatter(format_value);
    filters::register(&mut env);
    env.add_template_owned(NAME, source.to_owned())
        .map_err(|err| TemplateError::Compile {
            path: path.to_owned(),
            message: describe(&err),
        })?;
    Ok(Compiled {
        env,
        max_output_bytes: limits.max_output_bytes,
    })
}

/// Prints objects and lists as JSON, everything else as its text (never HTML-escaped: the
/// output is JSON, Markdown or plain text, and escaping is the template's choice of filter).
fn format_value(
    out: &mut Output<'_>,
    _: &State<'_, '_>,
    value: &Value,
) -> Result<(), minijinja::Error> {
    out.write_str(&filters::text_of(value))
        .map_err(|_| minijinja::Error::new(ErrorKind::WriteFailure, "output refused"))
}

/// `undefined value at line 3: …` without the engine's internal template name.
fn describe(err: &minijinja::Error) -> String {
    let what = match err.kind() {
        ErrorKind::OutOfFuel => "the template does too much work (out of fuel)".to_owned(),
        kind => match err.detail() {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    match err.line() {
        Some(line) => format!("{what} (line {line})"),
        None => what,
    }
}

/// Collects output up to a limit, then refuses (which aborts the render).
struct BoundedWriter {
    buffer: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl BoundedWriter {
    fn new(limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            limit,
            overflowed: false,
        }
    }
}

impl io::Write for BoundedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + bytes.len() > self.limit {
            self.overflowed = true;
            return Err(io::Error::other("template output limit reached"));
        }
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
