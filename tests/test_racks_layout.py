"""core/racks/layout.py: the elevation every rack screen and `rack show` draw, top of the rack
first in either numbering, and fast enough for a first frame of 20 racks of 1,000 Pis."""

from __future__ import annotations

import time

from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.layout import load_elevation, load_elevations
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook

PI1, PI2 = "1000000012345678", "10000000abcdef01"


def test_elevation_top_first_with_trays_items_and_devices(store: Store) -> None:
    DeviceBook(store).upsert(PI1, hostname="pi-4b-017")
    book = RackBook(store)
    rack = book.add_rack("R2", room="Lab", site="HQ", height_u=6)
    book.add_item(rack, 1, height_u=2, kind="pdu", label="PDU A")
    book.set_tray(rack, 4, 4)
    book.place(PI1, rack, 4, 2)
    book.place(PI2, rack, 4, 2, face="rear")  # not (yet) a known device: still drawn
    e = load_elevation(store, rack)
    assert [u.number for u in e.units] == [6, 5, 4, 3, 2, 1]
    assert [u.kind for u in e.units] == ["free", "free", "tray", "free", "covered", "item"]
    tray = e.unit(4)
    assert tray.slots == 4 and tray.at(2) is not None and tray.at(2, "rear") is not None
    assert tray.at(1) is None
    assert e.hostname(PI1) == "pi-4b-017" and e.hostname(PI2) is None
    assert e.unit(2).item is not None and e.unit(2).item.label == "PDU A"
    assert e.free_units() == [6, 5, 3] and e.label(4) == "U4"
    found = e.find(PI1)
    assert found is not None and (found.unit, found.slot) == (4, 2)


def test_top_down_numbering_puts_u1_first(store: Store) -> None:
    book = RackBook(store)
    rack = book.add_rack("T1", room="Lab", site="HQ", height_u=4, top_down=True)
    book.add_item(rack, 1, height_u=2, kind="switch", label="sw")
    e = load_elevation(store, rack)
    assert [(u.number, u.kind) for u in e.units] == [
        (1, "item"),
        (2, "covered"),
        (3, "free"),
        (4, "free"),
    ]


def test_two_devices_merged_into_one_slot_are_both_shown(store: Store) -> None:
    book = RackBook(store)
    rack = book.add_rack("R1", room="Lab", site="HQ")
    book.place(PI1, rack, 3)
    # what a merge of two technicians' placements leaves: a second live row for the slot
    store.set_row("placements", "pl-other", serial=PI2, rack_id=rack, unit=3, face="front")
    u = load_elevation(store, rack).unit(3)
    assert u.kind == "device"
    assert {p.serial for p in (*u.occupants.values(), *u.conflicts)} == {PI1, PI2}


def test_twenty_racks_of_a_thousand_pis_load_fast(store: Store) -> None:
    book = RackBook(store)
    racks = [book.add_rack(f"R{i:02d}", room="Hall", site="DC", height_u=42) for i in range(20)]
    serials = [f"{0x10000000_00000000 + n:016x}" for n in range(1000)]
    store.set_rows("devices", {s: {"hostname": f"pi-{n:04d}"} for n, s in enumerate(serials)})
    trays = {}
    places = {}
    n = 0
    for rack in racks:
        for unit in range(1, 42):
            if n >= len(serials):
                break
            trays[f"{rack}/{unit}"] = {"rack_id": rack, "unit": unit, "slots": 4}
            for slot in range(1, 5):
                if n < len(serials):
                    places[f"pl-{n}"] = {
                        "serial": serials[n],
                        "rack_id": rack,
                        "unit": unit,
                        "slot": slot,
                        "face": "front",
                    }
                    n += 1
    store.set_rows("rack_trays", trays)
    store.set_rows("placements", places)
    load_elevations(store)  # warm: the first read of a file pays for its pages
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        elevations = load_elevations(store)
        best = min(best, time.perf_counter() - t0)
    assert len(elevations) == 20
    assert sum(len(e.placements) for e in elevations) == 1000
    assert sum(len(e.devices) for e in elevations) == 1000
    assert best < 0.2, f"20 racks x 42U with 1,000 Pis took {best * 1000:.0f} ms"
