"""One device identity above the connection layer: FleetService keys devices by serial, gives a
candidate a provisional id until its agent answers, re-keys it (and says so), keeps one row
for one Pi on two endpoints, and keeps a known device's row when another Pi answers at its
address. Real SSH servers and the real agent on loopback; bounded waits."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest
from lab_support import candidate, relay, until

from fleet_tui.core.agent.client import AgentFailure
from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.identity import is_provisional, provisional_id, serial_of, valid_serial
from fleet_tui.core.models import DeviceState
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

STRANGER = "10000000deadbeef"  # a Pi the store knows at an address another Pi answers on now


@pytest.fixture
async def live(lab: SimLab, store: Store) -> AsyncIterator[tuple[FleetService, list[DeviceState]]]:
    updates: list[DeviceState] = []
    service = FleetService(
        store, lab.connect_options(), updates.append, poll_interval=0.2, discover=False
    )
    await service.start()
    try:
        yield service, updates
    finally:
        await service.stop()


def test_a_provisional_id_never_collides_with_a_serial() -> None:
    key = provisional_id("127.0.0.1:22")
    assert is_provisional(key) and serial_of(key) is None and valid_serial(key) is None
    assert provisional_id("127.0.0.1:22", {key}) == f"{key}#2"
    assert valid_serial("10000000a0000001") == "10000000a0000001"
    for bad in (None, "", "candidate:1", "a b", "x\n", "[red]x", "é" * 3, "1" * 65):
        assert valid_serial(bad) is None, bad


async def test_a_candidate_is_rekeyed_to_its_serial_when_its_agent_answers(
    lab: SimLab, live: tuple[FleetService, list[DeviceState]]
) -> None:
    service, updates = live
    pi = lab.pis[0]
    service.add_candidate(candidate(pi.port, pi.hostname))
    provisional = f"candidate:{LOOPBACK}:{pi.port}"
    assert updates[0].key == provisional and updates[0].serial is None  # a "connecting" row
    assert await until(lambda: sum(1 for u in updates if u.key == pi.serial) >= 3)
    assert list(service.states) == [pi.serial]
    first = next(i for i, u in enumerate(updates) if u.key == pi.serial)
    assert {u.key for u in updates[:first]} == {provisional}
    assert updates[first].replaces == provisional  # said with the re-key, once
    assert all(u.replaces is None for u in updates[first + 1 :])
    assert {u.key for u in updates[first:]} == {pi.serial}
    pong = await service.call(pi.serial, "ping")
    assert isinstance(pong, dict) and pong["pong"] is True


async def test_a_device_without_a_verified_serial_is_refused_actions(
    live: tuple[FleetService, list[DeviceState]],
) -> None:
    service, _ = live
    with socket.socket() as s:  # a port nobody listens on: the agent never answers
        s.bind((LOOPBACK, 0))
        port = s.getsockname()[1]
    service.add_candidate(candidate(port, "pi-silent"))
    (key,) = service.states
    assert is_provisional(key)
    assert await until(lambda: service.states[key].error is not None)
    assert list(service.states) == [key]  # still there: an "unreachable" row
    with pytest.raises(AgentFailure, match="no verified serial"):
        await service.call(key, "identify")


async def test_the_same_pi_at_two_endpoints_is_one_device_followed_at_the_first(
    lab: SimLab, live: tuple[FleetService, list[DeviceState]]
) -> None:
    service, updates = live
    pi = lab.pis[0]
    direct = f"{LOOPBACK}:{pi.port}"
    async with relay(pi.port) as other_port:
        other = f"{LOOPBACK}:{other_port}"
        service.add_candidate(candidate(pi.port, pi.hostname))
        assert await until(lambda: pi.serial in service.states)
        service.add_candidate(candidate(other_port, pi.hostname))
        assert await until(lambda: service.states[pi.serial].also_at == [other])
        assert list(service.states) == [pi.serial]
        # the second's provisional row is dropped by the update that reports it as this Pi
        assert any(u.key == pi.serial and u.replaces == f"candidate:{other}" for u in updates), [
            (u.key, u.replaces) for u in updates
        ]
        seen = len(updates)
        assert await until(lambda: sum(1 for u in updates[seen:] if u.health) >= 5)
        later = updates[seen:]
        assert {u.key for u in later} == {pi.serial}
        assert {u.endpoint for u in later} == {direct}  # never flips to the other address
        assert len(service.pool.open_links()) == 1  # one session per Pi
        assert isinstance(await service.call(pi.serial, "ping"), dict)


async def test_the_other_endpoint_takes_over_when_the_first_stops_answering(
    lab: SimLab, live: tuple[FleetService, list[DeviceState]]
) -> None:
    service, _ = live
    pi = lab.pis[1]
    direct = f"{LOOPBACK}:{pi.port}"
    async with relay(pi.port) as relay_port:
        via_relay = f"{LOOPBACK}:{relay_port}"
        service.add_candidate(candidate(relay_port, pi.hostname))
        assert await until(lambda: pi.serial in service.states)
        assert service.states[pi.serial].endpoint == via_relay
        service.add_candidate(candidate(pi.port, pi.hostname))
        assert await until(lambda: service.states[pi.serial].also_at == [direct])
    # the relay is gone (an interface down): the Pi is followed at its other address
    state = service.states[pi.serial]
    assert await until(
        lambda: state.endpoint == direct and state.reachable and state.also_at == [via_relay],
        20.0,
    ), (state.endpoint, state.error, state.also_at)
    assert list(service.states) == [pi.serial]
    assert isinstance(await service.call(pi.serial, "ping"), dict)


async def test_another_serial_at_a_known_devices_address_gets_its_own_row(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[2]
    DeviceBook(store).upsert(STRANGER, hostname="pi-old", address=LOOPBACK, port=pi.port)
    updates: list[DeviceState] = []
    service = FleetService(
        store, lab.connect_options(), updates.append, poll_interval=0.2, discover=False, known=True
    )
    await service.start()
    try:
        assert updates[0].key == STRANGER  # known: its serial is its identity from the start
        assert await until(
            lambda: pi.serial in service.states and service.states[pi.serial].health is not None
        )
        assert set(service.states) == {STRANGER, pi.serial}
        old = service.states[STRANGER]
        assert not old.reachable and f"answers as serial {pi.serial}" in (old.error or "")
        assert all(u.replaces is None for u in updates)  # the stored device's row stays
        assert service.states[pi.serial].endpoint == f"{LOOPBACK}:{pi.port}"
        with pytest.raises(AgentFailure):
            await service.call(STRANGER, "ping")  # never sent to the Pi that answers there now
        assert isinstance(await service.call(pi.serial, "ping"), dict)
        stored = DeviceBook(store).get(STRANGER)
        assert stored is not None and stored.hostname == "pi-old"  # its record is untouched
    finally:
        await service.stop()
