"""Shared fixtures: a real SQLite store on disk and a simulated lab of real SSH servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from core.sim.lab import SimLab
from core.store import Store


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
