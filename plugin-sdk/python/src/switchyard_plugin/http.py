"""HTTP helpers every provider needs: send JSON with a timeout, parse ``Retry-After``, and turn
an HTTP answer into a :class:`~switchyard_plugin.results.DeliveryResult`.

Classification (the same as the Rust SDK's):

- 2xx → delivered, the external id taken from the body's ``id``, ``externalId`` or ``messageId``;
- 429 and 503 → rate-limited, honouring ``Retry-After`` (seconds or an HTTP date);
- other 5xx, 408 and network errors → retryable;
- 410 and every other 4xx (and anything else) → permanent.

Every request goes through a :class:`PolicyClient`, held to the operator's network policy
(:mod:`.net_policy`, from ``SWITCHYARD_NETWORK_ALLOW``): a host name is resolved once and
refused when any of its addresses is not public (unless allowed), the connection is pinned to
the vetted addresses (no second lookup, no DNS rebinding), proxy variables are ignored and
redirects are not followed (a 3xx is permanent). A refusal is a permanent outcome whose error
names the address, why, and the setting that allows it. :func:`request`, :func:`post_json` and
:func:`deliver_json` use the client of the plugin's environment (:func:`policy_client`).

Only the standard library is used (``http.client``), so a plugin needs no HTTP package. The
body excerpt of an error is scrubbed of the secrets of the calls in flight (:mod:`.scrub`)
before it is cut, so a receiver echoing a credential never leaves a recognisable piece of it.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import ssl
import threading
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import traces
from ._pinned import Lookup, PinnedHTTPConnection, PinnedHTTPSConnection, system_lookup, vetted_addresses
from .net_policy import ALLOW_ENV, NetworkPolicy, PolicyError, Refusal
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
    if 300 <= status < 400:
        # The SDK follows no redirect (one could lead past the network policy).
        error += " (redirects are not followed: configure the final URL)"
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


class PolicyClient:
    """Sends requests held to ``policy`` (see the module doc). ``lookup`` resolves host names
    (default: the operating system's resolver; tests make a name resolve as they choose);
    ``tls`` verifies https servers (default: the system's trusted certificates)."""

    def __init__(self, policy: NetworkPolicy, lookup: Lookup | None = None, tls: ssl.SSLContext | None = None) -> None:
        self.policy = policy
        self._lookup = lookup or system_lookup
        self._tls = tls

    def request(
        self,
        method: str,
        url: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        max_body: int = 1 << 20,
    ) -> HttpResponse:
        """Sends one request and returns the answer whatever its status (a redirect too).

        Raises :class:`~.net_policy.Refusal` when the policy refuses the address (nothing is
        sent), :class:`NetworkError` when no answer came (the message names the cause, never
        the request headers) and :class:`InvalidRequest` for a URL that cannot be used."""
        target = _parse_url(url)
        with traces.client_span(method, target.host, target.port) as span:
            answer = self._send(target, method, body, headers, timeout, max_body, span)
        return answer

    def _send(
        self,
        target: _Target,
        method: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        timeout: float,
        max_body: int,
        span: object,
    ) -> HttpResponse:
        """:meth:`request` after the URL is parsed, its status recorded on ``span``."""
        try:
            addresses = vetted_addresses(self.policy, target.host, target.port, self._lookup, timeout)
            conn = self._connection(target, addresses, timeout)
            try:
                conn.request(method, target.path, body=body, headers=dict(headers or {}))
                resp = conn.getresponse()
                traces.end_client(span, resp.status)
                return HttpResponse(resp.status, _lower(resp.getheaders()), resp.read(max_body))
            finally:
                conn.close()
        except (Refusal, InvalidRequest):
            raise
        except ssl.SSLError as err:  # before ValueError: a failed certificate check is both
            raise NetworkError(f"{type(err).__name__}: {err}") from err
        except (http.client.InvalidURL, ValueError) as err:
            raise InvalidRequest(f"invalid URL: {err}") from err
        except (http.client.HTTPException, OSError) as err:
            traces.end_client(span, None, type(err).__name__)
            raise NetworkError(f"{type(err).__name__}: {err}") from err

    def _connection(self, target: _Target, addresses: list[Any], timeout: float) -> http.client.HTTPConnection:
        if target.scheme == "http":
            return PinnedHTTPConnection(target.host, target.port, addresses, self.policy, timeout=timeout)
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return PinnedHTTPSConnection(target.host, target.port, addresses, self.policy, self._tls, timeout=timeout)

    def post_json(
        self, url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> HttpResponse:
        """POSTs ``document`` as JSON (``Content-Type: application/json``); see :meth:`request`."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        data = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        return self.request("POST", url, data, all_headers, timeout)

    def deliver_json(
        self, url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0
    ) -> DeliveryResult:
        """POSTs ``document`` and classifies the answer: a refusal or an unusable URL is
        permanent, a network error retryable."""
        try:
            return classify(self.post_json(url, document, headers, timeout))
        except Refusal as refusal:
            return DeliveryResult.permanent(str(refusal))
        except NetworkError as err:
            return DeliveryResult.retryable(f"network error: {err}")
        except InvalidRequest as err:
            return DeliveryResult.permanent(str(err))


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str


def _parse_url(url: str) -> _Target:
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise InvalidRequest(f"invalid URL: {err}") from err
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidRequest(f"unsupported URL scheme {scheme!r}: use http or https")
    if not parts.hostname:
        raise InvalidRequest("invalid URL: it has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidRequest("invalid URL: credentials in the URL are not sent; use the auth settings")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(scheme, parts.hostname, port or (443 if scheme == "https" else 80), path)


_default: tuple[str, PolicyClient] | None = None
_default_lock = threading.Lock()


def policy_client() -> PolicyClient:
    """The client held to the policy in the plugin's environment (``SWITCHYARD_NETWORK_ALLOW``),
    shared by every call. Raises :class:`~.net_policy.PolicyError` when the allow-list cannot
    be read: report it, never send without the policy."""
    global _default
    allow = os.environ.get(ALLOW_ENV, "")
    with _default_lock:
        if _default is None or _default[0] != allow:
            _default = (allow, PolicyClient(NetworkPolicy.parse(allow)))
        return _default[1]


def request(
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    max_body: int = 1 << 20,
) -> HttpResponse:
    """:meth:`PolicyClient.request` with the environment's policy (:func:`policy_client`);
    raises :class:`~.net_policy.Refusal`, :class:`NetworkError`, :class:`InvalidRequest` or
    :class:`~.net_policy.PolicyError`."""
    return policy_client().request(method, url, body, headers, timeout, max_body)


def post_json(url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0) -> HttpResponse:
    """:meth:`PolicyClient.post_json` with the environment's policy."""
    return policy_client().post_json(url, document, headers, timeout)


def deliver_json(
    url: str, document: Any, headers: Mapping[str, str] | None = None, timeout: float = 10.0
) -> DeliveryResult:
    """:meth:`PolicyClient.deliver_json` with the environment's policy; an unreadable
    allow-list is retryable (the operator fixes it, the plugin is restarted)."""
    try:
        client = policy_client()
    except PolicyError as err:
        return DeliveryResult.retryable(f"the plugin's network policy cannot be read: {err}")
    return client.deliver_json(url, document, headers, timeout)


def _lower(items: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in items}
