"""The agent's config file methods, the real agent process against a fake Pi tree: a file in
/etc of the simulated Pi goes through its (fake) sudo, one in the home directly."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fleet_tui.core.sim.pi_models import MODELS
from fleet_tui.core.sim.pi_tree import SimPiState, build_pi_tree

try:
    from tests.test_agent_harness import Agent, agent_env
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from test_agent_harness import Agent, agent_env  # type: ignore[no-redef]


@pytest.fixture
def pi(tmp_path: Path) -> Path:
    root = tmp_path / "pi"
    build_pi_tree(root, MODELS["4b"], "rack1-u03", "6a1b2c3d4e5f6073", SimPiState())
    (root / "etc/app").mkdir(parents=True)
    (root / "etc/app/app.conf").write_text("old\n")
    (root / "etc/app/app.conf").chmod(0o640)
    return root


@pytest.fixture
def agent(pi: Path, tmp_path: Path) -> Iterator[Agent]:
    env = agent_env(pi)
    env["HOME"] = str(tmp_path / "home")
    (tmp_path / "home").mkdir()
    a = Agent(pi, env=env)
    a.recv()  # hello
    yield a
    a.kill()


def write(a: Agent, content: str, req_id: int = 1, **params: Any) -> dict[str, Any]:
    body = {
        "path": "/etc/app/app.conf",
        "content": content,
        "sha256": hashlib.sha256(content.encode()).hexdigest(),
        "label": "app",
        "version": "v2",
        **params,
    }
    return a.call("config_write", body, req_id=req_id)


def sudo_requests(pi: Path) -> list[str]:
    p = pi / "sim/requests"
    return p.read_text().splitlines() if p.exists() else []


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".fleet-new" in p.name)


def test_a_failing_validator_changes_nothing(agent: Agent, pi: Path) -> None:
    err = write(agent, "new\n", validate="grep -q valid %s", restart="true")["error"]
    assert err["code"] == "failed" and "validation failed (grep exited 1)" in err["message"]
    target = pi / "etc/app/app.conf"
    assert target.read_text() == "old\n" and oct(target.stat().st_mode & 0o777) == "0o640"
    assert leftovers(target.parent) == []
    assert not (pi / "var/backups").exists()


def test_validate_backup_swap_restart_then_the_same_content_is_a_no_op(
    agent: Agent, pi: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "restarted"
    r = write(
        agent, "valid v2\n", validate="grep -q valid %s", restart=f"touch {marker}", mode="0644"
    )["result"]
    target = pi / "etc/app/app.conf"
    assert r["changed"] and r["via"] == "sudo" and target.read_text() == "valid v2\n"
    assert oct(target.stat().st_mode & 0o777) == "0o644" and marker.exists()
    backup = Path(r["backup"])
    assert (
        backup.read_text() == "old\n" and backup.parent == pi / "var/backups/fleet-tui/configs/app"
    )
    assert backup.name.startswith("app.conf.before-v2.")
    assert leftovers(target.parent) == []
    marker.unlink()
    again = write(agent, "valid v2\n", req_id=2, restart=f"touch {marker}", mode="0644")["result"]
    assert again == {"path": "/etc/app/app.conf", "changed": False, "sha256": r["sha256"]}
    assert not marker.exists()  # nothing changed: no restart
    read = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=3)["result"]
    assert read["content"] == "valid v2\n" and read["mode"] == "0644"


def test_sudo_refused_writes_nothing_and_says_why(agent: Agent, pi: Path) -> None:
    (pi / "sim/sudo_denied").write_text("1")
    err = write(agent, "new\n")["error"]
    assert err["code"] == "not_permitted" and "sudo -n install: not permitted" in err["message"]
    assert (pi / "etc/app/app.conf").read_text() == "old\n"
    assert leftovers(pi / "etc/app") == []


def test_a_file_in_the_home_is_written_directly(agent: Agent, tmp_path: Path) -> None:
    (tmp_path / "home/app").mkdir()
    r = write(agent, "mine\n", path="~/app/app.conf")["result"]
    assert r["via"] == "direct" and (tmp_path / "home/app/app.conf").read_text() == "mine\n"
    assert r["backup"] is None


def test_a_failing_restart_puts_the_old_file_back(agent: Agent, pi: Path) -> None:
    err = write(agent, "new\n", restart="false")["error"]
    assert "restart failed, the previous file was put back" in err["message"]
    assert (pi / "etc/app/app.conf").read_text() == "old\n"


def test_without_a_confirmation_the_watchdog_puts_the_old_file_back(agent: Agent, pi: Path) -> None:
    r = write(agent, "cuts the network\n", confirm_s=1)["result"]
    target = pi / "etc/app/app.conf"
    assert target.read_text() == "cuts the network\n" and r["confirm_token"]
    deadline = time.monotonic() + 15
    read: dict[str, Any] = {}
    while "rolled_back" not in read and time.monotonic() < deadline:
        time.sleep(0.1)
        read = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=5)["result"]
    assert "no confirmation within 1 s" in read["rolled_back"]["reason"]  # the report comes last
    assert target.read_text() == "old\n" and read["content"] == "old\n"


def test_a_confirmation_keeps_the_new_file(agent: Agent, pi: Path) -> None:
    r = write(agent, "good\n", confirm_s=1)["result"]
    ok = agent.call(
        "config_confirm", {"path": "/etc/app/app.conf", "token": r["confirm_token"]}, req_id=2
    )
    assert ok["result"]["confirmed"] is True
    time.sleep(2.0)  # past the deadline: the watchdog has stood down
    assert (pi / "etc/app/app.conf").read_text() == "good\n"


def test_paths_that_escape_are_refused(agent: Agent) -> None:
    for bad in ("etc/x", "/etc/../x", "~/../x", "/etc//x"):
        assert write(agent, "x", path=bad)["error"]["code"] == "bad_request"
    assert os.environ.get("FLEET_AGENT_ROOT") is None
