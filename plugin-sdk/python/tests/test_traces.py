"""Traces of the example plugin, a real process exporting over OTLP/gRPC to a real TraceService
server in this process: a ``Deliver`` carrying the host's ``traceparent`` gives a server span
under it and a client span for the vendor request under that, in the host's trace."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2

from switchyard_plugin._pb import plugin_pb2 as pb
from switchyard_plugin.testing import PluginProcess
from switchyard_plugin.traces import wanted

from .conftest import CALL_TIMEOUT, EXAMPLE, LOOPBACK_ALLOWED, Reply, Sink, deliver_request

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
HOST_SPAN = "00f067aa0ba902b7"


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it, with its resource's ``service.name``."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, trace_pb2.Span]] = []
        self.lock = threading.Lock()

    def Export(self, request, context):  # noqa: N802 - the generated name
        with self.lock:
            for rs in request.resource_spans:
                service = next((a.value.string_value for a in rs.resource.attributes if a.key == "service.name"), "")
                for ss in rs.scope_spans:
                    self.spans.extend((service, s) for s in ss.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[tuple[str, trace_pb2.Span]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.spans) >= n:
                    return list(self.spans)
            assert time.monotonic() < deadline, f"{len(self.spans)} spans received, {n} expected"
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = Receiver()
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, port
    finally:
        server.stop(None)


def attr(span: trace_pb2.Span, key: str) -> object:
    for a in span.attributes:
        if a.key == key:
            v = a.value
            return v.string_value if v.HasField("string_value") else v.int_value
    return None


def test_deliver_and_vendor_request_spans_join_the_hosts_trace(receiver: tuple[Receiver, int], sink: Sink) -> None:
    servicer, port = receiver
    sink.reply = Reply(500, {}, b"oops")
    env = {
        **LOOPBACK_ALLOWED,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    with PluginProcess([str(EXAMPLE)], env=env) as plugin:
        metadata = (("traceparent", f"00-{TRACE_ID}-{HOST_SPAN}-01"),)
        req = deliver_request({"url": sink.url}, delivery_id="del-7", attempt=2)
        answer = plugin.plugin.Deliver(req, timeout=CALL_TIMEOUT, metadata=metadata)
        assert answer.outcome == pb.OUTCOME_RETRYABLE
        spans = servicer.wait_for(2)
    by_name = {s.name: (service, s) for service, s in spans}
    service, deliver = by_name["switchyard.plugin.v1.ProviderPlugin/Deliver"]
    _, post = by_name["POST"]
    assert service == "pyexample.py"
    assert deliver.trace_id.hex() == TRACE_ID and post.trace_id.hex() == TRACE_ID
    assert deliver.parent_span_id.hex() == HOST_SPAN
    assert post.parent_span_id == deliver.span_id
    assert deliver.kind == trace_pb2.Span.SPAN_KIND_SERVER and post.kind == trace_pb2.Span.SPAN_KIND_CLIENT
    assert (attr(deliver, "switchyard.delivery.id"), attr(deliver, "switchyard.attempt")) == ("del-7", 2)
    assert attr(deliver, "switchyard.outcome") == "OUTCOME_RETRYABLE"
    assert attr(post, "http.response.status_code") == 500
    assert attr(post, "server.address") == "127.0.0.1"
    # Never the path: a webhook URL's path may be its secret.
    assert all("/hook" not in str(a.value) for a in post.attributes)


def test_traces_follow_the_standard_variables() -> None:
    assert not wanted({})
    assert wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317"})
    assert not wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_SDK_DISABLED": "true"})
    assert not wanted({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_TRACES_EXPORTER": "none"})
    assert wanted({"OTEL_TRACES_EXPORTER": "otlp"})
