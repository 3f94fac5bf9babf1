//! Who may call what: THE table mapping every RPC of the platform API to the least role that may
//! call it, and [`Authorized`], the tower service in front of all routes that enforces it on
//! both listeners. It reads the gRPC method from the request path, so it sees every call, and a
//! method missing from the table needs `admin`: a new RPC is never open by accident (a unit test
//! walks the served descriptors and fails on any method not listed deliberately).
//!
//! No token configured: everything is open (the config allows that only on local listeners).
//! Otherwise a call without a known token gets UNAUTHENTICATED, a call outside its token's role
//! PERMISSION_DENIED (both built in `status`). gRPC health and reflection stay open: probes and
//! tools need them, and they reveal no data. Tokens are compared in constant time and never
//! logged.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http;

use super::status::{ApiError, refusal};
use crate::cfg::{Role, ScopedToken};

/// The package of the platform API's services.
const PLATFORM_PACKAGE: &str = "switchyard.coordinator.v1";

/// Services anyone may call, token or not.
pub(crate) const OPEN_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
];

/// Every platform RPC as (service, method, least role). `admin` may call everything, so an
/// `Admin` row means "admin only". Reads that make a plugin use stored credentials against the
/// vendor (TestConnection, GetConnectionOptions) are admin: they are configuration steps, and
/// a dashboard token should not spend the vendor's rate limit.
const TABLE: &[(&str, &str, Role)] = &[
    ("EventService", "PublishEvent", Role::Publish),
    ("EventService", "PublishEvents", Role::Publish),
    ("ProviderService", "ListProviders", Role::Read),
    ("ProviderService", "GetProvider", Role::Read),
    ("ProviderService", "ReloadPlugin", Role::Admin),
    ("EventTypeService", "ListEventTypes", Role::Read),
    ("EventTypeService", "GetEventType", Role::Read),
    ("EventTypeService", "RegisterEventType", Role::Admin),
    ("ConnectionService", "GetConnection", Role::Read),
    ("ConnectionService", "ListConnections", Role::Read),
    ("ConnectionService", "CreateConnection", Role::Admin),
    ("ConnectionService", "UpdateConnection", Role::Admin),
    ("ConnectionService", "DeleteConnection", Role::Admin),
    ("ConnectionService", "TestConnection", Role::Admin),
    ("ConnectionService", "GetConnectionOptions", Role::Admin),
    ("SubscriptionService", "GetSubscription", Role::Read),
    ("SubscriptionService", "ListSubscriptions", Role::Read),
    ("SubscriptionService", "CreateSubscription", Role::Admin),
    ("SubscriptionService", "UpdateSubscription", Role::Admin),
    ("SubscriptionService", "DeleteSubscription", Role::Admin),
    ("SubscriptionService", "EnableSubscription", Role::Admin),
    ("SubscriptionService", "DisableSubscription", Role::Admin),
    // Both hand a plugin the decrypted config; SendTestEvent makes a real delivery.
    ("SubscriptionService", "PreviewDelivery", Role::Admin),
    ("SubscriptionService", "SendTestEvent", Role::Admin),
    ("DeliveryService", "GetDelivery", Role::Read),
    ("DeliveryService", "ListDeliveries", Role::Read),
    ("DeliveryService", "ListDeliveryAttempts", Role::Read),
    ("DeliveryService", "WatchDeliveries", Role::Read),
    ("DeliveryService", "GetDeliveryStats", Role::Read),
    ("DeliveryService", "RedeliverDelivery", Role::Admin),
    ("DeliveryService", "BulkRedeliverDeliveries", Role::Admin),
    // Key ids and progress only, never a key.
    ("SecretKeyService", "GetSecretKeyStatus", Role::Read),
    ("SecretKeyService", "RotateSecretKey", Role::Admin),
];

/// What a call needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    /// Nothing: an open service.
    Nothing,
    /// A token with this role (or admin).
    Role(Role),
}

