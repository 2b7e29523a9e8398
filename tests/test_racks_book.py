"""core/racks/book.py: racks, trays, equipment and placements in a real store file; every
refusal writes nothing, every move is a tombstone and a new row."""

from __future__ import annotations

import pytest

from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.errors import RackError
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog

PI1, PI2, PI3 = "1000000012345678", "10000000abcdef01", "00000000c2b8e4a1"


@pytest.fixture
def book(store: Store) -> RackBook:
    devices = DeviceBook(store)
    devices.upsert(PI1, hostname="pi-4b-017")
    devices.upsert(PI2, hostname="pi-5-002")
    devices.upsert(PI3, hostname="pi-zero-3")
    return RackBook(store)


def _table_counts(store: Store) -> dict[str, int]:
    """Every row, live or tombstoned, of the rack tables: what a refused write must not grow."""
    tables = ("sites", "rooms", "racks", "rack_trays", "rack_items", "placements", "events")
    return {t: store.query(f"SELECT count(*) AS n FROM {t}")[0]["n"] for t in tables}


def test_add_rack_reuses_site_and_room_and_refuses_a_name_taken_in_the_room(book: RackBook) -> None:
    r1 = book.add_rack("R1", room="Lab", site="HQ")
    r2 = book.add_rack("R2", room="lab", site="hq", height_u=24, top_down=True, budget_w=600)
    racks = {r.name: r for r in book.racks()}
    assert racks["R1"].id == r1 and racks["R2"].id == r2
    assert racks["R1"].room_id == racks["R2"].room_id and racks["R1"].site == "HQ"
    assert (racks["R2"].height_u, racks["R2"].top_down, racks["R2"].budget_w) == (24, True, 600)
    assert len(book.store.rows("sites")) == 1 and len(book.store.rows("rooms")) == 1
    before = _table_counts(book.store)
    with pytest.raises(RackError, match="already exists in room 'Lab'"):
        book.add_rack("r1", room="Lab", site="HQ")
    for bad, why in (("R:1", "may not contain ':'"), ("", "needs a name"), ("a/b", "'/'")):
        with pytest.raises(RackError, match=why):
            book.add_rack(bad, room="Lab", site="HQ")
    with pytest.raises(RackError, match="1 to 64 units"):
        book.add_rack("R9", room="Lab", site="HQ", height_u=0)
    assert _table_counts(book.store) == before
    # the same name in another room is another rack; its bare name is then ambiguous
    book.add_rack("R1", room="Cage", site="HQ")
    with pytest.raises(RackError, match="is in 2 rooms"):
        book.find_rack("R1")
    assert book.find_rack("lab/r1").id == r1
    assert book.find_rack(r2).name == "R2"
    with pytest.raises(RackError, match="unknown rack 'R7'"):
        book.find_rack("R7")


def test_place_in_trays_and_full_width_units(book: RackBook) -> None:
    rack = book.add_rack("R2", room="Lab", site="HQ")
    book.set_tray(rack, 12, 4)
    pid = book.place(PI1, rack, 12, 3)
    assert book.place(PI1, rack, 12, 3) == pid  # already there: nothing new
    book.place(PI2, rack, 12, 3, face="rear")  # the rear of the same slot is another place
    book.place(PI3, rack, 5)  # a full-width unit
    got = {(p.serial, p.unit, p.slot, p.face) for p in book.placements(rack)}
    assert got == {(PI1, 12, 3, "front"), (PI2, 12, 3, "rear"), (PI3, 5, None, "front")}
    before = _table_counts(book.store)
    refusals = [
        ((PI3, rack, 12, 3), r"R2 U12 slot 3 is taken by pi-4b-017 \(1000000012345678\)"),
        ((PI3, rack, 43, None), "unit 43 is out of range: rack R2 has 42 units"),
        ((PI3, rack, 12, None), "is a 4-slot tray: give a slot"),
        ((PI3, rack, 12, 5), "slot 5 is out of range: R2 U12 has 4 slots"),
        ((PI3, rack, 7, 1), "R2 U7 is not a tray"),
        ((PI1, rack, 5, None), "R2 U5 is taken by pi-zero-3"),
        (("not a serial!", rack, 1, None), "is not a device serial"),
    ]
    for call, why in refusals:
        with pytest.raises(RackError, match=why):
            book.place(*call)
    with pytest.raises(RackError, match="not front or rear"):
        book.place(PI3, rack, 1, face="side")
    assert _table_counts(book.store) == before


