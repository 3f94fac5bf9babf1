"""The network policy on real sockets: a ``PolicyClient`` (and the example plugin, a real
process) sending to local HTTP sinks. Refused targets (a loopback receiver, literal private,
metadata and IPv4-mapped addresses, names resolving to private addresses) end as permanent
outcomes naming the address, the reason and the setting, and the sinks see nothing; an allowed
subnet is reached; the connection is pinned to the one lookup's vetted addresses; redirects are
not followed; proxy variables are ignored; https keeps SNI and certificate verification for
the URL's host name although the connection goes to a pinned address."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchyard_plugin import Outcome
from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.http import NetworkError, PolicyClient, classify
from switchyard_plugin.net_policy import ALLOW_ENV, NetworkPolicy, Refusal
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, EXAMPLE, LOOPBACK_ALLOWED, Reply, Sink, deliver_request

PROXY_VARIABLES = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")


def client(allow: str = "", table: dict[str, list[str]] | None = None, calls: list[str] | None = None) -> PolicyClient:
    """A client under the allow-list ``allow``; with ``table``, names resolve from it only."""
    if table is None:
        return PolicyClient(NetworkPolicy.parse(allow))

    def lookup(host: str, _port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return table[host]

    return PolicyClient(NetworkPolicy.parse(allow), lookup=lookup)


def refusal_text(c: PolicyClient, url: str) -> str:
    with pytest.raises(Refusal) as refused:
        c.request("POST", url, b"{}")
    result = c.deliver_json(url, {})
    assert result.outcome is Outcome.PERMANENT and result.error == str(refused.value)
    return str(refused.value)


def test_a_loopback_receiver_is_refused_by_default_with_the_documented_error(sink: Sink) -> None:
    text = refusal_text(client(), sink.url)
    assert text.startswith("the network policy refused 127.0.0.1: it is a loopback address (127.0.0.0/8, ::1)"), text
    assert "(e.g. 127.0.0.1/32) to the coordinator's `[plugins] network_allow`" in text
    assert text.endswith(f"which plugins receive in {ALLOW_ENV}")
    assert sink.received.empty()


def test_an_allowed_subnet_is_reached(sink: Sink) -> None:
    result = client("127.0.0.0/8").deliver_json(sink.url, {"a": 1}, {"X-Test": "1"})
    assert result.outcome is Outcome.DELIVERED and result.external_id == "ext-1"
    got = sink.next()
    assert (got.method, got.path, got.json(), got.headers["x-test"]) == ("POST", "/hook", {"a": 1}, "1")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://10.1.2.3/hook", "refused 10.1.2.3: it is a private address"),
        ("http://192.168.0.10/", "refused 192.168.0.10: it is a private address"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://169.254.169.254/latest/meta-data/", "refused 169.254.169.254: it is a cloud metadata address"),
        ("http://[fd00:ec2::254]/", "refused fd00:ec2::254: it is a cloud metadata address"),
        ("http://[::ffff:10.0.0.1]/", "it is an IPv4-mapped form of 10.0.0.1, a private address"),
        ("http://[64:ff9b::a9fe:a9fe]/", "it is a NAT64 form of 169.254.169.254"),
        ("http://[2002:a00:1::1]/", "it is a 6to4 form of 10.0.0.1"),
        ("http://[::1]:9/", "refused ::1: it is a loopback address"),
    ],
)
def test_literal_addresses_are_refused_before_connecting(url: str, words: str) -> None:
    # None of these answers on the test machine: an attempt would be a network error, not the
    # policy's permanent refusal.
    assert words in refusal_text(client(), url)


def test_the_mapped_form_of_a_live_loopback_receiver_is_refused(sink: Sink) -> None:
    port = sink.url.split(":")[2].split("/")[0]
    text = refusal_text(client(), f"http://[::ffff:127.0.0.1]:{port}/hook")
    assert "IPv4-mapped form of 127.0.0.1, a loopback address" in text
    assert sink.received.empty()


def test_a_name_resolving_to_a_private_address_is_refused(sink: Sink) -> None:
    text = refusal_text(client(table={"intranet.example": ["10.0.0.5"]}), "https://intranet.example/hook")
    assert text.startswith("the network policy refused intranet.example (resolved to 10.0.0.5): it is a private")
    # The operating system's resolver too: `localhost` and an IPv4 address spelt as a number.
    port = sink.url.split(":")[2].split("/")[0]
    assert "refused localhost (resolved to " in refusal_text(client(), f"http://localhost:{port}/hook")
    decimal = refusal_text(client(), f"http://2130706433:{port}/hook")
    assert "refused 2130706433 (resolved to 127.0.0.1): it is a loopback address" in decimal
    assert sink.received.empty()


def test_one_refused_address_refuses_the_name(sink: Sink) -> None:
    port = sink.url.split(":")[2].split("/")[0]
    c = client("127.0.0.0/8", {"mixed.test": ["127.0.0.1", "10.0.0.1"]})
    assert "refused mixed.test (resolved to 10.0.0.1)" in refusal_text(c, f"http://mixed.test:{port}/hook")
    assert sink.received.empty()


def test_the_connection_is_pinned_to_the_one_lookup(sink: Sink) -> None:
    # A resolver that would answer a private address the second time (DNS rebinding): the
    # client asks once, and connects to what it vetted.
    calls: list[str] = []
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])

    def lookup(host: str, _port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    port = sink.url.split(":")[2].split("/")[0]
    c = PolicyClient(NetworkPolicy.parse("127.0.0.0/8"), lookup=lookup)
    answer = c.request("POST", f"http://rebind.test:{port}/hook", b"{}", {"Content-Type": "application/json"})
    assert answer.status == 200 and calls == ["rebind.test"]
    assert sink.next().headers["host"] == f"rebind.test:{port}"


def test_a_resolver_that_does_not_answer_is_given_up_at_the_timeout() -> None:
    release = threading.Event()

    def stuck(_host: str, _port: int) -> list[str]:
        release.wait()  # answers only once the test is over
        return ["127.0.0.1"]

    c = PolicyClient(NetworkPolicy.parse("127.0.0.0/8"), lookup=stuck)
    try:
        result = c.deliver_json("http://stuck.test/hook", {}, timeout=0.2)
    finally:
        release.set()
    assert result.outcome is Outcome.RETRYABLE
    assert result.error == "network error: TimeoutError: resolving stuck.test took longer than 0.2 s"


def test_a_redirect_is_not_followed(sink: Sink) -> None:
    target = Sink()
    try:
        sink.reply = Reply(302, {"Location": target.url}, b"")
        c = client("127.0.0.0/8")
        answer = c.request("POST", sink.url, b"{}")
        assert answer.status == 302 and answer.header("location") == target.url
        result = classify(answer)
        assert result.outcome is Outcome.PERMANENT
        assert result.error == "HTTP 302 (redirects are not followed: configure the final URL)"
        sink.next()
        assert target.received.empty()
    finally:
        target.close()


def test_proxy_variables_are_ignored(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    proxy = Sink()
    try:
        for name in PROXY_VARIABLES:
            monkeypatch.setenv(name, proxy.url.rsplit("/", 1)[0])
        assert client("127.0.0.0/8").deliver_json(sink.url, {}).outcome is Outcome.DELIVERED
        sink.next()
        assert proxy.received.empty()
    finally:
        proxy.close()


# === the example plugin, a real process ===


def test_the_example_plugin_refuses_a_loopback_receiver_without_the_allow_list(sink: Sink) -> None:
    with PluginProcess([str(EXAMPLE)]) as plugin:
        answer = plugin.plugin.Deliver(deliver_request({"url": sink.url}), timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_PERMANENT
    assert answer.error.startswith("the network policy refused 127.0.0.1: it is a loopback address"), answer.error
    assert ALLOW_ENV in answer.error
    assert sink.received.empty()


def test_the_example_plugins_connection_test_reports_the_refusal(sink: Sink) -> None:
    req = pb.TestConnectionRequest(
        provider_id="http-post", kind=pb.CONFIG_KIND_PROVIDER, config_json=json.dumps({"url": sink.url})
    )
    with PluginProcess([str(EXAMPLE)]) as plugin:
        answer = plugin.plugin.TestConnection(req, timeout=CALL_TIMEOUT)
    assert not answer.success
    assert "the endpoint cannot be reached: the network policy refused 127.0.0.1" in answer.message
    assert sink.received.empty()


def test_the_example_plugin_ignores_proxy_variables(sink: Sink) -> None:
    proxy = Sink()
    try:
        env = {**LOOPBACK_ALLOWED, **{name: proxy.url.rsplit("/", 1)[0] for name in PROXY_VARIABLES}}
        with PluginProcess([str(EXAMPLE)], env=env) as plugin:
            answer = plugin.plugin.Deliver(deliver_request({"url": sink.url}), timeout=CALL_TIMEOUT)
        assert answer.outcome == pb.OUTCOME_DELIVERED
        sink.next()
        assert proxy.received.empty()
    finally:
        proxy.close()


def test_an_unreadable_allow_list_sends_nothing_and_says_which_entry(sink: Sink) -> None:
    with PluginProcess([str(EXAMPLE)], env={ALLOW_ENV: "127.0.0.0/8,localhost"}) as plugin:
        answer = plugin.plugin.Deliver(deliver_request({"url": sink.url}), timeout=CALL_TIMEOUT)
    assert answer.outcome == pb.OUTCOME_RETRYABLE
    assert f'{ALLOW_ENV}: entry 2 ("localhost") is not a subnet' in answer.error
    assert sink.received.empty()


# === https over a pinned connection ===


class _TlsSink:
    """An HTTPS server on 127.0.0.1 with a certificate for ``sink.test``; records the SNI names
    clients sent."""

    def __init__(self, cert: Path, key: Path) -> None:
        self.server_names: list[str | None] = []
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.server.handle_error = lambda *_: None  # type: ignore[method-assign]  # a refused handshake
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[_TlsSink, Path]]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        + ["-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=sink.test"]
        + ["-addext", "subjectAltName=DNS:sink.test"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    server = _TlsSink(cert, key)
    try:
        yield server, cert
    finally:
        server.close()


def test_https_verifies_the_url_host_over_the_pinned_address(tls: tuple[_TlsSink, Path]) -> None:
    server, cert = tls
    trust = ssl.create_default_context(cafile=str(cert))
    table = {"sink.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
    c = PolicyClient(NetworkPolicy.parse("127.0.0.0/8"), lookup=lambda host, _port: table[host], tls=trust)
    answer = c.request("POST", f"https://sink.test:{server.port}/hook", b"{}")
    assert answer.status == 201 and server.server_names == ["sink.test"]
    # The same address under a name the certificate does not cover is not trusted.
    with pytest.raises(NetworkError) as failed:
        c.request("POST", f"https://other.test:{server.port}/hook", b"{}")
    assert "certificate verify failed" in str(failed.value) or "match" in str(failed.value)
    assert server.server_names[-1] == "other.test"
    assert c.deliver_json(f"https://other.test:{server.port}/hook", {}).outcome is Outcome.RETRYABLE
