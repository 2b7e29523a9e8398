"""The agent's JSON codec (hardware/protocol.py) is `json`'s, byte for byte.

It drives the stdlib's C accelerator (`_json`) directly so that a cold agent need not import
`json` (and with it `re`); whatever it writes or refuses, `json` writes or refuses alike, and
where `_json` is missing or answers differently the agent uses `json` itself.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fleet_tui.hardware import protocol

JSON_TEXT = st.text(alphabet=st.sampled_from(list('{}[],:" \t\n\r\\/-+.0123456789eEtrufalsnNIy')))
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | st.sampled_from(["\ud800", "\udfff", "\x00", "\u2028", 'q"\\/'])  # surrogates, controls
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def stdlib_dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def outcome(fn: Any, *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except ValueError as e:  # json.JSONDecodeError is a ValueError
        return "ValueError", str(e)
    except RecursionError:
        return "RecursionError", None


def test_the_fast_codec_is_in_use() -> None:
    assert protocol.CODEC == "_json"


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_dumps_is_json_dumps(obj: Any) -> None:
    assert protocol.dumps(obj) == stdlib_dumps(obj)
    assert protocol.encode({"id": 1, "result": obj}) == (
        stdlib_dumps({"id": 1, "result": obj}).encode() + b"\n"
    )
    assert protocol.loads(stdlib_dumps(obj)) == json.loads(stdlib_dumps(obj))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_floats(bad: float) -> None:
    with pytest.raises(ValueError):
        protocol.dumps({"x": [bad]})
    with pytest.raises(ValueError):
        stdlib_dumps({"x": [bad]})
    assert protocol.encode({"x": [bad, 1.5]}) == b'{"x":[null,1.5]}\n'  # strict JSON out


def test_not_serialisable_and_circular() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        protocol.dumps({"x": object()})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        protocol.dumps(loop)
    assert protocol.dumps([[], []]) == "[[],[]]"  # a failed call leaves no stale memo


@settings(max_examples=1500, deadline=None)
@given(JSON_TEXT)
def test_loads_is_json_loads(text: str) -> None:
    ours, theirs = outcome(protocol.loads, text), outcome(json.loads, text)
    if ours[0] == "ok" and theirs[0] == "ok" and isinstance(theirs[1], float):
        assert math.isnan(ours[1]) == math.isnan(theirs[1])
        if math.isnan(theirs[1]):
            return
    assert ours == theirs


@pytest.mark.parametrize(
    "text",
    ["", "  ", "{", '{"a":1} x', "[1,]", "nul", "NaN", "-Infinity", ' {"id": 1} \n', "[" * 5000],
)
def test_loads_edge_cases(text: str) -> None:
    ours, theirs = outcome(protocol.loads, text), outcome(json.loads, text)
    if text == "NaN":
        assert ours[0] == theirs[0] == "ok" and math.isnan(ours[1])
    else:
        assert ours == theirs


def test_bad_requests_get_the_same_words_as_before() -> None:
    with pytest.raises(protocol.ProtocolError) as e:
        protocol.parse_request(b'{"id": 1, "method": }')
    assert e.value.message == "invalid JSON: Expecting value: line 1 column 21 (char 20)"


def test_falls_back_to_json_when_the_accelerator_is_unusable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken() -> Any:
        raise ImportError("no _json here")

    monkeypatch.setattr(protocol, "_c_codec", broken)
    loads, dumps, name = protocol._pick_codec()
    assert name == "json"
    assert dumps({"a": [1.5, "é"]}) == '{"a":[1.5,"\\u00e9"]}' and loads('{"a": 1}') == {"a": 1}

    def dialect() -> Any:  # an accelerator that answers differently: not used either
        return (lambda s: None), (lambda o, allow_nan=False: "{}")

    monkeypatch.setattr(protocol, "_c_codec", dialect)
    assert protocol._pick_codec()[2] == "json"


def test_an_interpreter_without_json_on_its_path_still_speaks_json(tmp_path: Path) -> None:
    """The agent never needs the json package: hide it and the codec still works."""
    fake = tmp_path / "json"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('json is not for the agent')\n")
    repo = Path(__file__).resolve().parent.parent
    code = (
        f"import sys; sys.path[:0] = [{str(tmp_path)!r}, {str(repo)!r}]\n"
        "from hardware import protocol\n"
        "print(protocol.CODEC, protocol.dumps(protocol.loads('[1, {\"a\": null}]')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-S", "-E", "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == '_json [1,{"a":null}]'
