"""The demo's rack: its simulated Pis placed in 4-slot trays of rack R1 (room `demo lab`, site
`demo`) under a PoE switch, once the lab has made them, so `:racks` and `:rack R1` show the
feature with live status, temperature and power in `fleet-tui demo`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fleet_tui.core.fleet.lab import LabAccess
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.sim.lab import LabOptions, SimLab
from fleet_tui.core.store.database import Store

SLOTS = 4
TOP = 40  # trays from U40 down; the switch takes U41-U42


def seed_demo_rack(db: Path, serials: list[str]) -> None:
    """Rack R1 with the Pis in trays (a rack that exists already is left as it is)."""
    with Store.open(db) as store:
        book = RackBook(store)
        try:
            rack = book.add_rack("R1", room="demo lab", site="demo", height_u=42, budget_w=150)
        except RackError:
            return
        book.add_item(rack, 41, height_u=2, kind="poe-switch", label="demo-sw")
        for t in range(-(-len(serials) // SLOTS)):
            book.set_tray(rack, TOP - t, SLOTS)
        for i, serial in enumerate(serials):
            book.place(serial, rack, TOP - i // SLOTS, i % SLOTS + 1)


class RackedLab(SimLab):
    """The demo's simulated lab, its Pis placed in a rack of the demo's database."""

    def __init__(self, count: int, *, db: Path, options: LabOptions | None = None) -> None:
        super().__init__(count, options=options)
        self.db = db

    async def start(self) -> LabAccess:
        access = await super().start()
        await asyncio.to_thread(seed_demo_rack, self.db, [pi.serial for pi in self.pis])
        return access
