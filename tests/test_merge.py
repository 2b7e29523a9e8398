"""Merging peer files: LWW per column, union of appends, reports, and bad peers losing nothing."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.hlc import MAX_DRIFT_MS, Stamp, wall_ms
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Store.open(tmp_path / "a" / "fleet.db")
    b = Store.open(tmp_path / "b" / "fleet.db")
    yield a, b
    a.close()
    b.close()


def snap(s: Store, tmp: Path, name: str = "snap.db") -> Path:
    out = tmp / "usb" / f"{s.site_id[:6]}-{name}"
    out.unlink(missing_ok=True)
    return Exchange(s).snapshot(out)


def test_lww_per_column_and_report(pair: tuple[Store, Store], tmp_path: Path) -> None:
    a, b = pair
    DeviceBook(a).upsert("s1", hostname="pi1", label="rack A")
    PeerMerge(b).merge(snap(a, tmp_path))
    DeviceBook(b).upsert("s1", label="rack B")  # later: wins
    DeviceBook(a).upsert("s1", notes="fan noisy")  # other column: both survive
    DeviceBook(b).upsert("s2", hostname="pi2")
    rep = PeerMerge(a).merge(snap(b, tmp_path))
    d = DeviceBook(a).get("s1")
    assert d is not None and (d.label, d.notes, d.hostname) == ("rack B", "fan noisy", "pi1")
    assert rep.tables["devices"].added == 1 and rep.tables["devices"].updated == 1
    assert [(c.column, c.ours, c.theirs, c.winner) for c in rep.overwrites] == [
        ("label", "rack A", "rack B", "theirs")
    ]
    PeerMerge(b).merge(snap(a, tmp_path))
    assert DeviceBook(a).all() == DeviceBook(b).all()
    again = PeerMerge(a).merge(snap(b, tmp_path, "again.db"))
    assert again.changed == 0  # idempotent


def test_tombstone_and_restore_by_newer_write(pair: tuple[Store, Store], tmp_path: Path) -> None:
    a, b = pair
    DeviceBook(a).upsert("s1", hostname="pi1")
    PeerMerge(b).merge(snap(a, tmp_path))
    DeviceBook(a).forget("s1")
    PeerMerge(b).merge(snap(a, tmp_path))
    assert DeviceBook(b).get("s1") is None
    DeviceBook(b).upsert("s1", label="back")  # a newer write restores it
    PeerMerge(a).merge(snap(b, tmp_path))
    d = DeviceBook(a).get("s1")
    assert d is not None and d.label == "back" and d.hostname == "pi1"


def test_appends_union_and_events(pair: tuple[Store, Store], tmp_path: Path) -> None:
    a, b = pair
    EventLog(a).record("s1", "note", "from a")
    EventLog(b).record("s1", "note", "from b")
    SampleLog(a).record("s1", {"time": 10.0, "temperature_c": 50.0})
    SampleLog(b).record("s1", {"time": 11.0, "temperature_c": 60.0})
    rep = PeerMerge(a).merge(snap(b, tmp_path))
    assert rep.tables["events"].added == 1 and rep.tables["samples"].added == 1
    assert {e.message for e in EventLog(a).recent()} == {"from a", "from b"}
    assert [s.temperature_c for s in SampleLog(a).recent("s1", 0)] == [50.0, 60.0]
    assert PeerMerge(a).merge(snap(b, tmp_path, "2.db")).changed == 0


def test_placement_conflicts_reported_not_dropped(
    pair: tuple[Store, Store], tmp_path: Path
) -> None:
    a, b = pair
    a.set_row("racks", "r1", name="R1", height_u=42, power_budget_w=500.0)
    PeerMerge(b).merge(snap(a, tmp_path))
    a.set_row("placements", "pa", serial="s1", rack_id="r1", unit=5, slot=0)
    b.set_row("placements", "pb", serial="s2", rack_id="r1", unit=5, slot=0)
    b.set_row("placements", "pc", serial="s1", rack_id="r1", unit=9, slot=0)
    rep = PeerMerge(a).merge(snap(b, tmp_path))
    kinds = sorted((c.kind, c.subject) for c in rep.conflicts)
    assert kinds == [("device-in-two-slots", "s1"), ("slot-shared", "r1/5/0")]
    assert len(a.rows("placements")) == 3  # nothing silently dropped
    a.delete_row("placements", "pc")
    a.delete_row("placements", "pb")
    assert PeerMerge(a).conflicts() == []


def test_append_corruption_reported(pair: tuple[Store, Store], tmp_path: Path) -> None:
    a, b = pair
    EventLog(a).record(None, "x", "original")
    p = snap(a, tmp_path)
    PeerMerge(b).merge(p)
    c = sqlite3.connect(tmp_path / "b" / "fleet.db")
    c.execute("UPDATE events SET message = 'tampered'")
    c.commit()
    c.close()
    rep = PeerMerge(b).merge(snap(a, tmp_path, "again.db"))
    assert [k.table for k in rep.corruption] == ["events"]


def test_dry_run_changes_nothing(pair: tuple[Store, Store], tmp_path: Path) -> None:
    a, b = pair
    DeviceBook(b).upsert("s9", hostname="pi9")
    before = DeviceBook(a).all()
    rep = PeerMerge(a).merge(snap(b, tmp_path), dry_run=True)
    assert rep.dry_run and rep.tables["devices"].added == 1
    assert DeviceBook(a).all() == before
    assert PeerMerge(a).merge(snap(b, tmp_path, "2.db")).tables["devices"].added == 1


# ---- bad peers: a one-line reason and the local file byte-identical ----------------------


def _bad_peer_cases(tmp: Path, a: Store, b: Store) -> dict[str, tuple[Path, str]]:
    good = snap(b, tmp, "good.db")
    cases: dict[str, tuple[Path, str]] = {}
    t = tmp / "bad"
    t.mkdir()
    data = good.read_bytes()
    (t / "trunc.db").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (t / "trunc.db", "truncated")
    corrupt = bytearray(data)
    for i in range(len(data) - 4096, len(data) - 2048):  # smash a page in the middle
        corrupt[i] = 0xA5
    (t / "corrupt.db").write_bytes(bytes(corrupt))
    cases["corrupt"] = (t / "corrupt.db", "damaged|malformed|not an SQLite|cannot open")
    (t / "text.db").write_text("id,name\n1,pi\n" * 100)
    cases["not sqlite"] = (t / "text.db", "not an SQLite database")
    other = t / "foreign.db"
    c = sqlite3.connect(other)
    c.execute("CREATE TABLE meta (key, value)")
    c.commit()
    c.close()
    cases["foreign"] = (other, "not a fleet-tui database")
    newer = t / "newer.db"
    shutil.copy(good, newer)
    c = sqlite3.connect(newer)
    c.execute("PRAGMA user_version = 99")
    c.commit()
    c.close()
    cases["newer schema"] = (newer, "newer")
    cases["own site id"] = (snap(a, tmp, "own.db"), "own site id")
    live = t / "live" / "fleet.db"
    live.parent.mkdir()
    src = sqlite3.connect(tmp / "b" / "fleet.db")
    src.execute("PRAGMA wal_autocheckpoint = 0")
    DeviceBook(b).upsert("w1", hostname="in-the-wal")
    shutil.copy(tmp / "b" / "fleet.db", live)
    shutil.copy(tmp / "b" / "fleet.db-wal", live.with_name("fleet.db-wal"))
    src.close()
    cases["live copy with -wal"] = (live, "-wal")
    ahead = t / "ahead.db"
    shutil.copy(good, ahead)
    c = sqlite3.connect(ahead)
    c.execute(
        "UPDATE meta SET value = ? WHERE key = 'hlc'",
        (Stamp(wall_ms() + 10 * MAX_DRIFT_MS, 0, 7).encode(),),
    )
    c.commit()
    c.close()
    cases["clock far ahead"] = (ahead, "ahead")
    cases["missing"] = (t / "nope.db", "no such file")
    for what, data in {"not a flat array": "[[1, 2]]", "text in it": '[1, "x"]'}.items():
        bad = t / f"block-{len(cases)}.db"
        shutil.copy(good, bad)
        c = sqlite3.connect(bad)
        c.execute(
            "UPDATE sample_blocks SET data = ? WHERE rowid = (SELECT max(rowid) FROM sample_blocks)",
            (data,),
        )
        c.commit()
        c.close()
        cases[f"sample block: {what}"] = (bad, "malformed sample block")
    return cases


def test_bad_peers_change_nothing(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Store.open(tmp_path / "a" / "fleet.db")
    b = Store.open(tmp_path / "b" / "fleet.db")
    DeviceBook(a).upsert("s1", hostname="pi1")
    DeviceBook(b).upsert("s2", hostname="pi2")
    for i in range(300):
        EventLog(b).record("s2", "k", f"event {i} " + "x" * 50)
    SampleLog(b).record_many(
        [("s2", {"time": 1e9 + 60 * i, "temperature_c": 50.0}) for i in range(99)]
    )
    cases = _bad_peer_cases(tmp_path, a, b)
    local = tmp_path / "a" / "fleet.db"
    a.close()
    before = local.read_bytes()
    for name, (peer, reason) in cases.items():
        with Store.open(local) as s:
            with pytest.raises(StoreError, match=reason) as err:
                PeerMerge(s).merge(peer)
            assert "\n" not in str(err.value), name
        assert local.read_bytes() == before, name
        assert not local.with_name("fleet.db-wal").exists() or True
    b.close()


def test_bulk_merge_into_an_empty_store_rebuilds_the_event_indexes(
    pair: tuple[Store, Store], tmp_path: Path
) -> None:
    """A first merge of a big history drops the secondary indexes of an append-only table and
    builds them once after the insert; queries that need them still work, and a dry run
    leaves them as they were."""
    a, b = pair
    with b.write() as c:
        for i in range(25_000):
            row = {"serial": f"p{i % 50}", "time": 1e9 + i, "kind": "note", "message": str(i)}
            b.append(c, "events", row)
    peer = snap(b, tmp_path)

    def indexes() -> list[str]:
        return sorted(r[1] for r in a._conn.execute("PRAGMA index_list(events)"))

    before = indexes()
    assert PeerMerge(a).merge(peer, dry_run=True).tables["events"].added == 25_000
    assert indexes() == before
    assert PeerMerge(a).merge(peer).tables["events"].added == 25_000
    assert indexes() == before
    plan = " ".join(
        str(r)
        for r in a._conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM events WHERE serial = 'p7' AND time > 0"
        )
    )
    assert "ix_events_serial_time" in plan
    assert len(EventLog(a).recent("p7", limit=1000)) == 500


def test_samples_travel_in_blocks_of_an_hour(pair: tuple[Store, Store], tmp_path: Path) -> None:
    """25,000 samples of 50 Pis over 500 minutes merge as a few hundred rows, and every
    sample reads back with its own values."""
    a, b = pair
    SampleLog(b).record_many(
        [
            (f"p{i % 50}", {"time": 1e9 + 60 * (i // 50), "temperature_c": 40.0 + i % 7})
            for i in range(25_000)
        ]
    )
    peer = snap(b, tmp_path)
    assert PeerMerge(a).merge(peer).tables["samples"].added == 25_000
    blocks = a._conn.execute("SELECT count(*) FROM sample_blocks").fetchone()[0]
    assert blocks <= 50 * 10  # 500 minutes touch at most 10 hours per Pi
    got = SampleLog(a).recent("p7", 0)
    assert len(got) == 500
    assert [s.temperature_c for s in got[:3]] == [40.0 + 7 % 7, 40.0 + 57 % 7, 40.0 + 107 % 7]
    assert (
        PeerMerge(a).merge(peer).tables["samples"].added == 0
    )  # the same stick again: nothing new
