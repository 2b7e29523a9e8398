"""Samples packed in blocks (core/store/sample_blocks.py): growth, parts, odd values, tampering,
and files and peers of schema v2 (one row per sample)."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import pytest

from fleet_tui.core.store import sample_blocks
from fleet_tui.core.store.database import Store, StoreError
from fleet_tui.core.store.sample_gate import received
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.store.schema import LEGACY_SAMPLES
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge

HOUR = 3600.0
T0 = 1_700_000_000.0 - 1_700_000_000.0 % HOUR  # the start of an hour


def _readings(n: int, start: float = T0, step: float = 30.0) -> list[tuple[str, dict[str, object]]]:
    return [("pi1", {"time": start + step * i, "temperature_c": 40.0 + i}) for i in range(n)]


def test_a_busy_hour_spills_into_parts_and_reads_back_in_order(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as s:
        SampleLog(s).record_many(_readings(110))  # 30 s apart: 110 samples, 55 minutes
        parts = s._conn.execute("SELECT part, n FROM sample_blocks ORDER BY part").fetchall()
        assert parts == [(0, sample_blocks.MAX_RECORDS), (1, 110 - sample_blocks.MAX_RECORDS)]
        got = SampleLog(s).recent("pi1", 0)
        assert [x.temperature_c for x in got] == [40.0 + i for i in range(110)]
        assert SampleLog(s).latest()["pi1"].temperature_c == 40.0 + 109


def test_values_json_cannot_hold_are_stored_as_missing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as s:
        SampleLog(s).record_many(
            [("pi1", {"time": T0, "temperature_c": math.nan, "cpu_percent": math.inf})]
        )
        (got,) = SampleLog(s).recent("pi1", 0)
        assert got.temperature_c is None and got.cpu_percent is None
        assert sample_blocks.malformed(s._conn, "main.sample_blocks") is None


def test_a_block_changed_behind_our_back_is_reported_and_replicas_still_agree(
    tmp_path: Path,
) -> None:
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    SampleLog(a).record_many(_readings(5))
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a1.db"))
    SampleLog(a).record_many(_readings(3, T0 + 600))  # a's block grows: a prefix of the old one
    rep = PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a2.db"))
    assert rep.tables["samples"].added == 3 and rep.corruption == []
    raw = sqlite3.connect(tmp_path / "b.db")  # someone edits b's copy of a's block
    raw.execute("UPDATE sample_blocks SET data = replace(data, '40.0', '99.0')")
    raw.commit()
    raw.close()
    rep = PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a3.db"))
    assert [c.table for c in rep.corruption] == ["samples"]
    PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "b1.db"))
    dump = "SELECT serial, bucket, part, n, data FROM sample_blocks"
    assert a._conn.execute(dump).fetchall() == b._conn.execute(dump).fetchall()
    a.close()
    b.close()


def _make_v2(path: Path, rows: int, start: float = T0) -> tuple[str, int]:
    """A database as schema v2 left it: one row per sample in `samples`. Returns its site id
    and origin."""
    with Store.open(path) as s:
        site, origin = s.site_id, s.origin
    c = sqlite3.connect(path)
    c.execute("DROP VIEW samples")
    c.execute("DROP TABLE sample_blocks")  # v2 had neither blocks nor a daily tier
    c.execute("DROP TABLE sample_rollups_daily")
    c.execute(LEGACY_SAMPLES.ddl())
    c.executemany(
        "INSERT INTO samples (origin, seq, serial, time, temperature_c, _ver) "
        "VALUES (?, ?, ?, ?, ?, 1)",
        [(origin, i + 1, f"pi{i % 2}", start + 60 * i, 30.0 + i % 5) for i in range(rows)],
    )
    c.execute("PRAGMA user_version = 2")
    c.commit()
    c.close()
    return site, origin


def test_a_v2_file_is_packed_into_blocks_when_opened(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    site, origin = _make_v2(db, 200)
    with Store.open(db) as s:
        assert s.site_id == site
        assert s._conn.execute("PRAGMA user_version").fetchone()[0] == 3
        assert len(SampleLog(s).recent("pi0", 0)) == 100
        got = s._conn.execute("SELECT origin, seq FROM samples ORDER BY seq").fetchall()
        assert got == [(origin, i + 1) for i in range(200)]
        SampleLog(s).record("pi0", {"time": T0 + 60 * 200, "temperature_c": 1.0})
        assert s.last_seq("samples") == 201  # numbering goes on after the old rows


def test_a_v2_file_opened_read_only_says_how_to_upgrade_and_is_left_alone(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    _make_v2(db, 10)
    before = db.read_bytes()
    with pytest.raises(StoreError, match="older fleet-tui.*without --readonly"):
        Store.open(db, readonly=True)
    assert db.read_bytes() == before


def test_a_v2_peer_merges_its_samples(tmp_path: Path) -> None:
    peer = tmp_path / "old" / "fleet.db"
    peer.parent.mkdir()
    _, origin = _make_v2(peer, 150)
    with Store.open(tmp_path / "new.db") as s:
        rep = PeerMerge(s).merge(peer)
        assert rep.tables["samples"].added == 150
        assert len(SampleLog(s).recent("pi1", 0)) == 75
        assert PeerMerge(s).merge(peer).tables["samples"].added == 0  # idempotent
        seqs = s._conn.execute("SELECT seq FROM samples WHERE origin = ?", (origin,)).fetchall()
        assert sorted(x for (x,) in seqs) == list(range(1, 151))


def test_readings_are_stamped_with_our_clock_not_the_pis() -> None:
    """A Pi without a real-time clock may think it is last month; history uses our time."""
    stamped = received({"time": 1.0, "temperature_c": 50.0}, 1_800_000_000.0)
    assert stamped["time"] == 1_800_000_000.0 and stamped["pi_time"] == 1.0
