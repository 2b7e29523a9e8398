"""The agent's config file methods, the real agent process against a fake Pi tree: a file in
/etc of the simulated Pi goes through its (fake) sudo, one in the home directly."""

from __future__ import annotations

import hashlib
import os
import signal
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


def backups(pi: Path) -> list[str]:
    folder = pi / "var/backups/fleet-tui/configs/app"
    return sorted(p.read_text() for p in folder.iterdir()) if folder.exists() else []


def confirmed_write(a: Agent, content: str, version: str, **params: Any) -> dict[str, Any]:
    r = write(a, content, version=version, confirm_s=30, **params)["result"]
    ok = a.call("config_confirm", {"path": "/etc/app/app.conf", "token": r["confirm_token"]})
    return dict(ok["result"])


def test_backups_beyond_the_last_three_go_after_a_confirmed_write(agent: Agent, pi: Path) -> None:
    for n in range(2, 5):  # three writes: three backups (the file before each)
        assert confirmed_write(agent, f"v{n}\n", f"v{n}")["pruned"] == []
    assert backups(pi) == ["old\n", "v2\n", "v3\n"]
    r = write(agent, "v5\n", version="v5", confirm_s=30)["result"]
    assert len(backups(pi)) == 4  # not confirmed yet: nothing removed
    done = agent.call("config_confirm", {"path": "/etc/app/app.conf", "token": r["confirm_token"]})
    (pruned,) = done["result"]["pruned"]
    assert Path(pruned).name.startswith("app.conf.before-v2.")
    assert backups(pi) == ["v2\n", "v3\n", "v4\n"]  # the oldest ("old") is gone
    confirmed_write(agent, "v6\n", "v6", keep=1)  # a config kept with --keep 1
    assert backups(pi) == ["v5\n"]
    assert write(agent, "x", keep=0)["error"]["code"] == "bad_request"


def test_without_a_watchdog_the_backups_are_pruned_at_once(agent: Agent, pi: Path) -> None:
    for n in range(2, 6):
        write(agent, f"v{n}\n", version=f"v{n}", keep=2)
    assert backups(pi) == ["v3\n", "v4\n"]


def test_a_write_whose_watchdog_was_killed_is_put_back_at_the_next_contact(
    agent: Agent, pi: Path, tmp_path: Path
) -> None:
    """Where the end of the login session kills its processes (logind's KillUserProcesses)
    or the OOM killer took it, the watchdog is gone: the next config call past the deadline
    puts the old file back, restarts and reports it, instead of the new file staying."""
    marker = tmp_path / "restarted"
    r = write(agent, "cuts the network\n", confirm_s=1, restart=f"touch {marker}")["result"]
    target = pi / "etc/app/app.conf"
    (pid_file,) = (pi / "run/fleet-agent").glob("config-*-watchdog.pid")
    deadline = time.monotonic() + 10
    while not pid_file.read_text().strip() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid, token = pid_file.read_text().split()
    assert token == r["confirm_token"]
    os.kill(int(pid), signal.SIGKILL)
    marker.unlink()

    read = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=2)["result"]
    assert read["content"] == "cuts the network\n"  # before the deadline: it waits
    time.sleep(1.0 + 2.5)  # past the deadline and the grace; the killed watchdog did nothing
    assert target.read_text() == "cuts the network\n" and not marker.exists()
    read = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=3)["result"]
    assert read["content"] == "old\n" and target.read_text() == "old\n" and marker.exists()
    report = read["rolled_back"]
    assert report["by"] == "agent" and report["id"] == r["confirm_token"]
    assert "watchdog was not running" in report["reason"] and "v2" in report["reason"]
    late = agent.call(
        "config_confirm", {"path": "/etc/app/app.conf", "token": r["confirm_token"]}, req_id=4
    )
    assert "no pending push" in late["error"]["message"]
    ack = agent.call("config_ack", {"path": "/etc/app/app.conf", "id": report["id"]}, req_id=5)
    assert ack["result"]["acked"] is True
    read = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=6)["result"]
    assert read["rolled_back"]["acked"] is True


def test_a_file_only_root_reads_is_compared_by_its_hash(agent: Agent, pi: Path) -> None:
    (pi / "sim/root_only").write_text("/etc/app/app.conf\n")  # mode 0600 root:root, simulated
    read = agent.call("config_read", {"path": "/etc/app/app.conf"})["result"]
    assert read["exists"] and read["readable"] is False and read["content"] is None
    assert read["sha256"] == hashlib.sha256(b"old\n").hexdigest()
    same = write(agent, "old\n", restart="false")["result"]  # a restart would fail: none runs
    assert same["changed"] is False
    assert not (pi / "var/backups").exists()
    assert write(agent, "new\n", req_id=3)["result"]["changed"] is True
    assert (pi / "etc/app/app.conf").read_text() == "new\n"

    (pi / "sim/sudo_denied").write_text("1")
    err = agent.call("config_read", {"path": "/etc/app/app.conf"}, req_id=4)["error"]
    assert err["code"] == "not_permitted"
    assert "readable only by root, and sudo -n sha256sum: not permitted" in err["message"]
