"""Lookups racing goodbyes and moves, over real zeroconf packets bound to 127.0.0.1 only.

A lookup (service-info resolution) starts only when the browser reports a name the cache
cannot yet describe, which a zeroconf responder never causes: its packets carry every record.
So the test plays the Pi's responder and sends records in separate packets, as other
responders may. Discovery's `lookup_hook` then holds the answered lookup open while the
goodbye or the move arrives. The lookup's answer also reaches the cache, and the browser
reports it as an update of the name: that path is raced against the goodbye too.

Each test browses a service type of its own, so other runs on this machine do not count.
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from zeroconf import DNSOutgoing, DNSRecord, IPVersion, ServiceInfo, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncZeroconf
from zeroconf.const import _FLAGS_AA, _FLAGS_QR_RESPONSE

from fleet_tui.core.discovery.mdns import Discovery, DiscoveryEvent
from fleet_tui.core.sim.lab import LOOPBACK

WAIT = 8.0  # bounds every wait below; a lookup on loopback answers within about a second


@pytest.fixture
async def responder() -> AsyncIterator[AsyncZeroconf]:
    zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
    await asyncio.wait_for(zc.zeroconf.async_wait_for_start(), WAIT)  # before sending anything
    try:
        yield zc
    finally:
        await asyncio.wait_for(zc.async_unregister_all_services(), WAIT)
        await zc.async_close()


class Gate:
    """The lookup hook: once armed, holds the next lookup of `service` open until `open()`."""

    def __init__(self, service: str, armed: bool = True) -> None:
        self.service = service
        self.armed = armed
        self.held = asyncio.Event()  # a lookup has its answer and waits here
        self._open = asyncio.Event()

    async def __call__(self, service: str) -> None:
        if service != self.service or not self.armed:
            return
        self.armed = False
        self.held.set()
        await asyncio.wait_for(self._open.wait(), WAIT)

    def open(self) -> None:
        self._open.set()


class Watched(Discovery):
    """Discovery of one service type on loopback, recording its events, held by `gate`; it
    also tells the test when the browser has reported a removal."""

    def __init__(self, service_type: str, gate: Gate) -> None:
        self.events: list[DiscoveryEvent] = []
        super().__init__(
            self.events.append,
            interfaces=[LOOPBACK],
            service_types=(service_type,),
            resolve_timeout_ms=int(WAIT * 1000),
            lookup_hook=gate,
        )
        self.removed = asyncio.Event()

    def _on_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        super()._on_state_change(zeroconf, service_type, name, state_change)
        if state_change is ServiceStateChange.Removed:
            self.removed.set()


def _service(tag: str, address: str = LOOPBACK, server: str | None = None) -> ServiceInfo:
    kind = f"_ft{tag}._tcp.local."
    return ServiceInfo(
        kind,
        f"race{tag}.{kind}",
        addresses=[socket.inet_aton(address)],
        port=2230,
        server=server or f"race{tag}.local.",
        properties={b"model": b"Raspberry Pi 5"},
    )


def _send(zc: AsyncZeroconf, *records: DNSRecord) -> None:
    """One multicast response carrying just these records, as the Pi's responder may send."""
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
    for record in records:
        out.add_answer_at_time(record, 0)
    zc.zeroconf.async_send(out)


def _details(info: ServiceInfo, ttl: int | None = None) -> list[DNSRecord]:
    """What a lookup asks for: SRV, TXT and the host's addresses."""
    return [info.dns_service(ttl), info.dns_text(ttl), *info.dns_addresses(ttl)]


def _goodbye(zc: AsyncZeroconf, info: ServiceInfo) -> None:
    _send(zc, info.dns_pointer(0), *_details(info, 0))  # TTL 0: the records are withdrawn


async def _start(info: ServiceInfo, gate: Gate) -> tuple[Watched, list[DiscoveryEvent]]:
    discovery = Watched(info.type, gate)
    await discovery.start()
    return discovery, discovery.events


async def _until(check: Callable[[], bool], seconds: float = WAIT) -> bool:
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


async def _released(gate: Gate, discovery: Discovery) -> None:
    """Let the held lookup finish (its task ends right after the hook returns)."""
    gate.open()
    assert await _until(lambda: not discovery._tasks)


def _kinds(events: list[DiscoveryEvent]) -> list[tuple[str, str | None]]:
    return [(e.kind, e.candidate.server) for e in events]


async def test_a_lookup_answered_before_the_goodbye_does_not_bring_the_pi_back(
    responder: AsyncZeroconf,
) -> None:
    tag = secrets.token_hex(3)
    info = _service(tag)
    gate = Gate(info.name)
    discovery, events = await _start(info, gate)
    try:
        # The name first, the details in a second packet: the browser reports the name
        # before the cache can describe it, so discovery starts a lookup.
        _send(responder, info.dns_pointer())
        _send(responder, *_details(info))
        await asyncio.wait_for(gate.held.wait(), WAIT)
        # The details also reached the cache (and the browser reports them), so the Pi is
        # found without the lookup; then it says goodbye while the lookup is still held.
        assert _kinds(events) == [("found", info.server)]
        _goodbye(responder, info)
        await asyncio.wait_for(discovery.removed.wait(), WAIT)
        await _released(gate, discovery)
        assert _kinds(events) == [("found", info.server), ("gone", info.server)]
        assert discovery.seen == {}

        # A genuine re-announcement after the goodbye is found.
        await asyncio.wait_for(await responder.async_register_service(_service(tag)), WAIT)
        assert await _until(lambda: len(events) == 3)
        await asyncio.sleep(0.3)  # and nothing follows it
        assert [e.kind for e in events] == ["found", "gone", "found"]
        assert events[2].candidate.port == 2230 and events[2].candidate.model == "Raspberry Pi 5"
    finally:
        await discovery.stop()


