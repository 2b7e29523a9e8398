"""Agent calls by serial for a process without the live fleet (the CLI): through a connection
pool, to the address the fleet database knows for that serial.

The Pi that answers there must be the one asked for: a DHCP lease handed to another Pi, or a
re-imaged card in another slot, must never get the reboot meant for the first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fleet_tui.core.agent.client import AgentFailure
from fleet_tui.core.net.pool import ConnectionPool
from fleet_tui.core.net.routes import Target


class PoolCaller:
    def __init__(self, pool: ConnectionPool, targets: Iterable[Target]) -> None:
        self.pool = pool
        self._targets = {t.serial: t for t in targets if t.serial}

    def reachable(self, serial: str) -> bool:
        return serial in self._targets

    async def call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        return await self._call(serial, method, params, timeout, retry_now=False)

    async def call_now(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        """`call`, connecting now even inside the pool's reconnect back-off: for someone who
        waits for a Pi to come back (core/power/service.py) and asks every half second."""
        return await self._call(serial, method, params, timeout, retry_now=True)

    async def _call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None,
        timeout: float,  # noqa: ASYNC109
        retry_now: bool,
    ) -> object:
        target = self._targets.get(serial)
        if target is None:
            raise AgentFailure(f"{serial}: no address known (run fleet-tui discover or poll)")
        link = await self.pool.link(target, retry_now=retry_now)
        answered = link.facts.serial
        if answered != serial:
            raise AgentFailure(
                f"{link.route.key} answers as serial {answered or '?'}, not {serial}: "
                "another Pi has this address now; nothing was sent"
            )
        return await link.call(method, params, timeout=timeout)
