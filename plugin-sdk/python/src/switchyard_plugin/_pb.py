"""The generated protobuf and gRPC modules, generated on first use when missing.

Everything else in the SDK imports message and service types from here, never from
``_generated`` directly, so a fresh checkout works without a separate generation step.
"""

from __future__ import annotations

from . import gen

try:
    from ._generated.plugin import grpc_controller_pb2 as controller_pb2
except ImportError:  # first run on a fresh checkout: generate, then import
    gen.generate()
    from ._generated.plugin import grpc_controller_pb2 as controller_pb2

from ._generated.plugin import grpc_controller_pb2_grpc as controller_pb2_grpc
from ._generated.plugin import grpc_stdio_pb2 as stdio_pb2
from ._generated.plugin import grpc_stdio_pb2_grpc as stdio_pb2_grpc
from ._generated.switchyard.plugin.v1 import plugin_pb2, plugin_pb2_grpc

__all__ = [
    "controller_pb2",
    "controller_pb2_grpc",
    "plugin_pb2",
    "plugin_pb2_grpc",
    "stdio_pb2",
    "stdio_pb2_grpc",
]
