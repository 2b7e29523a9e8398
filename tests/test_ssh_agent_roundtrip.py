"""A real SSH round trip to a simulated Pi, with the real agent uploaded and run there."""

from __future__ import annotations

import asyncio
import os

import pytest

from fleet_tui.core.agent.bundle import build_agent
from fleet_tui.core.agent.client import REMOTE_DIR, AgentSession
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.net.ssh import Endpoint, HostKeyChanged, connect
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store


async def test_facts_and_health_come_from_the_simulated_pi(lab: SimLab, store: Store) -> None:
    pi = lab.pis[0]
    conn = await connect(Endpoint("127.0.0.1", pi.port), HostKeys(store), lab.connect_options())
    try:
        session = await AgentSession.start(conn)
        facts = await session.facts()
        health = await session.health()
        await session.close()
    finally:
        conn.close()
    assert facts.serial == pi.serial
    assert facts.model == pi.model.model_string
    assert facts.hostname == pi.hostname
    assert facts.agent_hash == build_agent().sha256
    assert health.temperature_c is not None
    assert abs(health.temperature_c - pi.state.temperature_c) < 3.0
    assert health.throttled is not None and health.throttled.current == []


async def test_agent_is_uploaded_only_when_its_hash_is_missing(lab: SimLab, store: Store) -> None:
    pi = lab.pis[1]
    remote = pi.home / REMOTE_DIR / build_agent().filename
    for attempt in range(2):
        conn = await connect(Endpoint("127.0.0.1", pi.port), HostKeys(store), lab.connect_options())
        try:
            session = await AgentSession.start(conn)
            assert (await session.facts()).serial == pi.serial
            await session.close()
        finally:
            conn.close()
        if attempt == 0:
            assert remote.read_bytes() == build_agent().data
            os.utime(remote, (1_000_000, 1_000_000))  # a marker an upload would overwrite
    assert remote.stat().st_mtime == 1_000_000


async def test_agent_process_exits_when_the_session_closes(lab: SimLab, store: Store) -> None:
    pi = lab.pis[2]
    conn = await connect(Endpoint("127.0.0.1", pi.port), HostKeys(store), lab.connect_options())
    session = await AgentSession.start(conn)
    await session.facts()
    assert pi.processes, "the agent should be running on the device"
    await session.close()
    conn.close()
    for _ in range(50):
        if not pi.processes:
            break
        await asyncio.sleep(0.1)
    assert not pi.processes, "nothing may be left running on the Pi"


async def test_host_key_is_pinned_on_first_use_and_a_changed_key_is_refused(
    lab: SimLab, store: Store
) -> None:
    pi = lab.pis[0]
    endpoint = Endpoint("127.0.0.1", pi.port)
    conn = await connect(endpoint, HostKeys(store), lab.connect_options())
    conn.close()
    pinned = HostKeys(store).pinned(endpoint.key)
    assert pinned is not None
    assert pinned.split()[1] == pi.host_key.export_public_key().decode().split()[1]

    # The device comes back with a new host key (re-imaged card, or an impostor).
    await lab.change_host_key(pi)

    with pytest.raises(HostKeyChanged) as refused:
        await connect(endpoint, HostKeys(store), lab.connect_options())
    assert "changed" in str(refused.value) and "--repin" in str(refused.value)
    assert HostKeys(store).pinned(endpoint.key) == pinned  # nothing was silently re-pinned
