package netpolicy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Client is an http.Client held to the policy: every connection's address is checked after
// name resolution (at connect time, so DNS rebinding cannot slip past), redirects are not
// followed (one could lead past the policy) and proxies from the environment are ignored.
// timeout bounds each whole request; the request's context may end it earlier.
func (p Policy) Client(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second), Control: p.control}
	transport := &http.Transport{
		Proxy:               nil,
		DialContext:         namedRefusals(dialer.DialContext),
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tracedTransport{base: transport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// control runs before each connect with the resolved address.
func (p Policy) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return err
	}
	return p.Check(ap.Addr())
}

// namedRefusals puts the host name the request used into a refusal of its resolved address.
func namedRefusals(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		conn, err := dial(ctx, network, address)
		if r, ok := AsRefusal(err); ok {
			if host, _, splitErr := net.SplitHostPort(address); splitErr == nil {
				if _, literal := netip.ParseAddr(host); literal != nil {
					named := *r
					named.Host = host
					return nil, &named
				}
			}
			return nil, r
		}
		return conn, err
	}
}

// AsRefusal finds the policy's refusal in an error returned by Client's requests.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	ok := errors.As(err, &r)
	return r, ok
}

// Dial is the policy-checked dialer of Client, for protocols other than HTTP.
func (p Policy) Dial(ctx context.Context, network, address string) (net.Conn, error) {
	d := &net.Dialer{Control: p.control}
	return d.DialContext(ctx, network, address)
}
