//! Which addresses the network policy refuses by default, and why: every non-public IPv4 and
//! IPv6 range a plugin must not reach on a user's say-so (loopback, private, link-local, CGNAT,
//! unique-local, multicast, unspecified, reserved, the cloud metadata addresses), and the IPv6
//! forms that carry an IPv4 address inside (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo),
//! judged by the address they carry. Pure functions; the policy and its allow-list live in the
//! parent module.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `10.0.0.0/8`, `172.16.0.0/12`, `192.168.0.0/16`.
    Private,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// Carrier-grade NAT, `100.64.0.0/10`.
    Cgnat,
    /// IPv6 unique-local, `fc00::/7`.
    UniqueLocal,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `0.0.0.0/8`, `::`.
    Unspecified,
    /// A cloud metadata endpoint: `169.254.169.254`, `fd00:ec2::254`.
    Metadata,
    /// Not routable on the internet: `240.0.0.0/4` (with the broadcast address),
    /// `192.0.0.0/24`, `198.18.0.0/15`, the documentation ranges, `100::/64`, `fec0::/10`,
    /// `64:ff9b:1::/48`.
    Reserved,
}

impl Category {
    /// What the category is, for error texts ("a loopback address (127.0.0.0/8, ::1)").
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Loopback => "a loopback address (127.0.0.0/8, ::1)",
            Self::Private => "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)",
            Self::LinkLocal => "a link-local address (169.254.0.0/16, fe80::/10)",
            Self::Cgnat => "a carrier-grade NAT address (100.64.0.0/10)",
            Self::UniqueLocal => "an IPv6 unique-local address (fc00::/7)",
            Self::Multicast => "a multicast address (224.0.0.0/4, ff00::/8)",
            Self::Unspecified => "an unspecified address (0.0.0.0/8, ::)",
            Self::Metadata => "a cloud metadata address (169.254.169.254, fd00:ec2::254)",
            Self::Reserved => "a reserved address that is not routable on the internet",
        }
    }
}

/// An IPv6 form that carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d`.
    Ipv4Mapped,
    /// `::a.b.c.d` (deprecated, still routed by some stacks).
    Ipv4Compatible,
    /// `64:ff9b::a.b.c.d` (RFC 6052).
    Nat64,
    /// `2002:AABB:CCDD::/48` (6to4).
    SixToFour,
    /// `2001:0::/32` with the client address inverted in the last 32 bits.
    Teredo,
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ipv4Mapped => "an IPv4-mapped",
            Self::Ipv4Compatible => "an IPv4-compatible",
            Self::Nat64 => "a NAT64",
            Self::SixToFour => "a 6to4",
            Self::Teredo => "a Teredo",
        })
    }
}

/// Why an address is refused: its own category, or that of the IPv4 address it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The category (of the embedded address when `embedded` is set).
    pub category: Category,
    /// The IPv6 form and the IPv4 address inside it, when that is what was judged.
    pub embedded: Option<(Embedding, Ipv4Addr)>,
}

/// The category of a non-public address, or `None` for a public one.
#[must_use]
pub fn classify(ip: IpAddr) -> Option<Verdict> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(|category| Verdict {
            category,
            embedded: None,
        }),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// The IPv4 address an IPv6 address carries, and in which form.
#[must_use]
pub fn embedded_v4(v6: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let s = v6.segments();
    let low = (u32::from(s[6]) << 16) | u32::from(s[7]);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((Embedding::Ipv4Mapped, Ipv4Addr::from(low))),
        // `::` and `::1` are their own categories, not IPv4-compatible forms.
        [0, 0, 0, 0, 0, 0, _, _] if low > 1 => {
            Some((Embedding::Ipv4Compatible, Ipv4Addr::from(low)))
        }
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((Embedding::Nat64, Ipv4Addr::from(low))),
        [0x2002, hi, lo, ..] => Some((
            Embedding::SixToFour,
            Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)),
        )),
        [0x2001, 0, ..] => Some((Embedding::Teredo, Ipv4Addr::from(!low))),
        _ => None,
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<Category> {
    let [a, b, c, _] = ip.octets();
    let category = match (a, b, c) {
        _ if ip == Ipv4Addr::new(169, 254, 169, 254) => Category::Metadata,
        (0, ..) => Category::Unspecified,
        (127, ..) => Category::Loopback,
        (10, ..) | (192, 168, _) => Category::Private,
        (172, 16..=31, _) => Category::Private,
        (169, 254, _) => Category::LinkLocal,
        (100, 64..=127, _) => Category::Cgnat,
        (224..=239, ..) => Category::Multicast,
        (240..=255, ..) | (192, 0, 0 | 2) | (198, 18 | 19, _) | (198, 51, 100) | (203, 0, 113) => {
            Category::Reserved
        }
        _ => return None,
    };
    Some(category)
}

