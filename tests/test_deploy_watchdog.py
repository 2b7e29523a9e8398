"""The dead-man switch and resuming: a v4 whose health passes but whose commit never comes (the
CLI is SIGKILLed right after the switch) is rolled back by the Pi itself within its deadline,
the rollback is reported at the next contact, and the interrupted deployment resumes without
redoing what was done. Also: the systemd path (a fake `systemctl` on the simulated Pi that
records its calls), a full disk mid-transfer, and waves by rack."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest
from deploy_support import LocalAgent, answers, app_dir, current, give_ports, make_release
from lab_support import cli, known_fleet, ssh_args, until
from test_deploy_waves import finished

from fleet_tui.core.agent.client import AgentError
from fleet_tui.core.deploy.steps import DeploymentBook
from fleet_tui.core.deploy.waves import plan_waves
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store


async def test_uncommitted_switch_is_rolled_back_by_the_pi_and_the_deployment_resumes(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    ports = give_ports(lab.pis)
    rel = tmp_path / "rel"
    # v4's post hook holds the switch the first time, long enough to kill the laptop side
    hold = '[ -e "$HOME/v4-held" ] || { touch "$HOME/v4-held"; sleep 2; }'
    for version, kw in (("2.0", {}), ("4.0", {"post": hold, "deadline": 3})):
        assert (await cli(capsys, db, "release", "add", str(make_release(rel, version, **kw))))[
            0
        ] == 0
    wave = ["--to", "*", "--canary", "1", "--batch", "1", "--yes", *ssh]
    code, _, err = await cli(capsys, db, "deploy", "web@2.0", *wave)
    assert code == 0, err

    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "fleet_tui.cli", "--db", str(db), "deploy", "web@4.0",
        *wave, "--confirm-s", "2",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, env=env,
    )  # fmt: skip
    held = [pi for pi in lab.pis]
    for _ in range(300):  # until the canary's health has passed and its post hook holds
        held = [pi for pi in lab.pis if (pi.home / "v4-held").exists()]
        if held:
            break
        await asyncio.sleep(0.05)
    assert len(held) == 1
    canary = held[0]
    assert current(canary) == "4.0" and await answers(ports[canary.serial], "4.0")
    proc.send_signal(signal.SIGKILL)  # the laptop is gone before its commit
    await proc.wait()
    killed_at = asyncio.get_running_loop().time()

    # nobody commits: the Pi's watchdog puts 2.0 back by itself (deadline 3 s + confirm 2 s)
    assert await answers(ports[canary.serial], "2.0", seconds=20)
    assert asyncio.get_running_loop().time() - killed_at < 12
    assert current(canary) == "2.0"
    # done once the previous release passed its health check again: the switch is settled
    assert await until(lambda: not (app_dir(canary) / "pending.json").exists(), 10)
    others = [pi for pi in lab.pis if pi is not canary]
    assert all(current(pi) == "2.0" for pi in others)  # never reached

    code, rows, _ = await cli(capsys, db, "deploy", "status", "--json")
    dep = rows[0]
    assert dep["status"] == "interrupted" and dep["release_id"] == "web@4.0"

    # resume: the canary reports its rollback at this contact, then every Pi goes to 4.0
    code, rows, err = await cli(
        capsys, db, "deploy", "resume", dep["id"][-4:], "--yes", "--json", *ssh
    )
    assert code == 0, err
    assert finished(rows)["status"] == "done"
    for pi in lab.pis:
        assert current(pi) == "4.0" and await answers(ports[pi.serial], "4.0")
    with Store.open(db) as store:
        book = DeploymentBook(store)
        devices = {d.serial: d for d in book.devices(book.get(dep["id"]))}
    reported = [s for s in devices[canary.serial].steps if s.step == "rollback"]
    assert reported and reported[0].status == "reported"
    assert "by itself (watchdog)" in reported[0].message and "no commit" in reported[0].message
    assert all(d.done for d in devices.values())
    # resuming redid nothing that was done: one commit per device
    assert all(sum(s.step == "commit" for s in d.steps) == 1 for d in devices.values())
    # the reports were acknowledged: the next contact reports nothing new
    assert (app_dir(canary) / "reports.jsonl").read_text().strip() == ""


async def test_systemd_path_restarts_the_unit_through_systemctl(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    pi = lab.pis[0]
    give_ports([pi])
    (pi.root / "run/systemd/system").mkdir(parents=True)  # what sd_booted() looks for
    folder = make_release(tmp_path / "rel", "1.0", unit="web.service", deadline=2)
    # the health check passes without the app: the fake systemctl starts nothing
    (folder / "health.py").write_text("import os\nassert os.path.islink('../../current')\n")
    assert (await cli(capsys, db, "release", "add", str(folder)))[0] == 0
    code, rows, err = await cli(
        capsys, db, "deploy", "web@1.0", "--to", pi.hostname, "--yes", "--json", *ssh
    )
    assert code == 0, err
    assert (pi.root / "sim/requests").read_text().split("\n")[0] == "systemctl restart web.service"
    assert current(pi) == "1.0"
    assert not (app_dir(pi) / "service.json").exists()  # no process of ours: systemd runs it
    steps = [s for r in rows if r.get("outcome") for s in [r["outcome"]]]
    assert steps == ["on 1.0"]


async def test_full_disk_is_refused_in_preflight_and_the_running_release_stays(
    lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = await known_fleet(lab, tmp_path, capsys)
    ssh = ssh_args(lab, tmp_path)
    pi = lab.pis[0]
    ports = give_ports([pi])
    rel = tmp_path / "rel"
    assert (await cli(capsys, db, "release", "add", str(make_release(rel, "1.0"))))[0] == 0
    big = make_release(rel, "2.0", extra=os.urandom(3 << 20))  # a 3 MB file: several chunks
    assert (await cli(capsys, db, "release", "add", str(big)))[0] == 0
    one = ["--to", pi.hostname, "--yes", "--json", *ssh]
    assert (await cli(capsys, db, "deploy", "web@1.0", *one))[0] == 0
    await lab.inject(pi, "disk-full")
    code, rows, err = await cli(capsys, db, "deploy", "web@2.0", *one)
    await lab.clear(pi, "disk-full")
    assert code != 0
    with Store.open(db) as store:
        book = DeploymentBook(store)
        (device,) = book.devices(book.get(finished(rows)["id"]))
    assert (device.step, device.status) == ("preflight", "refused")
    assert "disk too full" in device.message
    assert current(pi) == "1.0" and await answers(ports[pi.serial], "1.0")
    assert not (app_dir(pi) / "releases/2.0").exists()
    assert not list((app_dir(pi) / "staging").glob("2.0*"))


async def test_agent_refuses_bad_deploy_requests(lab: SimLab, pool: ConnectionPool) -> None:
    from fleet_tui.core.net.routes import Target

    pi = lab.pis[0]
    link = await pool.link(Target("127.0.0.1", pi.port, serial=pi.serial, name=pi.hostname))
    for params in (
        {"name": "../etc", "version": "1"},
        {"name": "web", "version": "../../x"},
    ):
        with pytest.raises(AgentError, match="bad"):
            await link.call("app_status" if "version" not in params else "app_switch", params)
    with pytest.raises(AgentError, match="bad file path"):
        await link.call(
            "app_stage",
            {
                "name": "web",
                "version": "1",
                "manifest": {},
                "files": [{"path": "../../.bashrc", "sha256": "0" * 64, "mode": 420}],
            },
        )
    with pytest.raises(AgentError, match="not on this Pi"):
        await link.call("app_switch", {"name": "web", "version": "9"})


def test_waves_canary_batches_and_by_rack() -> None:
    devices = [("a1", "R1"), ("a2", "R1"), ("a3", "R1"), ("b1", "R2"), ("b2", "R2"), ("c1", "")]
    waves = plan_waves(devices, canary=1, batch=3, spread=False)
    assert waves == [["a1"], ["a2", "a3", "b1"], ["b2", "c1"]]
    waves = plan_waves(devices, canary=1, batch=3, spread=True)
    assert waves[0] == ["a1"]
    for wave in waves:  # never two devices of one rack in a wave
        racks = [dict(devices)[s] for s in wave if dict(devices)[s]]
        assert len(racks) == len(set(racks))
    assert sorted(s for w in waves for s in w) == sorted(s for s, _ in devices)


def test_full_disk_mid_transfer_errors_clearly_and_keeps_the_previous_release(
    tmp_path: Path,
) -> None:
    """The real agent, its writes limited to 1 MB per file (RLIMIT_FSIZE: the kernel refuses
    the rest, as a full disk would): a 3 MB file fails part-way, the error says what happened,
    and the release that was there before is untouched."""
    import base64
    import hashlib

    home = tmp_path / "home"
    home.mkdir()
    boot = (
        "import resource, signal, sys;"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20));"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN);"
        "from fleet_tui.hardware.agent import main; sys.exit(main(['serve']))"
    )
    agent = LocalAgent(home, boot)
    call = agent.call
    manifest = {
        "name": "web",
        "version": "1",
        "service": {"start": "sleep 60"},
        "health": {"deadline_s": 2},
    }
    try:
        small = b"v1\n"
        agent.put("1", manifest, {"VERSION": small})
        big = os.urandom(3 << 20)
        sha2 = hashlib.sha256(big).hexdigest()
        files = [{"path": "big.bin", "sha256": sha2, "mode": 0o644, "size": len(big)}]
        stage = call(
            "app_stage", name="web", version="2", manifest={**manifest, "version": "2"}, files=files
        )
        assert stage["result"]["missing"] == [sha2]
        error = None
        for offset in range(0, len(big), 384 * 1024):
            chunk = big[offset : offset + 384 * 1024]
            answer = call(
                "app_put", name="web", version="2", sha256=sha2, offset=offset,
                data=base64.b64encode(chunk).decode(), last=offset + len(chunk) >= len(big),
            )  # fmt: skip
            if "error" in answer:
                error = answer["error"]
                break
        assert error is not None and offset > 0  # part-way, not at the start
        assert error["code"] == "failed" and "could not write web 2 on the Pi" in error["message"]
        assert "File too large" in error["message"] and "nothing was switched" in error["message"]
        apps = home / ".local/share/fleet-tui/apps/web"
        assert (apps / "releases/1/VERSION").read_bytes() == small
        assert not (apps / "releases/2").exists() and not (apps / "staging/2").exists()
    finally:
        agent.close()


def test_a_switch_whose_watchdog_was_killed_is_rolled_back_at_the_next_contact(
    tmp_path: Path,
) -> None:
    """Where the login session's end kills every process of it (logind's KillUserProcesses,
    an OOM kill, a reboot before it ran), the watchdog is gone: the next contact past the
    deadline rolls the switch back and reports it, instead of the app waiting forever."""
    home = tmp_path / "home"
    home.mkdir()
    agent = LocalAgent(home)
    manifest = {"name": "web", "service": {"start": "sleep 60"}, "health": {"deadline_s": 0.5}}
    apps = home / ".local/share/fleet-tui/apps/web"
    try:
        agent.put("1", {**manifest, "version": "1"}, {"VERSION": b"1\n"})
        first = agent.call("app_switch", name="web", version="1", confirm_s=5)["result"]
        assert agent.call("app_commit", name="web", version="1", token=first["token"])["result"]
        agent.put("2", {**manifest, "version": "2"}, {"VERSION": b"2\n"})
        second = agent.call("app_switch", name="web", version="2", confirm_s=0.5)["result"]
        assert second["healthy"] and (apps / "current").readlink().name == "2"
        pid, token = (apps / "watchdog.pid").read_text().split()
        assert token == second["token"]
        os.kill(int(pid), signal.SIGKILL)

        status = agent.call("app_status", name="web")["result"]  # before the deadline: waits
        assert status["current"] == "2" and status["pending"]["version"] == "2"
        deadline = status["pending"]["deadline"]
        time.sleep(max(0.0, deadline - time.time()) + 2.5)  # past the deadline and the grace
        status = agent.call("app_status", name="web")["result"]
        assert status["current"] == "1" and status["pending"] is None
        (report,) = status["reports"]
        assert report["by"] == "agent" and report["from"] == "2" and report["to"] == "1"
        assert "watchdog was not running" in report["reason"]
        assert "previous 1 healthy" in report["outcome"]
    finally:
        agent.close()
        state = apps / "service.json"  # the `sleep 60` the agent started last
        if state.exists():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(json.loads(state.read_text())["pgid"], signal.SIGKILL)