/// What the call to `path` (`/package.Service/Method`) needs; admin when unlisted.
fn needs(path: &str) -> Needs {
    let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
        return Needs::Role(Role::Admin);
    };
    if OPEN_SERVICES.contains(&service) {
        return Needs::Nothing;
    }
    let listed = service
        .strip_prefix(PLATFORM_PACKAGE)
        .and_then(|s| s.strip_prefix('.'))
        .and_then(|s| TABLE.iter().find(|(svc, m, _)| *svc == s && *m == method));
    Needs::Role(listed.map_or(Role::Admin, |(_, _, role)| *role))
}

/// Whether a token of role `have` may make a call that needs `need`.
fn grants(have: Role, need: Role) -> bool {
    have == Role::Admin || have == need
}

/// The accepted tokens; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Tokens(Arc<[ScopedToken]>);

impl Tokens {
    /// The tokens of the configuration.
    pub(crate) fn new(tokens: &[ScopedToken]) -> Self {
        Self(tokens.into())
    }

    /// Allows or refuses a call to `path` carrying the `authorization` header value `header`.
    fn authorize(&self, path: &str, header: Option<&http::HeaderValue>) -> Result<(), ApiError> {
        if self.0.is_empty() {
            return Ok(());
        }
        let Needs::Role(need) = needs(path) else {
            return Ok(());
        };
        let given = header
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(role) = given.and_then(|g| self.role_of(g)) else {
            tracing::debug!(
                method = path,
                "call refused: missing or unknown bearer token"
            );
            return Err(ApiError::Unauthenticated);
        };
        if grants(role, need) {
            return Ok(());
        }
        tracing::warn!(method = path, %role, "call refused: outside the token's role");
        let allowed = if need == Role::Admin {
            "`admin`".to_owned()
        } else {
            format!("`{need}` or `admin`")
        };
        Err(ApiError::PermissionDenied(format!(
            "{path} needs a token with role {allowed}; this token has role `{role}`"
        )))
    }

    /// The role of `given`, comparing it with every token (no early exit, so the time taken
    /// says nothing about which token or how much of it matched).
    fn role_of(&self, given: &str) -> Option<Role> {
        self.0.iter().fold(None, |found, t| {
            let hit = constant_time_eq(given.as_bytes(), t.token.expose().as_bytes());
            if hit { Some(t.role) } else { found }
        })
    }
}

/// Compares in time that depends only on the lengths, never on where the bytes differ.
fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    let mut diff = given.len() ^ expected.len();
    for (i, g) in given.iter().enumerate() {
        let e = expected.get(i).copied().unwrap_or(0);
        diff |= usize::from(std::hint::black_box(g ^ e));
    }
    diff == 0
}

/// The routes behind the token check.
#[derive(Debug, Clone)]
pub(crate) struct Authorized<S> {
    inner: S,
    tokens: Tokens,
}

impl<S> Authorized<S> {
    /// Puts `inner` behind `tokens`.
    pub(crate) fn new(inner: S, tokens: Tokens) -> Self {
        Self { inner, tokens }
    }
}

