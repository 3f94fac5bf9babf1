//! The web console on the API's TCP listener: its built files (`console/dist`, committed and
//! compiled into the binary with `include_bytes!`, so `cargo build` needs neither Node nor the
//! network) answer `GET`/`HEAD` of `/` and `/assets/…`, and every other request goes on to the
//! API — gRPC, and gRPC-Web (`tonic-web`), which is what the console speaks. The console asks
//! for a token when the API requires one; the files themselves hold no data, so they are
//! served to anyone, like a login page. See `console/README.md` for how the bundle is built and
//! why it is committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll};

use sha2::Digest as _;
use tonic::body::Body;
use tonic::codegen::http::{self, HeaderValue, Method, StatusCode, header};
use tower::{Layer, Service};

/// One built file of the console.
#[derive(Debug)]
struct Asset {
    /// The URL path it is served at.
    path: &'static str,
    /// Its `content-type`.
    content_type: &'static str,
    /// The file.
    bytes: &'static [u8],
}

/// The console's files. Vite is configured (`console/vite.config.ts`) to write exactly these
/// names, without content hashes, so that this list needs no build script; `ETAG`s let browsers
/// revalidate them cheaply instead.
const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../../console/dist/index.html"),
    },
    Asset {
        path: "/assets/console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../../console/dist/assets/console.js"),
    },
    Asset {
        path: "/assets/console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../../console/dist/assets/console.css"),
    },
];

/// A strong validator per asset, in the order of [`ASSETS`].
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = sha2::Sha256::digest(a.bytes);
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("\"{hex}\"")
        })
        .collect()
});

/// Scripts and styles only from this origin (CodeMirror injects its styles, hence
/// `'unsafe-inline'` for styles alone), calls only to this origin, no plugins, no framing by
/// other sites' pages. `'unsafe-eval'` is there for Ajv, the form library's JSON Schema
/// validator, which compiles each provider's schema into a function; no inline script runs.
const CSP: &str = "default-src 'self'; script-src 'self' 'unsafe-eval'; \
                   style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; object-src 'none'; \
                   base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

/// The response to `method path` when it is a `GET` or `HEAD` (a console file, or 404); `None`
/// hands the request on to the API.
fn answer(
    method: &Method,
    path: &str,
    if_none_match: Option<&HeaderValue>,
) -> Option<http::Response<Body>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = if path == "/index.html" { "/" } else { path };
    // gRPC is always POST: any other GET is a browser asking for a page that is not there.
    let Some(index) = ASSETS.iter().position(|a| a.path == path) else {
        return Some(not_found());
    };
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = if_none_match.is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let (status, body) = if fresh {
        (StatusCode::NOT_MODIFIED, Body::empty())
    } else if method == Method::HEAD {
        (StatusCode::OK, Body::empty())
    } else {
        (
            StatusCode::OK,
            Body::new(axum::body::Body::from(asset.bytes)),
        )
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    Some(response)
}

/// A plain 404 for a `GET` of anything but the console's files.
fn not_found() -> http::Response<Body> {
    let mut response = http::Response::new(Body::new(axum::body::Body::from(
        "not found: the console is at /, the API speaks gRPC and gRPC-Web\n",
    )));
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Puts the console in front of the API routes.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleLayer;

impl<S> Layer<S> for ConsoleLayer {
    type Service = Console<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Console { inner }
    }
}

/// See the module doc.
#[derive(Debug, Clone)]
pub struct Console<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for Console<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let if_none_match = req.headers().get(header::IF_NONE_MATCH);
        match answer(req.method(), req.uri().path(), if_none_match) {
            Some(response) => Box::pin(async move { Ok(response) }),
            None => Box::pin(self.inner.call(req)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_and_its_assets_are_served_with_their_types() {
        let index = answer(&Method::GET, "/", None).expect("the index");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert!(
            index
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        let js = answer(&Method::GET, "/assets/console.js", None).expect("the script");
        assert_eq!(
            js.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        let html = std::str::from_utf8(ASSETS[0].bytes).expect("UTF-8");
        assert!(html.contains("/assets/console.js"), "{html}");
        assert!(html.contains("/assets/console.css"), "{html}");
    }

    #[test]
    fn api_calls_go_on_to_the_api_and_unknown_pages_are_not_found() {
        let rpc = "/switchyard.coordinator.v1.ProviderService/ListProviders";
        assert!(answer(&Method::POST, rpc, None).is_none());
        assert!(answer(&Method::POST, "/", None).is_none());
        for path in ["/assets/../Cargo.toml", "/nothing-here", "/favicon.ico"] {
            let response = answer(&Method::GET, path, None).expect("a 404");
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
    }

    #[test]
    fn a_matching_etag_gets_not_modified() {
        let first = answer(&Method::GET, "/", None).expect("the index");
        let etag = first.headers()[header::ETAG].clone();
        let again = answer(&Method::GET, "/", Some(&etag)).expect("the index");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let other = HeaderValue::from_static("\"stale\"");
        let changed = answer(&Method::GET, "/", Some(&other)).expect("the index");
        assert_eq!(changed.status(), StatusCode::OK);
    }
}
