package netpolicy

import "net/netip"

// Classify returns the verdict for a non-public address; false for a public one.
func Classify(addr netip.Addr) (Verdict, bool) {
	if addr.Is4() {
		c, ok := classify4(addr.As4())
		return Verdict{Category: c}, ok
	}
	return classify6(addr)
}

func classify4(o [4]byte) (Category, bool) {
	a, b, c := o[0], o[1], o[2]
	switch {
	case o == [4]byte{169, 254, 169, 254}:
		return Metadata, true
	case a == 0:
		return Unspecified, true
	case a == 127:
		return Loopback, true
	case a == 10, a == 192 && b == 168, a == 172 && b >= 16 && b <= 31:
		return Private, true
	case a == 169 && b == 254:
		return LinkLocal, true
	case a == 100 && b >= 64 && b <= 127:
		return Cgnat, true
	case a >= 224 && a <= 239:
		return Multicast, true
	case a >= 240, a == 192 && b == 0 && (c == 0 || c == 2), a == 198 && (b == 18 || b == 19),
		a == 198 && b == 51 && c == 100, a == 203 && b == 0 && c == 113:
		return Reserved, true
	}
	return 0, false
}

// embedded4 is the IPv4 address an IPv6 address carries, and the name of that form.
func embedded4(s [8]uint16) (string, netip.Addr, bool) {
	low := uint32(s[6])<<16 | uint32(s[7])
	v4 := func(x uint32) netip.Addr {
		return netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), byte(x)})
	}
	zero5 := s[0] == 0 && s[1] == 0 && s[2] == 0 && s[3] == 0 && s[4] == 0
	switch {
	case zero5 && s[5] == 0xffff:
		return "an IPv4-mapped", v4(low), true
	case zero5 && s[5] == 0 && low > 1:
		return "an IPv4-compatible", v4(low), true
	case s[0] == 0x64 && s[1] == 0xff9b && s[2] == 0 && s[3] == 0 && s[4] == 0 && s[5] == 0:
		return "a NAT64", v4(low), true
	case s[0] == 0x2002:
		return "a 6to4", v4(uint32(s[1])<<16 | uint32(s[2])), true
	case s[0] == 0x2001 && s[1] == 0:
		return "a Teredo", v4(^low), true
	}
	return "", netip.Addr{}, false
}

func classify6(addr netip.Addr) (Verdict, bool) {
	b := addr.As16()
	var s [8]uint16
	for i := range s {
		s[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
	}
	own := func(c Category) (Verdict, bool) { return Verdict{Category: c}, true }
	switch {
	case addr.IsUnspecified():
		return own(Unspecified)
	case addr.IsLoopback():
		return own(Loopback)
	case addr == netip.MustParseAddr("fd00:ec2::254"):
		return own(Metadata)
	}
	if form, v4, ok := embedded4(s); ok {
		c, refused := classify4(v4.As4())
		return Verdict{Category: c, Form: form, Embedded: v4}, refused
	}
	switch {
	case s[0] >= 0xfe80 && s[0] <= 0xfebf:
		return own(LinkLocal)
	case s[0] >= 0xfec0 && s[0] <= 0xfeff:
		return own(Reserved)
	case s[0] >= 0xfc00 && s[0] <= 0xfdff:
		return own(UniqueLocal)
	case s[0] >= 0xff00:
		return own(Multicast)
	case s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0,
		s[0] == 0x2001 && s[1] == 0x0db8, s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 1:
		return own(Reserved)
	}
	return Verdict{}, false
}
