"""The plugin shown in docs/writing-a-plugin-python.md really works: it is cut out of the
document, started as a plugin, and delivers to a local sink (which the network policy allows
only because the test hands the plugin the host's allow-list for loopback)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess

from .conftest import CALL_TIMEOUT, LOOPBACK_ALLOWED, ROOT, Sink, deliver_request

DOC = ROOT.parent.parent / "docs" / "writing-a-plugin-python.md"


def test_the_documented_plugin_delivers(tmp_path: Path, sink: Sink) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    source = next(b for b in blocks if "serve(" in b)
    script = tmp_path / "my_plugin.py"
    script.write_text(source, encoding="utf-8")
    with PluginProcess([sys.executable, str(script)], env=LOOPBACK_ALLOWED) as plugin:
        d = plugin.plugin.Describe(pb.DescribeRequest(), timeout=CALL_TIMEOUT)
        assert [p.id for p in d.providers] == ["notify"]
        answer = plugin.plugin.Deliver(
            deliver_request({"url": sink.url, "apiKey": "k-1"}, provider_id="notify"), timeout=CALL_TIMEOUT
        )
        assert answer.outcome == pb.OUTCOME_DELIVERED
        got = sink.next()
        assert got.headers["x-api-key"] == "k-1"
        assert got.json() == {"text": "incident.incident.created: API down"}
