"""A discovery pass ends when the LAN has answered, not at its timeout; `--wait` (quiet=None)
still listens for all of it and finds a Pi that answers late. Real zeroconf packets on
127.0.0.1, each test with a service type of its own (other runs may advertise on loopback).
Behaviour only: why a pass stopped and what it found, never how many seconds it took."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from fleet_tui.cli import main
from fleet_tui.core.discovery.finder import discover_here
from fleet_tui.core.sim.lab import LOOPBACK
from fleet_tui.hardware import discover
from fleet_tui.hardware.protocol import Request


def _info(kind: str, name: str, port: int) -> ServiceInfo:
    return ServiceInfo(
        kind,
        f"{name}.{kind}",
        addresses=[socket.inet_aton(LOOPBACK)],
        port=port,
        server=f"{name}.local.",
        properties={b"serial": f"10000000{port:08x}".encode()},
    )


async def _advertise(zc: AsyncZeroconf, kind: str, names: list[str], first_port: int) -> None:
    await asyncio.gather(
        *(
            zc.async_register_service(_info(kind, name, first_port + i))
            for i, name in enumerate(names)
        )
    )


@pytest.fixture
async def zc() -> AsyncZeroconf:
    z = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    try:
        yield z
    finally:
        await z.async_unregister_all_services()
        await z.async_close()


def _kind() -> str:
    return f"_fq{secrets.token_hex(3)}._tcp.local."


async def test_a_pass_stops_once_the_lan_has_answered(zc: AsyncZeroconf) -> None:
    kind = _kind()
    await _advertise(zc, kind, ["pi-a", "pi-b", "pi-c"], 4300)
    found = await discover_here(8.0, [LOOPBACK], neighbours=False, service_types=(kind,))
    assert found.stopped == "quiet"
    assert sorted(c.port for c in found.candidates) == [4300, 4301, 4302]
    assert found.elapsed_s < 8.0  # what "stopped quiet" means: before the upper bound


async def test_waiting_finds_a_pi_that_answers_late_and_quiet_does_not(
    zc: AsyncZeroconf,
) -> None:
    kind = _kind()
    await _advertise(zc, kind, ["pi-early"], 4310)

    async def late() -> None:
        await asyncio.sleep(3.5)  # well after the first round and a quiet spell
        await _advertise(zc, kind, ["pi-late"], 4311)

    waiting = asyncio.create_task(
        discover_here(6.0, [LOOPBACK], neighbours=False, service_types=(kind,), quiet=None)
    )
    quick = asyncio.create_task(
        discover_here(6.0, [LOOPBACK], neighbours=False, service_types=(kind,))
    )
    coming = asyncio.create_task(late())
    waited, early = await asyncio.gather(waiting, quick)
    await coming
    assert waited.stopped == "timeout"
    assert sorted(c.port for c in waited.candidates) == [4310, 4311]
    assert early.stopped == "quiet"
    assert [c.port for c in early.candidates] == [4310]


async def test_the_agent_browse_stops_when_quiet_and_says_so(zc: AsyncZeroconf) -> None:
    kind = _kind()
    await _advertise(zc, kind, ["pi-x", "pi-y"], 4320)
    loop = asyncio.get_running_loop()
    params = {"seconds": 6.0, "interfaces": [LOOPBACK], "types": [kind]}
    quiet = await loop.run_in_executor(
        None, discover.browse, Request(1, "browse", {**params, "quiet": 0.6})
    )
    assert quiet["stopped"] == "quiet" and quiet["elapsed_s"] < 6.0
    assert sorted(s["port"] for s in quiet["services"]) == [4320, 4321]
    full = await loop.run_in_executor(
        None, discover.browse, Request(2, "browse", {**params, "seconds": 1.5})
    )
    assert full["stopped"] == "timeout"  # no `quiet`: as older laptops ask
    assert sorted(s["port"] for s in full["services"]) == [4320, 4321]


def test_the_agent_refuses_a_bad_quiet() -> None:
    for quiet in (0, 99, True, "1"):
        with pytest.raises(discover.ProtocolError):
            discover.browse(Request(1, "browse", {"quiet": quiet}))


async def test_the_cli_ends_its_json_with_how_the_pass_went(
    zc: AsyncZeroconf, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _advertise(zc, "_pifleet._tcp.local.", [f"pi-q{secrets.token_hex(2)}"], 4330)
    argv = [
        "--db",
        str(tmp_path / "f.db"),
        "--create",
        "discover",
        "--interface",
        LOOPBACK,
        "--json",
    ]
    code = await asyncio.to_thread(main, [*argv, "--timeout", "8", "--no-save"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and any(r.get("port") == 4330 for r in rows[:-1])
    last = rows[-1]["discovery"]
    assert last["timeout_s"] == 8 and last["candidates"] == len(rows) - 1
    assert last["stopped"] in ("quiet", "timeout") and last["elapsed_s"] <= 8.5
    code = await asyncio.to_thread(main, [*argv, "--timeout", "1", "--wait", "--no-save"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == 0 and rows[-1]["discovery"]["stopped"] == "timeout"
