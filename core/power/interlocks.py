"""Interlocks: what core refuses before any outlet changes. Each refusal names its rule.

- ``jump-host``: the device is a jump host the app reaches devices through (a host's own jump,
  a site's jump): cutting it cuts the technician off.
- ``relay-controller``: the device drives relay channels of other outlets.
- ``deployment``: a deploy* or config* operation is running with a step on the device.
- ``cycle-rate``: the device's outlet was cut `cycle_max` times within `cycle_window_s`.
- ``max-devices`` / ``whole-rack``: more than `max_devices` devices, or every device of a rack,
  at once need a typed confirmation (``--i-mean-it``).
Nothing here can be skipped by ``--force``; ``--readonly`` refuses earlier (the CLI, the TUI).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from fleet_tui.core.net.hosts import HostBook, HostSpecError, parse_spec
from fleet_tui.core.net.targets import known_targets
from fleet_tui.core.power.outlets import OutletBook
from fleet_tui.core.power.policy import PowerPolicy
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

OUTLET_OFF_EVENT = "outlet_off"
BUSY_KINDS = ("deploy", "config")
BUSY_STEPS = ("running", "pending")


@dataclass(frozen=True)
class Refusal:
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.message} (interlock {self.rule})"


class InterlockRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


Hop = tuple[str, int | None]  # host (lower case) and port, None when not said


def _hops(chain: str) -> set[Hop]:
    hops: set[Hop] = set()
    for hop in chain.split(","):
        try:
            spec = parse_spec(hop)
            hops.add((spec.host.lower(), spec.port))
        except HostSpecError:
            hops.add((hop.strip().lower(), None))
    return hops


def jump_hosts(store: Store) -> set[Hop]:
    """Every host (and port) that is a jump host of some route the app uses."""
    book = HostBook(store)
    chains = [t.jump for t in known_targets(store) if t.jump]
    chains += list(book.site_jumps().values())
    hops: set[Hop] = set()
    for chain in chains:
        hops |= _hops(chain)
    # a jump named by a hosts entry's name means that entry's address too
    for entry in book.entries():
        for host, port in list(hops):
            if entry.name and entry.name.lower() == host:
                hops.add((entry.host.lower(), port or entry.port))
    return hops


def _names_of(store: Store, serial: str) -> set[Hop]:
    names: set[Hop] = {(serial.lower(), None)}
    device = DeviceBook(store).get(serial)
    if device is not None:
        for value in (device.hostname, device.label):
            if value:
                names |= {(value.lower(), None), (value.lower().removesuffix(".local"), None)}
        if device.address:
            names.add((device.address.lower(), device.port or 22))
    for entry in HostBook(store).entries():
        if entry.serial == serial:
            names.add((entry.host.lower(), entry.port or 22))
            if entry.name:
                names.add((entry.name.lower(), None))
    return names


def _is_jump(names: set[Hop], hops: set[Hop]) -> bool:
    """A hop names the device when the host matches and the ports do not differ (a port not
    said is OpenSSH's 22 for an address, anything for a name)."""
    for host, port in hops:
        for name, name_port in names:
            if host == name and (port is None or name_port is None or port == name_port):
                if port is None and name_port not in (None, 22):
                    continue  # "10.0.0.5" is port 22 there, not this device's 2222
                return True
    return False


def busy_operation(store: Store, serial: str) -> str | None:
    """The id of a running deploy*/config* operation with a live step on `serial`."""
    for op in store.rows("operations", "status = 'running'"):
        kind = str(op.get("kind") or "")
        if not kind.startswith(BUSY_KINDS):
            continue
        steps = store.rows("operation_steps", "operation_id = ? AND serial = ?", (op["id"], serial))
        if any(s.get("status") in BUSY_STEPS for s in steps):
            return f"{kind} {op['id']}"
    return None


def recent_cuts(store: Store, serial: str, since: float) -> int:
    rows = store.query(
        "SELECT COUNT(*) AS n FROM events WHERE serial = ? AND kind = ? AND time >= ?",
        (serial, OUTLET_OFF_EVENT, since),
    )
    return int(rows[0]["n"]) if rows else 0


def cut_refusal(
    store: Store,
    serial: str,
    hostname: str,
    policy: PowerPolicy,
    *,
    count_cuts: bool = True,
    now: float | None = None,
) -> Refusal | None:
    """Why the power of `serial` may not be cut now, or None."""
    names = _names_of(store, serial)
    if _is_jump(names, jump_hosts(store)):
        return Refusal("jump-host", f"{hostname} is a jump host fleet-tui reaches devices through")
    if serial in OutletBook(store).relay_controllers():
        return Refusal(
            "relay-controller", f"{hostname} drives relay outlets (fleet-tui outlet list)"
        )
    busy = busy_operation(store, serial)
    if busy is not None:
        return Refusal("deployment", f"{hostname} is in a running deployment step ({busy})")
    if count_cuts and policy.cycle_window_s > 0:
        now = time.time() if now is None else now
        cuts = recent_cuts(store, serial, now - policy.cycle_window_s)
        if cuts >= policy.cycle_max:
            return Refusal(
                "cycle-rate",
                f"{hostname}'s outlet was cut {cuts} times in the last "
                f"{policy.cycle_window_s:g} s (policy: power.cycle_max = {policy.cycle_max})",
            )
    return None


def rack_members(store: Store) -> dict[str, set[str]]:
    """rack id -> serials placed in it."""
    racks: dict[str, set[str]] = {}
    for p in store.rows("placements"):
        if p.get("rack_id") and p.get("serial"):
            racks.setdefault(str(p["rack_id"]), set()).add(str(p["serial"]))
    return racks


def batch_refusal(
    store: Store, serials: Sequence[str], policy: PowerPolicy, confirmed: bool
) -> Refusal | None:
    """Whether cutting all of `serials` at once needs the typed confirmation it has not got."""
    if confirmed:
        return None
    chosen = set(serials)
    if len(chosen) > policy.max_devices:
        return Refusal(
            "max-devices",
            f"{len(chosen)} devices at once (more than power.max_devices = "
            f"{policy.max_devices}); add --i-mean-it to confirm",
        )
    for rack_id, members in sorted(rack_members(store).items()):
        if len(members) > 1 and members <= chosen:
            rack = store.get_row("racks", rack_id) or {}
            return Refusal(
                "whole-rack",
                f"every device of rack {rack.get('name') or rack_id} ({len(members)}); "
                "add --i-mean-it to confirm",
            )
    return None
