"""Compaction (downsampling) and merge stay correct together."""

from __future__ import annotations

import os
from pathlib import Path

from fleet_tui.core.store.database import Store
from fleet_tui.core.store.samples import SampleLog  # noqa: E402
from fleet_tui.core.sync.exchange import Exchange  # noqa: E402
from fleet_tui.core.sync.peer_merge import PeerMerge  # noqa: E402

DAY = 86400.0
NOW = 100 * DAY


def _fill(s: Store, start: float, n: int) -> None:
    SampleLog(s).record_many(
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
        c.execute(
            "SELECT serial, bucket, origin, part, n, data FROM sample_blocks ORDER BY 1, 2, 3, 4"
        ).fetchall(),
        c.execute("SELECT origin, seq, time FROM samples ORDER BY 1, 2").fetchall(),
        *(
            c.execute(
                "SELECT serial, bucket, origin, n, digest, temperature_c, throttled "
                f"FROM {table} ORDER BY 1, 2, 3"
            ).fetchall()
            for table in ("sample_rollups", "sample_rollups_daily")
        ),
    )


def test_compaction_then_merge_converges(tmp_path: Path) -> None:
    a = Store.open(tmp_path / "a.db")
    b = Store.open(tmp_path / "b.db")
    _fill(a, NOW - 10 * DAY, 180)  # 3 old hours from a
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a0.db"))
    _fill(a, NOW - 1 * DAY, 30)  # recent: stays raw
    folded = a.compact(older_than_s=5 * DAY, now=NOW)
    assert folded == 180
    old = [s for s in SampleLog(a).recent("p1", 0) if s.count > 1]
    assert sum(s.count for s in old) == 180 and len(old) == 3
    assert old[0].throttled == 0b111  # bits ORed, not averaged
    # b never compacted, still has the raw rows: both directions converge
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a1.db"))
    PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "b1.db"))
    assert dump(a) == dump(b)
    assert sum(s.count for s in SampleLog(b).recent("p1", 0)) == 210
    # compaction never reuses our sequence numbers
    a.close()
    a = Store.open(tmp_path / "a.db")
    SampleLog(a).record("p1", {"time": NOW, "temperature_c": 1.0})
    assert a.last_seq("samples") == 211
    a.close()
    b.close()


def test_hours_older_than_thirty_days_fold_into_days_and_merge_converges(
    tmp_path: Path,
) -> None:
    a = Store.open(tmp_path / "a.db")
    b = Store.open(tmp_path / "b.db")
    day0 = NOW - 40 * DAY - NOW % DAY  # the start of a UTC day, 40 days back
    _fill(a, day0, 180)  # 3 hours of day 1
    _fill(a, day0 + DAY + 3600, 120)  # 2 hours of day 2
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a0.db"))
    b.compact(older_than_s=5 * DAY, now=NOW, hours_older_than_s=60 * DAY)  # b: hours only
    assert a.compact(older_than_s=5 * DAY, now=NOW) == 300
    days = [s for s in SampleLog(a).recent("p1", 0) if s.count > 1]
    assert [s.count for s in days] == [180, 120]  # one row per day
    assert days[0].throttled == 0b111
    assert days[0].temperature_c == sum(40.0 + i % 10 for i in range(180)) / 180
    hours = [s for s in SampleLog(b).recent("p1", 0) if s.count > 1]
    assert [s.count for s in hours] == [60, 60, 60, 60, 60]
    # b holds the hours, a the days: both directions converge on the days
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a1.db"))
    PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "b1.db"))
    assert dump(a) == dump(b)
    assert [s.count for s in SampleLog(b).recent("p1", 0)] == [180, 120]
    assert a._conn.execute("SELECT count(*) FROM sample_rollups").fetchone()[0] == 0
    a.close()
    b.close()


