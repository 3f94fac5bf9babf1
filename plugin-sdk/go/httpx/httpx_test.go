package httpx

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/netpolicy"
)

func TestClassify(t *testing.T) {
	for status, want := range map[int]Class{200: Delivered, 204: Delivered, 429: RateLimited, 503: RateLimited,
		408: Retryable, 500: Retryable, 502: Retryable, 400: Permanent, 404: Permanent, 410: Permanent, 301: Permanent} {
		if got := Classify(status); got != want {
			t.Errorf("%d: %v", status, got)
		}
	}
}

func TestRetryAfterSecondsDatesAndJunk(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	if _, ok := RetryAfter(h, now); ok {
		t.Fatal("missing header read")
	}
	h.Set("Retry-After", " 120 ")
	if d, ok := RetryAfter(h, now); !ok || d != 2*time.Minute {
		t.Fatal(d)
	}
	h.Set("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat))
	if d, ok := RetryAfter(h, now); !ok || d != 30*time.Second {
		t.Fatal(d)
	}
	h.Set("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat))
	if d, ok := RetryAfter(h, now); !ok || d != 0 {
		t.Fatal(d)
	}
	h.Set("Retry-After", "soon")
	if _, ok := RetryAfter(h, now); ok {
		t.Fatal("junk read")
	}
}

func TestFailureTexts(t *testing.T) {
	r := Failure(503, http.Header{}, []byte("busy\nnow"))
	if r.Outcome != switchyard.RateLimited || r.RetryAfter != DefaultRateLimitDelay || r.Error != "HTTP 503 Service Unavailable: busy now" {
		t.Fatalf("%+v", r)
	}
	r = Failure(302, http.Header{}, nil)
	if r.Outcome != switchyard.Permanent || !strings.Contains(r.Error, "redirects are not followed") {
		t.Fatalf("%+v", r)
	}
	long := Failure(400, http.Header{}, []byte(strings.Repeat("é", 300)))
	if !strings.HasSuffix(long.ResponseExcerpt, "…") || len(long.ResponseExcerpt) > BodyExcerptBytes+3 {
		t.Fatalf("%q", long.ResponseExcerpt)
	}
}

func TestARefusalIsPermanentWithThePolicysText(t *testing.T) {
	refusal := netpolicy.Policy{}.Check(netip.MustParseAddr("10.1.2.3"))
	r := NetworkFailure(errors.Join(errors.New("dial"), refusal))
	if r.Outcome != switchyard.Permanent || !strings.HasPrefix(r.Error, "the network policy refused 10.1.2.3: it is a private address") {
		t.Fatalf("%+v", r)
	}
	if r := NetworkFailure(errors.New("connection refused")); r.Outcome != switchyard.Retryable {
		t.Fatalf("%+v", r)
	}
}
