"""The demo's rack: its simulated Pis placed in 4-slot trays of rack R1 (room `demo lab`, site
`demo`) under a PoE switch, once the lab has made them, so `:racks` and `:rack R1` show the
feature with live status, temperature and power in `fleet-tui demo`. With `--power` that switch
(`demo-sw`) is the lab's simulated PoE switch: each Pi gets an outlet row, `demo-sw-pN` for
switch port N, so `power status`, `power off` and the TUI's `P` work without any setup."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fleet_tui.core.fleet.lab import LabAccess
from fleet_tui.core.power.outlets import Outlet, OutletBook
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.sim.lab import LabOptions, SimLab
from fleet_tui.core.store.database import Store
from fleet_tui.demo import DEMO_COMMUNITY_ENV

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


def seed_demo_outlets(db: Path, address: str, ports: list[tuple[int, str]]) -> None:
    """An outlet per Pi on the demo switch at `address`: (port, serial) pairs. Rewritten on
    each start (the switch listens on a new UDP port every run)."""
    with Store.open(db) as store:
        item = next(
            (r["id"] for r in store.rows("rack_items") if r.get("label") == "demo-sw"), None
        )
        book = OutletBook(store)
        for port, serial in ports:
            book.add(
                Outlet(
                    name=f"demo-sw-p{port}",
                    kind="poe",
                    host=address,
                    port=port,
                    serial=serial,
                    community_env=DEMO_COMMUNITY_ENV,
                    item_id=item,
                    notes="the demo's simulated PoE switch",
                )
            )


class RackedLab(SimLab):
    """The demo's simulated lab, its Pis placed in a rack of the demo's database."""

    def __init__(self, count: int, *, db: Path, options: LabOptions | None = None) -> None:
        super().__init__(count, options=options)
        self.db = db

    async def start(self) -> LabAccess:
        access = await super().start()
        await asyncio.to_thread(seed_demo_rack, self.db, [pi.serial for pi in self.pis])
        if self.power is not None:
            switch = self.power.switch
            ports = [(p.number, p.pi.serial) for p in switch.ports.values() if p.pi is not None]
            await asyncio.to_thread(seed_demo_outlets, self.db, switch.address, ports)
        return access
