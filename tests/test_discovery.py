"""Discovery over real zeroconf packets, bound to 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from core.discovery import Candidate, Discovery, clean_label
from core.sim.lab import LOOPBACK, SimLab


async def _collect(expected: int, timeout: float = 8.0) -> tuple[Discovery, dict[str, Candidate]]:
    found: dict[str, Candidate] = {}
    discovery = Discovery(lambda c: found.__setitem__(c.endpoint, c), interfaces=[LOOPBACK])
    await discovery.start()
    for _ in range(int(timeout / 0.1)):
        if len(found) >= expected:
            break
        await asyncio.sleep(0.1)
    return discovery, found


async def test_every_advertised_pi_is_found_with_its_port(tmp_path: Path) -> None:
    lab = SimLab(4, workdir=tmp_path / "lab")
    await lab.start()
    try:
        discovery, found = await _collect(4)
        await discovery.stop()
    finally:
        await lab.stop()
    assert {c.port for c in found.values()} == {pi.port for pi in lab.pis}
    assert {c.name for c in found.values()} == {pi.hostname for pi in lab.pis}
    assert all(c.address == LOOPBACK for c in found.values())


async def test_hostile_names_and_txt_values_arrive_defanged() -> None:
    # zeroconf refuses to send C0 controls in a name, but C1 controls (CSI is U+009B) and
    # Rich markup go through; TXT values are raw bytes and carry anything.
    hostile = "evil\u009b2J[bold red]pwn[/]"
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    info = ServiceInfo(
        "_ssh._tcp.local.",
        f"{hostile}._ssh._tcp.local.",
        addresses=[socket.inet_aton(LOOPBACK)],
        port=2222,
        server="evil.local.",
        properties={b"model": b"\x1b]0;owned\x07" + b"x" * 200},
    )
    await zc.async_register_service(info)
    try:
        discovery, found = await _collect(1)
        await discovery.stop()
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()
    (candidate,) = [c for c in found.values() if c.port == 2222]
    assert "\u009b" not in candidate.name
    assert candidate.name == clean_label(hostile) == "evil2J[bold red]pwn[/]"
    assert "\x1b" not in candidate.txt["model"] and "\x07" not in candidate.txt["model"]
    assert len(candidate.txt["model"]) <= 255
