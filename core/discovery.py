"""Find candidate Pis by mDNS (zeroconf).

A candidate is only a name, an address and a port until its agent has answered. Names and
TXT values come from the network and are untrusted: they are validated and length-limited
here, and the UI shows them literally.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

SERVICE_TYPES = ("_ssh._tcp.local.", "_workstation._tcp.local.", "_pifleet._tcp.local.")
MAX_NAME = 63  # one DNS label
MAX_TXT_VALUE = 255


@dataclass(frozen=True)
class Candidate:
    name: str
    address: str
    port: int
    service_type: str
    txt: dict[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def endpoint(self) -> str:
        return f"{self.address}:{self.port}"


def clean_label(raw: str, limit: int = MAX_NAME) -> str:
    """Drop control characters (terminal escapes) and cap the length; keep everything else."""
    text = "".join(ch for ch in raw if ch.isprintable())
    return text[:limit]


def _instance_name(full_name: str, service_type: str) -> str:
    suffix = "." + service_type
    name = full_name[: -len(suffix)] if full_name.endswith(suffix) else full_name
    return clean_label(name)


def _decode_txt(properties: dict[bytes, bytes | None]) -> dict[str, str]:
    txt: dict[str, str] = {}
    for key, value in list(properties.items())[:32]:
        k = clean_label(key.decode("utf-8", "replace"), 32)
        if k:
            txt[k] = clean_label((value or b"").decode("utf-8", "replace"), MAX_TXT_VALUE)
    return txt


class Discovery:
    """Browse mDNS on the chosen interfaces and report candidates through a callback."""

    def __init__(
        self,
        on_found: Callable[[Candidate], None],
        interfaces: Sequence[str] | None = None,
        service_types: Sequence[str] = SERVICE_TYPES,
        on_gone: Callable[[str], None] | None = None,
    ) -> None:
        self._on_found = on_found
        self._on_gone = on_gone
        self._interfaces = list(interfaces) if interfaces else None
        self._types = list(service_types)
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.seen: dict[str, Candidate] = {}

    async def start(self) -> None:
        # No interfaces given means all of them: right on a technician's laptop, never in tests.
        kwargs = {"interfaces": self._interfaces} if self._interfaces else {}
        self._zc = AsyncZeroconf(ip_version=IPVersion.V4Only, **kwargs)  # type: ignore[arg-type]
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf, self._types, handlers=[self._on_state_change]
        )

    def _on_state_change(
        self,
        zeroconf: Zeroconf,
        service_type: str,
        name: str,
        state_change: ServiceStateChange,
    ) -> None:
        if state_change is ServiceStateChange.Removed:
            gone = [key for key, c in self.seen.items() if c.name == _instance_name(name, service_type)]
            for key in gone:
                del self.seen[key]
                if self._on_gone:
                    self._on_gone(key)
            return
        task = asyncio.get_running_loop().create_task(self._resolve(service_type, name))
        self._tasks.add(task)  # keep a reference so the task is not garbage-collected
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, service_type: str, name: str) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(service_type, name)
        if not await info.async_request(self._zc.zeroconf, 3000):
            return
        addresses = [a for a in info.parsed_addresses(IPVersion.V4Only) if _usable(a)]
        if not addresses or not info.port:
            return
        candidate = Candidate(
            name=_instance_name(name, service_type),
            address=addresses[0],
            port=info.port,
            service_type=service_type,
            txt=_decode_txt(info.properties),
        )
        # An ssh service on a non-standard port is the SSH endpoint itself; a workstation
        # record only tells us the host exists, so assume port 22 for it.
        if service_type.startswith("_workstation"):
            candidate = Candidate(candidate.name, candidate.address, 22, service_type, candidate.txt)
        previous = self.seen.get(candidate.endpoint)
        self.seen[candidate.endpoint] = candidate
        if previous is None:
            self._on_found(candidate)

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


def _usable(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return not (ip.is_multicast or ip.is_unspecified)