def test_a_move_tombstones_the_old_row_and_writes_a_new_one(book: RackBook) -> None:
    r1 = book.add_rack("R1", room="Lab", site="HQ")
    r2 = book.add_rack("R2", room="Lab", site="HQ")
    book.set_tray(r2, 12, 4)
    first = book.place(PI1, r1, 3)
    second = book.place(PI1, r2, 12, 2)
    assert second != first
    assert book.store.get_row("placements", first) is None  # tombstoned, never edited
    raw = book.store.query("SELECT deleted, unit FROM placements WHERE id = ?", (first,))
    assert raw == [{"deleted": 1, "unit": 3}]
    p = book.placement_of(PI1)
    assert p is not None and (p.rack_id, p.unit, p.slot) == (r2, 12, 2)
    messages = [e.message for e in EventLog(book.store).recent(PI1)]
    assert messages[:2] == ["moved from R1 U3 to R2 U12 slot 2", "placed in R1 U3"]
    where = book.unplace(PI1)
    assert where.id == second and book.placement_of(PI1) is None
    with pytest.raises(RackError, match="is not placed"):
        book.unplace(PI1)


def test_trays_shrink_only_above_their_devices(book: RackBook) -> None:
    rack = book.add_rack("R2", room="Lab", site="HQ")
    book.set_tray(rack, 12, 8)
    book.place(PI1, rack, 12, 6)
    with pytest.raises(RackError, match="cannot shrink R2 U12 to 4 slots: R2 U12 slot 6 holds"):
        book.set_tray(rack, 12, 4)
    with pytest.raises(RackError, match="move them first"):
        book.set_tray(rack, 12, 0)
    with pytest.raises(RackError, match="1 to 16 slots"):
        book.set_tray(rack, 12, 17)
    book.set_tray(rack, 12, 6)  # down to the device's slot is fine
    assert book.state(rack).trays == {12: 6}
    book.unplace(PI1)
    book.set_tray(rack, 12, 1)  # empty: a full-width unit again
    assert book.state(rack).trays == {}
    book.place(PI2, rack, 12)
    with pytest.raises(RackError, match="full-width: unplace it first"):
        book.set_tray(rack, 12, 4)


def test_items_take_units_and_refuse_overlap(book: RackBook) -> None:
    rack = book.add_rack("R2", room="Lab", site="HQ", height_u=10)
    book.add_item(rack, 1, height_u=2, kind="pdu", label="PDU A")
    book.set_tray(rack, 5, 4)
    book.place(PI1, rack, 7)
    before = _table_counts(book.store)
    for (unit, height, kind), why in (
        ((2, 1, "switch"), "R2 U2 is taken by pdu 'PDU A'"),
        ((4, 2, "shelf"), "R2 U5 is a 4-slot tray"),
        ((7, 1, "shelf"), "R2 U7 holds pi-4b-017"),
        ((9, 3, "switch"), "needs U9-U11: rack R2 has 10 units"),
        ((3, 1, "toaster"), "kind 'toaster' is not one of"),
    ):
        with pytest.raises(RackError, match=why):
            book.add_item(rack, unit, height_u=height, kind=kind, label="x")
    with pytest.raises(RackError, match="R2 U2 is taken by pdu"):
        book.place(PI2, rack, 2)
    with pytest.raises(RackError, match="taken by pdu"):
        book.set_tray(rack, 1, 4)
    assert _table_counts(book.store) == before
    item = book.remove_item(rack, 2)
    assert item.label == "PDU A"
    book.place(PI2, rack, 2)


def test_free_space_per_rack_and_room(book: RackBook) -> None:
    r1 = book.add_rack("R1", room="Lab", site="HQ", height_u=10)
    r2 = book.add_rack("R2", room="Lab", site="HQ", height_u=6)
    book.add_rack("R3", room="Cage", site="HQ", height_u=4)
    # R1: U1-2 a PDU, U3 a tray, U6 a Pi: free U4-5 and U7-10
    book.add_item(r1, 1, height_u=2, kind="pdu", label="p")
    book.set_tray(r1, 3, 4)
    book.place(PI1, r1, 6)
    # R2: a 6U switch stack leaves nothing
    book.add_item(r2, 1, height_u=6, kind="switch", label="core")
    runs = book.free_space(room="lab", trays=4)
    assert [(r.rack.name, r.first, r.last, r.fits) for r in runs] == [
        ("R1", 7, 10, 4),
        ("R1", 4, 5, 2),
    ]
    assert book.free_space(room="Lab", trays=7) == []
    two_u = book.free_space(rack_id=r1, trays=1, tray_u=2)
    assert [(r.first, r.last, r.fits) for r in two_u] == [(7, 10, 2), (4, 5, 1)]
    everywhere = {r.rack.name for r in book.free_space(trays=1)}
    assert everywhere == {"R1", "R3"}
