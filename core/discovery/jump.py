"""Discovery through a jump host: its agent browses mDNS and reads its neighbour table.

When the Pis sit on the jump host's LAN and not the laptop's, the laptop's own mDNS sees
nothing. The agent runs on any Linux with python3, so we upload it to the jump host, ask it
to `browse` and to send its `neighbours` table, and turn the answers into candidates that
are reached through that same jump host. Everything the jump host sends is validated here as
strictly as a packet off the network.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from fleet_tui.core.agent.client import AgentSession
from fleet_tui.core.discovery.mdns import (
    QUIET_S,
    SERVICE_TYPES,
    Candidate,
    DiscoveryPass,
    clean_label,
    decode_txt,
    order_addresses,
)
from fleet_tui.core.net.hosts import HostSpecError, parse_spec
from fleet_tui.core.net.neighbours import Neighbour, parse_agent_table, pi_neighbours
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import RouteError, Target

MAX_SERVICES = 2048


class JumpDiscoveryError(Exception):
    """The jump host could not be used for discovery; the message says why."""


async def discover_via(
    pool: ConnectionPool,
    jump: str,
    *,
    seconds: float = 3.0,
    interfaces: Sequence[str] | None = None,
    service_types: Sequence[str] = SERVICE_TYPES,
    neighbours: bool = True,
    quiet: float | None = QUIET_S,
) -> DiscoveryPass:
    """Candidates on the jump host's LAN, each to be reached through `jump`. Its agent stops
    browsing once the LAN has answered (`quiet`, as here; None: all of `seconds`); an older
    agent listens for all of `seconds` and says nothing of why."""
    try:
        spec = str(parse_spec(jump))
        route = pool.route(Target.parse(spec))
    except (HostSpecError, RouteError) as exc:
        raise JumpDiscoveryError(f"jump host: {exc}") from None
    try:
        conn = await pool.jump_connection(route)
        session = await AgentSession.start(conn, timeout=pool.timeouts.agent)
    except Exception as exc:
        raise JumpDiscoveryError(f"jump host {spec}: {exc}") from None
    try:
        params: dict[str, Any] = {
            "seconds": max(0.2, min(seconds, 10.0)),
            "types": list(service_types),
        }
        if interfaces:
            params["interfaces"] = list(interfaces)
        if quiet is not None:
            params["quiet"] = quiet
        started = time.monotonic()
        try:
            browsed = await session.call("browse", params, timeout=seconds + 10.0)
        except Exception as exc:
            raise JumpDiscoveryError(f"jump host {spec}: mDNS browse failed: {exc}") from None
        table: Any = {}
        if neighbours:
            try:
                table = await session.call("neighbours", {}, timeout=pool.timeouts.call)
            except Exception:
                table = {}  # the neighbour table is a bonus; mDNS already answered
    finally:
        await session.close()
    found = with_neighbours(candidates_from_browse(browsed, spec), parse_agent_table(table), spec)
    stopped = browsed.get("stopped") if isinstance(browsed, dict) else None
    return DiscoveryPass(
        found,
        time.monotonic() - started,
        "quiet" if stopped == "quiet" else "timeout",
    )


def candidates_from_browse(result: Any, jump: str | None) -> list[Candidate]:
    """The agent's `browse` answer -> validated candidates, one per (host, port)."""
    services = result.get("services") if isinstance(result, dict) else None
    if not isinstance(services, list):
        return []
    parts: list[Candidate] = []
    for svc in services[:MAX_SERVICES]:
        candidate = _candidate(svc, jump)
        if candidate is not None:
            parts.append(candidate)
    return merge_parts(parts)


def _candidate(svc: Any, jump: str | None) -> Candidate | None:
    if not isinstance(svc, dict):
        return None
    kind, name, host, port = svc.get("type"), svc.get("name"), svc.get("host"), svc.get("port")
    if not (isinstance(kind, str) and isinstance(name, str) and isinstance(host, str)):
        return None
    if kind not in SERVICE_TYPES and not kind.endswith("._tcp.local."):
        return None
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        return None
    raw_addresses = svc.get("addresses")
    addresses = order_addresses(
        [a for a in raw_addresses[:16] if isinstance(a, str)]
        if isinstance(raw_addresses, list)
        else []
    )
    if not addresses:
        return None
    txt_raw = svc.get("txt")
    txt = (
        decode_txt({str(k).encode(): str(v).encode() for k, v in list(txt_raw.items())[:32]})
        if isinstance(txt_raw, dict)
        else {}
    )
    suffix = "." + kind
    instance = name[: -len(suffix)] if name.lower().endswith(suffix.lower()) else name
    return Candidate(
        name=clean_label(instance),
        address=addresses[0],
        port=22 if kind.startswith("_workstation") else port,
        service_type=kind,
        txt=txt,
        addresses=addresses,
        server=clean_label(host, 253),
        service_types=(kind,),
        source="jump",
        jump=jump,
    )


def merge_parts(parts: list[Candidate]) -> list[Candidate]:
    """One candidate per (server, port); a bare `_workstation` record only when no SSH record."""
    rank = {"_pifleet": 0, "_ssh": 1}
    groups: dict[tuple[str, int], list[Candidate]] = {}
    for part in parts:
        groups.setdefault(((part.server or part.name).lower(), part.port), []).append(part)
    ssh_servers = {
        server
        for (server, _), group in groups.items()
        if any(not p.service_type.startswith("_workstation") for p in group)
    }
    merged: list[Candidate] = []
    for (server, _port), group in sorted(groups.items()):
        if all(p.service_type.startswith("_workstation") for p in group) and server in ssh_servers:
            continue
        group.sort(key=lambda c: rank.get(c.service_type.split(".")[0], 2))
        txt: dict[str, str] = {}
        for part in reversed(group):
            txt.update(part.txt)
        merged.append(
            replace(
                group[0],
                txt=txt,
                addresses=order_addresses([a for p in group for a in p.addresses]),
                service_types=tuple(sorted({p.service_type for p in group})),
            )
        )
    return merged


def with_neighbours(
    found: list[Candidate], entries: list[Neighbour], jump: str | None
) -> list[Candidate]:
    """Attach MACs to mDNS candidates; add Pi-OUI neighbours that mDNS did not see (port 22)."""
    pis = pi_neighbours(entries)
    by_address = {n.address: n for n in entries}
    out: list[Candidate] = []
    seen_addresses: set[str] = set()
    for c in found:
        seen_addresses.update(c.addresses or (c.address,))
        mac = next(
            (by_address[a].mac for a in (c.addresses or (c.address,)) if a in by_address), None
        )
        out.append(c if mac is None else replace(c, mac=mac))
    for n in pis:
        if n.address in seen_addresses:
            continue
        out.append(
            Candidate(
                name=n.address,
                address=n.address,
                port=22,
                service_type="neighbour",
                addresses=(n.address,),
                service_types=("neighbour",),
                source="neighbours",
                jump=jump,
                mac=n.mac,
            )
        )
    return out
