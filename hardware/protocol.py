"""JSON-lines framing: request validation, error codes, encoding, bounded line reads."""

from __future__ import annotations

import json
import math
from typing import IO, Any, Optional

MAX_LINE = 1 << 20  # 1 MiB, newline excluded

UNKNOWN_METHOD = "unknown_method"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
INTERNAL = "internal"
NOT_PERMITTED = "not_permitted"
UNAVAILABLE = "unavailable"  # the hardware or tool is absent on this Pi
FAILED = "failed"  # the action ran and failed


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, req_id: Optional[int] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.req_id = req_id

    def reply(self) -> dict[str, Any]:
        return error(self.req_id, self.code, self.message)


class Request:
    __slots__ = ("id", "method", "params")

    def __init__(self, req_id: int, method: str, params: dict[str, Any]) -> None:
        self.id = req_id
        self.method = method
        self.params = params


def error(req_id: Optional[int], code: str, message: str) -> dict[str, Any]:
    return {"id": req_id, "error": {"code": code, "message": message}}


def parse_request(line: bytes) -> Request:
    """Parse one line; raise :class:`ProtocolError` carrying the id when it could be read."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(BAD_REQUEST, "line is not valid UTF-8") from None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ProtocolError(BAD_REQUEST, "invalid JSON: %s" % str(e)[:200]) from None
    if not isinstance(obj, dict):
        raise ProtocolError(BAD_REQUEST, "request must be a JSON object")
    req_id = obj.get("id")
    if not isinstance(req_id, int) or isinstance(req_id, bool) or abs(req_id) > 2**53:
        raise ProtocolError(BAD_REQUEST, "'id' must be an integer")
    method = obj.get("method")
    if not isinstance(method, str) or not method:
        raise ProtocolError(BAD_REQUEST, "'method' must be a non-empty string", req_id)
    params = obj.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise ProtocolError(BAD_REQUEST, "'params' must be an object", req_id)
    return Request(req_id, method, params)


def _clean(value: Any) -> Any:
    """Make a value strict-JSON safe (no NaN/Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def encode(message: dict[str, Any]) -> bytes:
    try:
        text = json.dumps(message, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_clean(message), separators=(",", ":"), allow_nan=False)
    return text.encode("utf-8") + b"\n"


def read_line(stream: IO[bytes], limit: int = MAX_LINE) -> Optional[bytes]:
    """Read one line (without the newline). ``None`` at EOF.

    A line longer than ``limit`` is consumed up to its newline and then reported with
    :class:`ProtocolError` ``too_large``, so the stream stays in sync.
    """
    line = stream.readline(limit + 1)
    if not line:
        return None
    if line.endswith(b"\n"):
        return line[:-1].rstrip(b"\r")
    if len(line) <= limit:
        return line  # last line without a newline, then EOF
    while True:  # drain the rest of the oversized line
        chunk = stream.readline(65536)
        if not chunk or chunk.endswith(b"\n"):
            break
    raise ProtocolError(TOO_LARGE, "line exceeds %d bytes" % limit)
