"""Which devices `--to FILTER` means: the fleet table's filter language (core/fleet/filters.py)
applied to the stored devices, with their racks. `*` means every known device. A stored device
has no live status: `status:` terms see it as unknown."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.export import rack_names
from fleet_tui.core.fleet.filters import Filterable, FleetFilter, short_model, short_os
from fleet_tui.core.policy import Severity
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

EVERY = "*"


@dataclass(frozen=True)
class Chosen:
    device: DeviceRecord
    rack: str

    @property
    def name(self) -> str:
        return self.device.hostname or self.device.serial


def filterable(d: DeviceRecord, rack: str) -> Filterable:
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


def choose(store: Store, text: str) -> list[Chosen]:
    """The devices `text` matches, by hostname (FilterError on a bad filter)."""
    flt = FleetFilter() if text.strip() == EVERY else FleetFilter.parse(text)
    racks = rack_names(store)
    out = []
    for d in DeviceBook(store).all():
        rack = racks.get(d.serial, "")
        if flt.matches(filterable(d, rack)):
            out.append(Chosen(d, rack))
    return out
