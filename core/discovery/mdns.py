"""Find candidate Pis by mDNS (zeroconf): `_ssh._tcp`, `_workstation._tcp`, `_pifleet._tcp`.

A candidate is only a name, addresses and a port until its agent has answered. Names and TXT
values come from the network and are untrusted: they are validated and length-limited here,
and the UI shows them literally (core/text.py).

Discovery follows devices: a service that re-announces with another address is reported as
`moved`, a TXT change as `updated`, a goodbye (or a service whose records expire) as `gone`.
The same Pi advertised under several service types is one candidate per endpoint.

A name the cache cannot describe yet is looked up on the network, and the answer may come
back after the Pi has said goodbye or after a newer answer was applied. So each lookup
carries a ticket (the number of the state change that started it) and is applied only while
that ticket is still live: a goodbye ends every lookup of the name, and an applied answer
ends the lookups started before it. The answer's records themselves may also arrive after
the goodbye, and the browser reports new records of a name as an update even when its
pointer is gone: updates count only for names added since their last removal. A Pi that
comes back announces its pointer again and is found as usual.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import re
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPES = ("_ssh._tcp.local.", "_workstation._tcp.local.", "_pifleet._tcp.local.")
MAX_NAME = 63  # one DNS label
MAX_TXT_KEYS = 32
MAX_TXT_VALUE = 255
MAX_ADDRESSES = 8
RESOLVE_TIMEOUT_MS = 3000
# When a pass may end early (`browse`): after the browser's first two queries have had their
# answers (it asks at once and again about a second later), once nothing new has come for
# QUIET_S. Responders answer shared records within 20–120 ms (RFC 6762); Wi-Fi power saving
# adds a few hundred. `--wait` keeps listening for the whole `--timeout`.
FIRST_ROUND_S = 1.2
QUIET_S = 0.6
BUSY_POLL_S = 0.05  # how often a quiet pass looks again while a lookup is still in flight
_SERIAL = re.compile(r"^[0-9a-fA-F]{8,32}$")

EventKind = Literal["found", "moved", "updated", "gone"]


class InterfaceError(ValueError):
    """An --interface value that is neither an address of this machine nor an interface."""


def clean_label(raw: str, limit: int = MAX_NAME) -> str:
    """Drop control characters (terminal escapes) and cap the length; keep everything else."""
    text = "".join(ch for ch in raw if ch.isprintable())
    return text[:limit]


def clean_serial(raw: str | None) -> str | None:
    """A Pi serial as announced (hex, 8 to 32 digits), lower case; anything else is no serial."""
    if raw is None or not _SERIAL.match(raw):
        return None
    return raw.lower()


@dataclass(frozen=True)
class Candidate:
    name: str
    address: str  # preferred address: IPv4 first, then global IPv6, then link-local
    port: int
    service_type: str
    txt: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    addresses: tuple[str, ...] = ()
    server: str | None = None  # the advertised host name, e.g. `pi-07.local.`
    service_types: tuple[str, ...] = ()
    source: str = "mdns"
    jump: str | None = None  # reached (and found) through this jump host
    mac: str | None = None  # from a neighbour table

    @property
    def endpoint(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"

    @property
    def serial(self) -> str | None:
        return clean_serial(self.txt.get("serial"))

    @property
    def model(self) -> str | None:
        model = self.txt.get("model")
        return model if model and model != "unknown" else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "addresses": list(self.addresses or (self.address,)),
            "port": self.port,
            "services": [
                t.removesuffix(".local.") for t in (self.service_types or (self.service_type,))
            ],
            "server": self.server,
            "serial": self.serial,
            "model": self.model,
            "txt": dict(self.txt),
            "mac": self.mac,
            "source": self.source,
            "jump": self.jump,
        }


@dataclass(frozen=True)
class DiscoveryEvent:
    kind: EventKind
    candidate: Candidate
    previous: Candidate | None = None  # for `moved` and `updated`


def _instance_name(full_name: str, service_type: str) -> str:
    suffix = "." + service_type
    name = full_name[: -len(suffix)] if full_name.endswith(suffix) else full_name
    return clean_label(name)


def decode_txt(properties: dict[bytes, bytes | None]) -> dict[str, str]:
    txt: dict[str, str] = {}
    for key, value in list(properties.items())[:MAX_TXT_KEYS]:
        k = clean_label(key.decode("utf-8", "replace"), 32).lower()
        if k:
            txt[k] = clean_label((value or b"").decode("utf-8", "replace"), MAX_TXT_VALUE)
    return txt


def _identity(candidate: Candidate) -> str:
    """One device: its advertised host name (unique on a link) and its SSH port."""
    return f"{_server(candidate)}#{candidate.port}"


def _server(candidate: Candidate) -> str:
    return (candidate.server or candidate.name).lower()


def _preference(candidate: Candidate) -> int:
    kind = candidate.service_type
    return 0 if kind.startswith("_pifleet") else 1 if kind.startswith("_ssh") else 2


def usable_address(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (ip.is_multicast or ip.is_unspecified)


def order_addresses(addresses: Sequence[str]) -> tuple[str, ...]:
    """IPv4 first, then global IPv6, then link-local; duplicates and unusable ones dropped."""

    def rank(a: str) -> int:
        ip = ipaddress.ip_address(a.split("%", 1)[0])
        return 0 if ip.version == 4 else 2 if ip.is_link_local else 1

    unique = list(dict.fromkeys(a for a in addresses if usable_address(a)))
    return tuple(sorted(unique, key=rank)[:MAX_ADDRESSES])


def resolve_interfaces(specs: Sequence[str]) -> tuple[list[str | int], IPVersion]:
    """`--interface` values (addresses or interface names) -> zeroconf interfaces + IP version."""
    import psutil  # only needed when interfaces are chosen by name

    chosen: list[str | int] = []
    by_name: dict[str, Any] | None = None
    for spec in specs:
        try:
            ip = ipaddress.ip_address(spec)
        except ValueError:
            if by_name is None:
                by_name = psutil.net_if_addrs()
            if spec not in by_name:
                known = ", ".join(sorted(by_name)) or "none"
                raise InterfaceError(
                    f"{spec!r}: no such interface or address (interfaces: {known})"
                ) from None
            for snic in by_name[spec]:
                if snic.family == socket.AF_INET:
                    chosen.append(snic.address)
            with contextlib.suppress(OSError):
                chosen.append(socket.if_nametoindex(spec))
            continue
        chosen.append(str(ip) if ip.version == 4 else _v6_index(ip))
    if not chosen:
        raise InterfaceError(f"{', '.join(specs)}: no IPv4 or IPv6 address to listen on")
    has4 = any(isinstance(c, str) for c in chosen)
    has6 = any(isinstance(c, int) for c in chosen)
    version = IPVersion.All if has4 and has6 else IPVersion.V4Only if has4 else IPVersion.V6Only
    return list(dict.fromkeys(chosen)), version


def _v6_index(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    import psutil

    for name, snics in psutil.net_if_addrs().items():
        for snic in snics:
            if snic.family == socket.AF_INET6 and snic.address.split("%")[0] == str(ip):
                return socket.if_nametoindex(name)
    raise InterfaceError(f"{ip}: not an address of this machine")


class Discovery:
    """Browse mDNS on the chosen interfaces and report events through a callback.

    `interfaces=None` means every interface, IPv4 and IPv6: right on a technician's laptop,
    never in tests (they pass `["127.0.0.1"]`).

    `lookup_hook` is a test seam: awaited with the service name once a network lookup has its
    answer and before the answer is applied, so a test can hold a lookup open while a goodbye
    or a move arrives.
    """

    def __init__(
        self,
        on_event: Callable[[DiscoveryEvent], None],
        interfaces: Sequence[str] | None = None,
        service_types: Sequence[str] = SERVICE_TYPES,
        resolve_timeout_ms: int = RESOLVE_TIMEOUT_MS,
        lookup_hook: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self._on_event = on_event
        self._lookup_hook = lookup_hook
        self._interfaces = list(interfaces) if interfaces else None
        self._types = list(service_types)
        self._resolve_ms = resolve_timeout_ms
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        # Keyed by full service name in lower case (DNS names are case-insensitive, and the
        # browser names a service by its pointer in one event and by its records in another).
        self._services: dict[str, Candidate] = {}  # service -> its candidate
        self._present: set[str] = set()  # services added and not removed since
        self._lookups: dict[str, set[int]] = {}  # service -> tickets of its live lookups
        self._tickets = itertools.count(1)  # numbers state changes: later means newer
        self.seen: dict[str, Candidate] = {}  # device identity (host name, port) -> candidate

    async def start(self) -> None:
        if self._interfaces:
            chosen, version = resolve_interfaces(self._interfaces)
            self._zc = AsyncZeroconf(interfaces=chosen, ip_version=version)  # type: ignore[arg-type]
        else:
            self._zc = AsyncZeroconf(interfaces=InterfaceChoice.All, ip_version=IPVersion.All)
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, self._types, handlers=[self._on_state_change]
        )

    def candidates(self) -> list[Candidate]:
        return sorted(self.seen.values(), key=lambda c: (c.name.lower(), c.endpoint))

    @property
    def busy(self) -> bool:
        """A lookup is still waiting for its answer."""
        return bool(self._lookups)

    def _on_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        ticket, key = next(self._tickets), name.lower()
        if state_change is ServiceStateChange.Removed:
            # Lookups still in flight describe a Pi that has left: none of them may re-add it.
            self._present.discard(key)
            self._lookups.pop(key, None)
            self._service_left(key)
            return
        if state_change is ServiceStateChange.Added:
            self._present.add(key)
        elif key not in self._present:
            return  # records of a name without its pointer, e.g. answers late for a goodbye
        info = AsyncServiceInfo(service_type, name)
        if self._zc is not None and info.load_from_cache(self._zc.zeroconf):
            self._resolved(service_type, name, info, ticket)  # the answer carried every record
            return
        self._lookups.setdefault(key, set()).add(ticket)
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name, ticket))
        self._tasks.add(task)  # keep a reference so the task is not garbage-collected
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str, ticket: int) -> None:
        assert self._zc is not None
        try:
            info = AsyncServiceInfo(service_type, name)
            if not await info.async_request(self._zc.zeroconf, self._resolve_ms):
                return
            if self._lookup_hook is not None:
                await self._lookup_hook(name)
            # A goodbye or a newer answer since this lookup started makes its answer stale.
            if ticket in self._lookups.get(name.lower(), ()):
                self._resolved(service_type, name, info, ticket)
        finally:
            self._end_lookups(name, lambda t: t == ticket)

    def _end_lookups(self, name: str, ended: Callable[[int], bool]) -> None:
        key = name.lower()
        live = {t for t in self._lookups.get(key, ()) if not ended(t)}
        if live:
            self._lookups[key] = live
        else:
            self._lookups.pop(key, None)  # no entry for names with nothing in flight

    def _resolved(self, service_type: str, name: str, info: AsyncServiceInfo, ticket: int) -> None:
        addresses = order_addresses(info.parsed_scoped_addresses(IPVersion.All))
        if not addresses or not info.port:
            return
        # This answer supersedes lookups started before it: they may carry an old address.
        self._end_lookups(name, lambda t: t <= ticket)
        port = info.port
        # An ssh service is the SSH endpoint itself; a workstation record only tells us the
        # host exists, so assume port 22 for it.
        if service_type.startswith("_workstation"):
            port = 22
        server = clean_label(info.server or "", 253) or None
        candidate = Candidate(
            name=_instance_name(name, service_type),
            address=addresses[0],
            port=port,
            service_type=service_type,
            txt=decode_txt(info.properties),
            addresses=addresses,
            server=server,
            service_types=(service_type,),
        )
        self._service_seen(name.lower(), candidate)

    def _service_seen(self, service: str, candidate: Candidate) -> None:
        before = self._services.get(service)
        self._services[service] = candidate
        self._refresh_server(_server(candidate))
        if before is not None and _server(before) != _server(candidate):
            self._refresh_server(_server(before))

    def _service_left(self, service: str) -> None:
        before = self._services.pop(service, None)
        if before is not None:
            self._refresh_server(_server(before))

    def _refresh_server(self, server: str) -> None:
        identities = {_identity(c) for c in self._services.values() if _server(c) == server}
        identities |= {i for i, c in self.seen.items() if _server(c) == server}
        for identity in sorted(identities):
            self._refresh(identity)

    def _refresh(self, identity: str) -> None:
        """Re-merge one device's live services and report what changed."""
        previous = self.seen.get(identity)
        merged = self._merge(identity)
        if merged is None:
            if previous is not None:
                del self.seen[identity]
                self._emit("gone", previous)
            return
        self.seen[identity] = merged
        if previous is None:
            self._emit("found", merged)
        elif merged.endpoint != previous.endpoint:
            self._emit("moved", merged, previous)
        elif (merged.txt, merged.addresses, merged.name) != (
            previous.txt,
            previous.addresses,
            previous.name,
        ):
            self._emit("updated", merged, previous)

    def _merge(self, identity: str) -> Candidate | None:
        parts = [c for c in self._services.values() if _identity(c) == identity]
        if not parts:
            return None
        if all(_preference(c) == 2 for c in parts):
            # Only `_workstation` (port assumed 22): not a device of its own when the same
            # host advertises SSH on another port.
            server = _server(parts[0])
            if any(_server(c) == server and _preference(c) < 2 for c in self._services.values()):
                return None
        # The Pi's own `_pifleet` record names it best and carries model/serial in TXT.
        parts.sort(key=_preference)
        txt: dict[str, str] = {}
        for part in reversed(parts):
            txt.update(part.txt)
        return replace(
            parts[0],
            txt=dict(list(txt.items())[:MAX_TXT_KEYS]),
            addresses=order_addresses([a for p in parts for a in p.addresses]),
            service_types=tuple(sorted({p.service_type for p in parts})),
        )

    def _emit(
        self, kind: EventKind, candidate: Candidate, previous: Candidate | None = None
    ) -> None:
        self._on_event(DiscoveryEvent(kind, candidate, previous))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._browser is not None:
            with contextlib.suppress(Exception):
                await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
        self._browser = None
        self._zc = None


