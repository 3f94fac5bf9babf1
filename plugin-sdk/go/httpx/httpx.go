// Package httpx holds the HTTP helpers every HTTP provider needs, with the Rust SDK's rules:
//
//   - 2xx → delivered;
//   - 429 and 503 → rate-limited, after the Retry-After delay, or [DefaultRateLimitDelay]
//     (60 s) when the header is missing or unreadable;
//   - 408, other 5xx, network errors and timeouts → retryable;
//   - a connection the network policy refused → permanent, with the policy's explanation;
//   - every other status → permanent.
//
// Failure texts carry the status and a short excerpt of the body, never request headers,
// and network errors are stripped of the URL (it may hold a secret).
package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	switchyard "github.com/switchyard-dev/switchyard/plugin-sdk/go"
	"github.com/switchyard-dev/switchyard/plugin-sdk/go/netpolicy"
)

// DefaultRateLimitDelay is the wait when a 429/503 carries no usable Retry-After.
const DefaultRateLimitDelay = 60 * time.Second

// BodyExcerptBytes is how many bytes of a response body an error text quotes.
const BodyExcerptBytes = 256

// MaxBodyBytes is how much of a response FromResponse reads.
const MaxBodyBytes = 64 << 10

// Class is the outcome class of an HTTP status.
type Class int

// The classes.
const (
	Delivered Class = iota + 1
	Retryable
	RateLimited
	Permanent
)

// Classify returns the class of an HTTP status.
func Classify(status int) Class {
	switch {
	case status >= 200 && status <= 299:
		return Delivered
	case status == 429 || status == 503:
		return RateLimited
	case status == 408 || (status >= 500 && status <= 599):
		return Retryable
	default:
		return Permanent
	}
}

// RetryAfter is the delay a Retry-After header asks for (delta-seconds or an HTTP-date,
// relative to now; a past date gives zero); false when missing or unreadable.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	value := strings.TrimSpace(h.Get("Retry-After"))
	if value == "" {
		return 0, false
	}
	if secs, err := strconv.ParseUint(value, 10, 63); err == nil {
		return time.Duration(secs) * time.Second, true
	}
	at, err := http.ParseTime(value)
	if err != nil {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}

// Failure is the result for a non-2xx answer: its class, the delay it asks for, and an error
// text with the status and a body excerpt.
func Failure(status int, h http.Header, body []byte) switchyard.Result {
	text := ErrorText(status, body)
	if status >= 300 && status <= 399 {
		text += " (redirects are not followed: configure the final URL)"
	}
	after, hasAfter := RetryAfter(h, time.Now())
	var r switchyard.Result
	switch Classify(status) {
	case RateLimited:
		if !hasAfter {
			after = DefaultRateLimitDelay
		}
		r = switchyard.RateLimitedResult(text, after)
	case Retryable:
		r = switchyard.RetryableResult(text)
		r.RetryAfter = after
	default:
		// A 2xx handed in here is a misuse; permanent makes it visible.
		r = switchyard.PermanentResult(text)
	}
	r.StatusCode = status
	r.ResponseExcerpt = BodyExcerpt(body)
	return r
}

// ErrorText is `HTTP 404 Not Found: <first bytes of the body>`.
func ErrorText(status int, body []byte) string {
	head := fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	if ex := BodyExcerpt(body); ex != "" {
		return head + ": " + ex
	}
	return strings.TrimSpace(head)
}

// BodyExcerpt is the first BodyExcerptBytes of a body as one line of text (the SDK scrubs
// the call's secrets from it before it leaves the plugin).
func BodyExcerpt(body []byte) string {
	cut := min(len(body), BodyExcerptBytes)
	for cut > 0 && cut < len(body) && !utf8.RuneStart(body[cut]) {
		cut--
	}
	text := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(body[:cut]), "\uFFFD"))
	text = strings.TrimSpace(text)
	if cut < len(body) {
		text += "…"
	}
	return text
}

// NetworkFailure is the result for a request that got no answer: permanent when the network
// policy refused the address (retrying cannot change that; the operator's allow-list can),
// else retryable, with the cause but without the URL.
func NetworkFailure(err error) switchyard.Result {
	if r, ok := netpolicy.AsRefusal(err); ok {
		return switchyard.PermanentResult(r.Error())
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		if uerr.Timeout() {
			return switchyard.RetryableResult("request timed out")
		}
		err = uerr.Err
	}
	return switchyard.RetryableResult("request failed: " + err.Error())
}

// FromResponse reads a response (closing its body) and classifies it; on 2xx, externalID picks
// the id out of the body (nil for none). err is the error http.Client.Do returned.
func FromResponse(resp *http.Response, err error, externalID func([]byte) string) switchyard.Result {
	if err != nil {
		return NetworkFailure(err)
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	if Classify(resp.StatusCode) != Delivered {
		return Failure(resp.StatusCode, resp.Header, body)
	}
	if readErr != nil {
		return NetworkFailure(readErr)
	}
	r := switchyard.DeliveredResult("")
	if externalID != nil {
		r.ExternalID = externalID(body)
	}
	r.StatusCode = resp.StatusCode
	return r
}
