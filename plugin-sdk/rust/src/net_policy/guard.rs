//! Enforcing a [`NetworkPolicy`] inside `reqwest`: [`PolicyResolver`] resolves a host name,
//! refuses it when any of its addresses is refused, and hands only the vetted addresses to the
//! connector, so the connection is pinned to what was checked (no second lookup, no DNS
//! rebinding). [`PeerCheckLayer`] checks the peer address of every new connection before a byte
//! of the request is written; it is what catches URLs with a literal IP address, which
//! `reqwest` connects to without asking the resolver. [`find_refusal`] digs a [`Refusal`] out
//! of the error chain `reqwest` wraps it in.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::client::legacy::connect::{Connection, HttpInfo};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{NetworkPolicy, Refusal};

type BoxError = Box<dyn StdError + Send + Sync>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Turns a host name into addresses. [`SystemLookup`] asks the operating system; tests supply
/// their own to make a name resolve to a chosen address.
pub trait Lookup: Send + Sync + fmt::Debug + 'static {
    /// Every address `host` resolves to.
    fn lookup(&self, host: &str) -> BoxFuture<std::io::Result<Vec<IpAddr>>>;
}

/// The operating system's resolver (`getaddrinfo`, through tokio).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> BoxFuture<std::io::Result<Vec<IpAddr>>> {
        let host = host.to_owned();
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            Ok(addrs.map(|addr| addr.ip()).collect())
        })
    }
}

/// A `reqwest` resolver that vets every address; see the module docs.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl PolicyResolver {
    /// Resolves with the operating system's resolver.
    #[must_use]
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self::with_lookup(policy, Arc::new(SystemLookup))
    }

    /// Resolves with `lookup`.
    #[must_use]
    pub fn with_lookup(policy: Arc<NetworkPolicy>, lookup: Arc<dyn Lookup>) -> Self {
        Self { policy, lookup }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        let lookup = self.lookup.clone();
        Box::pin(async move {
            let host = name.as_str();
            let ips = lookup.lookup(host).await?;
            vetted(&policy, host, ips)
        })
    }
}

/// All of `ips` as socket addresses, or the refusal of the first refused one: one bad address
/// refuses the name, so that the connector cannot fall back to it.
fn vetted(policy: &NetworkPolicy, host: &str, ips: Vec<IpAddr>) -> Result<Addrs, BoxError> {
    if ips.is_empty() {
        return Err(format!("{host} resolved to no address").into());
    }
    for ip in &ips {
        policy.check(*ip).map_err(|mut refusal| {
            refusal.host = Some(host.to_owned());
            Box::new(refusal) as BoxError
        })?;
    }
    // Port 0: the connector puts in the URL's port.
    Ok(Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0))))
}

/// A `tower` layer over `reqwest`'s connector that refuses connections to refused peers
/// (`ClientBuilder::connector_layer`).
#[derive(Debug, Clone)]
pub struct PeerCheckLayer {
    policy: Arc<NetworkPolicy>,
}

impl PeerCheckLayer {
    /// Checks every connection against `policy`.
    #[must_use]
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self { policy }
    }
}

impl<S> tower::Layer<S> for PeerCheckLayer {
    type Service = PeerCheck<S>;

    fn layer(&self, inner: S) -> PeerCheck<S> {
        PeerCheck {
            inner,
            policy: self.policy.clone(),
        }
    }
}

/// The service [`PeerCheckLayer`] wraps around the connector.
#[derive(Debug, Clone)]
pub struct PeerCheck<S> {
    inner: S,
    policy: Arc<NetworkPolicy>,
}

impl<S, R> tower::Service<R> for PeerCheck<S>
where
    S: tower::Service<R>,
    S::Response: Connection + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = BoxFuture<Result<S::Response, BoxError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let connecting = self.inner.call(request);
        let policy = self.policy.clone();
        Box::pin(async move {
            let connection = connecting.await.map_err(Into::into)?;
            check_peer(&policy, &connection)?;
            Ok(connection)
        })
    }
}

/// Refuses a connection whose peer is refused, or whose peer cannot be told (fail closed).
fn check_peer(policy: &NetworkPolicy, connection: &impl Connection) -> Result<(), BoxError> {
    let mut extensions = ::http::Extensions::new();
    connection.connected().get_extras(&mut extensions);
    let Some(info) = extensions.get::<HttpInfo>() else {
        return Err("the network policy cannot tell the peer address of a connection".into());
    };
    policy
        .check(info.remote_addr().ip())
        .map_err(|refusal| Box::new(refusal) as BoxError)
}

/// The [`Refusal`] somewhere in `error`'s source chain, if the policy caused it.
#[must_use]
pub fn find_refusal<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a Refusal> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(refusal) = error.downcast_ref::<Refusal>() {
            return Some(refusal);
        }
        current = error.source();
    }
    None
}
