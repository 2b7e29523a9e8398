"""The agent's clock: a simulated Pi's shift file (the lab's clock-skew fault) moves the time it
reports, re-rooted only; a real Pi's time is the system's whatever files it has."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree
from fleet_tui.hardware import clock

try:
    from tests.test_agent_harness import Agent
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent  # type: ignore[no-redef]

DAYS_3 = 3 * 86400.0


@pytest.fixture
def pi(tmp_path: Path) -> Path:
    root = tmp_path / "pi"
    build_pi_tree(root, MODELS["4b"], "clock-pi", "10000000c10c0001", SimPiState())
    return root


@pytest.fixture
def agent(pi: Path) -> Iterator[Agent]:
    a = Agent(pi)
    yield a
    a.kill()


def health_time(a: Agent, req_id: int) -> tuple[float, dict[str, Any]]:
    before = time.time()
    reply = a.call("health", {"fields": ["uptime_s"]}, req_id=req_id)["result"]
    return reply["time"] - (before + time.time()) / 2, reply


def test_a_simulated_pi_reports_its_shifted_clock_and_follows_changes(
    pi: Path, agent: Agent
) -> None:
    offset = pi / "sim/clock_offset"
    skew, reply = health_time(agent, 1)
    assert abs(skew) < 2 and reply["sources"]["time"] == "clock"

    offset.write_text("-259200\n")
    skew, reply = health_time(agent, 2)
    assert abs(skew + DAYS_3) < 2
    assert "sim:/sim/clock_offset" in reply["sources"]["time"]
    pong = agent.call("ping", req_id=3)["result"]
    assert abs(pong["time"] - time.time() + DAYS_3) < 2

    offset.write_text("720\n")  # changed: read again at the next sample, not later
    skew, _ = health_time(agent, 4)
    assert abs(skew - 720) < 2

    offset.unlink()
    skew, _ = health_time(agent, 5)
    assert abs(skew) < 2


@pytest.mark.parametrize("text", ["soon", "nan", "1e300", ""])
def test_a_bad_shift_file_leaves_the_clock_alone(pi: Path, agent: Agent, text: str) -> None:
    (pi / "sim/clock_offset").write_text(text)
    skew, reply = health_time(agent, 1)
    assert abs(skew) < 2 and reply["sources"]["time"] == "clock"
    assert "time" not in reply["missing"]


def test_a_real_pi_never_looks_for_the_shift_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Pi that happens to have /sim/clock_offset (here: every path maps to such a file)
    planted = tmp_path / "clock_offset"
    planted.write_text("-259200\n")
    monkeypatch.setattr(clock, "path", lambda p: str(planted))
    monkeypatch.delenv("FLEET_AGENT_ROOT", raising=False)

    def looked(*args: object) -> float:
        raise AssertionError("a real Pi must not read the simulator's shift file")

    monkeypatch.setattr(clock, "_sim_offset", looked)
    now, source = clock.now()
    assert abs(now - time.time()) < 1 and source == "clock"
    monkeypatch.setenv("FLEET_AGENT_ROOT", "/")  # the root itself is no simulated tree
    assert abs(clock.now()[0] - time.time()) < 1


def test_the_shift_file_is_read_only_when_it_changed(
    pi: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_AGENT_ROOT", str(pi))
    monkeypatch.setattr(clock, "_cached", None)
    opened: list[object] = []
    real_open = open

    def counting_open(*args: Any, **kwargs: Any) -> Any:
        opened.append(args[0])
        return real_open(*args, **kwargs)

    monkeypatch.setattr(clock, "open", counting_open, raising=False)
    (pi / "sim/clock_offset").write_text("-60\n")
    for _ in range(50):
        assert abs(clock.now()[0] - time.time() + 60) < 1
    assert len(opened) == 1
    (pi / "sim/clock_offset").write_text("-120.5\n")
    assert abs(clock.now()[0] - time.time() + 120.5) < 1
    assert len(opened) == 2
