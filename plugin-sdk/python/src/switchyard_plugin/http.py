"""HTTP helpers every provider needs: send JSON with a timeout, parse ``Retry-After``, and turn
an HTTP answer into a :class:`~switchyard_plugin.results.DeliveryResult`.

Classification (the same as the Rust SDK's):

- 2xx → delivered, the external id taken from the body's ``id``, ``externalId`` or ``messageId``;
- 429 and 503 → rate-limited, honouring ``Retry-After`` (seconds or an HTTP date);
- other 5xx, 408 and network errors → retryable;
- 410 and every other 4xx (and anything else) → permanent.

Only the standard library is used (``urllib``), so a plugin needs no HTTP package. The body
excerpt of an error is scrubbed of the secrets of the calls in flight (:mod:`.scrub`) before
it is cut, so a receiver echoing a credential never leaves a recognisable piece of it.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .results import DeliveryResult
from .scrub import scrub_active

#: How much of a failed response's body is quoted in an error message.
ERROR_BODY_EXCERPT = 200


@dataclass(frozen=True)
class HttpResponse:
    """An HTTP answer: status, headers (lower-cased names) and body."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (case-insensitive), or None."""
        return self.headers.get(name.lower())

    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")


class NetworkError(Exception):
    """No HTTP answer was received (refused, reset, timed out, DNS failure…)."""


class InvalidRequest(ValueError):
    """The request cannot be sent at all (a malformed or unsupported URL): retrying cannot help."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or None if absent or unreadable.

    Accepts delta-seconds (``"120"``) and an HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``);
    a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def external_id_from(body: bytes) -> str | None:
    """The seed's rule: ``id ?? externalId ?? messageId`` of a JSON object body, as text."""
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    for key in ("id", "externalId", "messageId"):
        value = doc.get(key)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def classify_status(status: int, retry_after: str | None = None, body: bytes = b"") -> DeliveryResult:
    """Turns an HTTP status (with its Retry-After and body) into a delivery result."""
    if 200 <= status < 300:
        return DeliveryResult.delivered(external_id_from(body), status_code=status)
    # Scrubbed over a wider window than it quotes: a secret across the cut is still whole.
    window = scrub_active(body[: ERROR_BODY_EXCERPT * 16].decode("utf-8", errors="replace"))
    excerpt = window[:ERROR_BODY_EXCERPT].strip()
    error = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if status in (429, 503):
        result = DeliveryResult.rate_limited(error, parse_retry_after(retry_after), status_code=status)
    elif status >= 500 or status == 408:
        result = DeliveryResult.retryable(error, parse_retry_after(retry_after), status_code=status)
    else:
        result = DeliveryResult.permanent(error, status_code=status)
    # The attempt log shows the answer as received (as the Rust SDK's http::failure does).
    return result.with_response_excerpt(excerpt) if excerpt else result


def classify(response: HttpResponse) -> DeliveryResult:
    """Turns an :class:`HttpResponse` into a delivery result (see the module doc)."""
    return classify_status(response.status, response.header("retry-after"), response.body)


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_body: int = 1 << 20,
) -> HttpResponse:
    """Sends one request and returns the answer whatever its status.

    Raises :class:`NetworkError` when no answer came (the message names the cause, never the
    request headers) and :class:`InvalidRequest` for a URL that cannot be used. Redirects are
    not followed: a receiver that redirects is answered by its status like any other.
    """
    try:
        req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
        if req.type not in ("http", "https"):
            raise InvalidRequest(f"unsupported URL scheme {req.type!r}: use http or https")
        opener = urllib.request.build_opener(_NoRedirect())
        with opener.open(req, timeout=timeout) as resp:
            return HttpResponse(resp.status, _lower(resp.headers.items()), resp.read(max_body))
    except urllib.error.HTTPError as err:
        with err:
            return HttpResponse(err.code, _lower(err.headers.items()), err.read(max_body))
    except InvalidRequest:
        raise
    except (http.client.InvalidURL, ValueError) as err:
        raise InvalidRequest(f"invalid URL: {err}") from err
    except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
        reason = getattr(err, "reason", err)
        raise NetworkError(f"{type(reason).__name__}: {reason}") from err


def post_json(url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> HttpResponse:
    """POSTs ``document`` as JSON (``Content-Type: application/json``); see :func:`request`."""
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return request("POST", url, data, all_headers, timeout)


def deliver_json(
    url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> DeliveryResult:
    """POSTs ``document`` and classifies the answer; a network error is retryable."""
    try:
        return classify(post_json(url, document, headers, timeout))
    except NetworkError as err:
        return DeliveryResult.retryable(f"network error: {err}")
    except InvalidRequest as err:
        return DeliveryResult.permanent(str(err))


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None
