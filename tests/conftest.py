"""Shared fixtures: a real SQLite store on disk and a simulated lab of real SSH servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from fleet_tui.core.net.pool import ConnectionPool, Timeouts
from fleet_tui.core.sim.lab import SimLab
from fleet_tui.core.store.database import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(tmp_path / "fleet.db")
    yield s
    s.close()


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[SimLab]:
    """Three simulated Pis on 127.0.0.1, no mDNS (tests that need it start their own)."""
    sim = SimLab(3, workdir=tmp_path / "lab", advertise=False)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def pool(lab: SimLab, store: Store) -> AsyncIterator[ConnectionPool]:
    """A connection pool to the `lab` fixture, with short timeouts for tests."""
    p = ConnectionPool(
        store,
        lab.connect_options(),
        timeouts=Timeouts(tcp=2.0, handshake=5.0, agent=15.0, call=5.0),
    )
    try:
        yield p
    finally:
        await p.close()
