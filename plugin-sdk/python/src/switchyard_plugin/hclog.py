"""JSON log lines on stderr in go-plugin's (hclog's) format.

The host reads a plugin's stderr line by line; a line that is a JSON object with ``@level``,
``@message`` and ``@timestamp`` is re-emitted at that level with the other keys as fields. This
module provides the :class:`logging.Handler` that writes such lines, so plugin code logs with the
standard :mod:`logging` module::

    log = logging.getLogger(__name__)
    log.info("delivered", extra={"status": 200})

Keys given through ``extra=`` become fields. Never log a config or a connection config: they
carry decrypted secrets. As a safety net, the message, string fields and tracebacks of every
line written while a call runs are scrubbed of that call's secrets (:mod:`.scrub`).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import traceback
from datetime import datetime, timezone
from typing import IO

from . import traces
from .scrub import scrub_active

# Attributes every LogRecord has; anything else on a record came from ``extra=`` and is a field.
_RECORD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime", "taskName"}
)

_LEVELS = ((logging.ERROR, "error"), (logging.WARNING, "warn"), (logging.INFO, "info"), (logging.DEBUG, "debug"))


def hclog_level(levelno: int) -> str:
    """Maps a :mod:`logging` level number to hclog's level name (``trace`` below DEBUG)."""
    for threshold, name in _LEVELS:
        if levelno >= threshold:
            return name
    return "trace"


def _timestamp(created: float) -> str:
    # hclog's JSON format: 2006-01-02T15:04:05.000000Z07:00
    return datetime.fromtimestamp(created, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def format_record(record: logging.LogRecord, module: str | None = None) -> str:
    """Renders one record as a single hclog JSON line (without the newline)."""
    line: dict[str, object] = {
        "@level": hclog_level(record.levelno),
        "@message": scrub_active(record.getMessage()),
        "@timestamp": _timestamp(record.created),
        "@module": module or record.name,
    }
    for key, value in record.__dict__.items():
        if key not in _RECORD_ATTRS and not key.startswith("_"):
            line[key] = scrub_active(value) if isinstance(value, str) else value
    trace_id = traces.current_trace_id()
    if trace_id is not None:
        line["trace_id"] = trace_id
    if record.exc_info and record.exc_info[0] is not None:
        line["error"] = scrub_active("".join(traceback.format_exception(*record.exc_info)).rstrip())
    return json.dumps(line, default=str, ensure_ascii=False)


class HclogHandler(logging.Handler):
    """Writes every record as one hclog JSON line to ``stream`` (stderr by default)."""

    def __init__(self, stream: IO[str] | None = None, module: str | None = None) -> None:
        super().__init__()
        self._stream = stream
        self._module = module
        # One line must never interleave with another thread's line.
        self._write_lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = format_record(record, self._module) + "\n"
            stream = self._stream or sys.__stderr__
            if stream is None:  # no stderr at all: nowhere to log
                return
            with self._write_lock:
                stream.write(text)
                stream.flush()
        except Exception:  # noqa: BLE001 - a log line must never take the plugin down
            self.handleError(record)


def install(level: int = logging.INFO, module: str | None = None) -> HclogHandler:
    """Routes the root logger (and Python warnings) to an :class:`HclogHandler` on stderr."""
    handler = HclogHandler(module=module)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler
