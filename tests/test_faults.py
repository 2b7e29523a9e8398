"""Every fault kind of the simulated lab, observed end to end through the real SSH path.

Client side is the product's own: core.ssh.connect (pinned host keys), core.agent_client
(the real agent uploaded on its own exec channel and run on the simulated Pi), core.discovery (real mDNS on
127.0.0.1) and core.fleet.FleetService. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from fleet_tui.core.agent.client import REMOTE_DIR, AgentFailure, AgentSession
from fleet_tui.core.discovery.mdns import Candidate, Discovery, DiscoveryEvent
from fleet_tui.core.fleet.service import FleetService
from fleet_tui.core.models import DeviceState
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, HostKeyChanged, SSHFailure, connect
from fleet_tui.core.sim.lab import LOOPBACK, SimLab, SimPi
from fleet_tui.core.store.database import Store


@asynccontextmanager
async def agent_on(lab: SimLab, store: Store, pi: SimPi) -> AsyncIterator[AgentSession]:
    conn = await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
    try:
        session = await AgentSession.start(conn)
        try:
            yield session
        finally:
            await session.close()
    finally:
        conn.close()


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


async def test_overheat_is_past_the_limit_and_throttled(lab: SimLab, store: Store) -> None:
    pi = lab.pis[0]
    async with agent_on(lab, store, pi) as agent:
        before = await agent.health()
        await lab.inject(pi.hostname, "overheat")
        hot = await agent.health()
        await lab.clear(pi.hostname, "overheat")
        after = await agent.health()
    assert before.temperature_c is not None and before.temperature_c < pi.model.throttle_temp_c
    assert hot.temperature_c is not None and hot.temperature_c > pi.model.throttle_temp_c
    assert hot.throttled is not None
    assert {"throttled", "freq_capped"} <= set(hot.throttled.current)
    assert "throttled" in hot.throttled.sticky
    assert after.temperature_c is not None and after.temperature_c < pi.model.throttle_temp_c
    assert after.throttled is not None and after.throttled.current == []
    assert "throttled" in after.throttled.sticky  # sticky bits last until the Pi reboots


async def test_under_voltage_is_current_and_sticky(lab: SimLab, store: Store) -> None:
    pi = lab.pis[1]
    async with agent_on(lab, store, pi) as agent:
        await lab.inject(pi.index, "under-voltage")
        low = await agent.health()
        await lab.clear(pi.index, "under-voltage")
        after = await agent.health()
    assert low.throttled is not None
    assert "under_voltage" in low.throttled.current and "under_voltage" in low.throttled.sticky
    assert after.throttled is not None
    assert "under_voltage" not in after.throttled.current
    assert "under_voltage" in after.throttled.sticky


async def test_ssh_down_drops_and_refuses_then_up_on_the_same_port(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[2]
    port = pi.port
    async with agent_on(lab, store, pi) as agent:
        await agent.health()
        await lab.inject(pi.hostname, "ssh-down")
        with pytest.raises(AgentFailure):
            await agent.health()  # the open session is gone with its connection
    with pytest.raises(SSHFailure, match="unreachable"):
        await connect(Endpoint(LOOPBACK, port), HostKeys(store), lab.connect_options())
    assert pi.processes == set(), "a stopped Pi runs no agent"
    await lab.inject(pi.hostname, "ssh-up")
    assert pi.port == port and "ssh-down" not in pi.faults
    async with agent_on(lab, store, pi) as agent:  # same port, same host key: accepted
        assert (await agent.facts()).serial == pi.serial


async def test_host_key_change_is_refused_and_clearing_restores_the_key(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[0]
    endpoint = Endpoint(LOOPBACK, pi.port)
    (await connect(endpoint, HostKeys(store), lab.connect_options())).close()  # pinned on first use
    await lab.inject(pi.hostname, "host-key-change")
    with pytest.raises(HostKeyChanged):
        await connect(endpoint, HostKeys(store), lab.connect_options())
    await lab.clear(pi.hostname)
    (await connect(endpoint, HostKeys(store), lab.connect_options())).close()


async def _round_trip(agent: AgentSession, samples: int = 4) -> float:
    best = float("inf")
    for _ in range(samples):
        t0 = time.perf_counter()
        await agent.health()
        best = min(best, time.perf_counter() - t0)
    return best


async def test_slow_link_delays_every_reply_of_an_open_session(lab: SimLab, store: Store) -> None:
    pi = lab.pis[1]
    delay = 0.4
    async with agent_on(lab, store, pi) as agent:
        fast = await _round_trip(agent)
        await lab.inject(pi.hostname, "slow-link", f"{delay * 1000:g}ms")
        slow = await _round_trip(agent, 3)
        await lab.clear(pi.hostname, "slow-link")
        again = await _round_trip(agent)
    assert pi.faults == {} and pi.link_delay == 0.0
    assert slow >= delay and slow - fast >= delay * 0.9, (fast, slow)
    assert again < delay / 2, again


async def test_disk_full_shows_no_space_and_an_agent_upload_fails_clearly(
    lab: SimLab, store: Store
) -> None:
    uploaded, fresh = lab.pis[0], lab.pis[2]
    async with agent_on(lab, store, uploaded) as agent:
        await lab.inject(uploaded.hostname, "disk-full")
        health = await agent.health()
    assert health.disk_free_mb == 0 and health.disk_total_mb and health.disk_total_mb > 0
    async with agent_on(lab, store, uploaded) as agent:  # already there: starts, writes nothing
        assert (await agent.health()).disk_free_mb == 0

    await lab.inject(fresh.hostname, "disk-full")
    conn = await connect(Endpoint(LOOPBACK, fresh.port), HostKeys(store), lab.connect_options())
    try:
        # The real upload path (the agent's own start channel): the Pi's shell cannot write
        # the file. (The simulator's disk-full gives commands a zero file-size limit, so the
        # reason is EFBIG's; a real full disk says "No space left on device".)
        for _ in range(2):  # and a retry on the still-full disk fails the same way
            with pytest.raises(AgentFailure) as failure:
                await AgentSession.start(conn, timeout=10)
            message = str(failure.value)
            assert message.startswith("agent upload failed (.cache/fleet-tui/agent-"), message
            assert message.endswith(("): File too large", "): No space left on device")), message
            assert "\n" not in message
            assert not list((fresh.home / REMOTE_DIR).iterdir()), "no partial agent is left"
    finally:
        conn.close()
    assert await until(lambda: fresh.agents == set(), 5.0), "nothing runs after a failed upload"
    await lab.clear("all")
    async with agent_on(lab, store, fresh) as agent:
        health = await agent.health()
    assert health.disk_free_mb and health.disk_free_mb > 1000


async def test_agent_crash_ends_the_session_and_a_new_one_works(lab: SimLab, store: Store) -> None:
    pi = lab.pis[1]
    conn = await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
    try:
        agent = await AgentSession.start(conn)
        await agent.health()
        await lab.inject(pi.hostname, "agent-crash")
        with pytest.raises(AgentFailure, match="agent exited"):
            await agent.health()
        await agent.close()
        assert pi.faults == {}, "a one-off crash leaves nothing switched on"
        agent = await AgentSession.start(conn)  # the next agent works again
        assert (await agent.facts()).serial == pi.serial

        await lab.inject(pi.hostname, "agent-crash", "persist")
        with pytest.raises(AgentFailure, match="agent exited"):
            await agent.health()
        await agent.close()
        with pytest.raises(AgentFailure, match="Segmentation fault"):
            await AgentSession.start(conn)
        await lab.clear(pi.hostname, "agent-crash")
        agent = await AgentSession.start(conn)
        assert (await agent.health()).temperature_c is not None
        await agent.close()
    finally:
        conn.close()


async def test_device_gone_withdraws_the_advert_and_ssh_then_comes_back(
    tmp_path: Path, store: Store
) -> None:
    lab = SimLab(2, workdir=tmp_path / "lab")
    await lab.start()
    events: list[DiscoveryEvent] = []
    discovery = Discovery(events.append, interfaces=[LOOPBACK])
    try:
        pi = lab.pis[1]

        def seen(kind: str) -> bool:
            return any(e.kind == kind and e.candidate.port == pi.port for e in events)

        await discovery.start()
        assert await until(lambda: seen("found"))
        await lab.inject(pi.hostname, "device-gone")
        assert await until(lambda: seen("gone")), [(e.kind, e.candidate.port) for e in events]
        with pytest.raises(SSHFailure, match="unreachable"):
            await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())
        found_before = sum(e.kind == "found" and e.candidate.port == pi.port for e in events)
        await lab.clear(pi.hostname, "device-gone")
        assert await until(
            lambda: (
                sum(e.kind == "found" and e.candidate.port == pi.port for e in events)
                > found_before
            )
        ), [(e.kind, e.candidate.name, e.candidate.port) for e in events]
        (await connect(Endpoint(LOOPBACK, pi.port), HostKeys(store), lab.connect_options())).close()
    finally:
        await discovery.stop()
        await lab.stop()


async def test_fleet_service_sees_a_pi_drop_and_recover(lab: SimLab, store: Store) -> None:
    states: dict[str, DeviceState] = {}
    service = FleetService(
        store,
        lab.connect_options(),
        on_update=lambda s: states.__setitem__(s.key, s),
        poll_interval=0.2,
        discover=False,
    )
    pi = lab.pis[0]
    key = pi.serial  # the identity, once its agent has answered
    await service.start()
    try:
        service.add_candidate(Candidate(pi.hostname, LOOPBACK, pi.port, "_ssh._tcp.local."))
        assert await until(lambda: key in states and states[key].health is not None)
        await lab.inject(pi.hostname, "overheat")
        assert await until(
            lambda: (
                (h := states[key].health) is not None
                and h.throttled is not None
                and "throttled" in h.throttled.current
            )
        )
        await lab.inject(pi.hostname, "ssh-down")
        assert await until(lambda: not states[key].reachable)
        assert states[key].error
        await lab.clear(pi.hostname)
        assert await until(lambda: states[key].reachable, 15.0)
    finally:
        await service.stop()
