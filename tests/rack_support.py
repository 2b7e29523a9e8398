"""Racks for the rack screens' tests, snapshots and benchmark: built with RackBook (the same
service the CLI uses) on the TUI tests' fixed fleet (tests/test_tui_support.py)."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import FLEET, HOSTILE_SERIAL, seed_store

from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store

SERIALS = [spec[1] for spec in FLEET]
UNPLACED = (SERIALS[6], SERIALS[7], "10000000a00000ff")  # pi-4b-007, pi-5-008, pi-old-099


def seed_racks(db: Path) -> None:
    """The fleet of seed_store, and room `lab` of site `hq` with three racks:

    A1 (42U, 120 W budget): a 2U PoE switch at the top (U41-42); U40 a 4-slot tray with
    pi-4b-001, pi-5-002 and the hostile hostname (slot 4 empty); U39 a 4-slot tray with
    pi-3bp-003, pi-zero2w-004 and pi-cm4-005 (slot 3 empty); pi-4b-006 full-width in U38;
    an empty 8-slot tray in U30; a PDU at U20. A2 (42U): an empty 4-slot tray at U42. A3
    (24U, numbered top-down): a shelf at U1. pi-4b-007, pi-5-008 and pi-old-099 are not
    placed."""
    seed_store(db)
    with Store.open(db) as store:
        book = RackBook(store)
        a1 = book.add_rack("A1", room="lab", site="hq", height_u=42, budget_w=120)
        a2 = book.add_rack("A2", room="lab", site="hq", height_u=42)
        a3 = book.add_rack("A3", room="lab", site="hq", height_u=24, top_down=True)
        book.add_item(a1, 41, height_u=2, kind="poe-switch", label="core-sw-1")
        book.set_tray(a1, 40, 4)
        book.set_tray(a1, 39, 4)
        book.set_tray(a1, 30, 8)
        book.add_item(a1, 20, height_u=1, kind="pdu", label="pdu-a")
        book.place(SERIALS[0], a1, 40, 1)
        book.place(SERIALS[1], a1, 40, 2)
        book.place(HOSTILE_SERIAL, a1, 40, 3)
        book.place(SERIALS[2], a1, 39, 1)
        book.place(SERIALS[3], a1, 39, 2)
        book.place(SERIALS[4], a1, 39, 4)
        book.place(SERIALS[5], a1, 38)
        book.set_tray(a2, 42, 4)
        book.add_item(a3, 1, height_u=1, kind="shelf", label="spares")
