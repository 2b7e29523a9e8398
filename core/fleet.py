"""The live fleet: discovered candidates become connected devices that are polled for health.

`FleetService` owns one long-lived task per device: connect (bounded concurrency), start the
agent, read facts once, then read health every `poll_interval` over the open connection.
Failures back off exponentially per device, so one dead host never slows the others. Every
change is recorded in the store and published through `on_update`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

import asyncssh

from core.agent_client import AgentFailure, AgentSession
from core.discovery import Candidate, Discovery, DiscoveryEvent
from core.models import DeviceState, Facts, Health
from core.ssh import ConnectOptions, Endpoint, HostKeyChanged, SSHFailure, connect
from core.store import Store

MAX_BACKOFF = 60.0


class FleetService:
    def __init__(
        self,
        store: Store,
        options: ConnectOptions,
        on_update: Callable[[DeviceState], None] = lambda state: None,
        interfaces: Sequence[str] | None = None,
        poll_interval: float = 2.0,
        concurrency: int = 32,
        discover: bool = True,
        accept: Callable[[Candidate], bool] | None = None,
    ) -> None:
        self.store = store
        self.options = options
        self.on_update = on_update
        self.poll_interval = poll_interval
        self.states: dict[str, DeviceState] = {}
        self._connect_slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sessions: dict[str, AgentSession] = {}
        self._accept = accept  # e.g. the demo takes only its own lab's Pis
        self._discovery = Discovery(self._on_discovery, interfaces) if discover else None

    async def start(self) -> None:
        if self._discovery is not None:
            await self._discovery.start()

    def _on_discovery(self, event: DiscoveryEvent) -> None:
        if event.kind in ("found", "moved"):
            if self._accept is None or self._accept(event.candidate):
                self.add_candidate(event.candidate)

    def add_candidate(self, candidate: Candidate) -> None:
        key = candidate.endpoint
        if key in self._tasks:
            return
        state = DeviceState(
            key=key,
            endpoint=key,
            address=candidate.address,
            port=candidate.port,
            name=candidate.name,
        )
        self.states[key] = state
        self._publish(state)
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._follow(state), name=f"device {key}"
        )

    async def _follow(self, state: DeviceState) -> None:
        endpoint = Endpoint(state.address, state.port)
        backoff = 1.0
        while True:
            conn: asyncssh.SSHClientConnection | None = None
            session: AgentSession | None = None
            try:
                async with self._connect_slots:
                    conn = await connect(endpoint, self.store, self.options)
                    session = await AgentSession.start(conn)
                    facts = await session.facts()
                self._record_facts(state, facts)
                self._sessions[state.key] = session
                backoff = 1.0
                while True:
                    health = await session.health()
                    self._record_health(state, health)
                    await asyncio.sleep(self.poll_interval)
            except HostKeyChanged as exc:
                # Never retried: only an explicit re-pin may let this device back in.
                self._mark_unreachable(state, str(exc))
                self.store.record_event(
                    state.facts.serial if state.facts else None, "host_key_refused", str(exc)
                )
                return
            except (SSHFailure, AgentFailure, asyncssh.Error, OSError) as exc:
                self._mark_unreachable(state, str(exc) or type(exc).__name__)
            finally:
                self._sessions.pop(state.key, None)
                if session is not None:
                    await session.close()
                if conn is not None:
                    conn.close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def call(
        self,
        key: str,
        method: str,
        params: dict[str, object] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        """Run one agent method on a connected device (by row key) over its open session."""
        session = self._sessions.get(key)
        if session is None:
            state = self.states.get(key)
            reason = state.error if state and state.error else "not connected"
            raise AgentFailure(f"{key}: {reason}")
        return await session.call(method, params, timeout=timeout)

    def _record_facts(self, state: DeviceState, facts: Facts) -> None:
        state.facts = facts
        state.reachable = True
        state.error = None
        state.last_seen = time.time()
        if facts.serial:
            self.store.upsert_device(
                facts.serial,
                hostname=facts.hostname or state.name,
                address=state.address,
                port=state.port,
                model=facts.model,
                revision=facts.revision,
                os_name=facts.os_name,
                kernel=facts.kernel,
                arch=facts.arch,
                agent_version=facts.agent_version,
                last_seen=state.last_seen,
            )
        self._publish(state)

    def _record_health(self, state: DeviceState, health: Health) -> None:
        state.health = health
        state.reachable = True
        state.error = None
        state.last_seen = time.time()
        if state.facts and state.facts.serial:
            self.store.record_health(state.facts.serial, health.model_dump(mode="json"))
        self._publish(state)

    def _mark_unreachable(self, state: DeviceState, reason: str) -> None:
        state.reachable = False
        state.error = reason
        self._publish(state)

    def _publish(self, state: DeviceState) -> None:
        self.on_update(state.model_copy(deep=True))

    async def stop(self) -> None:
        if self._discovery is not None:
            await self._discovery.stop()
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 3.0)
        self._tasks.clear()
