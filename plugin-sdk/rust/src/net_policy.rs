//! The network policy every HTTP provider obeys: outgoing connections go to public addresses
//! only, unless the operator allowed a subnet. The coordinator hands the policy to every plugin
//! it starts in the [`ALLOW_ENV`] variable (comma-separated CIDRs); nothing in a subscription or
//! connection config can loosen it, because plugins read it only from their environment.
//!
//! What is refused ([`classify`]): loopback, private, link-local, CGNAT, unique-local,
//! multicast, unspecified and reserved addresses, the cloud metadata addresses, and IPv6 forms
//! that carry one of those (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo). How it is
//! enforced ([`guard`]): a DNS resolver that vets every address a name resolves to and hands
//! only those to the connector (the connection is pinned to them, so a second lookup cannot
//! rebind it), and a check of every connection's peer address. [`client::PolicyClient`]
//! (`http::policy_client`) puts both into a client that also vets URLs with a literal IP
//! before connecting (they never reach a resolver), ignores proxy variables and follows no
//! redirects.
//!
//! A refusal ([`Refusal`]) names the address, why, and the setting that allows it; the SDK's
//! HTTP classification (`http::delivery_result`) makes it a permanent outcome.

pub mod classify;
pub mod client;
pub mod guard;
pub mod shared;

use std::fmt;
use std::net::IpAddr;

pub use classify::{Category, Embedding, Verdict};
/// Re-exported: the type of [`NetworkPolicy::allow`].
pub use ipnet::IpNet;

/// The environment variable carrying the operator's allowed subnets, e.g.
/// `SWITCHYARD_NETWORK_ALLOW=127.0.0.0/8,10.20.0.0/16`. Entries are CIDRs (a bare address means
/// that one address), separated by commas; spaces and empty entries are ignored. Unset or empty:
/// only public addresses are reachable.
pub const ALLOW_ENV: &str = "SWITCHYARD_NETWORK_ALLOW";

/// Public addresses, plus the subnets in `allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    /// Subnets reachable although they are not public (`127.0.0.0/8` for a local receiver).
    pub allow: Vec<IpNet>,
}

/// An allow-list that cannot be read. A plugin reports it at start-up and exits, so that a typo
/// never silently narrows or widens what it may reach.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// One entry is not a CIDR subnet nor an address.
    #[error(
        "{ALLOW_ENV}: entry {position} ({entry:?}) is not a subnet; write CIDRs such as \
         127.0.0.0/8 or fd00::/8, separated by commas"
    )]
    BadEntry {
        /// 1-based position of the entry in the list.
        position: usize,
        /// The entry as written.
        entry: String,
    },
}

/// A connection the policy refused: which address, why, and what would allow it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refusal {
    /// The host name the address came from, when it was resolved from one.
    pub host: Option<String>,
    /// The refused address.
    pub address: IpAddr,
    /// Why it is refused.
    pub verdict: Verdict,
}

impl Refusal {
    /// The narrowest subnet that would allow the address (the embedded IPv4 address, when that
    /// is what was judged).
    #[must_use]
    pub fn allowing_subnet(&self) -> IpNet {
        match self.verdict.embedded {
            Some((_, v4)) => IpNet::from(IpAddr::V4(v4)),
            None => IpNet::from(self.address),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the network policy refused ")?;
        match &self.host {
            Some(host) => write!(f, "{host} (resolved to {})", self.address)?,
            None => write!(f, "{}", self.address)?,
        }
        write!(f, ": ")?;
        if let Some((form, v4)) = self.verdict.embedded {
            write!(f, "it is {form} form of {v4}, ")?;
        } else {
            write!(f, "it is ")?;
        }
        write!(
            f,
            "{}. Only public addresses are allowed unless the operator adds the subnet \
             (e.g. {}) to the coordinator's `[plugins] network_allow`, which plugins receive in \
             {ALLOW_ENV}",
            self.verdict.category.describe(),
            self.allowing_subnet(),
        )
    }
}

impl NetworkPolicy {
    /// Only public addresses.
    #[must_use]
    pub fn public_only() -> Self {
        Self::default()
    }

    /// Public addresses and `allow`.
    #[must_use]
    pub fn allowing(allow: impl IntoIterator<Item = IpNet>) -> Self {
        Self {
            allow: allow.into_iter().collect(),
        }
    }

