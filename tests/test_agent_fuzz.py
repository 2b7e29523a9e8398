"""Property/fuzz tests: the agent's protocol must survive anything on stdin without dying."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree
from fleet_tui.hardware import agent as agent_mod
from fleet_tui.hardware import protocol
from fleet_tui.hardware.protocol import ProtocolError

# its module-wide fixture is built once: one worker runs the whole file (make test)
pytestmark = pytest.mark.xdist_group("fuzz")

try:
    from tests.test_agent_harness import Agent
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent  # type: ignore[no-redef]

ACTIONS = {"identify", "reboot", "shutdown", "fan", "relay", "avahi"}
SAFE_METHODS = ["facts", "health", "ping", "hello", "watch", "cancel", "nope", ""]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

requests = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(
            st.integers(), st.none(), st.text(max_size=5), st.booleans(), st.floats(allow_nan=False)
        ),
        "method": st.one_of(st.sampled_from(SAFE_METHODS), st.integers(), st.none(), json_values),
        "params": st.one_of(
            json_values,
            st.fixed_dictionaries({}, optional={"interval": json_values, "target": json_values}),
        ),
    },
)


def _encode(obj: Any) -> bytes:
    return json.dumps(obj).encode()


lines = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")),
    st.text(max_size=200).map(lambda s: s.replace("\n", "").encode("utf-8", "surrogatepass")),
    requests.map(_encode),
    json_values.map(_encode),
    st.sampled_from(
        [
            b"{",
            b"[]",
            b'{"id": 1}',
            b'{"id": 1, "method": "ping", "params": []}',
            b"\xff\xfe",
            b"[" * 5000 + b"]" * 5000,
            b"1e999999",
            b'{"id": 1e400}',
        ]
    ),
)


# --- in process ---------------------------------------------------------------------------------

# The machine may be busy (other test suites run alongside): never fail on generation speed.
RELAXED = settings(
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture], deadline=None
)


@RELAXED
@given(st.binary(max_size=2000))
def test_parse_request_only_raises_protocol_errors(data: bytes) -> None:
    try:
        req = protocol.parse_request(data)
    except ProtocolError as e:
        assert e.code in (protocol.BAD_REQUEST,)
        return
    assert isinstance(req.id, int) and isinstance(req.method, str) and isinstance(req.params, dict)


@RELAXED
@given(requests)
def test_parse_request_structured(obj: dict[str, Any]) -> None:
    try:
        protocol.parse_request(_encode(obj))
    except ProtocolError as e:
        reply = e.reply()
        assert reply["id"] is None or isinstance(reply["id"], int)


@RELAXED
@given(st.lists(st.binary(max_size=150), max_size=8))
def test_read_line_resyncs_after_oversized_lines(chunks: list[bytes]) -> None:
    limit = 64
    parts = [c.replace(b"\n", b"") for c in chunks]
    stream = io.BytesIO(b"".join(p + b"\n" for p in parts))
    for p in parts:
        try:
            got = protocol.read_line(stream, limit)
        except ProtocolError as e:
            assert e.code == protocol.TOO_LARGE and len(p.rstrip(b"\r")) > limit - 1
            continue
        assert got == p.rstrip(b"\r")
    assert protocol.read_line(stream, limit) is None


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzzpi")
    build_pi_tree(root, MODELS["5"], "fuzz", "6a1b2c3d4e5f6071", SimPiState())
    return root


@pytest.fixture(scope="module")
def server(tree: Path) -> Iterator[agent_mod.Server]:
    mp = pytest.MonkeyPatch()
    mp.setenv("FLEET_AGENT_ROOT", str(tree))  # never touch this machine's real hardware
    mp.setenv("PATH", str(tree / "bin") + ":" + __import__("os").environ["PATH"])
    out = io.BytesIO()
    srv = agent_mod.Server(io.BytesIO(b""), out)
    for name in ACTIONS:
        srv.methods.pop(name, None)
    srv.methods["watch"] = lambda req: {"watch": "disabled in this test"}
    yield srv
    srv.shutdown()
    mp.undo()


@settings(
    max_examples=200,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(lines)
def test_handle_answers_every_line_with_one_object(server: agent_mod.Server, line: bytes) -> None:
    out = server.stdout
    assert isinstance(out, io.BytesIO)
    out.seek(0)
    out.truncate()
    server.handle(line)
    written = out.getvalue()
    assert written.endswith(b"\n") and written.count(b"\n") == 1
    msg = json.loads(written)
    assert set(msg) in ({"id", "result"}, {"id", "error"})
    if "error" in msg:
        assert isinstance(msg["error"]["code"], str) and isinstance(msg["error"]["message"], str)


# --- a real agent process -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tree: Path) -> Iterator[Agent]:
    a = Agent(tree)
    assert "hello" in a.recv()
    yield a
    a.kill()


_ping_id = [10**12]


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    deadline=None,
)
@given(st.lists(lines, min_size=1, max_size=6))
def test_live_agent_survives_garbage(live: Agent, batch: list[bytes]) -> None:
    for line in batch:
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            obj = None
        if (
            isinstance(obj, dict)
            and isinstance(obj.get("method"), str)
            and obj["method"] in ACTIONS
        ):
            continue
        live.send_raw(line + b"\n")
    _ping_id[0] += 1
    reply = live.call("ping", req_id=_ping_id[0])
    assert reply["result"]["pong"] is True
    assert live.proc.poll() is None


def test_live_agent_survives_huge_and_unterminated(live: Agent) -> None:
    live.send_raw(b"x" * (3 << 20) + b"\n")
    assert live.recv()["error"]["code"] == "too_large"
    live.send_raw(b'{"id": 5, "method": "ping"' + b" " * ((1 << 20) + 10) + b"}\n")
    assert live.recv()["error"]["code"] == "too_large"
    live.send_raw(b"\x00\x01\x02\n\n\r\n")
    assert live.recv()["error"]["code"] == "bad_request"
    assert live.call("ping", req_id=77)["result"]["pong"] is True
    live.send_raw(b'{"id": 78, "method": "ping"}')  # last line without newline, then EOF
    live.proc.stdin.close()  # type: ignore[union-attr]
    assert live.recv()["id"] == 78
    assert live.proc.wait(timeout=10) == 0
