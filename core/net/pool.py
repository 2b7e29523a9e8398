"""A pool of persistent SSH connections, each with its agent session kept open.

`ConnectionPool.link(target)` returns the open link to a device, opening it when needed:
route (OpenSSH config, jump host), TCP connect, SSH handshake, host-key judgement, agent
upload and start, first facts, pin confirmed against the serial. Every step has a timeout.
A host that fails is backed off exponentially (1 s, 2 s, 4 s … 60 s): while it is backing off,
`link` fails at once instead of waiting on it again. The TCP connect happens before a handshake
slot is taken, so hosts that do not answer never hold up the ones that do. Jump-host
connections are shared by every device behind them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncssh

from fleet_tui.core.agent.client import AgentFailure, AgentSession
from fleet_tui.core.models import Facts
from fleet_tui.core.net.known_hosts import KnownHosts
from fleet_tui.core.net.neighbours import mac_of, parse_agent_table, read_local
from fleet_tui.core.net.oui import normalise_mac
from fleet_tui.core.net.routes import Route, RouteError, Target, resolve
from fleet_tui.core.net.ssh import (
    ConnectOptions,
    HostKeyChanged,
    Opened,
    SSHFailure,
    fingerprint,
    open_route,
    quoted,
    tcp_connect,
)
from fleet_tui.core.net.trust import Diagnosis, Evidence, Trust
from fleet_tui.core.store.database import Store

MIN_BACKOFF = 1.0
MAX_BACKOFF = 60.0
ConnectError = (SSHFailure, AgentFailure, RouteError, asyncssh.Error, OSError)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Unreachable(Exception):
    """The device could not be reached now; the message says why (and when we retry)."""


@dataclass
class Timeouts:
    tcp: float = 5.0  # TCP connect (direct routes)
    handshake: float = 10.0  # SSH handshake + authentication
    agent: float = 15.0  # agent upload (when missing) + start + hello
    call: float = 10.0  # one agent request


@dataclass
class Link:
    """One device's open connection and agent session."""

    target: Target
    route: Route
    conn: asyncssh.SSHClientConnection
    session: AgentSession
    facts: Facts
    host_key: str
    opened_at: float = field(default_factory=time.time)

    @property
    def alive(self) -> bool:
        return self.session.closed_reason is None and not self.conn.is_closed()

    async def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109
    ) -> Any:
        return await self.session.call(method, params, timeout=timeout)

    async def close(self) -> None:
        await self.session.close()
        self.conn.close()


@dataclass
class _Backoff:
    failures: int = 0
    next_try: float = 0.0
    reason: str = ""
    permanent: bool = False  # a refused host key: only an explicit re-pin lifts it


