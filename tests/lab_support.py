"""Helpers for tests that run the simulated lab: bounded waits, lab Pis as mDNS finds them, and
the CLI run against the lab."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.discovery.mdns import Candidate
from fleet_tui.core.sim.lab import LOOPBACK, SimLab


async def until(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Poll `check` every 50 ms for at most `seconds`; its last answer."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def candidate(port: int, name: str) -> Candidate:
    """A lab Pi on loopback as discovery would report it."""
    return Candidate(
        name, LOOPBACK, port, "_ssh._tcp.local.", addresses=(LOOPBACK,), server=f"{name}.local."
    )


def ssh_args(lab: SimLab, tmp_path: Path) -> list[str]:
    """The CLI's SSH flags for the lab: its client key, user pi, no agent, no user config."""
    empty = tmp_path / "ssh_config"
    empty.write_text("")
    return [
        "-i",
        str(lab.client_key_path),
        "-l",
        "pi",
        "--no-ssh-agent",
        "-F",
        str(empty),
        "--connect-timeout",
        "5",
    ]


async def cli(
    capsys: pytest.CaptureFixture[str], db: Path, *argv: str
) -> tuple[int, list[dict], str]:
    """Run the CLI in a thread (it has its own event loop) while the lab serves in ours."""
    code = await asyncio.to_thread(main, ["--db", str(db), *argv])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return code, rows, err
