"""What a walkthrough compares an answer with: every known device and where the records place
it, read once per answer (a snapshot of the store)."""

from __future__ import annotations

from dataclasses import dataclass

from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.layout import Placement
from fleet_tui.core.racks.model import where
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.text import visible


@dataclass(frozen=True)
class Known:
    devices: dict[str, DeviceRecord]  # by serial
    placed: dict[str, Placement]  # serial -> its live placement
    rack_names: dict[str, str]  # rack id -> name

    @classmethod
    def load(cls, store: Store) -> Known:
        book = RackBook(store)
        racks = book.racks()
        placed: dict[str, Placement] = {}
        for rack in racks:
            for p in book.placements(rack.id):
                placed[p.serial] = p
        return cls(
            {d.serial: d for d in DeviceBook(store).all()},
            placed,
            {r.id: r.name for r in racks},
        )

    def name(self, serial: str) -> str:
        """The device's hostname (shown literally, never as markup), else its serial."""
        d = self.devices.get(serial)
        return visible(d.hostname if d is not None and d.hostname else serial, 64)

    def place_of(self, serial: str) -> str | None:
        """ "R2 U7 slot 3": where the records place a device, or None."""
        p = self.placed.get(serial)
        if p is None:
            return None
        rack = visible(self.rack_names.get(p.rack_id, p.rack_id), 40)
        return where(rack, p.unit, p.slot, p.face)
