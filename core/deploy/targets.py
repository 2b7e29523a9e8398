"""Which devices `--to FILTER` means for a deployment: core/fleet/stored_filter.py (the fleet
table's filter over the stored devices; a device's own name means exactly it; `*` is every
known device), each with its rack for `--by rack`."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.fleet.stored_filter import EVERY, matching
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store

__all__ = ["EVERY", "Chosen", "choose", "power_sources"]
OUTLETS = "outlets"  # core/power/outlets.py writes it; read here through the generic API


@dataclass(frozen=True)
class Chosen:
    device: DeviceRecord
    rack: str
    power: str = ""  # its power source (a PoE switch's PSE group, a PDU), "" when none known

    @property
    def name(self) -> str:
        return self.device.hostname or self.device.serial


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
    """The devices `text` selects (FilterError on a bad filter or an ambiguous name), each
    with its rack and its power source."""
    power = power_sources(store)
    return [Chosen(d, rack, power.get(d.serial, "")) for d, rack in matching(store, text)]
