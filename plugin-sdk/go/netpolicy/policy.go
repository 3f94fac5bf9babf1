// Package netpolicy is the network policy every plugin's HTTP client is held to: only public
// addresses, plus the subnets the operator allows in the coordinator's `[plugins]
// network_allow`, which the host hands to the plugin in SWITCHYARD_NETWORK_ALLOW. It classifies
// addresses exactly as the Rust SDK does (loopback, private, link-local, CGNAT, unique-local,
// multicast, unspecified, reserved, cloud metadata; IPv6 forms carrying an IPv4 address are
// judged by that address) and refuses with the same text.
package netpolicy

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// AllowEnv is the variable the host sets: comma-separated CIDRs or bare addresses.
const AllowEnv = "SWITCHYARD_NETWORK_ALLOW"

// Category is why an address is not public.
type Category int

// The categories, as in the Rust SDK.
const (
	Loopback Category = iota + 1
	Private
	LinkLocal
	Cgnat
	UniqueLocal
	Multicast
	Unspecified
	Metadata
	Reserved
)

// Describe says what the category is, for error texts.
func (c Category) Describe() string {
	switch c {
	case Loopback:
		return "a loopback address (127.0.0.0/8, ::1)"
	case Private:
		return "a private address (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"
	case LinkLocal:
		return "a link-local address (169.254.0.0/16, fe80::/10)"
	case Cgnat:
		return "a carrier-grade NAT address (100.64.0.0/10)"
	case UniqueLocal:
		return "an IPv6 unique-local address (fc00::/7)"
	case Multicast:
		return "a multicast address (224.0.0.0/4, ff00::/8)"
	case Unspecified:
		return "an unspecified address (0.0.0.0/8, ::)"
	case Metadata:
		return "a cloud metadata address (169.254.169.254, fd00:ec2::254)"
	default:
		return "a reserved address that is not routable on the internet"
	}
}

// Verdict is why an address is refused: its own category, or that of the IPv4 address its
// IPv6 form carries (Form names that form, Embedded is the IPv4 address).
type Verdict struct {
	Category Category
	Form     string
	Embedded netip.Addr
}

// Policy is public addresses plus Allow.
type Policy struct {
	Allow []netip.Prefix
}

// FromEnv reads the policy the host set; unset means public addresses only.
func FromEnv() (Policy, error) { return Parse(os.Getenv(AllowEnv)) }

// Parse reads an allow-list: entries separated by commas, spaces and empty entries ignored.
func Parse(text string) (Policy, error) {
	var p Policy
	for i, entry := range strings.Split(text, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			addr, aerr := netip.ParseAddr(entry)
			if aerr != nil {
				return Policy{}, fmt.Errorf("%s: entry %d (%q) is not a subnet (CIDR such as 10.0.0.0/8, or an address)", AllowEnv, i+1, entry)
			}
			prefix = netip.PrefixFrom(addr, addr.BitLen())
		}
		p.Allow = append(p.Allow, prefix.Masked())
	}
	return p, nil
}

// Refusal is a connection the policy refused.
type Refusal struct {
	// Host is the name the address was resolved from ("" for a literal address).
	Host    string
	Address netip.Addr
	Verdict Verdict
}

func (r *Refusal) Error() string {
	var b strings.Builder
	b.WriteString("the network policy refused ")
	if r.Host != "" {
		fmt.Fprintf(&b, "%s (resolved to %s)", r.Host, r.Address)
	} else {
		b.WriteString(r.Address.String())
	}
	b.WriteString(": ")
	if r.Verdict.Form != "" {
		fmt.Fprintf(&b, "it is %s form of %s, ", r.Verdict.Form, r.Verdict.Embedded)
	} else {
		b.WriteString("it is ")
	}
	fmt.Fprintf(&b, "%s. Only public addresses are allowed unless the operator adds the subnet "+
		"(e.g. %s) to the coordinator's `[plugins] network_allow`, which plugins receive in %s",
		r.Verdict.Category.Describe(), r.allowingSubnet(), AllowEnv)
	return b.String()
}

// allowingSubnet is the narrowest subnet that would allow the address.
func (r *Refusal) allowingSubnet() netip.Prefix {
	a := r.Address
	if r.Verdict.Form != "" {
		a = r.Verdict.Embedded
	}
	return netip.PrefixFrom(a, a.BitLen())
}

// Check says whether addr may be reached; a *Refusal when not.
func (p Policy) Check(addr netip.Addr) error {
	addr = addr.WithZone("")
	v, refused := Classify(addr)
	if !refused || p.allows(addr, v) {
		return nil
	}
	return &Refusal{Address: addr, Verdict: v}
}

func (p Policy) allows(addr netip.Addr, v Verdict) bool {
	for _, net := range p.Allow {
		if net.Contains(addr) || (v.Form != "" && net.Contains(v.Embedded)) {
			return true
		}
		// An IPv4 subnet also holds the IPv4-mapped form of its addresses.
		if addr.Is4In6() && net.Contains(addr.Unmap()) {
			return true
		}
	}
	return false
}
