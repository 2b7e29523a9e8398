"""Racks on two technicians' laptops, merged both ways with the real merge: concurrent moves
become conflicts shown after the merge (never a device silently in one place), trays and
equipment merge last-writer-wins, the same rack made on both laptops is one rack."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.cli import main
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.racks.layout import load_elevation
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge
from fleet_tui.core.sync.resolve import resolve

PI1, PI2, PI3 = "1000000012345678", "10000000abcdef01", "00000000c2b8e4a1"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    for name in ("a", "b", "usb"):
        (tmp_path / name).mkdir()
    a = Store.open(tmp_path / "a" / "fleet.db")
    b = Store.open(tmp_path / "b" / "fleet.db")
    yield a, b
    a.close()
    b.close()


def exchange(a: Store, b: Store, tmp: Path) -> None:
    """Both ways, as two laptops with a USB stick do it."""
    for src, dst in ((a, b), (b, a)):
        out = tmp / "usb" / f"{src.site_id[:8]}.db"
        out.unlink(missing_ok=True)
        PeerMerge(dst).merge(Exchange(src).snapshot(out))


def _where(store: Store) -> set[tuple[str, str, int, int | None]]:
    book = RackBook(store)
    return {
        (p.serial, p.rack_id, p.unit, p.slot) for r in book.racks() for p in book.placements(r.id)
    }


def test_concurrent_moves_are_conflicts_after_the_merge_on_both_laptops(
    pair: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = pair
    for s in (a, b):
        for serial, host in ((PI1, "pi-4b-017"), (PI2, "pi-5-002"), (PI3, "pi-zero-3")):
            DeviceBook(s).upsert(serial, hostname=host)
    rack = RackBook(a).add_rack("R2", room="Lab", site="HQ")
    RackBook(a).set_tray(rack, 12, 4)
    RackBook(a).place(PI1, rack, 12, 1)
    RackBook(a).place(PI2, rack, 12, 2)
    exchange(a, b, tmp_path)
    assert _where(a) == _where(b) and PeerMerge(a).conflicts() == []
    # the same afternoon, without a sync: both put a device in slot 3, and both move PI1
    RackBook(a).place(PI1, rack, 12, 3)
    RackBook(b).place(PI2, rack, 12, 3)
    RackBook(b).place(PI1, rack, 5)
    exchange(a, b, tmp_path)
    for s in (a, b):
        found = sorted((c.kind, c.subject, tuple(c.serials)) for c in PeerMerge(s).conflicts())
        assert found == [
            ("device-in-two-slots", PI1, (PI1,)),
            ("slot-shared", f"{rack}/12/3", tuple(sorted((PI1, PI2)))),
        ]
    assert _where(a) == _where(b)
    # the rack screen draws both devices of the shared slot, not one of them silently
    slot3 = load_elevation(a, rack).unit(12)
    shown = {p.serial for p in (*slot3.occupants.values(), *slot3.conflicts) if p.slot == 3}
    assert shown == {PI1, PI2}
    # a write on top of a conflict is still checked: nobody else may go into slot 3
    with pytest.raises(ValueError, match="slot 3 is taken"):
        RackBook(a).place(PI3, rack, 12, 3)
    # resolved on one laptop (keep PI1 in slot 3), the other learns it at the next exchange
    keep = next(p.id for p in RackBook(a).placements(rack) if p.serial == PI1 and p.slot == 3)
    for kind in ("slot-shared", "device-in-two-slots"):
        resolve(a, next(c for c in PeerMerge(a).conflicts() if c.kind == kind), keep)
    exchange(a, b, tmp_path)
    for s in (a, b):
        assert PeerMerge(s).conflicts() == []
        p1, p2 = RackBook(s).placement_of(PI1), RackBook(s).placement_of(PI2)
        assert p1 is not None and (p1.unit, p1.slot) == (12, 3)
        assert p2 is None  # lost its slot: unplaced, to be placed again


def test_trays_and_equipment_merge_last_writer_wins(
    pair: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = pair
    rack = RackBook(a).add_rack("R2", room="Lab", site="HQ")
    exchange(a, b, tmp_path)
    RackBook(a).set_tray(rack, 20, 4)
    time.sleep(0.005)  # stamps are in ms: two writes in one ms are ordered by site, not time
    RackBook(b).set_tray(rack, 20, 8)  # later: wins on both
    RackBook(a).add_item(rack, 30, height_u=2, kind="switch", label="core")
    exchange(a, b, tmp_path)
    for s in (a, b):
        e = load_elevation(s, rack)
        assert e.trays == {20: 8}
        assert [(i.unit, i.kind, i.label) for i in e.items] == [(30, "switch", "core")]
        assert (e.unit(30).kind, e.unit(31).kind) == ("item", "covered")
    RackBook(b).set_tray(rack, 20, 0)  # back to a full-width unit: a tombstone, merged too
    RackBook(a).remove_item(rack, 31)
    exchange(a, b, tmp_path)
    for s in (a, b):
        e = load_elevation(s, rack)
        assert (e.trays, e.items, e.unit(20).kind, e.unit(30).kind) == ({}, [], "free", "free")


def test_the_same_rack_made_on_two_laptops_is_one_rack(
    pair: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = pair
    ra = RackBook(a).add_rack("R9", room="Lab", site="HQ", height_u=42)
    rb = RackBook(b).add_rack("r9", room="lab", site="hq", height_u=42)
    assert ra == rb
    exchange(a, b, tmp_path)
    for s in (a, b):
        assert [r.name.upper() for r in RackBook(s).racks()] == ["R9"]
        assert len(s.rows("sites")) == 1 and len(s.rows("rooms")) == 1
    assert RackBook(a).racks() == RackBook(b).racks()


def test_equipment_and_devices_claiming_one_unit_are_conflicts_resolved_by_keeping_one(
    pair: tuple[Store, Store], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pair
    for s in (a, b):
        for serial, host in ((PI1, "pi-4b-017"), (PI2, "pi-5-002"), (PI3, "pi-zero-3")):
            DeviceBook(s).upsert(serial, hostname=host)
    rack = RackBook(a).add_rack("R2", room="Lab", site="HQ", height_u=40)
    exchange(a, b, tmp_path)
    # each write is checked on its laptop; only the merge brings them together
    switch = RackBook(a).add_item(rack, 10, height_u=2, kind="switch", label="core")
    pdu = RackBook(b).add_item(rack, 11, height_u=1, kind="pdu", label="pdu-a")
    RackBook(a).place(PI1, rack, 20)
    shelf = RackBook(b).add_item(rack, 20, height_u=1, kind="shelf", label="top")
    RackBook(a).set_tray(rack, 30, 4)
    RackBook(a).place(PI2, rack, 30, 1)
    RackBook(b).place(PI3, rack, 30)  # full-width where a filled slot 1
    report = PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "usb" / "b.db"))
    assert [line for line in report.lines() if "CONFLICT" in line] == [
        f"  CONFLICT unit {rack}/11 is claimed twice: 2 items overlap",
        f"  CONFLICT unit {rack}/20 is claimed twice: 1 item and device {PI1} overlap",
        f"  CONFLICT unit {rack}/30 is claimed twice: devices {PI3}, {PI2} overlap",
    ]
    exchange(a, b, tmp_path)
    for s in (a, b):
        found = [(c.kind, c.subject, c.items) for c in PeerMerge(s).conflicts()]
        assert found == [
            ("unit-overlap", f"{rack}/11", sorted([switch, pdu])),
            ("unit-overlap", f"{rack}/20", [shelf]),
            ("unit-overlap", f"{rack}/30", []),
        ]
    # the elevation flags the units claimed twice, and `rack show` says what claims them
    e = load_elevation(a, rack)
    assert [u.number for u in e.units if u.clash] == [30, 20, 11]
    assert not e.unit(10).clash and not e.unit(12).clash
    db = str(a.path)
    assert main(["--db", db, "rack", "show", "R2"]) == 0
    shown = capsys.readouterr().out
    assert "CONFLICT: U11 is claimed twice (fleet-tui conflicts):" in shown
    assert "pdu 'pdu-a' (1U from U11)" in shown and "switch 'core' (2U from U10)" in shown
    assert "full-width pi-zero-3" in shown and "slot 1 pi-5-002" in shown
    # `fleet-tui conflicts` lists each with what may stay
    assert main(["--db", db, "conflicts"]) == 0
    listed = capsys.readouterr().out
    assert f"--keep {switch}  switch 'core' at R2 U10-U11" in listed
    assert f"--keep {pdu}  pdu 'pdu-a' at R2 U11" in listed
    assert f"unit {rack}/20 is claimed twice: 1 item and device {PI1} overlap" in listed
    # keeping one removes what clashes with it (logged); the other laptop learns it
    assert main(["--db", db, "conflicts", "resolve", f"{rack}/11", "--keep", switch]) == 0
    assert f"removed {pdu}" in capsys.readouterr().out
    keep_pi1 = next(p.id for p in RackBook(a).placements(rack) if p.serial == PI1)
    assert resolve(a, PeerMerge(a).conflicts()[0], keep_pi1) == [shelf]
    keep_pi2 = next(p.id for p in RackBook(a).placements(rack) if p.serial == PI2)
    removed = resolve(a, PeerMerge(a).conflicts()[0], keep_pi2)
    assert [RackBook(a).placement_of(PI3)] == [None] and len(removed) == 1
    events = [r["message"] for r in a.query("SELECT message FROM events WHERE kind='conflict'")]
    assert any("kept switch 'core' at R2 U10-U11" in m and "pdu-a" in m for m in events)
    exchange(a, b, tmp_path)
    for s in (a, b):
        assert PeerMerge(s).conflicts() == []
        e = load_elevation(s, rack)
        assert [(i.kind, i.unit) for i in e.items] == [("switch", 10)]
        assert {p.serial for p in e.placements} == {PI1, PI2}
