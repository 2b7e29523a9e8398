"""The fleet table's filter language (core/fleet/filters.py) over the *stored* devices, for the
CLI twins that act on many devices (`power on rack:R1`).

    select(store, ["pi-4b-017"])        # a device's own name: that device, exactly
    select(store, ["rack:R1", "!tag:spare"])  # anything else: the filter, as `/` reads it
    matching(store, "*")                # every known device (deploy/config `--to *`)

One place for every `FILTER`/`--to FILTER` of the CLI: power, deploy, rollback, config.

Words that each name exactly one device (serial, hostname, label, address: core/fleet/refs.py)
mean those devices and nothing else: `pi-1` must never also power off `pi-10`, which the
filter's bare regex would match. Otherwise the words are one filter. A stored device has no
live status: `status:` terms see it as unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fleet_tui.core.export import rack_names
from fleet_tui.core.fleet.filters import Filterable, FilterError, FleetFilter, short_model, short_os
from fleet_tui.core.fleet.refs import resolve
from fleet_tui.core.policy import Severity
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible


def filterable(d: DeviceRecord, rack: str) -> Filterable:
    """What the filter sees of a stored device: what the fleet table would show of it."""
    model, os_name = d.model or "", d.os_name or ""
    shown = [d.hostname or "", d.label or "", short_model(model) if model else ""]
    shown += [short_os(os_name) if os_name else "", rack, *d.tags]
    return Filterable(
        haystack=tuple(p for p in shown if p),
        severity=Severity.UNKNOWN,
        model=f"{model} {short_model(model)}",
        rack=rack,
        tags=d.tags,
        host=(d.hostname or "",),
        label=d.label or "",
        address=f"{d.address}:{d.port or 22}" if d.address else "",
        serial=d.serial,
        os=f"{os_name} {short_os(os_name)}" if os_name else "",
    )


EVERY = "*"


@dataclass(frozen=True)
class Selection:
    devices: list[DeviceRecord]
    problem: str | None = None  # why nothing was chosen
    usage: bool = False  # the problem is the words themselves (a bad filter, an ambiguous name)
    by_filter: bool = False  # chosen by the filter, not by names


def select(store: Store, words: Sequence[str]) -> Selection:
    devices = DeviceBook(store).all()
    if [w.strip() for w in words] == [EVERY]:
        return Selection(devices, by_filter=True)
    named = resolve(devices, words)
    if not named.problems:
        return Selection(named.devices)
    if named.ambiguous:  # a name two devices share: never a guess (a field term says which)
        return Selection([], named.problems[0], usage=True)
    text = " ".join(words)
    try:
        flt = FleetFilter.parse(text)
    except FilterError as e:
        return Selection([], f"{visible(text, 80)!r}: {e}", usage=True)
    racks = rack_names(store)
    hits = [d for d in devices if flt.matches(filterable(d, racks.get(d.serial, "")))]
    if hits:
        return Selection(hits, by_filter=True)
    return Selection([], f"{visible(text, 80)!r}: no device has that name or matches that filter")


def matching(store: Store, text: str) -> list[tuple[DeviceRecord, str]]:
    """(device, its rack name) for each device `text` selects, as `select` chooses them;
    FilterError (its message for people) when it selects nothing or cannot be read."""
    chosen = select(store, text.split())
    if chosen.problem is not None:
        if chosen.usage:
            raise FilterError(chosen.problem)
        return []
    racks = rack_names(store)
    return [(d, racks.get(d.serial, "")) for d in chosen.devices]
