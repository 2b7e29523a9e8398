"""The connection pool against real SSH servers (SimLab on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.core.net.pool import ConnectionPool, Timeouts, Unreachable
from fleet_tui.core.net.routes import Target
from fleet_tui.core.sim.lab import LOOPBACK, SimLab
from fleet_tui.core.store.database import Store


def _target(port: int) -> Target:
    return Target(LOOPBACK, port)


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP and never speaks SSH: a hung device."""
    srv = socket.socket()
    srv.bind((LOOPBACK, 0))
    srv.listen(16)
    try:
        yield srv.getsockname()[1]
    finally:
        srv.close()


@pytest.fixture
def closed_port() -> int:
    s = socket.socket()
    s.bind((LOOPBACK, 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: connection refused
    return port


async def test_a_link_is_opened_once_and_kept_open(
    lab: SimLab, pool: ConnectionPool, store: Store
) -> None:
    pi = lab.pis[0]
    first, second = await asyncio.gather(pool.link(_target(pi.port)), pool.link(_target(pi.port)))
    assert first is second  # concurrent asks share one opening
    assert first.facts.serial == pi.serial
    again = await pool.link(_target(pi.port))
    assert again is first and again.alive
    health = await again.session.health()
    assert health.temperature_c is not None
    pin = store.get_row("host_keys", f"{LOOPBACK}:{pi.port}")
    assert pin is not None and pin["serial"] == pi.serial  # pinned, tied to the serial


async def test_a_dead_link_is_reopened(lab: SimLab, pool: ConnectionPool) -> None:
    pi = lab.pis[1]
    link = await pool.link(_target(pi.port))
    link.conn.close()
    await asyncio.sleep(0.1)
    fresh = await pool.link(_target(pi.port))
    assert fresh is not link and fresh.alive


async def test_unreachable_hosts_back_off_exponentially_and_fail_fast(
    pool: ConnectionPool, closed_port: int
) -> None:
    target = _target(closed_port)
    with pytest.raises(Unreachable, match="unreachable"):
        await pool.link(target)
    key = pool.route(target).key
    first = pool.retry_in(key)
    assert first is not None and 0 < first <= 1.0
    started = time.monotonic()
    with pytest.raises(Unreachable, match="next try in"):
        await pool.link(target)  # backing off: no attempt at all
    assert time.monotonic() - started < 0.05
    with pytest.raises(Unreachable):
        await pool.link(target, retry_now=True)
    second = pool.retry_in(key)
    assert second is not None and 1.0 < second <= 2.0


async def test_hung_hosts_never_slow_the_others(
    lab: SimLab, store: Store, silent_port: int, closed_port: int
) -> None:
    # Every handshake slot could be taken by hung devices; the live ones must not wait.
    pool = ConnectionPool(
        store,
        lab.connect_options(),
        handshakes=2,
        timeouts=Timeouts(tcp=1.0, handshake=3.0, agent=10.0, call=5.0),
    )
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        done: dict[int, float] = {}

        async def one(port: int) -> None:
            try:
                await pool.link(_target(port))
            except Unreachable:
                pass
            done[port] = loop.time() - started

        await asyncio.gather(one(silent_port), one(closed_port), *(one(pi.port) for pi in lab.pis))
        slowest_live = max(done[pi.port] for pi in lab.pis)
        assert done[silent_port] >= 3.0  # the handshake timeout, not forever
        assert slowest_live < done[silent_port]
        assert all(pool.open_links().get(f"{LOOPBACK}:{pi.port}") for pi in lab.pis)
    finally:
        await pool.close()


async def test_closing_the_pool_leaves_nothing_running_on_the_pis(
    lab: SimLab, store: Store, tmp_path: Path
) -> None:
    pool = ConnectionPool(store, lab.connect_options())
    await asyncio.gather(*(pool.link(_target(pi.port)) for pi in lab.pis))
    assert all(pi.processes for pi in lab.pis)
    await pool.close()
    for _ in range(50):
        if not any(pi.processes for pi in lab.pis):
            break
        await asyncio.sleep(0.1)
    assert not any(pi.processes for pi in lab.pis)