impl<S, B> tower::Service<http::Request<B>> for Authorized<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let header = req.headers().get(http::header::AUTHORIZATION);
        match self.tokens.authorize(req.uri().path(), header) {
            Ok(()) => Box::pin(self.inner.call(req)),
            Err(err) => {
                let response = refusal(err);
                Box::pin(async move { Ok(response) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cfg::AuthToken;

    fn tokens() -> Tokens {
        let scoped = |t: &str, role| ScopedToken {
            token: AuthToken::new(t).unwrap(),
            role,
        };
        Tokens::new(&[
            scoped("pub-token", Role::Publish),
            scoped("read-token", Role::Read),
            scoped("admin-token", Role::Admin),
        ])
    }

    fn call(tokens: &Tokens, path: &str, token: Option<&str>) -> Result<(), ApiError> {
        let header = token.map(|t| http::HeaderValue::try_from(format!("Bearer {t}")).unwrap());
        tokens.authorize(path, header.as_ref())
    }

    const PUBLISH: &str = "/switchyard.coordinator.v1.EventService/PublishEvent";
    const LIST: &str = "/switchyard.coordinator.v1.DeliveryService/ListDeliveries";
    const CREATE: &str = "/switchyard.coordinator.v1.SubscriptionService/CreateSubscription";

    #[test]
    fn every_served_method_is_mapped_deliberately() {
        let fds = super::super::reflection::platform_descriptors().expect("descriptors");
        let mut served = Vec::new();
        for file in &fds.file {
            for service in &file.service {
                for method in &service.method {
                    served.push((service.name().to_owned(), method.name().to_owned()));
                }
            }
        }
        assert!(!served.is_empty(), "no service descriptors found");
        assert_eq!(served.len(), TABLE.len(), "served RPCs: {served:?}");
        for (service, method) in &served {
            assert!(
                TABLE.iter().any(|(s, m, _)| s == service && m == method),
                "{service}.{method} is not in the role table of api/auth.rs; add it with the \
                 least role that may call it"
            );
        }
        for (service, method, _) in TABLE {
            assert!(
                served.iter().any(|(s, m)| s == service && m == method),
                "{service}.{method} is in the role table but not served"
            );
        }
    }

    #[test]
    fn each_role_is_refused_outside_its_calls() {
        let t = tokens();
        assert!(call(&t, PUBLISH, Some("pub-token")).is_ok());
        for path in [LIST, CREATE] {
            assert!(matches!(
                call(&t, path, Some("pub-token")),
                Err(ApiError::PermissionDenied(_))
            ));
        }
        assert!(call(&t, LIST, Some("read-token")).is_ok());
        for path in [PUBLISH, CREATE] {
            assert!(matches!(
                call(&t, path, Some("read-token")),
                Err(ApiError::PermissionDenied(_))
            ));
        }
        for path in [PUBLISH, LIST, CREATE] {
            assert!(call(&t, path, Some("admin-token")).is_ok());
        }
    }

    #[test]
    fn unknown_or_missing_tokens_are_unauthenticated() {
        let t = tokens();
        for token in [
            None,
            Some("admin-tokem"),
            Some("admin-token2"),
            Some("admin"),
        ] {
            assert!(matches!(
                call(&t, LIST, token),
                Err(ApiError::Unauthenticated)
            ));
        }
        let header = http::HeaderValue::from_static("Basic admin-token");
        assert!(matches!(
            t.authorize(LIST, Some(&header)),
            Err(ApiError::Unauthenticated)
        ));
    }

    #[test]
    fn unlisted_methods_need_admin_and_open_services_need_nothing() {
        let t = tokens();
        let plugin_rpc = "/switchyard.plugin.v1.ProviderPlugin/Deliver";
        let new_rpc = "/switchyard.coordinator.v1.DeliveryService/PurgeEverything";
        for path in [plugin_rpc, new_rpc, "/garbage"] {
            assert!(matches!(
                call(&t, path, Some("read-token")),
                Err(ApiError::PermissionDenied(_))
            ));
            assert!(call(&t, path, Some("admin-token")).is_ok());
        }
        assert!(call(&t, "/grpc.health.v1.Health/Check", None).is_ok());
        let reflect = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        assert!(call(&t, reflect, None).is_ok());
    }

    #[test]
    fn without_tokens_everything_is_open() {
        assert!(call(&Tokens::new(&[]), CREATE, None).is_ok());
    }

    #[test]
    fn refusals_never_show_the_token() {
        let err = call(&tokens(), CREATE, Some("read-token")).unwrap_err();
        assert!(!err.to_string().contains("read-token"), "{err}");
        assert!(err.to_string().contains("admin"), "{err}");
    }

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"abcd", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}
