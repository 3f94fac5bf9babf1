//! [`PolicyClient`], the HTTP client every HTTP provider uses: a `reqwest` client held to the
//! operator's [`NetworkPolicy`]. A URL with a literal IP address is vetted when the request is
//! built (`reqwest` connects to literal addresses without a resolver, so this is the only
//! point before a connection is attempted); host names are vetted by [`PolicyResolver`] and
//! the connection pinned to the vetted addresses; [`PeerCheckLayer`] checks every connection's
//! peer once more. Proxy variables (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`, lowercase too)
//! are ignored and redirects are not followed.
//!
//! ```
//! use std::time::Duration;
//! use switchyard_plugin_sdk::net_policy::NetworkPolicy;
//! use switchyard_plugin_sdk::{DeliveryResult, http};
//!
//! let client = http::policy_client(Duration::from_secs(10), &NetworkPolicy::public_only())?;
//! let refusal = client.post("http://169.254.169.254/latest/meta-data/").unwrap_err();
//! assert!(refusal.to_string().contains("a cloud metadata address"));
//! let result = DeliveryResult::from(refusal); // permanent
//! assert!(!result.is_delivered());
//! # Ok::<(), reqwest::Error>(())
//! ```

use std::sync::Arc;
use std::time::Duration;

use std::net::IpAddr;

use reqwest::{Method, RequestBuilder, Url};

use super::guard::{Lookup, PeerCheckLayer, PolicyResolver, SystemLookup};
use super::{NetworkPolicy, Refusal};
use crate::http::client_builder;
use crate::result::DeliveryResult;

/// A `reqwest` client that refuses what the network policy refuses; see the module docs.
/// Cheap to clone (it shares the connection pool).
#[derive(Debug, Clone)]
pub struct PolicyClient {
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
}

/// [`PolicyClient::new`]: the client every HTTP provider should build once and share, with an
/// overall `timeout` per request (override it per request with `RequestBuilder::timeout`).
///
/// # Errors
/// When the TLS backend cannot be initialised.
pub fn policy_client(
    timeout: Duration,
    policy: &NetworkPolicy,
) -> Result<PolicyClient, reqwest::Error> {
    PolicyClient::new(timeout, policy)
}

impl PolicyClient {
    /// A client with the SDK's timeouts and user agent (as `http::client`), resolving with the
    /// operating system's resolver.
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn new(timeout: Duration, policy: &NetworkPolicy) -> Result<Self, reqwest::Error> {
        Self::with_lookup(timeout, policy, Arc::new(SystemLookup))
    }

    /// As [`PolicyClient::new`], resolving host names with `lookup` (tests make a name resolve
    /// to an address of their choice this way).
    ///
    /// # Errors
    /// When the TLS backend cannot be initialised.
    pub fn with_lookup(
        timeout: Duration,
        policy: &NetworkPolicy,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, reqwest::Error> {
        let policy = Arc::new(policy.clone());
        let client = client_builder(timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PolicyResolver::with_lookup(
                policy.clone(),
                lookup,
            )))
            .connector_layer(PeerCheckLayer::new(policy.clone()))
            .build()?;
        Ok(Self { client, policy })
    }

    /// The policy the client enforces.
    #[must_use]
    pub fn policy(&self) -> &NetworkPolicy {
        &self.policy
    }

    /// A request to `url`, or the refusal of its literal IP address. A URL that does not parse
    /// is handed to `reqwest`, whose `send` then fails with its error.
    ///
    /// # Errors
    /// A [`Refusal`] when the URL's host is an IP address the policy refuses.
    pub fn request(&self, method: Method, url: &str) -> Result<RequestBuilder, Refusal> {
        if let Ok(parsed) = Url::parse(url) {
            self.check_literal(&parsed)?;
        }
        Ok(self.client.request(method, url))
    }

    /// [`request`](Self::request) with `GET`.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub fn get(&self, url: &str) -> Result<RequestBuilder, Refusal> {
        self.request(Method::GET, url)
    }

    /// [`request`](Self::request) with `POST`.
    ///
    /// # Errors
    /// As [`request`](Self::request).
    pub fn post(&self, url: &str) -> Result<RequestBuilder, Refusal> {
        self.request(Method::POST, url)
    }

    fn check_literal(&self, url: &Url) -> Result<(), Refusal> {
        // The URL parser has already normalised every IPv4 spelling (`0x7f.1`, `2130706433`)
        // to dotted quads and bracketed IPv6, so a host that is not an address is a name.
        let host = url.host_str().unwrap_or_default();
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        match bare.parse::<IpAddr>() {
            Ok(address) => self.policy.check(address),
            Err(_) => Ok(()),
        }
    }
}

impl From<Refusal> for DeliveryResult {
    /// Permanent: retrying cannot change the verdict; the operator's allow-list can.
    fn from(refusal: Refusal) -> Self {
        DeliveryResult::permanent(refusal.to_string())
    }
}