fn classify_v6(ip: Ipv6Addr) -> Option<Verdict> {
    let own = |category| {
        Some(Verdict {
            category,
            embedded: None,
        })
    };
    let s = ip.segments();
    if ip.is_unspecified() {
        return own(Category::Unspecified);
    }
    if ip.is_loopback() {
        return own(Category::Loopback);
    }
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        return own(Category::Metadata);
    }
    if let Some((form, v4)) = embedded_v4(ip) {
        return classify_v4(v4).map(|category| Verdict {
            category,
            embedded: Some((form, v4)),
        });
    }
    match s[0] {
        0xfe80..=0xfebf => own(Category::LinkLocal),
        0xfec0..=0xfeff => own(Category::Reserved),
        0xfc00..=0xfdff => own(Category::UniqueLocal),
        0xff00..=0xffff => own(Category::Multicast),
        0x0100 if s[1..4] == [0, 0, 0] => own(Category::Reserved),
        0x2001 if s[1] == 0x0db8 => own(Category::Reserved),
        0x0064 if s[1] == 0xff9b && s[2] == 1 => own(Category::Reserved),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(text: &str) -> Option<Category> {
        classify(text.parse().unwrap()).map(|v| v.category)
    }

    #[test]
    fn every_non_public_ipv4_range_has_its_category() {
        for (ip, expected) in [
            ("127.0.0.1", Category::Loopback),
            ("127.255.255.254", Category::Loopback),
            ("10.1.2.3", Category::Private),
            ("172.16.0.1", Category::Private),
            ("172.31.255.255", Category::Private),
            ("192.168.1.1", Category::Private),
            ("169.254.1.1", Category::LinkLocal),
            ("169.254.169.254", Category::Metadata),
            ("100.64.0.1", Category::Cgnat),
            ("100.127.255.255", Category::Cgnat),
            ("224.0.0.1", Category::Multicast),
            ("239.255.255.250", Category::Multicast),
            ("0.0.0.0", Category::Unspecified),
            ("0.1.2.3", Category::Unspecified),
            ("255.255.255.255", Category::Reserved),
            ("240.0.0.1", Category::Reserved),
            ("198.18.0.1", Category::Reserved),
        ] {
            assert_eq!(category(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(category(ip), None, "{ip}");
        }
    }

    #[test]
    fn every_non_public_ipv6_range_has_its_category() {
        for (ip, expected) in [
            ("::1", Category::Loopback),
            ("::", Category::Unspecified),
            ("fe80::1", Category::LinkLocal),
            ("fc00::1", Category::UniqueLocal),
            ("fd12:3456::1", Category::UniqueLocal),
            ("fd00:ec2::254", Category::Metadata),
            ("ff02::1", Category::Multicast),
            ("2001:db8::1", Category::Reserved),
            ("100::1", Category::Reserved),
        ] {
            assert_eq!(category(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_forms_are_judged_by_the_address_they_carry() {
        let loopback = Ipv4Addr::new(127, 0, 0, 1);
        for (ip, form, v4, expected) in [
            (
                "::ffff:127.0.0.1",
                Embedding::Ipv4Mapped,
                loopback,
                Category::Loopback,
            ),
            (
                "::127.0.0.1",
                Embedding::Ipv4Compatible,
                loopback,
                Category::Loopback,
            ),
            (
                "64:ff9b::a9fe:a9fe",
                Embedding::Nat64,
                Ipv4Addr::new(169, 254, 169, 254),
                Category::Metadata,
            ),
            (
                "2002:0a00:0001::1",
                Embedding::SixToFour,
                Ipv4Addr::new(10, 0, 0, 1),
                Category::Private,
            ),
            // Teredo stores the client address inverted: !0x7f000001.
            (
                "2001:0:1:2::80ff:fffe",
                Embedding::Teredo,
                loopback,
                Category::Loopback,
            ),
        ] {
            let verdict = classify(ip.parse().unwrap());
            assert_eq!(
                verdict,
                Some(Verdict {
                    category: expected,
                    embedded: Some((form, v4))
                }),
                "{ip}"
            );
        }
    }
}
