"""A receiver that echoes what it got (its request line, headers and body) in a 400 answer: the
example plugin's answer, and its log, carry no form of the secret it sent — the SDK scrubs them
without the provider doing anything. (Scrubbing log lines themselves is checked in
``test_scrub.py``: the example logs no answer text.)"""

from __future__ import annotations

import base64

from switchyard_plugin._pb import controller_pb2
from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, Sink, deliver_request

#: With characters URL-encoding changes, so its encoded forms differ from it.
CANARY = "Cnry-7f1e+tok/en="
FORMS = (CANARY, "Cnry-7f1e%2Btok%2Fen%3D", base64.b64encode(CANARY.encode()).decode())


def test_an_echoed_token_never_comes_back(example: PluginProcess, sink: Sink) -> None:
    sink.echo_status = 400
    answer = example.plugin.Deliver(deliver_request({"url": sink.url, "token": CANARY}), timeout=CALL_TIMEOUT)
    assert sink.next().headers["authorization"] == f"Bearer {CANARY}"
    assert answer.outcome == pb.OUTCOME_PERMANENT and answer.status_code == 400
    assert "you sent: POST /hook" in answer.error and "[REDACTED]" in answer.error, answer.error
    text = str(answer)
    assert not [f for f in FORMS if f in text], text


def test_an_echoed_token_is_not_in_the_plugin_log(example: PluginProcess, sink: Sink) -> None:
    sink.echo_status = 400
    example.plugin.Deliver(deliver_request({"url": sink.url, "token": CANARY}), timeout=CALL_TIMEOUT)
    sink.next()
    # Everything it wrote, read once it exited and its stderr was drained.
    example.controller.Shutdown(controller_pb2.Empty(), timeout=CALL_TIMEOUT)
    example.wait(timeout=CALL_TIMEOUT)
    assert example._drainer is not None
    example._drainer.join(timeout=CALL_TIMEOUT)
    logged = example.stderr_text()
    assert "delivery attempt done" in logged
    assert not [f for f in FORMS if f in logged], logged