class ConnectionPool:
    def __init__(
        self,
        store: Store,
        options: ConnectOptions,
        *,
        handshakes: int = 64,
        timeouts: Timeouts | None = None,
        clock: Callable[[], float] = time.monotonic,
        known_hosts: bool = False,
        on_pin: Callable[[Route, Opened], None] | None = None,
    ) -> None:
        """`known_hosts`: the user's known_hosts files may also refuse hosts that are not fleet
        devices (core/net/known_hosts.py); `on_pin`: told of each key such a host has pinned
        on first use."""
        self.store = store
        self.options = options
        self.known_hosts = known_hosts
        self._on_pin = on_pin
        self.trust = Trust(store)
        self.timeouts = timeouts or Timeouts(
            handshake=options.connect_timeout, tcp=options.tcp_timeout
        )
        self._handshakes = asyncio.Semaphore(handshakes)
        self._clock = clock
        self._links: dict[str, Link] = {}
        self._opening: dict[str, asyncio.Future[Link]] = {}
        self._jumps: dict[str, asyncssh.SSHClientConnection] = {}
        self._jump_locks: dict[str, asyncio.Lock] = {}
        self._backoff: dict[str, _Backoff] = {}
        self._config = options.ssh_config()

    # ---- routes and backoff ---------------------------------------------------------------
    def route(self, target: Target) -> Route:
        return resolve(target, self._config)

    def retry_in(self, key: str) -> float | None:
        """Seconds until the next attempt at `key` (None: not backing off; inf: refused key)."""
        state = self._backoff.get(key)
        if state is None:
            return None
        if state.permanent:
            return float("inf")
        left = state.next_try - self._clock()
        return left if left > 0 else None

    def forgive(self, key: str) -> None:
        """Lift a backoff (after a re-pin, or when the user asks to retry now)."""
        self._backoff.pop(key, None)

    def _failed(self, key: str, reason: str, permanent: bool = False) -> None:
        state = self._backoff.setdefault(key, _Backoff())
        state.failures += 1
        state.reason = reason
        state.permanent = state.permanent or permanent
        delay = min(MIN_BACKOFF * 2 ** (state.failures - 1), MAX_BACKOFF)
        state.next_try = self._clock() + delay

    # ---- links ----------------------------------------------------------------------------
    def open_links(self) -> dict[str, Link]:
        return {k: v for k, v in self._links.items() if v.alive}

    async def link(self, target: Target, *, retry_now: bool = False) -> Link:
        """The open link to `target`, opened now if needed; raises Unreachable/HostKeyChanged."""
        route = self.route(target)
        key = route.key
        existing = self._links.get(key)
        if existing is not None and existing.alive:
            return existing
        if existing is not None:
            self._links.pop(key, None)
            with contextlib.suppress(Exception):
                await existing.close()
        pending = self._opening.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        state = self._backoff.get(key)
        if state is not None and state.permanent:
            raise Unreachable(state.reason)
        if state is not None and not retry_now and (left := self.retry_in(key)):
            raise Unreachable(f"{state.reason} (next try in {left:.0f} s)")
        future: asyncio.Future[Link] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_retrieve)  # nobody else waiting is fine: no warning
        self._opening[key] = future
        try:
            link = await self._open(target, route)
        except HostKeyChanged as refusal:
            refusal = await self.explain(refusal, target, route)
            self._failed(key, str(refusal), permanent=True)
            self.trust.record_refusal(refusal)
            future.set_exception(refusal)
            raise refusal from None
        except ConnectError as exc:
            reason = str(exc) or type(exc).__name__
            self._failed(key, reason)
            error = Unreachable(reason)
            future.set_exception(error)
            raise error from None
        except BaseException:
            future.cancel()
            raise
        finally:
            self._opening.pop(key, None)
        self._backoff.pop(key, None)
        self._links[key] = link
        future.set_result(link)
        return link

    async def _open(self, target: Target, route: Route) -> Link:
        t = self.timeouts
        tunnel = await self._jump(route.jump) if route.jump else None
        sock = None
        if tunnel is None:
            sock = await tcp_connect(route.host, route.port, t.tcp)
        conn = None
        try:
            async with self._handshakes:
                opened = await asyncio.wait_for(
                    open_route(
                        route,
                        lambda offered: self.trust.check(route.key, offered, target.serial),
                        self.options,
                        tunnel=tunnel,
                        sock=sock,
                    ),
                    t.handshake + 1.0,
                )
            conn = opened.conn
            session = await AgentSession.start(conn, timeout=t.agent)
            try:
                facts = await session.facts(timeout=t.call)
                self.trust.confirm(route.key, opened.offered_key, opened.verdict, facts.serial)  # type: ignore[arg-type]
            except BaseException:
                await session.close()
                raise
        except TimeoutError:
            if conn is not None:
                conn.close()
            raise SSHFailure(f"{route.key}: no SSH handshake within {t.handshake:g} s") from None
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return Link(target, route, conn, session, facts, opened.offered_key)

    async def _jump(self, route: Route) -> asyncssh.SSHClientConnection:
        """The shared connection to a jump host (itself possibly behind another one)."""
        key = route.key
        lock = self._jump_locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._jumps.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            outer = await self._jump(route.jump) if route.jump else None
            try:
                opened = await self.connect_host(route, tunnel=outer)
            except SSHFailure as exc:
                raise SSHFailure(f"jump host {exc}") from None
            self._jumps[key] = opened.conn
            return opened.conn

    async def jump_connection(self, route: Route) -> asyncssh.SSHClientConnection:
        return await self._jump(route)

    async def connect_host(
        self, route: Route, tunnel: asyncssh.SSHClientConnection | None = None
    ) -> Opened:
        """A new connection along `route` (through `tunnel`) to a host that is not a fleet
        device: a jump host, the sync mailbox's host. No agent confirms a serial, so a first
        key is pinned at once (and `on_pin` told); a changed one is refused and logged. With
        `known_hosts`, the user's known_hosts files may refuse it too. The caller closes it."""
        key = route.key
        pin = self.trust.pin(key)
        known = KnownHosts.for_route(route, self._config) if self.known_hosts else None
        prefer = ([pin.key] if pin else []) + (known.listed_keys() if known else [])
        sock = None if tunnel else await tcp_connect(route.host, route.port, self.timeouts.tcp)
        async with self._handshakes:
            try:
                opened = await open_route(
                    route,
                    lambda offered: self.trust.check(key, offered),
                    self.options,
                    tunnel=tunnel,
                    sock=sock,
                    known_hosts=known,
                    prefer_keys=prefer,
                )
            except HostKeyChanged as refusal:
                refusal = refusal.with_diagnosis(Diagnosis.HOST, "")
                self.trust.record_refusal(refusal)
                raise refusal from None
        if opened.verdict == "first_use":
            if self.store.readonly:
                opened.conn.close()
                raise SSHFailure(
                    f"{key}: its host key {fingerprint(opened.offered_key)} is not pinned yet, "
                    "and a read-only database cannot pin it; pin it with "
                    f"`fleet-tui trust {quoted(key)}`"
                )
            self.trust.pin_first_use(key, opened.offered_key)
            if self._on_pin is not None:
                self._on_pin(route, opened)
        return opened

    # ---- evidence for a refused key -------------------------------------------------------
    async def explain(
        self, refusal: HostKeyChanged, target: Target, route: Route
    ) -> HostKeyChanged:
        """The refusal, diagnosed with the evidence at hand (claimed serial, MAC seen)."""
        mac, where = target.mac, "discovery"
        with contextlib.suppress(Exception):
            if route.jump is None:
                seen = mac_of(route.host, await asyncio.to_thread(read_local))  # runs `ip`
                if seen:
                    mac, where = seen, "this machine's neighbour table"
            else:
                seen = await asyncio.wait_for(self._mac_via_jump(route), 5.0)
                if seen:
                    mac, where = seen, f"neighbour table of jump host {route.jump.address}"
        evidence = Evidence(
            serial=target.serial,
            serial_source="announced in mDNS TXT"
            if route.jump is None
            else f"seen by jump host {route.jump.address}",
            mac=normalise_mac(mac) if mac else None,
            mac_source=where,
        )
        return self.trust.diagnose(refusal, evidence)

    async def _mac_via_jump(self, route: Route) -> str | None:
        assert route.jump is not None
        conn = await self._jump(route.jump)
        session = await AgentSession.start(conn, timeout=self.timeouts.agent)
        try:
            result = await session.call("neighbours", {}, timeout=self.timeouts.call)
        finally:
            await session.close()
        return mac_of(route.host, parse_agent_table(result))

    # ---- calls and shutdown ---------------------------------------------------------------
    async def call(
        self,
        target: Target,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        link = await self.link(target)
        return await link.call(method, params, timeout=timeout or self.timeouts.call)

    async def drop(self, key: str) -> None:
        link = self._links.pop(key, None)
        if link is not None:
            with contextlib.suppress(Exception):
                await link.close()

    async def close(self) -> None:
        for key in list(self._links):
            await self.drop(key)
        for conn in self._jumps.values():
            conn.close()
        for conn in list(self._jumps.values()):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 2.0)
        self._jumps.clear()
