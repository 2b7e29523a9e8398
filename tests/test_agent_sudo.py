"""The agent runs sudo only for privileged actions, never to probe, and remembers per boot what
sudo answered (the real agent process against a fake Pi tree whose sudo logs every run)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.core.models import Facts, Hello
from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree

try:
    from tests.test_agent_harness import Agent, agent_env
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent, agent_env  # type: ignore[no-redef]

# In front of the tree's fake sudo: one line per run, like the auth log of a real Pi.
LOGGING_SUDO = """#!/bin/sh
here=$(dirname "$0")
echo "$*" >> "$here/../sim/sudo-runs"
exec "$here/sudo.real" "$@"
"""


@pytest.fixture
def pi(tmp_path: Path) -> Path:
    root = tmp_path / "pi"
    build_pi_tree(root, MODELS["5"], "rack1-u02", "6a1b2c3d4e5f6072", SimPiState())
    sudo = root / "bin/sudo"
    sudo.rename(root / "bin/sudo.real")
    sudo.write_text(LOGGING_SUDO)
    sudo.chmod(sudo.stat().st_mode | stat.S_IXUSR)
    return root


@pytest.fixture
def agents() -> Iterator[list[Agent]]:
    started: list[Agent] = []
    yield started
    for a in started:
        a.kill()


def connect(
    pi: Path, agents: list[Agent], env: dict[str, str] | None = None
) -> tuple[Agent, dict[str, Any]]:
    """One connection's agent (a new process, as for each SSH session) and its hello."""
    a = Agent(pi, env=env)
    agents.append(a)
    hello = a.recv()["hello"]
    Hello.model_validate(hello)  # what the laptop accepts
    return a, hello


def sudo_runs(pi: Path) -> list[str]:
    log = pi / "sim/sudo-runs"
    return log.read_text().splitlines() if log.exists() else []


def facts(a: Agent) -> dict[str, Any]:
    result = a.call("facts", req_id=50)["result"]
    Facts.model_validate(result)  # what the laptop accepts
    return result


def test_connecting_runs_no_sudo_and_says_unknown(pi: Path, agents: list[Agent]) -> None:
    for _ in range(3):  # a fleet polled all day: connection after connection
        a, hello = connect(pi, agents)
        assert hello["capabilities"]["sudo"] is None
        f = facts(a)
        assert f["capabilities"]["sudo"] is None and f["sudo"] is None
        assert "never to probe" in f["missing"]["sudo"]
        a.call("health", req_id=2)
        assert a.close() == 0
    assert sudo_runs(pi) == []


def test_what_sudo_answered_is_remembered_for_the_boot(pi: Path, agents: list[Agent]) -> None:
    a, hello = connect(pi, agents)
    assert a.call("reboot", req_id=1)["result"]["requested"] is True
    assert sudo_runs(pi) == ["-n reboot"]
    f = facts(a)  # the same agent knows at once
    assert f["capabilities"]["sudo"] is True
    assert set(f["sudo"]) == {"reboot"} and f["sudo"]["reboot"]["ok"] is True
    assert "sudo" in f["sources"] and "sudo" not in f["missing"]
    a.close()

    b, hello = connect(pi, agents)  # the next connection knows without asking sudo
    assert hello["capabilities"]["sudo"] is True
    assert sudo_runs(pi) == ["-n reboot"]

    (pi / "sim/sudo_denied").write_text("1")  # a sudoers rule gone (or never there for this)
    err = b.call("shutdown", req_id=2)["error"]
    assert err["code"] == "not_permitted"
    f = facts(b)
    assert f["sudo"]["poweroff"]["ok"] is False and f["sudo"]["reboot"]["ok"] is True
    assert f["capabilities"]["sudo"] is True  # reboot still works: sudo is usable for some
    assert b.call("reboot", req_id=3)["error"]["code"] == "not_permitted"
    assert facts(b)["capabilities"]["sudo"] is False  # now refused for everything tried
    b.close()

    c, hello = connect(pi, agents)
    assert hello["capabilities"]["sudo"] is False
    (pi / "sim/sudo_denied").unlink()  # the admin adds the rule; the next action finds out
    assert c.call("reboot", req_id=1)["result"]["requested"] is True
    assert facts(c)["capabilities"]["sudo"] is True
    assert sudo_runs(pi) == ["-n reboot", "-n poweroff", "-n reboot", "-n reboot"]
    saved = json.loads((pi / "run/fleet-agent/sudo.json").read_text())
    assert set(saved) == {"boot", "commands"} and set(saved["commands"]) == {"reboot", "poweroff"}


def test_a_new_boot_forgets(pi: Path, agents: list[Agent]) -> None:
    a, hello = connect(pi, agents)
    a.call("reboot", req_id=1)
    a.close()
    assert connect(pi, agents)[1]["capabilities"]["sudo"] is True
    boot_id = pi / "proc/sys/kernel/random/boot_id"
    boot_id.parent.mkdir(parents=True, exist_ok=True)
    boot_id.write_text("0f6c3a52-6a7e-4c61-9d0b-3f1b2b7c9e11\n")  # rebooted (a real Pi has one)
    b, hello = connect(pi, agents)
    assert hello["capabilities"]["sudo"] is None
    assert facts(b)["sudo"] is None


def test_a_bad_or_unwritable_record_is_unknown_never_an_error(
    pi: Path, agents: list[Agent]
) -> None:
    state = pi / "run/fleet-agent"
    state.mkdir(parents=True)
    (state / "sudo.json").write_text('{"boot": 1, "commands": [')
    a, hello = connect(pi, agents)
    assert hello["capabilities"]["sudo"] is None
    (state / "sudo.json").write_text('{"boot": "x", "commands": {"reboot": "yes"}}')
    assert facts(a)["capabilities"]["sudo"] is None
    a.close()

    for f in state.iterdir():
        f.unlink()
    state.rmdir()
    state.write_text("not a directory")  # no state dir can be made (a full disk is alike)
    b, hello = connect(pi, agents)
    assert b.call("reboot", req_id=1)["result"]["requested"] is True  # the action still works
    assert facts(b)["capabilities"]["sudo"] is None
    assert sudo_runs(pi) == ["-n reboot"]


def test_a_simulated_pi_never_reaches_a_sudo_outside_its_tree(
    pi: Path, tmp_path: Path, agents: list[Agent]
) -> None:
    (pi / "bin/sudo").unlink()
    (pi / "bin/sudo.real").unlink()
    host = tmp_path / "host-bin"  # stands for the host's real sudo, later on PATH
    host.mkdir()
    (host / "sudo").write_text(f'#!/bin/sh\necho "$*" >> {tmp_path}/host-sudo-runs\nexit 0\n')
    (host / "sudo").chmod(0o755)
    env = agent_env(pi)
    env["PATH"] = f"{pi / 'bin'}{os.pathsep}{host}{os.pathsep}{env['PATH']}"
    a, hello = connect(pi, agents, env)
    assert hello["capabilities"]["sudo"] is False
    err = a.call("reboot", req_id=1)["error"]
    assert err["code"] == "not_permitted" and "inside the simulated Pi" in err["message"]
    f = facts(a)
    assert f["sudo"] is None and f["missing"]["sudo"] == "no sudo inside the simulated Pi"
    assert not (tmp_path / "host-sudo-runs").exists()
