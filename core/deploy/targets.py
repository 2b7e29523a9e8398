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
OUTLETS = "outlets"  # core/power/outlets.py writes it; read here through the generic API


@dataclass(frozen=True)
class Chosen:
    device: DeviceRecord
    rack: str
    power: str = ""  # its power source (a PoE switch's PSE group, a PDU), "" when none known

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


def power_sources(store: Store) -> dict[str, str]:
    """serial -> the box that powers it, from the `outlets` table: a PoE switch's PSE group
    or a PDU (its rack item when placed, else its host), a relay controller. A device powered
    over SSH only (itself) shares its source with nobody."""
    found: dict[str, str] = {}
    for row in store.rows(OUTLETS):
        serial, kind = row.get("serial"), row.get("kind") or ""
        if not serial or kind not in ("poe", "pdu", "relay"):
            continue
        box = row.get("item_id") or row.get("host") or row.get("controller") or row["id"]
        if kind == "poe":
            box = f"{box} group {row.get('pse_group') or 1}"
        found[serial] = f"{kind} {box}"
    return found


def choose(store: Store, text: str) -> list[Chosen]:
    """The devices `text` matches, by hostname (FilterError on a bad filter)."""
    flt = FleetFilter() if text.strip() == EVERY else FleetFilter.parse(text)
    racks = rack_names(store)
    power = power_sources(store)
    out = []
    for d in DeviceBook(store).all():
        rack = racks.get(d.serial, "")
        if flt.matches(filterable(d, rack)):
            out.append(Chosen(d, rack, power.get(d.serial, "")))
    return out
