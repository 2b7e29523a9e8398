"""JSON-lines framing: request validation, error codes, encoding, bounded line reads.

The codec is the stdlib's own C accelerator (``_json``: the scanner and encoder that
``json.loads``/``json.dumps`` use) driven directly, because ``import json`` also compiles the
regular expressions of its pure-Python fallback (``re``, ``enum``…): more CPU than everything
else a cold agent does before its hello. Output and errors are those of ``json``, byte for
byte (tests/test_agent_codec.py); where ``_json`` is missing or differs, ``json`` itself is
used.
"""

from __future__ import annotations

import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import IO, Any, Callable, Optional

MAX_LINE = 1 << 20  # 1 MiB, newline excluded

UNKNOWN_METHOD = "unknown_method"
BAD_REQUEST = "bad_request"
TOO_LARGE = "too_large"
INTERNAL = "internal"
NOT_PERMITTED = "not_permitted"
UNAVAILABLE = "unavailable"  # the hardware or tool is absent on this Pi
FAILED = "failed"  # the action ran and failed


# --- the codec ---------------------------------------------------------------------------


class _DecoderSettings:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: its defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self) -> None:
        constants = {"-Infinity": -math.inf, "Infinity": math.inf, "NaN": math.nan}
        self.parse_constant = constants.__getitem__


def _no_default(o: Any) -> Any:
    raise TypeError("Object of type %s is not JSON serializable" % type(o).__name__)


def _error_at(msg: str, doc: str, pos: int) -> ValueError:
    """``json.JSONDecodeError``'s text for ``msg`` at ``pos``."""
    lineno = doc.count("\n", 0, pos) + 1
    colno = pos - doc.rfind("\n", 0, pos)
    return ValueError("%s: line %d column %d (char %d)" % (msg, lineno, colno, pos))


def _skip_ws(s: str, i: int) -> int:
    n = len(s)
    while i < n and s[i] in " \t\n\r":
        i += 1
    return i


def _c_codec() -> tuple[Callable[[str], Any], Callable[..., str]]:
    import _json

    scan = _json.make_scanner(_DecoderSettings())  # type: ignore[arg-type]  # duck-typed
    make_encoder = _json.make_encoder
    escape = _json.encode_basestring_ascii

    def loads(s: str) -> Any:
        """``json.loads(s)`` for a str."""
        start = _skip_ws(s, 0)
        try:
            obj, end = scan(s, start)
        except StopIteration as e:
            raise _error_at("Expecting value", s, e.value) from None
        end = _skip_ws(s, end)
        if end != len(s):
            raise _error_at("Extra data", s, end)
        return obj

    def dumps(obj: Any, allow_nan: bool = False) -> str:
        """``json.dumps(obj, separators=(",", ":"), allow_nan=allow_nan)``. A new encoder per
        call, as json.dumps: its circular-reference memo is left dirty by a failed call."""
        encode = make_encoder({}, _no_default, escape, None, ":", ",", False, False, allow_nan)
        return "".join(encode(obj, 0))

    return loads, dumps


def _stdlib_codec() -> tuple[Callable[[str], Any], Callable[..., str]]:
    import json

    def dumps(obj: Any, allow_nan: bool = False) -> str:
        return json.dumps(obj, separators=(",", ":"), allow_nan=allow_nan)

    return json.loads, dumps


# What json writes for PROBE, and reads back; checked once per start.
PROBE = {"a": [1, 2.5, -0.0, 1e100, True, None, "\u00e9\x00\ud83d"], "b": {"c": ""}}
PROBE_TEXT = '{"a":[1,2.5,-0.0,1e+100,true,null,"\\u00e9\\u0000\\ud83d"],"b":{"c":""}}'


def _pick_codec() -> tuple[Callable[[str], Any], Callable[..., str], str]:
    """The C codec when this interpreter's ``_json`` behaves as ``json`` does on a probe;
    else ``json`` itself (never a dialect of our own)."""
    try:
        loads, dumps = _c_codec()
        if dumps(PROBE) == PROBE_TEXT and loads(PROBE_TEXT) == PROBE:
            return loads, dumps, "_json"
    except Exception:
        pass
    loads, dumps = _stdlib_codec()
    return loads, dumps, "json"


loads, _dumps, CODEC = _pick_codec()


# --- requests ------------------------------------------------------------------------------


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
        obj = loads(text)
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


def dumps(message: Any) -> str:
    """Compact strict JSON (as ``json.dumps(m, separators=(",", ":"), allow_nan=False)``)."""
    return _dumps(message)


def encode(message: dict[str, Any]) -> bytes:
    try:
        text = _dumps(message)
    except ValueError:
        text = _dumps(_clean(message))
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
