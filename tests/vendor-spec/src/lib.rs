//! Checks the HTTP requests a plugin sends against the vendor's official API specification
//! (OpenAPI 3.0/3.1 or Swagger 2.0), so a provider's tests prove more than "the local server
//! received something": the method and path name a real operation, the required query and
//! header parameters are there, unknown query parameters are not, the credentials the operation
//! asks for are present, and the body (JSON or form) validates against the operation's schema.
//!
//! The specs are the vendors' own files, copied into `tests/vendor-specs/` (see its
//! `SOURCES.md` for where each came from). Use it in a plugin's tests:
//!
//! ```no_run
//! # let recorded: switchyard_plugin_sdk::testkit::RecordedRequest = todo!();
//! use switchyard_vendor_spec::Spec;
//! let spec = Spec::vendor("slack");
//! spec.assert_conforms(&recorded); // panics, listing every violation
//! ```
//!
//! The request path is the local server's path. When it starts with the spec's base path (the
//! Swagger `basePath` or the path of the first OpenAPI server, e.g. `/api` for Slack, `/v1.0`
//! for Graph, `/v2` for PagerDuty), that prefix is removed before matching, so point the
//! plugin's base URL at `http://127.0.0.1:PORT` plus the vendor's base path.
//!
//! Deliberate leniencies, each for a documented reason: Slack's spec models the token as a
//! required header literally named `token`; `Authorization: Bearer …` satisfies it, as it does
//! on the real API. For a Swagger 2.0 operation taking `formData` parameters, a JSON body is
//! checked field by field against them (Slack accepts JSON bodies for the methods whose
//! `consumes` lists `application/json`), where a `string` parameter documented as a JSON-encoded
//! array may be the array itself. Microsoft Graph's generated spec declares its base types
//! (`microsoft.graph.entity`) with `additionalProperties: {type: object}`, which under `allOf`
//! would refuse every string or array property of a derived type (`chatMessage.summary`,
//! `attachments`); those base types are read as open (the derived type still refuses unknown
//! non-object fields). Response bodies are not checked.

mod body;
mod document;
mod params;
mod route;
mod schema;
mod security;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use switchyard_plugin_sdk::testkit::RecordedRequest;

pub use document::Dialect;

/// A loaded specification and the validators compiled from it so far.
#[derive(Debug)]
pub struct Spec {
    name: String,
    doc: document::Document,
    routes: route::Routes,
    validators: schema::Cache,
}

/// One HTTP request, borrowed from wherever it was recorded.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The method, e.g. `POST` (any case).
    pub method: &'a str,
    /// The path as the server saw it, without the query.
    pub path: &'a str,
    /// The query string without `?`.
    pub query: Option<&'a str>,
    /// The headers (names in any case).
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

impl<'a> From<&'a RecordedRequest> for Request<'a> {
    fn from(r: &'a RecordedRequest) -> Self {
        Request {
            method: &r.method,
            path: &r.path,
            query: r.query.as_deref(),
            headers: &r.headers,
            body: &r.body,
        }
    }
}

impl Request<'_> {
    /// The first value of header `name`, compared case-insensitively.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The vendor specs bundled in `tests/vendor-specs/`, by short name.
const VENDORS: &[(&str, &str, Option<&str>)] = &[
    ("slack", "slack/slack_web_openapi_v2.json", None),
    ("discord", "discord/openapi.json", None),
    ("msgraph", "msgraph/Teams.yml", None),
    // The Webex spec declares no `servers`; its base is https://webexapis.com/v1.
    ("webex", "webex/webex-messaging.json", Some("/v1")),
    ("jira", "jira/jira-platform-v3.json", None),
    ("pagerduty", "pagerduty/events-v2/openapiv3.json", None),
    ("opsgenie", "opsgenie/swagger.json", None),
];

/// The directory holding the bundled specs.
#[must_use]
pub fn specs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../vendor-specs")
}

impl Spec {
    /// The bundled spec of `vendor` (`slack`, `discord`, `msgraph`, `webex`, `jira`,
    /// `pagerduty`, `opsgenie`), loaded once per process.
    ///
    /// # Panics
    /// On an unknown vendor name or a spec that cannot be read (a broken checkout).
    #[must_use]
    pub fn vendor(vendor: &str) -> &'static Spec {
        static LOADED: OnceLock<Mutex<HashMap<String, &'static Spec>>> = OnceLock::new();
        let mut loaded = LOADED
            .get_or_init(Mutex::default)
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(spec) = loaded.get(vendor) {
            return spec;
        }
        let Some((_, file, base)) = VENDORS.iter().find(|(name, _, _)| *name == vendor) else {
            let names: Vec<&str> = VENDORS.iter().map(|(n, _, _)| *n).collect();
            panic!("unknown vendor spec {vendor:?}; bundled: {names:?}");
        };
        let spec = Spec::load(&specs_dir().join(file), *base)
            .unwrap_or_else(|err| panic!("vendor spec {vendor}: {err}"));
        let spec: &'static Spec = Box::leak(Box::new(spec));
        loaded.insert(vendor.to_owned(), spec);
        spec
    }

    /// Loads a spec file (`.json`, `.yml` or `.yaml`). `base_path` overrides the base path the
    /// spec declares (for specs that declare none).
    ///
    /// # Errors
    /// When the file cannot be read or is not an OpenAPI 3 / Swagger 2 document.
    pub fn load(path: &Path, base_path: Option<&str>) -> Result<Spec, String> {
        let doc = document::Document::load(path, base_path)?;
        let routes = route::Routes::index(&doc)?;
        Ok(Spec {
            name: path.display().to_string(),
            doc,
            routes,
            validators: schema::Cache::default(),
        })
    }

    /// Checks a recorded request: `Ok(operationId)` when it conforms, otherwise every violation.
    ///
    /// # Errors
    /// The violations, each a sentence naming the parameter or the body's JSON Pointer.
    pub fn check(&self, request: &RecordedRequest) -> Result<String, Vec<String>> {
        self.check_request(&Request::from(request))
    }

    /// Like [`Spec::check`], for a request recorded by something other than the SDK's sink.
    ///
    /// # Errors
    /// The violations.
    pub fn check_request(&self, request: &Request<'_>) -> Result<String, Vec<String>> {
        let path = self.doc.strip_base(request.path);
        let found = self.routes.find(request.method, path)?;
        let op = &found.operation;
        let mut violations = params::check(self, op, &found.path_values, request);
        violations.extend(security::check(&self.doc, op, request));
        violations.extend(body::check(self, op, request));
        if violations.is_empty() {
            Ok(op.id.clone())
        } else {
            Err(violations
                .into_iter()
                .map(|v| format!("{} {} ({}): {v}", request.method, request.path, op.id))
                .collect())
        }
    }

    /// Asserts that `request` conforms; returns its operationId.
    ///
    /// # Panics
    /// When it does not, listing every violation.
    pub fn assert_conforms(&self, request: &RecordedRequest) -> String {
        match self.check(request) {
            Ok(id) => id,
            Err(violations) => panic!(
                "request does not conform to {}:\n  - {}\nbody: {}",
                self.name,
                violations.join("\n  - "),
                String::from_utf8_lossy(&request.body)
            ),
        }
    }

    /// The dialect of the loaded document.
    #[must_use]
    pub fn dialect(&self) -> Dialect {
        self.doc.dialect
    }
}
