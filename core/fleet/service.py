"""The live fleet: discovered and known devices, connected and polled for health.

`FleetService` owns one long-lived task per device. The task asks the connection pool for the
device's link (route, pinned SSH connection, agent session, first facts; the pool backs off
unreachable hosts), then reads health every `poll_interval` over the open session. Every
change is recorded in the store and published through `on_update`.

Devices come from mDNS discovery (a device that moves to another address keeps its row; one
that says goodbye is marked) and, outside the demo, from the store: manual and imported
hosts, earlier discoveries, known devices. A device whose host key changed is refused and
left alone until someone re-pins it explicitly (`fleet-tui trust HOST --repin`, from any
process): then it is picked up again.

Each health reading also measures the Pi's clock against ours (core/clock.py): kept on the
device state, and in the store when it moved (`clock_skew_s`). After an action that may have
needed sudo, the agent's capabilities are read again, so `sudo` shows what sudo just answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence

from fleet_tui.core.agent.client import AgentFailure
from fleet_tui.core.clock import skew_at, worth_recording
from fleet_tui.core.discovery.mdns import Candidate, Discovery, DiscoveryEvent
from fleet_tui.core.fleet.poll import record_link
from fleet_tui.core.models import DeviceState, Health, Hello
from fleet_tui.core.net.pool import ConnectionPool, Link, Unreachable
from fleet_tui.core.net.routes import RouteError, Target
from fleet_tui.core.net.ssh import ConnectOptions, HostKeyChanged, same_key
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.samples import received
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.samples import SampleLog

REPIN_CHECK_SECONDS = 5.0
# agent methods that may run sudo and so change `capabilities.sudo`
MAY_SUDO = frozenset({"identify", "reboot", "shutdown", "fan", "relay", "avahi"})
CAPABILITIES_TIMEOUT_S = 5.0


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
        known: bool = False,
    ) -> None:
        self.store = store
        self.devices = DeviceBook(store)
        self.samples = SampleLog(store)  # one for the service's life: its gate keeps state
        self.options = options
        self.on_update = on_update
        self.poll_interval = poll_interval
        self.states: dict[str, DeviceState] = {}
        self.pool = ConnectionPool(store, options, handshakes=concurrency)
        self._targets: dict[str, Target] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._skews: dict[str, float] = {}  # serial -> the clock skew last written to the store
        self._refreshes: set[asyncio.Task[None]] = set()  # capabilities read after an action
        self._accept = accept  # e.g. the demo takes only its own lab's Pis
        self._known = known  # also follow the store's hosts and devices (never in the demo)
        self._discovery = Discovery(self._on_discovery, interfaces) if discover else None

    async def start(self) -> None:
        if self._known:
            for target in known_targets(self.store):
                self.add_target(target)
        if self._discovery is not None:
            await self._discovery.start()

    # ---- devices in -----------------------------------------------------------------------
    def _on_discovery(self, event: DiscoveryEvent) -> None:
        candidate = event.candidate
        if self._accept is not None and not self._accept(candidate):
            return
        if event.kind == "found":
            self.add_candidate(candidate)
        elif event.kind == "moved" and event.previous is not None:
            self._moved(event.previous, candidate)
        elif event.kind == "updated":
            key = self._key_of(candidate.endpoint)
            if key is not None:
                old = self._targets[key]
                self._targets[key] = Target(
                    old.host,
                    old.port,
                    old.user,
                    old.jump,
                    candidate.serial,
                    candidate.name,
                    old.mac,
                )
        elif event.kind == "gone":
            key = self._key_of(candidate.endpoint)
            state = self.states.get(key) if key else None
            if state is not None and not state.reachable:
                state.error = "no longer announced on the network (mDNS goodbye)"
                self._publish(state)

    def add_candidate(self, candidate: Candidate) -> None:
        self.add_target(_target_of(candidate), key=candidate.endpoint)

    def add_target(self, target: Target, key: str | None = None) -> None:
        try:
            route = self.pool.route(target)
        except RouteError:
            return
        key = key or route.key
        if key in self._tasks or self._key_of(route.key) is not None:
            return
        state = DeviceState(
            key=key,
            endpoint=route.key,
            address=route.host,
            port=route.port,
            name=target.name or target.host,
        )
        self.states[key] = state
        self._targets[key] = target
        self._publish(state)
        self._start(key)

    def _key_of(self, endpoint: str) -> str | None:
        for key, state in self.states.items():
            if state.endpoint == endpoint:
                return key
        return None

    def _moved(self, previous: Candidate, candidate: Candidate) -> None:
        key = self._key_of(previous.endpoint)
        if key is None:
            self.add_candidate(candidate)
            return
        state = self.states[key]
        self._targets[key] = _target_of(candidate)
        state.address, state.port, state.endpoint = (
            candidate.address,
            candidate.port,
            candidate.endpoint,
        )
        state.error = f"moved from {previous.endpoint}"
        self._publish(state)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
        self._start(key)

    def _start(self, key: str) -> None:
        self._tasks[key] = asyncio.get_running_loop().create_task(
            self._follow(key), name=f"device {key}"
        )

    # ---- one device -----------------------------------------------------------------------
    async def _follow(self, key: str) -> None:
        state = self.states[key]
        while True:
            target = self._targets[key]
            try:
                link = await self.pool.link(target)
            except HostKeyChanged as refusal:
                self._mark_unreachable(state, str(refusal))
                await self._wait_for_repin(refusal)
                continue
            except Unreachable as exc:
                self._mark_unreachable(state, str(exc))
                await asyncio.sleep(
                    max(0.5, self.pool.retry_in(self.pool.route(target).key) or 0.5)
                )
                continue
            self._record_facts(state, link)
            try:
                while True:
                    sent = time.time()
                    health = await link.session.health(timeout=self.pool.timeouts.call)
                    self._record_health(state, link, health, sent)
                    await asyncio.sleep(self.poll_interval)
            except (AgentFailure, OSError) as exc:
                self._mark_unreachable(state, str(exc) or type(exc).__name__)
                await self.pool.drop(link.route.key)
                await asyncio.sleep(0.5)

    async def _wait_for_repin(self, refusal: HostKeyChanged) -> None:
        """Never retried on its own: only a pin changed in the store (an explicit re-pin) helps."""
        while True:
            await asyncio.sleep(REPIN_CHECK_SECONDS)
            pin = self.pool.trust.pin(refusal.endpoint)
            if pin is None or not same_key(pin.key, refusal.pinned):
                self.pool.forgive(refusal.endpoint)
                return

    async def call(
        self,
        key: str,
        method: str,
        params: dict[str, object] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        """Run one agent method on a connected device (by row key) over its open session."""
        state = self.states.get(key)
        target = self._targets.get(key)
        link = self.pool.open_links().get(self.pool.route(target).key) if target else None
        if link is None:
            reason = state.error if state and state.error else "not connected"
            raise AgentFailure(f"{key}: {reason}")
        try:
            return await link.call(method, params, timeout=timeout)
        finally:
            if method in MAY_SUDO:  # also after not_permitted: sudo refused
                self._after_action(key, link)

    def _after_action(self, key: str, link: Link) -> None:
        """Refresh the capabilities in the background: the caller (several devices in a row)
        must not wait for it, nor for a link that a reboot is taking down."""
        task = asyncio.get_running_loop().create_task(self._refresh_capabilities(key, link))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh_capabilities(self, key: str, link: Link) -> None:
        """Read `hello` again: its capabilities carry what sudo answered this boot."""
        state = self.states.get(key)
        if state is None or state.facts is None or not link.alive:
            return
        try:
            reply = await link.call("hello", timeout=CAPABILITIES_TIMEOUT_S)
            capabilities = Hello.model_validate(reply).capabilities
        except (AgentFailure, OSError, ValueError):
            return  # only a display: the next connection reads them anyway
        if capabilities != state.facts.capabilities:
            state.facts = state.facts.model_copy(update={"capabilities": capabilities})
            self._publish(state)

    # ---- state ----------------------------------------------------------------------------
    def _record_facts(self, state: DeviceState, link: Link) -> None:
        state.facts = link.facts
        state.reachable = True
        state.error = None
        state.last_seen = time.time()
        record_link(self.store, link, None)
        self._publish(state)

    def _record_health(self, state: DeviceState, link: Link, health: Health, sent: float) -> None:
        state.health = health
        state.reachable = True
        state.error = None
        state.last_seen = now = time.time()
        state.clock_skew_s = skew = skew_at(health.time, sent, now)
        serial = link.facts.serial
        if serial:
            sample = received(health.model_dump(mode="json"), now)
            self.samples.record(serial, sample)
            if worth_recording(skew, self._skews.get(serial)):
                self.devices.upsert(serial, clock_skew_s=round(skew, 1))
                self._skews[serial] = skew
        self._publish(state)

    def _mark_unreachable(self, state: DeviceState, reason: str) -> None:
        if state.reachable or state.error != reason:
            state.reachable = False
            state.error = reason
            self._publish(state)

    def _publish(self, state: DeviceState) -> None:
        self.on_update(state.model_copy(deep=True))

    async def stop(self) -> None:
        if self._discovery is not None:
            await self._discovery.stop()
        for task in [*self._tasks.values(), *self._refreshes]:
            task.cancel()
        for task in [*self._tasks.values(), *self._refreshes]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 3.0)
        self._tasks.clear()
        await self.pool.close()


def _target_of(candidate: Candidate) -> Target:
    """A discovered candidate as a connection target (no user: ssh config or defaults decide)."""
    return Target(
        candidate.address,
        candidate.port,
        None,
        candidate.jump,
        candidate.serial,
        candidate.name,
        candidate.mac,
    )