async def test_a_lookup_answered_before_the_goodbye_does_not_bring_a_known_pi_back(
    responder: AsyncZeroconf,
) -> None:
    tag = secrets.token_hex(3)
    info = _service(tag)
    gate = Gate(info.name, armed=False)
    discovery, events = await _start(info, gate)
    try:
        _send(responder, info.dns_pointer(), *_details(info))  # every record: no lookup
        assert await _until(lambda: [e.kind for e in events] == ["found"])
        gate.armed = True
        # The Pi is renamed: its service points at a host name the cache has no address for,
        # so the update needs a lookup. (mDNS flushes only records over 1 s old.)
        await asyncio.sleep(1.1)
        renamed = _service(tag, server=f"renamed{tag}.local.")
        _send(responder, renamed.dns_service())
        _send(responder, *renamed.dns_addresses())
        await asyncio.wait_for(gate.held.wait(), WAIT)
        _goodbye(responder, renamed)
        await asyncio.wait_for(discovery.removed.wait(), WAIT)
        await _released(gate, discovery)
        # A new host name is another device: found under it, the old one gone, then the goodbye.
        assert _kinds(events) == [
            ("found", info.server),
            ("found", renamed.server),
            ("gone", info.server),
            ("gone", renamed.server),
        ]
        assert discovery.seen == {}
    finally:
        await discovery.stop()


async def test_a_lookup_older_than_a_move_does_not_move_the_pi_back(
    responder: AsyncZeroconf,
) -> None:
    tag = secrets.token_hex(3)
    info = _service(tag)
    gate = Gate(info.name)
    discovery, events = await _start(info, gate)
    try:
        _send(responder, info.dns_pointer())
        _send(responder, *_details(info))
        await asyncio.wait_for(gate.held.wait(), WAIT)  # the lookup's answer: 127.0.0.1
        await asyncio.sleep(1.1)  # mDNS flushes a superseded record only if it is over 1 s old
        moved = _service(tag, address="127.0.0.2")  # only data: nothing is sent to it
        _send(responder, moved.dns_pointer(), *_details(moved))  # every record: no lookup
        assert await _until(lambda: len(events) == 2)
        await _released(gate, discovery)
        assert [(e.kind, e.candidate.address) for e in events] == [
            ("found", LOOPBACK),
            ("moved", "127.0.0.2"),
        ]
        assert [c.address for c in discovery.seen.values()] == ["127.0.0.2"]
    finally:
        await discovery.stop()


async def test_answers_arriving_after_the_goodbye_do_not_find_the_pi(
    responder: AsyncZeroconf,
) -> None:
    tag = secrets.token_hex(3)
    info = _service(tag)
    discovery, events = await _start(info, Gate(info.name, armed=False))
    try:
        _send(responder, info.dns_pointer())  # a lookup starts and asks for the details
        _goodbye(responder, info)
        await asyncio.wait_for(discovery.removed.wait(), WAIT)
        # The answers to the lookup's questions, sent before the goodbye, arrive after it: the
        # lookup completes, and the browser reports the new records as an update of the name.
        _send(responder, *_details(info))
        assert await _until(lambda: not discovery._tasks)
        await asyncio.sleep(0.3)  # anything the late records set off has happened
        assert events == [] and discovery.seen == {}

        # The Pi comes back for real: announced with its name.
        _send(responder, info.dns_pointer(), *_details(info))
        assert await _until(lambda: bool(events))
        assert _kinds(events) == [("found", info.server)]
    finally:
        await discovery.stop()


async def test_a_name_in_another_case_is_the_same_service(responder: AsyncZeroconf) -> None:
    # The browser names a service by its pointer when adding or removing it, and by its
    # records when updating it; a responder may spell the two differently.
    tag = secrets.token_hex(3)
    info = _service(tag)
    shouted = ServiceInfo(info.type, f"RACE{tag}.{info.type}", port=info.port, server=info.server)
    discovery, events = await _start(info, Gate(info.name, armed=False))
    try:
        _send(responder, shouted.dns_pointer(), *_details(info))
        assert await _until(lambda: bool(events))
        await asyncio.sleep(1.1)  # mDNS flushes a superseded record only if it is over 1 s old
        moved = _service(tag, address="127.0.0.2")  # only data: nothing is sent to it
        _send(responder, *_details(moved))  # records only: reported as an update of the name
        assert await _until(lambda: "moved" in [e.kind for e in events])
        _send(responder, shouted.dns_pointer(0))
        assert await _until(lambda: events[-1].kind == "gone")
        # The name's spelling may show as an update (`updated`) on the way: not counted here.
        assert [(e.kind, e.candidate.address) for e in events if e.kind != "updated"] == [
            ("found", LOOPBACK),
            ("moved", "127.0.0.2"),
            ("gone", "127.0.0.2"),
        ]
        assert discovery.seen == {} and len(discovery.candidates()) == 0
    finally:
        await discovery.stop()
