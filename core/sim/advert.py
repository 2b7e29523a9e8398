"""mDNS adverts of the simulated Pis: one AsyncZeroconf bound to 127.0.0.1, `_ssh._tcp` each.

Registration probes for name conflicts as RFC 6762 asks, all Pis at once (about a second
for any fleet size). When another responder on loopback already holds a name (a second lab
or demo running on the same machine), the Pi is advertised under a renamed instance
(``pi-4b-001-2``) instead of failing the whole lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterable

from zeroconf import IPVersion, NonUniqueNameException, ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from fleet_tui.core.sim.device import LOOPBACK, SimPi

SSH_SERVICE = "_ssh._tcp.local."
GOODBYE_TIMEOUT = 3.0  # also bounds the wait for announcements


class Advertiser:
    def __init__(self) -> None:
        self._zc: AsyncZeroconf | None = None

    async def start(self, pis: Iterable[SimPi]) -> None:
        self._zc = AsyncZeroconf(interfaces=[LOOPBACK], ip_version=IPVersion.V4Only)
        await asyncio.gather(*(self.advertise(pi) for pi in pis))

    async def advertise(self, pi: SimPi) -> None:
        assert self._zc is not None, "start() first"
        if pi.service is not None:
            return
        info = ServiceInfo(
            SSH_SERVICE,
            f"{pi.hostname}.{SSH_SERVICE}",
            addresses=[socket.inet_aton(LOOPBACK)],
            port=pi.port,
            server=f"{pi.hostname}.local.",
            properties={},
        )
        try:
            announced = await self._zc.async_register_service(info)
        except NonUniqueNameException:
            announced = await self._zc.async_register_service(info, allow_name_change=True)
        pi.service = info
        # Wait for the announcements too (about 0.5 s): once started, the advert is settled.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(announced, GOODBYE_TIMEOUT)

    async def withdraw(self, pi: SimPi) -> None:
        """Send the goodbye packets (TTL 0): browsers report the Pi as removed."""
        info, pi.service = pi.service, None
        if info is None or self._zc is None:
            return
        goodbye = await self._zc.async_unregister_service(info)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(goodbye, GOODBYE_TIMEOUT)

    async def close(self, pis: Iterable[SimPi]) -> None:
        if self._zc is None:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._zc.async_unregister_all_services(), GOODBYE_TIMEOUT)
        await self._zc.async_close()
        self._zc = None
        for pi in pis:
            pi.service = None