    /// The policy the coordinator set in [`ALLOW_ENV`]; unset means public addresses only.
    ///
    /// # Errors
    /// [`PolicyError`] when an entry is not a subnet.
    pub fn from_env() -> Result<Self, PolicyError> {
        Self::parse(&std::env::var(ALLOW_ENV).unwrap_or_default())
    }

    /// Parses an allow-list in the format of [`ALLOW_ENV`].
    ///
    /// # Errors
    /// [`PolicyError`] when an entry is not a subnet.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let allow = text
            .split(',')
            .map(str::trim)
            .enumerate()
            .filter(|(_, entry)| !entry.is_empty())
            .map(|(index, entry)| parse_entry(entry).ok_or_else(|| bad_entry(index, entry)))
            .collect::<Result<_, _>>()?;
        Ok(Self { allow })
    }

    /// Whether `address` may be reached, or why not.
    ///
    /// # Errors
    /// A [`Refusal`] (without a host name) for a non-public address outside the allow-list.
    pub fn check(&self, address: IpAddr) -> Result<(), Refusal> {
        let Some(verdict) = classify::classify(address) else {
            return Ok(());
        };
        if self.allows(address, verdict) {
            return Ok(());
        }
        Err(Refusal {
            host: None,
            address,
            verdict,
        })
    }

    /// An allowed subnet holds the address itself or the IPv4 address it carries.
    fn allows(&self, address: IpAddr, verdict: Verdict) -> bool {
        let embedded = verdict.embedded.map(|(_, v4)| IpAddr::V4(v4));
        self.allow
            .iter()
            .any(|net| net.contains(&address) || embedded.is_some_and(|v4| net.contains(&v4)))
    }
}

fn parse_entry(entry: &str) -> Option<IpNet> {
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

fn bad_entry(index: usize, entry: &str) -> PolicyError {
    PolicyError::BadEntry {
        position: index + 1,
        entry: entry.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn parses_cidrs_and_bare_addresses() {
        let policy = NetworkPolicy::parse(" 127.0.0.0/8, ,fd00::/8,10.0.0.5").unwrap();
        let expected: Vec<IpNet> = ["127.0.0.0/8", "fd00::/8", "10.0.0.5/32"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(policy.allow, expected);
        assert_eq!(
            NetworkPolicy::parse("").unwrap(),
            NetworkPolicy::public_only()
        );
    }

    #[test]
    fn a_bad_entry_is_named_with_its_position() {
        let err = NetworkPolicy::parse("127.0.0.0/8,10.0.0.0/33").unwrap_err();
        assert_eq!(
            err,
            PolicyError::BadEntry {
                position: 2,
                entry: "10.0.0.0/33".into()
            }
        );
        assert!(
            err.to_string().contains("SWITCHYARD_NETWORK_ALLOW"),
            "{err}"
        );
    }

    #[test]
    fn allowed_subnets_open_only_themselves() {
        let policy = NetworkPolicy::parse("127.0.0.0/8").unwrap();
        assert_eq!(policy.check(ip("127.0.0.1")), Ok(()));
        assert_eq!(policy.check(ip("8.8.8.8")), Ok(()));
        // The mapped form of an allowed address is the same host.
        assert_eq!(policy.check(ip("::ffff:127.0.0.1")), Ok(()));
        let refused = policy.check(ip("10.0.0.1")).unwrap_err();
        assert_eq!(refused.verdict.category, Category::Private);
        assert!(policy.check(ip("::1")).is_err());
    }

    #[test]
    fn a_refusal_says_which_address_why_and_which_setting_allows_it() {
        let refusal = NetworkPolicy::public_only()
            .check(ip("::ffff:169.254.169.254"))
            .unwrap_err();
        let text = refusal.to_string();
        assert!(text.contains("::ffff:169.254.169.254"), "{text}");
        assert!(
            text.contains("IPv4-mapped form of 169.254.169.254"),
            "{text}"
        );
        assert!(text.contains("cloud metadata address"), "{text}");
        assert!(text.contains("169.254.169.254/32"), "{text}");
        assert!(text.contains(ALLOW_ENV), "{text}");
    }
}
