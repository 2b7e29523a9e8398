"""A small rack for walkthrough tests: R2 (12U) with a 4-slot tray at U10 (two Pis, two empty
slots), a Pi full-width at U8, a switch at U5, a Pi at the rear of U8; and one Pi placed
nowhere."""

from __future__ import annotations

from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

PI1, PI2, PI3 = "1000000012345678", "10000000abcdef01", "00000000c2b8e4a1"
PI4, LOOSE = "100000004444aaaa", "1000000055550000"
HOSTS = {PI1: "pi-4b-017", PI2: "pi-5-002", PI3: "pi-zero-3", PI4: "pi-rear-4", LOOSE: "pi-loose"}


def build_rack(store: Store, name: str = "R2") -> str:
    devices = DeviceBook(store)
    for serial, host in HOSTS.items():
        devices.upsert(serial, hostname=host, label=f"ASSET-{host[-3:].upper()}")
    book = RackBook(store)
    rack = book.add_rack(name, room="Lab", site="HQ", height_u=12)
    book.set_tray(rack, 10, 4)
    book.add_item(rack, 5, height_u=1, kind="switch", label="core-sw")
    book.place(PI1, rack, 10, 1)
    book.place(PI2, rack, 10, 3)
    book.place(PI3, rack, 8)
    book.place(PI4, rack, 8, face="rear")
    return rack
