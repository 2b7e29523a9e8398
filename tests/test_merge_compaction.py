"""Compaction (downsampling) and merge stay correct together."""

from __future__ import annotations

from pathlib import Path

from core.store import Store

DAY = 86400.0
NOW = 100 * DAY


def _fill(s: Store, start: float, n: int) -> None:
    s.record_health_many(
        [
            (
                "p1",
                {
                    "time": start + 60 * i,
                    "temperature_c": 40.0 + i % 10,
                    "throttled": {"raw": 1 << (i % 3)},
                },
            )
            for i in range(n)
        ]
    )


def dump(s: Store) -> tuple[object, ...]:
    c = s._conn
    return (
        c.execute("SELECT origin, seq, time FROM samples ORDER BY 1, 2").fetchall(),
        c.execute(
            "SELECT serial, bucket, origin, n, digest, temperature_c, throttled "
            "FROM sample_rollups ORDER BY 1, 2, 3"
        ).fetchall(),
    )


def test_compaction_then_merge_converges(tmp_path: Path) -> None:
    a = Store.open(tmp_path / "a.db")
    b = Store.open(tmp_path / "b.db")
    _fill(a, NOW - 40 * DAY, 180)  # 3 old hours from a
    b.merge(a.snapshot(tmp_path / "a0.db"))
    _fill(a, NOW - 1 * DAY, 30)  # recent: stays raw
    folded = a.compact(older_than_s=30 * DAY, now=NOW)
    assert folded == 180
    old = [s for s in a.recent_samples("p1", 0) if s.count > 1]
    assert sum(s.count for s in old) == 180 and len(old) == 3
    assert old[0].throttled == 0b111  # bits ORed, not averaged
    # b never compacted, still has the raw rows: both directions converge
    b.merge(a.snapshot(tmp_path / "a1.db"))
    a.merge(b.snapshot(tmp_path / "b1.db"))
    assert dump(a) == dump(b)
    assert sum(s.count for s in b.recent_samples("p1", 0)) == 210
    # compaction never reuses our sequence numbers
    a.close()
    a = Store.open(tmp_path / "a.db")
    a.record_health("p1", {"time": NOW, "temperature_c": 1.0})
    assert a._seq["samples"] == 211
    a.close()
    b.close()
