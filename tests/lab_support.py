"""Helpers for tests that run the simulated lab: bounded waits, lab Pis as mDNS finds them, and
the CLI run against the lab, and a relay that gives a Pi a second endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
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


async def known_fleet(lab: SimLab, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A database that knows the lab's Pis, as after `hosts import` and one `poll`."""
    db = tmp_path / "fleet.db"
    listing = tmp_path / "hosts.txt"
    listing.write_text("".join(f"127.0.0.1:{pi.port} {pi.hostname}\n" for pi in lab.pis))
    assert (await cli(capsys, db, "hosts", "import", str(listing)))[0] == 0
    assert (await cli(capsys, db, "poll", *ssh_args(lab, tmp_path)))[0] == 0
    return db


@asynccontextmanager
async def relay(port: int) -> AsyncIterator[int]:
    """A second endpoint for whatever listens on loopback `port` (one Pi on two addresses, as
    with two interfaces or a port forward): a TCP relay on loopback. Yields its port; closing
    it drops every connection through it."""
    writers: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection(LOOPBACK, port), 5.0
            )
        except (OSError, TimeoutError):
            writer.close()
            return
        writers.add(up_writer)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    server = await asyncio.start_server(handle, LOOPBACK, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in writers:
            writer.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5.0)
