"""`--to FILTER`: the fleet table's filter language (core/fleet/filters.py) over the stored
devices and their racks; `*` is every known device. A stored device has no live status, so
`status:` terms see every device as unknown.

The deployment helper has the same mapping in core/deploy/targets.py (branch i13-deploy):
one of the two goes when both are merged."""

from __future__ import annotations

from fleet_tui.core.export import rack_names
from fleet_tui.core.fleet.filters import Filterable, FleetFilter, short_model, short_os
from fleet_tui.core.policy import Severity
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

EVERY = "*"


def _filterable(d: DeviceRecord, rack: str) -> Filterable:
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


def matching(store: Store, text: str) -> list[DeviceRecord]:
    """The stored devices `text` matches, by hostname (FilterError on a bad filter)."""
    flt = FleetFilter() if text.strip() == EVERY else FleetFilter.parse(text)
    racks = rack_names(store)
    return [
        d for d in DeviceBook(store).all() if flt.matches(_filterable(d, racks.get(d.serial, "")))
    ]
