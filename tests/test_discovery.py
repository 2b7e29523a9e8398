"""Discovery over real zeroconf packets, bound to 127.0.0.1 only.

Other test runs on this machine may advertise on loopback at the same time, so every test
looks only at the names or ports it advertised itself.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from zeroconf import IPVersion, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from fleet_tui.core.discovery.mdns import (
    Candidate,
    Discovery,
    DiscoveryEvent,
    InterfaceError,
    browse,
    clean_label,
    resolve_interfaces,
)
from fleet_tui.core.sim.lab import LOOPBACK, SimLab


async def _until(check: Callable[[], bool], seconds: float = 8.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


@pytest.fixture
async def advertiser() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    try:
        yield zc
    finally:
        await zc.async_unregister_all_services()
        await zc.async_close()


def _info(
    kind: str, name: str, port: int, addresses: list[bytes], server: str, **txt: str
) -> ServiceInfo:
    return ServiceInfo(
        f"{kind}.local.",
        f"{name}.{kind}.local.",
        addresses=addresses,
        port=port,
        server=server,
        properties={k.encode(): v.encode() for k, v in txt.items()},
    )


class Recorder:
    def __init__(self, server: str) -> None:
        self.server = server.lower()
        self.events: list[DiscoveryEvent] = []

    def __call__(self, event: DiscoveryEvent) -> None:
        if (event.candidate.server or "").lower() == self.server:
            self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


async def _first_candidate(rec: Recorder) -> Candidate:
    """Browse loopback until `rec` has seen its host; the candidate of its first event."""
    discovery = Discovery(rec, interfaces=[LOOPBACK])
    await discovery.start()
    try:
        assert await _until(lambda: bool(rec.events))
    finally:
        await discovery.stop()
    return rec.events[0].candidate


async def test_every_advertised_pi_is_found_with_its_port(tmp_path: Path) -> None:
    lab = SimLab(4, workdir=tmp_path / "lab")
    await lab.start()
    try:
        ports = {pi.port for pi in lab.pis}
        seen: dict[str, Candidate] = {}
        discovery = Discovery(
            lambda e: (
                seen.__setitem__(e.candidate.endpoint, e.candidate)
                if e.candidate.port in ports
                else None
            ),
            interfaces=[LOOPBACK],
        )
        await discovery.start()
        try:
            assert await _until(lambda: len(seen) >= 4)
        finally:
            await discovery.stop()
    finally:
        await lab.stop()
    assert {c.port for c in seen.values()} == ports
    by_port = {pi.port: pi.hostname for pi in lab.pis}
    # mDNS renames on a conflict (another lab on this machine): "pi-4b-001" may be "pi-4b-001-2"
    assert all(c.name.startswith(by_port[c.port]) for c in seen.values())
    assert all(
        c.address == LOOPBACK and c.service_types == ("_ssh._tcp.local.",) for c in seen.values()
    )


async def test_hostile_names_and_txt_values_arrive_defanged(advertiser: AsyncZeroconf) -> None:
    # zeroconf refuses to send C0 controls in a name, but C1 controls (CSI is U+009B) and
    # Rich markup go through; TXT values are raw bytes and carry anything.
    tag = secrets.token_hex(3)
    hostile = f"evil{tag}\u009b2J[bold red]pwn[/]"
    info = ServiceInfo(
        "_ssh._tcp.local.",
        f"{hostile}._ssh._tcp.local.",
        addresses=[socket.inet_aton(LOOPBACK)],
        port=2222,
        server=f"evil{tag}.local.",
        properties={b"model": b"\x1b]0;owned\x07" + b"x" * 230, b"serial": b"$(reboot)"},
    )
    await advertiser.async_register_service(info)
    candidate = await _first_candidate(Recorder(f"evil{tag}.local."))
    assert "\u009b" not in candidate.name
    assert candidate.name == clean_label(hostile) == f"evil{tag}2J[bold red]pwn[/]"
    assert "\x1b" not in candidate.txt["model"] and "\x07" not in candidate.txt["model"]
    assert len(candidate.txt["model"]) <= 255
    assert candidate.serial is None  # not a serial: never used as one


async def test_ipv4_and_ipv6_addresses_are_resolved_ipv4_first(advertiser: AsyncZeroconf) -> None:
    tag = secrets.token_hex(3)
    server = f"dual{tag}.local."
    # The IPv6 record is only data here: packets go over 127.0.0.1, nothing is sent to fd00::5.
    await advertiser.async_register_service(
        _info(
            "_ssh._tcp",
            f"dual{tag}",
            2201,
            [socket.inet_pton(socket.AF_INET6, "fd00::5"), socket.inet_aton(LOOPBACK)],
            server,
        )
    )
    candidate = await _first_candidate(Recorder(server))
    assert candidate.address == LOOPBACK
    assert set(candidate.addresses) == {LOOPBACK, "fd00::5"}
    assert candidate.to_json()["addresses"][0] == LOOPBACK


async def test_one_device_under_three_service_types_is_one_candidate_with_its_serial(
    advertiser: AsyncZeroconf,
) -> None:
    # Advertisements only: nothing connects to port 22 here.
    tag = secrets.token_hex(3)
    server, other = f"pi-{tag}.local.", f"alt-{tag}.local."
    addr = [socket.inet_aton(LOOPBACK)]
    infos = (
        _info("_workstation._tcp", f"pi-{tag} [dc:a6:32:00:00:01]", 9, addr, server),
        _info("_ssh._tcp", f"pi-{tag}", 22, addr, server),
        _info(
            "_pifleet._tcp",
            f"pi-{tag}",
            22,
            addr,
            server,
            model="Raspberry Pi 4 Model B",
            serial="10000000ABCDEF01",
        ),
        # SSH on another port: the workstation record (port assumed 22) is no device of its own
        _info("_workstation._tcp", f"alt-{tag} [dc:a6:32:00:00:02]", 9, addr, other),
        _info("_ssh._tcp", f"alt-{tag}", 2202, addr, other),
    )
    await asyncio.gather(*(advertiser.async_register_service(info) for info in infos))
    rec, alt = Recorder(server), Recorder(other)
    discovery = Discovery(lambda e: (rec(e), alt(e)), interfaces=[LOOPBACK])
    key = f"{server}#22"
    await discovery.start()
    try:
        assert await _until(
            lambda: (
                key in discovery.seen
                and len(discovery.seen[key].service_types) == 3
                and f"{other}#2202" in discovery.seen
            )
        )
        await asyncio.sleep(0.5)  # let every record of `other` arrive
    finally:
        await discovery.stop()
    merged = discovery.seen[key]
    assert merged.port == 22 and merged.name == f"pi-{tag}"
    assert merged.serial == "10000000abcdef01" and merged.model == "Raspberry Pi 4 Model B"
    assert rec.kinds()[0] == "found" and "gone" not in rec.kinds()
    assert [c.port for c in discovery.seen.values() if c.server == other] == [2202]


async def test_leaving_and_changing_address_are_followed(advertiser: AsyncZeroconf) -> None:
    tag = secrets.token_hex(3)
    server = f"mover{tag}.local."
    info = _info("_ssh._tcp", f"mover{tag}", 2203, [socket.inet_aton(LOOPBACK)], server)
    await advertiser.async_register_service(info)
    rec = Recorder(server)
    discovery = Discovery(rec, interfaces=[LOOPBACK])
    await discovery.start()
    try:
        assert await _until(lambda: rec.kinds() == ["found"])
        await asyncio.sleep(1.1)  # mDNS flushes a superseded record only if it is over 1 s old
        moved = _info("_ssh._tcp", f"mover{tag}", 2203, [socket.inet_aton("127.0.0.2")], server)
        await advertiser.async_update_service(moved)
        assert await _until(lambda: "moved" in rec.kinds())
        event = next(e for e in rec.events if e.kind == "moved")
        assert event.previous is not None and event.previous.address == LOOPBACK
        assert event.candidate.address == "127.0.0.2"
        await advertiser.async_unregister_service(moved)
        assert await _until(lambda: rec.kinds()[-1] == "gone")
        assert server not in discovery.seen
    finally:
        await discovery.stop()


def test_interfaces_by_address_or_name_and_a_clear_error_otherwise() -> None:
    assert resolve_interfaces([LOOPBACK]) == ([LOOPBACK], IPVersion.V4Only)
    chosen, _ = resolve_interfaces(["lo"])
    assert LOOPBACK in chosen
    with pytest.raises(InterfaceError, match="no such interface"):
        resolve_interfaces(["nosuchif0"])
    with pytest.raises(InterfaceError, match="not an address of this machine"):
        resolve_interfaces(["2001:db8::77"])


async def test_browse_returns_once_the_expected_devices_settle(advertiser: AsyncZeroconf) -> None:
    tag = secrets.token_hex(3)
    kind = f"_ft{tag}._tcp"  # a type of our own: nobody else's adverts count towards `expect`
    await advertiser.async_register_service(
        _info(
            kind,
            f"b{tag}",
            2204,
            [socket.inet_aton(LOOPBACK)],
            f"b{tag}.local.",
            serial="1000000000000abc",
        )
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    found = await browse(6.0, [LOOPBACK], service_types=(f"{kind}.local.",), expect=1, settle=0.3)
    assert any(c.port == 2204 and c.serial == "1000000000000abc" for c in found.candidates)
    assert loop.time() - started < 5.0
