"""`fleet-tui poll`: facts and health of every known device, one result per device as it comes.

Opens (or reuses) each device's link through the pool, reads health over it, records both in
the store, and yields one `PollRow` per device in completion order. Unreachable devices are
rows too, with the reason. Each row carries the Pi's clock skew against ours (core/clock.py),
also stored on the device.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from fleet_tui.core.clock import skew_at
from fleet_tui.core.identity import valid_serial
from fleet_tui.core.models import Facts, Health
from fleet_tui.core.net.hosts import HostBook, HostSpec
from fleet_tui.core.net.oui import is_pi_mac, normalise_mac
from fleet_tui.core.net.pool import ConnectionPool, Link
from fleet_tui.core.net.routes import RouteError, Target
from fleet_tui.core.ops.fanout import Operation, Result
from fleet_tui.core.policies.actions import PolicyActor
from fleet_tui.core.policies.engine import Transition
from fleet_tui.core.policies.intake import ThermalWatch
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.sample_gate import received
from fleet_tui.core.store.samples import SampleLog


@dataclass
class PollRow:
    target: Target
    route_key: str | None
    reachable: bool
    error: str | None = None
    facts: Facts | None = None
    health: Health | None = None
    elapsed_s: float = 0.0
    clock_skew_s: float | None = None  # the Pi's clock minus ours

    def to_json(self) -> dict[str, Any]:
        facts, health = self.facts, self.health
        return {
            "host": HostSpec(self.target.host, self.target.port).address,
            "name": self.target.name,
            "route": self.route_key,
            "via": self.target.jump,
            "reachable": self.reachable,
            "error": self.error,
            "serial": facts.serial if facts else None,
            "hostname": facts.hostname if facts else None,
            "model": facts.model if facts else None,
            "os": facts.os_name if facts else None,
            "agent_version": facts.agent_version if facts else None,
            "uptime_s": health.uptime_s if health else None,
            "temperature_c": health.temperature_c if health else None,
            "throttled": health.throttled.model_dump() if health and health.throttled else None,
            "clock_skew_s": round(self.clock_skew_s, 1) if self.clock_skew_s is not None else None,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def device_macs(facts: Facts) -> str | None:
    """The Pi's hardware MACs (comma-separated) from the agent's `macs` fact."""
    macs = getattr(facts, "macs", None)
    if not isinstance(macs, list):
        return None
    found = []
    for item in macs:
        mac = normalise_mac(str(item.get("mac", ""))) if isinstance(item, dict) else None
        if mac and (is_pi_mac(mac) or item.get("pi_oui")):
            found.append(mac)
    return ",".join(sorted(set(found))) or None


def record_link(
    store: Store,
    link: Link,
    health: Health | None,
    clock_skew_s: float | None = None,
    *,
    samples: SampleLog | None = None,
    watch: ThermalWatch | None = None,
) -> list[Transition]:
    """Write what the agent told us: device row, health sample, the host row's serial/MAC,
    and the clock skew measured with the health reading; with `watch`, the ambient readings
    and the protective policies' evaluation (returned: the policies that fired or cleared).

    A health reading is kept if `samples`' gate keeps it: pass the SampleLog the caller
    keeps for as long as it polls (a fresh one would keep every reading)."""
    facts = link.facts
    serial = valid_serial(facts.serial)
    if serial is None:  # no serial, or none that can key a device (core/identity.py)
        return []
    if health is not None and samples is None:
        raise ValueError("record_link: a health reading needs the caller's SampleLog")
    now = time.time()
    mac = device_macs(facts)
    fields: dict[str, object] = {
        "hostname": facts.hostname or link.target.name,
        "address": link.route.host,
        "port": link.route.port,
        "model": facts.model,
        "revision": facts.revision,
        "os_name": facts.os_name,
        "kernel": facts.kernel,
        "arch": facts.arch,
        "agent_version": facts.agent_version,
        "last_seen": now,
    }
    if link.route.user:
        fields["user"] = link.route.user
    if mac:
        fields["mac"] = mac
    if clock_skew_s is not None:
        fields["clock_skew_s"] = round(clock_skew_s, 1)
    DeviceBook(store).upsert(serial, **fields)
    if health is not None and samples is not None:
        samples.record(serial, received(health.model_dump(mode="json"), now))
    transitions = watch.health(serial, health, now) if health is not None and watch else []
    book = HostBook(store)
    for entry in book.find(HostSpec(link.target.host, link.target.port).address):
        if (entry.jump or None) == (link.target.jump or None) and (entry.serial, entry.mac) != (
            serial,
            mac,
        ):
            book.learn(entry.id, serial=serial, **({"mac": mac} if mac else {}))
    return transitions


class _Links:
    """Agent calls by serial over the links a poll has open (a policy's fan action)."""

    def __init__(self) -> None:
        self.by_serial: dict[str, Link] = {}

    async def call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        link = self.by_serial[serial]
        return await link.call(method, params, timeout=timeout)


async def poll(
    pool: ConnectionPool,
    targets: Sequence[Target],
    *,
    concurrency: int = 32,
    timeout: float = 30.0,  # noqa: ASYNC109
    record: bool = True,
    samples: SampleLog | None = None,
    watch: ThermalWatch | None = None,
) -> AsyncIterator[PollRow]:
    """Facts + health for each target; yields rows in completion order.

    `samples` records the health readings; one SampleLog serves the whole poll (its gate
    keeps one reading per device per minute), and a caller that polls again and again
    passes its own so the gate carries over from one poll to the next."""
    kept = samples if samples is not None else SampleLog(pool.store)
    thermal = watch if watch is not None else ThermalWatch(pool.store)
    links = _Links()
    # a poll has no operation runner: a policy's shutdown is said, not started, here
    actor = PolicyActor(EventLog(pool.store), links, None)

    async def one(target: Target) -> tuple[Link, Health, float]:
        link = await pool.link(target)
        sent = time.time()
        health = await link.session.health(timeout=pool.timeouts.call)
        skew = skew_at(health.time, sent, time.time())
        if record:
            fired = record_link(pool.store, link, health, skew, samples=kept, watch=thermal)
            if fired:
                links.by_serial[fired[0].serial] = link
                await actor.act(fired)
        return link, health, skew

    operation: Operation[Target, tuple[Link, Health, float]] = Operation(
        targets, one, concurrency=concurrency, timeout=timeout
    )
    known: dict[tuple[str, int], DeviceRecord] | None = None
    async for result in operation:
        if record and not result.ok:
            if known is None:
                known = _by_address(pool.store)
            await _unreachable(thermal, actor, known.get(_address(result.target)))
        yield _row(pool, result)


def _address(target: Target) -> tuple[str, int]:
    return target.host, target.port or 22


def _by_address(store: Store) -> dict[tuple[str, int], DeviceRecord]:
    """The devices as stored, by the address and port they were last reached at."""
    return {(d.address, d.port or 22): d for d in DeviceBook(store).all() if d.address}


async def _unreachable(
    thermal: ThermalWatch, actor: PolicyActor, device: DeviceRecord | None
) -> None:
    """A device this poll could not reach: its unreachable minutes (from its stored last
    contact) go to the policies, as in the live service. A target the store does not know
    by that address has no last contact to count from, and is left alone."""
    if device is None or device.last_seen is None:
        return
    fired = thermal.unreachable(device.serial, device.last_seen)
    if fired:
        await actor.act(fired)


def _row(pool: ConnectionPool, result: Result[Target, tuple[Link, Health, float]]) -> PollRow:
    target = result.target
    try:
        key: str | None = pool.route(target).key
    except RouteError:
        key = None
    if result.ok and result.value is not None:
        link, health, skew = result.value
        return PollRow(target, key, True, None, link.facts, health, result.elapsed, skew)
    return PollRow(target, key, False, result.error, elapsed_s=result.elapsed)
