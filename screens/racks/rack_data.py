"""What the rack screens read from the fleet database, in a worker, and hand to the UI."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

from fleet_tui.core.power.outlets import Outlet, OutletBook
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.layout import Elevation, load_elevations, load_racks
from fleet_tui.core.records import DeviceRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook


@dataclass
class RackData:
    """Racks to draw (the asked one and the rest of its room, or every rack), the fleet's
    devices and every placed serial (the picker offers the others)."""

    elevations: list[Elevation]
    records: list[DeviceRecord]
    placed: set[str] = field(default_factory=set)
    focus: str | None = None  # the rack id the cursor goes to
    outlets: dict[str, list[Outlet]] = field(default_factory=dict)  # serial -> its outlets
    all_outlets: list[Outlet] = field(default_factory=list)  # for `o`: link one

    def rack_names(self) -> dict[str, str]:
        """serial -> rack name, for the fleet model's `rack:` filter."""
        return {p.serial: e.rack.name for e in self.elevations for p in e.placements}


class RacksLoaded(Message, bubble=False):
    def __init__(self, data: RackData) -> None:
        super().__init__()
        self.data = data


def load_rack_data(store: Store, ref: str | None) -> RackData:
    """`ref` (a rack, as typed) and the other racks of its room; None: every rack."""
    racks = load_racks(store)
    focus = None
    if ref:
        rack = RackBook(store).find_rack(ref)
        focus = rack.id
        racks = [r for r in racks if r.room_id == rack.room_id and r.site_id == rack.site_id]
    records = DeviceBook(store).all()
    devices = {d.serial: d for d in records}
    elevations = load_elevations(store, [r.id for r in racks], devices=devices)
    placed = {p["serial"] for p in store.rows("placements") if p.get("serial")}
    book = OutletBook(store)
    return RackData(elevations, records, placed, focus, book.by_device(), book.all())
