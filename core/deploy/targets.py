"""Which devices `--to FILTER` means for a deployment: core/fleet/stored_filter.py (the fleet
table's filter over the stored devices; a device's own name means exactly it; `*` is every
known device), each with its rack for `--by rack`."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.fleet.stored_filter import EVERY, matching
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store

__all__ = ["EVERY", "Chosen", "choose"]


@dataclass(frozen=True)
class Chosen:
    device: DeviceRecord
    rack: str

    @property
    def name(self) -> str:
        return self.device.hostname or self.device.serial


def choose(store: Store, text: str) -> list[Chosen]:
    """The devices `text` selects (FilterError on a bad filter or an ambiguous name)."""
    return [Chosen(d, rack) for d, rack in matching(store, text)]
