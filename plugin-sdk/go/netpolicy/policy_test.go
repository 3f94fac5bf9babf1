package netpolicy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func TestEveryNonPublicRangeHasItsCategory(t *testing.T) {
	for ip, want := range map[string]Category{
		"127.0.0.1": Loopback, "10.1.2.3": Private, "172.31.255.255": Private, "192.168.1.1": Private,
		"169.254.1.1": LinkLocal, "169.254.169.254": Metadata, "100.64.0.1": Cgnat, "224.0.0.1": Multicast,
		"0.0.0.0": Unspecified, "240.0.0.1": Reserved, "198.51.100.7": Reserved, "::1": Loopback, "::": Unspecified,
		"fe80::1": LinkLocal, "fc00::1": UniqueLocal, "fd00:ec2::254": Metadata, "ff02::1": Multicast,
		"2001:db8::1": Reserved, "::ffff:10.0.0.1": Private, "64:ff9b::7f00:1": Loopback, "2002:a9fe:a9fe::": Metadata,
	} {
		v, refused := Classify(netip.MustParseAddr(ip))
		if !refused || v.Category != want {
			t.Errorf("%s: %+v %v", ip, v, refused)
		}
	}
	for _, ip := range []string{"8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8"} {
		if _, refused := Classify(netip.MustParseAddr(ip)); refused {
			t.Errorf("%s refused", ip)
		}
	}
}

func TestTheRefusalTextMatchesTheRustSDK(t *testing.T) {
	err := Policy{}.Check(netip.MustParseAddr("::ffff:169.254.169.254"))
	want := "the network policy refused ::ffff:169.254.169.254: it is an IPv4-mapped form of 169.254.169.254, " +
		"a cloud metadata address (169.254.169.254, fd00:ec2::254). Only public addresses are allowed unless " +
		"the operator adds the subnet (e.g. 169.254.169.254/32) to the coordinator's `[plugins] network_allow`, " +
		"which plugins receive in SWITCHYARD_NETWORK_ALLOW"
	if err == nil || err.Error() != want {
		t.Fatalf("%v", err)
	}
}

func TestAllowListsOpenOnlyThemselves(t *testing.T) {
	p, err := Parse(" 127.0.0.0/8, ,10.0.0.5")
	if err != nil {
		t.Fatal(err)
	}
	for ip, ok := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "10.0.0.5": true, "10.0.0.6": false, "8.8.8.8": true} {
		if got := p.Check(netip.MustParseAddr(ip)) == nil; got != ok {
			t.Errorf("%s: %v", ip, got)
		}
	}
	if _, err := Parse("127.0.0.0/8,nonsense"); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("%v", err)
	}
}

func TestTheClientRefusesAtConnectTimeAndNamesTheHost(t *testing.T) {
	hits := 0
	s := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
	defer s.Close()
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, "http://localhost:"+port+"/", nil)
	_, err := Policy{}.Client(0).Do(req)
	r, ok := AsRefusal(err)
	if !ok || r.Host != "localhost" || !strings.Contains(r.Error(), "localhost (resolved to ") || hits != 0 {
		t.Fatalf("%v (hits %d)", err, hits)
	}
	allowed, _ := Parse("127.0.0.0/8,::1")
	resp, err := allowed.Client(0).Get(s.URL)
	if err != nil || resp.StatusCode != 200 || hits != 1 {
		t.Fatalf("%v", err)
	}
	resp.Body.Close()
}
