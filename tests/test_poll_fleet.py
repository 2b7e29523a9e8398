"""FleetService: the live loop over the pool — known hosts, moves, refused keys, re-pins."""

from __future__ import annotations

import asyncio

import pytest
from lab_support import candidate, relay, until

from fleet_tui.core.discovery.mdns import DiscoveryEvent
from fleet_tui.core.fleet import service as fleet_service
from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.models import DeviceState
from fleet_tui.core.net.hosts import HostBook, HostEntry
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


async def test_known_hosts_are_followed_and_callable(lab: SimLab, store: Store) -> None:
    book = HostBook(store)
    for pi in lab.pis:
        book.add(HostEntry(LOOPBACK, pi.port, name=pi.hostname))
    updates: list[DeviceState] = []
    service = FleetService(
        store, lab.connect_options(), updates.append, poll_interval=0.2, discover=False, known=True
    )
    await service.start()
    try:
        assert await until(
            lambda: (
                all(s.health is not None for s in service.states.values())
                and len(service.states) == 3
            )
        )
        assert set(service.states) == {pi.serial for pi in lab.pis}  # keyed by serial
        key = lab.pis[0].serial
        facts = service.states[key].facts
        assert facts is not None and facts.serial == lab.pis[0].serial
        assert service.states[key].endpoint == f"{LOOPBACK}:{lab.pis[0].port}"
        pong = await service.call(key, "ping")
        assert isinstance(pong, dict) and pong["pong"] is True
        assert {d.serial for d in DeviceBook(store).all()} == {pi.serial for pi in lab.pis}
    finally:
        await service.stop()
    assert await until(lambda: not any(pi.processes for pi in lab.pis), 5.0)


async def test_a_moved_device_keeps_its_row(lab: SimLab, store: Store) -> None:
    pi = lab.pis[0]
    updates: list[DeviceState] = []
    service = FleetService(
        store, lab.connect_options(), updates.append, poll_interval=0.2, discover=False
    )
    await service.start()
    try:
        async with relay(pi.port) as new_port:
            old = candidate(pi.port, "pi-x")
            service.add_candidate(old)
            key = pi.serial
            assert await until(lambda: key in service.states and service.states[key].health)
            new = candidate(new_port, "pi-x")  # the same Pi, announced at another address
            service._on_discovery(DiscoveryEvent("moved", new, old))
            assert service.states[key].endpoint == new.endpoint
            seen = len(updates)
            assert await until(
                lambda: any(u.endpoint == new.endpoint and u.health for u in updates[seen:])
            )
            assert list(service.states) == [key]
            assert {u.key for u in updates[seen:]} == {key}  # the same row throughout
    finally:
        await service.stop()


async def test_a_refused_key_waits_for_an_explicit_repin(
    lab: SimLab, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fleet_service, "REPIN_CHECK_SECONDS", 0.2)
    pi = lab.pis[2]
    service = FleetService(store, lab.connect_options(), poll_interval=0.2, discover=False)
    await service.start()
    try:
        service.add_candidate(candidate(pi.port, pi.hostname))
        endpoint, key = f"{LOOPBACK}:{pi.port}", pi.serial
        assert await until(lambda: key in service.states and service.states[key].reachable)
        await lab.change_host_key(pi)
        await service.pool.drop(endpoint)  # the link drops (as on a reboot into the new image)
        assert await until(lambda: "changed" in (service.states[key].error or ""))
        await asyncio.sleep(0.6)
        assert not service.states[key].reachable  # never by itself
        new_key = pi.host_key.export_public_key().decode().strip()
        service.pool.trust.repin(endpoint, new_key, pi.serial, who="test")
        assert await until(lambda: service.states[key].reachable)
    finally:
        await service.stop()