def test_a_late_sample_for_a_compacted_hour_or_day_is_added_not_lost(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.db") as a:
        day0 = NOW - 40 * DAY - NOW % DAY
        _fill(a, day0, 120)  # two hours, 40 days back
        _fill(a, NOW - 10 * DAY, 60)  # one hour, 10 days back
        a.compact(older_than_s=5 * DAY, now=NOW)
        assert [s.count for s in SampleLog(a).recent("p1", 0)] == [120, 60]  # a day, an hour
        SampleLog(a).record_many([("p1", {"time": day0 + 30, "temperature_c": 100.0})])
        SampleLog(a).record_many([("p1", {"time": NOW - 10 * DAY + 30, "temperature_c": 100.0})])
        a.compact(older_than_s=5 * DAY, now=NOW)
        day, hour = SampleLog(a).recent("p1", 0)
        assert (day.count, hour.count) == (121, 61)
        mean = sum(40.0 + i % 10 for i in range(60)) / 60
        assert hour.temperature_c == (mean * 60 + 100.0) / 61


# ---- property: compaction anywhere, merges in any order, nothing counted twice or lost -------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HOUR = 3600.0
step = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 2), st.integers(1, 4)),
    st.tuples(st.just("compact"), st.integers(0, 2), st.sampled_from([1, 2])),
    st.tuples(st.just("days"), st.integers(0, 2), st.sampled_from([1, 2])),
    # samples for the first hours again, long compacted by now (a backfill, a clock set back)
    st.tuples(st.just("late"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("merge"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("wait"), st.integers(0, 2), st.integers(1, 3)),
)


def counted(s: Store) -> int:
    return int(
        s._conn.execute(
            "SELECT (SELECT coalesce(sum(n), 0) FROM sample_blocks) + "
            "(SELECT coalesce(sum(n), 0) FROM sample_rollups) + "
            "(SELECT coalesce(sum(n), 0) FROM sample_rollups_daily)"
        ).fetchone()[0]
    )


@settings(
    max_examples=int(os.environ.get("FLEET_PROPERTY_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(step, min_size=8, max_size=40))
def test_compaction_and_merges_converge_and_count_every_sample(
    tmp_path_factory: object, steps: list[tuple[str, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("cm")  # type: ignore[attr-defined]
    stores = [Store.open(root / f"r{i}.db", maintenance=False) for i in range(3)]
    now, appended, snaps = 10 * DAY, 0, 0
    try:

        def snap(j: int) -> Path:
            nonlocal snaps
            snaps += 1
            return Exchange(stores[j]).snapshot(root / f"s{snaps}.db")

        for kind, i, arg in steps:
            if kind == "append":
                SampleLog(stores[i]).record_many(
                    [
                        (f"p{k % 2}", {"time": now + k, "temperature_c": 40.0 + k})
                        for k in range(arg)
                    ]
                )
                appended += arg
                now += 600
            elif kind == "late":
                SampleLog(stores[i]).record_many(
                    [
                        (f"p{k % 2}", {"time": 10 * DAY + 60 * k, "temperature_c": 9.0})
                        for k in range(arg)
                    ]
                )
                appended += arg
            elif kind == "compact":
                stores[i].compact(older_than_s=arg * HOUR, now=now)
            elif kind == "days":  # hours into days, with a horizon short enough to happen here
                stores[i].compact(
                    older_than_s=arg * HOUR, now=now, hours_older_than_s=arg * 6 * HOUR
                )
            elif kind == "merge" and i != arg:
                PeerMerge(stores[i]).merge(snap(arg))
            elif kind == "wait":
                now += arg * 5 * HOUR
        for _ in range(2):
            files = [snap(j) for j in range(3)]
            for i in range(3):
                for j in range(3):
                    if i != j:
                        PeerMerge(stores[i]).merge(files[j])
        states = [dump(s) for s in stores]
        assert states[0] == states[1] == states[2], "replicas diverged"
        assert counted(stores[0]) == appended, "a sample was lost or counted twice"
    finally:
        for s in stores:
            s.close()
