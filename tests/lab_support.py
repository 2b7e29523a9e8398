"""Helpers for tests that run the simulated lab: bounded waits and lab Pis as mDNS finds them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fleet_tui.core.discovery.mdns import Candidate
from fleet_tui.core.sim.lab import LOOPBACK


async def until(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Poll `check` every 50 ms for at most `seconds`; its last answer."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return True
        await asyncio.sleep(0.05)
    return check()


def candidate(port: int, name: str) -> Candidate:
    """A lab Pi on loopback as discovery would report it."""
    return Candidate(
        name, LOOPBACK, port, "_ssh._tcp.local.", addresses=(LOOPBACK,), server=f"{name}.local."
    )
