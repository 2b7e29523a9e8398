"""The live fleet: discovered and known devices, connected and polled for health.

`FleetService` owns one long-lived task per device. The task asks the connection pool for the
device's link (route, pinned SSH connection, agent session, first facts; the pool backs off
unreachable hosts), then reads health every `poll_interval` over the open session. Every
change is recorded in the store and published through `on_update`.

Above the pool a device is its identity (core/identity.py): its serial, or a provisional id
while it is a candidate whose agent has not answered. `states`, `call` and every published
state are keyed by it; the identity rules are on `FleetService`.

Devices come from mDNS discovery (a device that moves to another address keeps its identity;
one that says goodbye is marked) and, outside the demo, from the store: manual and imported
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
from dataclasses import dataclass, field, replace

from fleet_tui.core.agent.client import AgentFailure
from fleet_tui.core.clock import skew_at, worth_recording
from fleet_tui.core.discovery.mdns import Candidate, Discovery, DiscoveryEvent
from fleet_tui.core.fleet.poll import record_link
from fleet_tui.core.identity import is_provisional, provisional_id, serial_of, valid_serial
from fleet_tui.core.models import DeviceState, Health, Hello
from fleet_tui.core.net.pool import ConnectionPool, Link, Unreachable
from fleet_tui.core.net.routes import RouteError, Target
from fleet_tui.core.net.ssh import ConnectOptions, HostKeyChanged, same_key
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.policies.actions import PolicyActor
from fleet_tui.core.policies.book import PolicyBook
from fleet_tui.core.policies.engine import Transition
from fleet_tui.core.policies.intake import ThermalWatch
from fleet_tui.core.policies.model import Policy
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.sample_gate import received
from fleet_tui.core.store.samples import SampleLog

REPIN_CHECK_SECONDS = 5.0
# agent methods that may run sudo and so change `capabilities.sudo`
MAY_SUDO = frozenset({"identify", "reboot", "shutdown", "fan", "relay", "avahi"})
CAPABILITIES_TIMEOUT_S = 5.0


@dataclass(eq=False)
class _Follower:
    """One device as the live loop follows it: the identity it feeds (`key`), the address it is
    followed at (`target`, whose route key is `endpoint`) and the other addresses the same Pi
    answered on (`aliases`, by route key): tried in order when `target` is unreachable."""

    key: str
    target: Target
    endpoint: str
    aliases: dict[str, Target] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class FleetService:
    """The live fleet, keyed by device identity (core/identity.py) above the connection layer.

    `states`, `call` and every published `DeviceState` use the identity: the serial, else a
    provisional `candidate:<endpoint>`. The rules:

    - a discovered candidate starts provisional; when its agent reports a serial, it is re-keyed
      to it and the update says so (`DeviceState.replaces`), once;
    - a known device (the store's hosts and devices, `add_target`) starts with its serial;
    - an address whose agent reports another serial than the identity followed there (or none)
      is another device: the identity keeps its row (unreachable, saying who answers now) and
      goes on at its other addresses, if any; the device at that address gets its own identity;
    - the same serial at a second endpoint is the same Pi: the first endpoint that reported it
      stays followed (one session per Pi, one row that never flips); the second is dropped and
      reported in `also_at`, and is tried only when the first is unreachable — the one that
      answers is then followed until it fails in turn.
    """

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
        policies: list[Policy] | None = None,
    ) -> None:
        self.store = store
        self.devices = DeviceBook(store)
        self.samples = SampleLog(store)  # one for the service's life: its gate keeps state
        # ambient readings and protective policies (core/policies/); the runner that a
        # policy's shutdown goes through is set by whoever runs operations (core/fleet/runtime.py)
        self.thermal = ThermalWatch(store, PolicyBook(store, policies))
        self.policy_actor = PolicyActor(EventLog(store), self, None, self._hostname)
        self._acting: set[asyncio.Task[None]] = set()
        self.options = options
        self.on_update = on_update
        self.poll_interval = poll_interval
        self.states: dict[str, DeviceState] = {}  # by identity, as published
        self.pool = ConnectionPool(store, options, handshakes=concurrency)
        self._followers: dict[str, _Follower] = {}  # by identity; a state without one: not followed
        self._tasks: set[asyncio.Task[None]] = set()
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
            found = self._at(candidate.endpoint)
            if found is not None:
                f, old = found
                updated = replace(old, serial=candidate.serial, name=candidate.name)
                if f.endpoint == candidate.endpoint:
                    f.target = updated
                else:
                    f.aliases[candidate.endpoint] = updated
        elif event.kind == "gone":
            found = self._at(candidate.endpoint)
            if found is None:
                return
            f, _ = found
            if f.endpoint != candidate.endpoint:  # another address of a followed Pi
                del f.aliases[candidate.endpoint]
                self._aliases_changed(f)
                return
            state = self.states[f.key]
            if not state.reachable:
                state.error = "no longer announced on the network (mDNS goodbye)"
                self._publish(state)

    def add_candidate(self, candidate: Candidate) -> None:
        """A discovered device: provisional until its agent reports a serial (a serial in mDNS
        TXT is only a claim)."""
        self._add(_target_of(candidate), None)

    def add_target(self, target: Target) -> None:
        """A known device (core/net/targets.py): its serial, when it has one, is its identity."""
        self._add(target, valid_serial(target.serial))

    def _add(self, target: Target, serial: str | None) -> None:
        try:
            route = self.pool.route(target)
        except RouteError:
            return
        endpoint = route.key
        if self._at(endpoint) is not None:
            return
        owner = self._followers.get(serial) if serial else None
        if owner is not None:  # another address for a followed serial
            owner.aliases[endpoint] = target
            self._aliases_changed(owner)
            return
        key = serial or provisional_id(endpoint, self.states)
        f = _Follower(key, target, endpoint)
        state = DeviceState(
            key=key,
            endpoint=endpoint,
            address=route.host,
            port=route.port,
            name=target.name or target.host,
        )
        self.states[key] = state  # a state of this serial not followed any more: taken over
        self._followers[key] = f
        self._publish(state)
        self._start(f)

    def _at(self, endpoint: str) -> tuple[_Follower, Target] | None:
        """The follower with `endpoint` as its address or one of its aliases, and its target."""
        for f in self._followers.values():
            if f.endpoint == endpoint:
                return f, f.target
            if endpoint in f.aliases:
                return f, f.aliases[endpoint]
        return None

    def _moved(self, previous: Candidate, candidate: Candidate) -> None:
        found = self._at(previous.endpoint)
        if found is None:
            self.add_candidate(candidate)
            return
        f, _ = found
        target = _target_of(candidate)
        try:
            route = self.pool.route(target)
        except RouteError:
            return
        if f.endpoint != previous.endpoint:  # one of its other addresses moved
            del f.aliases[previous.endpoint]
            f.aliases[route.key] = target
            self._aliases_changed(f)
            return
        state = self.states[f.key]
        f.target, f.endpoint = target, route.key
        state.address, state.port, state.endpoint = candidate.address, route.port, route.key
        state.error = f"moved from {previous.endpoint}"
        self._publish(state)
        if f.task is not None:
            f.task.cancel()
        self._start(f)

    def _start(self, f: _Follower) -> None:
        task = asyncio.get_running_loop().create_task(self._follow(f), name=f"device {f.key}")
        f.task = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- one device -----------------------------------------------------------------------
    async def _follow(self, f: _Follower) -> None:
        while self._followers.get(f.key) is f:
            try:
                link = await self._connect(f)
            except HostKeyChanged as refusal:
                self._mark_unreachable(f, str(refusal))
                await self._wait_for_repin(refusal)
                continue
            except Unreachable as exc:
                self._mark_unreachable(f, str(exc))
                await asyncio.sleep(max(0.5, self.pool.retry_in(f.endpoint) or 0.5))
                continue
            if link is None:  # that address is another device now
                continue
            state = self.states[f.key]
            self._record_facts(state, link)
            try:
                while True:
                    sent = time.time()
                    health = await link.session.health(timeout=self.pool.timeouts.call)
                    self._record_health(state, link, health, sent)
                    await asyncio.sleep(self.poll_interval)
            except (AgentFailure, OSError) as exc:
                self._mark_unreachable(f, str(exc) or type(exc).__name__)
                await self.pool.drop(link.route.key)
                await asyncio.sleep(0.5)

    async def _connect(self, f: _Follower) -> Link | None:
        """The link to `f`'s address, else (unreachable) to the first of its other addresses
        whose agent answers with its serial. None: the link reached another device."""
        try:
            link = await self.pool.link(f.target)
        except Unreachable:
            for endpoint, alias in list(f.aliases.items()):
                try:
                    link = await self.pool.link(alias)
                except (Unreachable, HostKeyChanged):
                    continue
                if await self._identify(f, endpoint, link):
                    return link
            raise
        return link if await self._identify(f, f.endpoint, link) else None

    async def _identify(self, f: _Follower, endpoint: str, link: Link) -> bool:
        """Check the serial the agent at `endpoint` reports against `f`'s identity and apply
        the identity rules (see the class). True: `f` follows `link` now."""
        serial = valid_serial(link.facts.serial)
        if serial == f.key:
            if endpoint != f.endpoint:  # the Pi answers at another of its addresses: follow it
                f.aliases[f.endpoint] = f.target
                f.target, f.endpoint = f.aliases.pop(endpoint), endpoint
                state = self.states[f.key]
                state.address, state.port, state.endpoint = (
                    link.route.host,
                    link.route.port,
                    endpoint,
                )
                self._aliases_changed(f)
            return True
        if endpoint != f.endpoint:  # one of its other addresses is another device now
            self._spawn(f.aliases.pop(endpoint), serial)
            self._aliases_changed(f)
            return False
        if is_provisional(f.key):
            if serial is None:  # no usable serial: it stays a candidate
                return True
            owner = self._followers.get(serial)
            if owner is None:
                self._rekey(f, serial)
                return True
            self._merge(f, owner)
            await self.pool.drop(endpoint)  # one session per Pi
            return False
        self._leave(f, serial)
        return False

    def _rekey(self, f: _Follower, serial: str) -> None:
        """A candidate's agent reported `serial`: the state is re-keyed, and says so once."""
        old = f.key
        state = self.states.pop(old)
        del self._followers[old]
        state.key, state.replaces = serial, old
        f.key = serial
        self.states[serial] = state  # a state of this serial not followed any more: taken over
        self._followers[serial] = f

    def _merge(self, f: _Follower, owner: _Follower) -> None:
        """Candidate `f` is the Pi `owner` already follows: its address becomes an alias."""
        del self._followers[f.key]
        self.states.pop(f.key)
        owner.aliases[f.endpoint] = f.target
        state = self.states[owner.key]
        state.replaces = f.key
        self._aliases_changed(owner)

    def _leave(self, f: _Follower, serial: str | None) -> None:
        """`f`'s address answers as another device (or one without a serial): the address goes
        to that device; `f` keeps its row and goes on at its other addresses, if any."""
        target, endpoint = f.target, f.endpoint
        who = f"serial {serial}" if serial else "a device without a serial"
        state = self.states[f.key]
        state.reachable = False
        if f.aliases:
            f.endpoint, f.target = next(iter(f.aliases.items()))
            del f.aliases[f.endpoint]
            route = self.pool.route(f.target)
            state.address, state.port, state.endpoint = route.host, route.port, f.endpoint
            state.also_at = list(f.aliases)
            state.error = f"{endpoint} answers as {who} now"
        else:
            del self._followers[f.key]
            state.error = f"{endpoint} answers as {who} now; not followed until found again"
        self._publish(state)
        self._spawn(target, serial)

    def _spawn(self, target: Target, serial: str | None) -> None:
        """Follow a device whose agent has just answered at `target` (serial verified)."""
        target = replace(target, serial=serial)  # what it claimed there before is stale
        endpoint = self.pool.route(target).key
        owner = self._followers.get(serial) if serial else None
        if owner is not None:
            owner.aliases[endpoint] = target
            self._aliases_changed(owner)
        else:
            self._add(target, serial)

    def _aliases_changed(self, f: _Follower) -> None:
        state = self.states[f.key]
        state.also_at = list(f.aliases)
        self._publish(state)

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
        """Run one agent method on a device (by identity: its serial) over its open session.

        Refused for a provisional id (no verified serial yet) and for an address whose agent
        no longer reports that serial."""
        state = self.states.get(key)
        where = state.endpoint if state is not None else key
        if serial_of(key) is None:
            raise AgentFailure(
                f"{where}: no verified serial yet (its agent has not reported one);"
                " actions need the device's serial"
            )
        f = self._followers.get(key)
        link = self.pool.open_links().get(f.endpoint) if f is not None else None
        if link is None:
            reason = state.error if state and state.error else "not connected"
            raise AgentFailure(f"{where}: {reason}")
        if valid_serial(link.facts.serial) != key:
            raise AgentFailure(f"{where}: answers as serial {link.facts.serial} now, not {key}")
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
        serial = state.serial
        if serial:
            sample = received(health.model_dump(mode="json"), now)
            self.samples.record(serial, sample)
            self._act(self.thermal.health(serial, health, now))
            if worth_recording(skew, self._skews.get(serial)):
                self.devices.upsert(serial, clock_skew_s=round(skew, 1))
                self._skews[serial] = skew
        self._publish(state)

    def _mark_unreachable(self, f: _Follower, reason: str) -> None:
        state = self.states[f.key]
        if state.serial and state.last_seen is not None:
            self._act(self.thermal.unreachable(state.serial, state.last_seen))
        if state.reachable or state.error != reason:
            state.reachable = False
            state.error = reason
            self._publish(state)

    def _act(self, transitions: list[Transition]) -> None:
        """A policy fired or cleared: its actions run in the background (a fan call must not
        hold up the health loop)."""
        if not transitions:
            return
        task = asyncio.get_running_loop().create_task(self.policy_actor.act(transitions))
        self._acting.add(task)
        task.add_done_callback(self._acting.discard)

    def _hostname(self, serial: str) -> str:
        state = self.states.get(serial)
        return state.hostname if state is not None else serial

    def _publish(self, state: DeviceState) -> None:
        self.on_update(state.model_copy(deep=True))
        state.replaces = None  # said once

    async def stop(self) -> None:
        if self._discovery is not None:
            await self._discovery.stop()
        tasks = [*self._tasks, *self._refreshes, *self._acting]
        for task in tasks:
            task.cancel()
        for task in tasks:
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
