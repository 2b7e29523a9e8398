"""`fleet-tui demo --fault`, and `fleet-tui demo inject|clear|status` against a running demo."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fleet_tui.core.agent.client import AgentSession
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, connect
from fleet_tui.core.sim.lab import LOOPBACK, LabOptions, SimLab
from fleet_tui.core.store.database import Store

CLI = [sys.executable, "-m", "fleet_tui.cli"]


def _env(tmp_path: Path) -> dict[str, str]:
    # A private runtime dir: other demos running on this machine are not ours to find.
    return {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}


def _run(tmp_path: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def _arun(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def test_headless_demo_starts_with_the_faults_it_was_given(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        "demo",
        "--headless",
        "--json",
        "--devices",
        "4",
        "--seconds",
        "30",
        "--fault",
        "pi-4b-001:overheat",
        "--fault",
        "2:ssh-down",
        "--fault",
        "3:under-voltage",
        "--fault",
        "pi-zero2w-004:device-gone",
    )
    assert out.returncode == 0, out.stderr
    rows = {r["hostname"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert set(rows) == {"pi-4b-001", "pi-5-002", "pi-3bp-003"}  # a gone device is not found
    hot = rows["pi-4b-001"]
    assert hot["temperature_c"] > 80 and "throttled" in hot["throttled"]["current"]
    assert rows["pi-5-002"]["reachable"] is False and "unreachable" in rows["pi-5-002"]["error"]
    assert "under_voltage" in rows["pi-3bp-003"]["throttled"]["sticky"]
    assert not list(tmp_path.glob("fleet-tui/*.sock")), "the control socket is removed on exit"


def test_bad_faults_are_usage_errors_before_anything_starts(tmp_path: Path) -> None:
    for spec in ("pi-9-009:overheat", "1:gremlins", "overheat"):
        out = _run(tmp_path, "demo", "--headless", "--devices", "3", "--fault", spec)
        assert out.returncode == 64, (spec, out.stderr)
        assert "fleet-tui demo:" in out.stderr and out.stdout == ""


def test_without_a_running_demo_inject_says_so(tmp_path: Path) -> None:
    out = _run(tmp_path, "demo", "inject", "1:overheat")
    assert out.returncode == 2 and "no running demo" in out.stderr


async def test_inject_status_and_clear_reach_a_running_lab(tmp_path: Path, store: Store) -> None:
    sock = tmp_path / "fleet-tui" / "demo-test.sock"
    sock.parent.mkdir(mode=0o700)
    lab = SimLab(
        3, workdir=tmp_path / "lab", advertise=False, options=LabOptions(control_socket=sock)
    )
    await lab.start()
    try:
        pi = lab.pis[1]
        rc, out, err = await _arun(
            tmp_path, "demo", "inject", f"{pi.hostname}:under-voltage", "3:slow-link=50ms"
        )
        assert rc == 0, err
        assert f"{pi.hostname:<16} faults: under-voltage" in out
        assert "slow-link=0.05" in out
        conn = await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
        try:
            session = await AgentSession.start(conn)
            health = await session.health()
            await session.close()
        finally:
            conn.close()
        assert health.throttled is not None and "under_voltage" in health.throttled.current

        rc, out, err = await _arun(tmp_path, "demo", "status", "--json", "--socket", str(sock))
        assert rc == 0, err
        status = {r["hostname"]: r for r in map(json.loads, out.splitlines())}
        assert status[pi.hostname]["faults"] == ["under-voltage"]
        assert int(status[pi.hostname]["throttled"], 16) & 0x10001 == 0x10001
        rc, out, err = await _arun(tmp_path, "demo", "status", "--socket", str(sock))
        assert rc == 0, err
        header, *rows = out.splitlines()
        assert header.split() == [
            "#", "HOSTNAME", "PORT", "WORKLOAD", "LOAD", "TEMP", "POWER", "FAN", "THROTTLE", "SSH",
            "FAULTS",
        ]  # fmt: skip
        assert len(rows) == 3 and rows[1].split()[1] == pi.hostname
        assert rows[1].split()[-1] == "under-voltage" and rows[1].split()[-2] == "up"

        rc, out, err = await _arun(tmp_path, "demo", "inject", "pi-9-009:overheat")
        assert rc == 64 and "no simulated Pi" in err
        rc, out, err = await _arun(tmp_path, "demo", "clear", "all")
        assert rc == 0, err
        assert all(not p.faults for p in lab.pis) and lab.pis[2].link_delay == 0.0
    finally:
        await lab.stop()
    assert not sock.exists()


def test_a_running_headless_demo_takes_faults_from_another_process(tmp_path: Path) -> None:
    sock = tmp_path / "demo.sock"
    demo = subprocess.Popen(
        [
            *CLI,
            "demo",
            "--headless",
            "--json",
            "--devices",
            "2",
            "--seconds",
            "8",
            "--hold",
            "--socket",
            str(sock),
        ],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(100):
            if sock.exists() or demo.poll() is not None:
                break
            time.sleep(0.1)
        inject = _run(tmp_path, "demo", "inject", "--socket", str(sock), "pi-5-002:overheat")
        assert inject.returncode == 0, inject.stderr
        out, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    assert demo.returncode == 0, err
    rows = {r["hostname"]: r for r in map(json.loads, out.splitlines())}
    assert "throttled" in rows["pi-5-002"]["throttled"]["current"]
    assert rows["pi-4b-001"]["throttled"]["current"] == []