@dataclass(frozen=True)
class DiscoveryPass:
    """What one pass found, how long it listened and why it stopped: `quiet` (the LAN had
    answered: see `browse`), `timeout` (the upper bound, or `--wait`), `expected` (tests)."""

    candidates: list[Candidate]
    elapsed_s: float
    stopped: Literal["quiet", "timeout", "expected"]

    def summary(self) -> dict[str, Any]:
        return {
            "candidates": len(self.candidates),
            "elapsed_s": round(self.elapsed_s, 3),
            "stopped": self.stopped,
        }


async def browse(
    seconds: float,
    interfaces: Sequence[str] | None = None,
    service_types: Sequence[str] = SERVICE_TYPES,
    *,
    quiet: float | None = QUIET_S,
    settle: float = 0.3,
    expect: int | None = None,
) -> DiscoveryPass:
    """Browse until the LAN has answered, `seconds` at the most.

    The LAN has answered once the browser's first queries (one at once, one about a second
    later, for answers lost the first time) have had their answers — FIRST_ROUND_S — and then
    nothing new (a service, an address, a goodbye) has arrived for `quiet` seconds, with no
    lookup in flight. `quiet=None` listens for all of `seconds` (slow Wi-Fi: `--wait`).
    `expect`: stop `settle` s after that many devices are seen (tests and benchmarks)."""
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()
    discovery = Discovery(lambda event: changed.set(), interfaces, service_types)
    start = last_news = loop.time()
    deadline = start + seconds
    stopped: Literal["quiet", "timeout", "expected"] = "timeout"
    await discovery.start()
    try:
        while (left := deadline - loop.time()) > 0:
            changed.clear()
            if expect is not None and len(discovery.seen) >= expect:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(settle, left))
                if not changed.is_set():
                    stopped = "expected"
                    break
                continue
            wait = left
            if quiet is not None:
                now = loop.time()
                quiet_from = max(start + FIRST_ROUND_S, last_news + quiet)
                if now >= quiet_from and not discovery.busy:
                    stopped = "quiet"
                    break
                wait = min(left, max(BUSY_POLL_S, quiet_from - now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)
            if changed.is_set():
                last_news = loop.time()
    finally:
        await discovery.stop()
    return DiscoveryPass(discovery.candidates(), loop.time() - start, stopped)
