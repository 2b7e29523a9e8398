"""One discovery pass on this machine: mDNS for a while, plus the neighbour table.

With `--interface`, neighbour entries are kept only for the interfaces chosen, so a pass
bound to 127.0.0.1 (tests) never turns up a real LAN's Pis.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from fleet_tui.core.discovery.jump import with_neighbours
from fleet_tui.core.discovery.mdns import QUIET_S, SERVICE_TYPES, DiscoveryPass, browse
from fleet_tui.core.net.neighbours import Neighbour, read_local


def interface_names(specs: Sequence[str]) -> set[str]:
    """Interface names for `--interface` values (names as given, addresses looked up)."""
    import psutil

    names: set[str] = set()
    addrs = psutil.net_if_addrs()
    for spec in specs:
        if spec in addrs:
            names.add(spec)
            continue
        for name, snics in addrs.items():
            if any(s.address.split("%")[0] == spec for s in snics):
                names.add(name)
    return names


def local_neighbours(interfaces: Sequence[str] | None) -> list[Neighbour]:
    entries = read_local()
    if interfaces:
        allowed = interface_names(interfaces)
        entries = [n for n in entries if n.device in allowed]
    return entries


async def discover_here(
    seconds: float,
    interfaces: Sequence[str] | None = None,
    *,
    neighbours: bool = True,
    service_types: Sequence[str] = SERVICE_TYPES,
    quiet: float | None = QUIET_S,
) -> DiscoveryPass:
    """mDNS until the LAN has answered (`seconds` at most; `quiet=None`: all of them), plus
    the neighbour table."""
    found = await browse(seconds, interfaces, service_types, quiet=quiet)
    if not neighbours:
        return found
    merged = with_neighbours(found.candidates, list(local_neighbours(interfaces)), None)
    return replace(found, candidates=merged)
