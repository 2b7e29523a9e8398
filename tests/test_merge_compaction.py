"""Compaction (downsampling) and merge stay correct together."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
        # added at once: the hour's block, deleted by the fold, is never started again
        assert a._conn.execute("SELECT count(*) FROM sample_blocks").fetchone()[0] == 0
        day, hour = SampleLog(a).recent("p1", 0)
        assert (day.count, hour.count) == (121, 61)
        mean = sum(40.0 + i % 10 for i in range(60)) / 60
        assert hour.temperature_c == (mean * 60 + 100.0) / 61


def _counts(s: Store) -> tuple[int, int, int]:
    """Samples held raw, in hours and in days."""
    return tuple(  # type: ignore[return-value]
        s._conn.execute(f"SELECT coalesce(sum(n), 0) FROM {t}").fetchone()[0]
        for t in ("sample_blocks", "sample_rollups", "sample_rollups_daily")
    )


@pytest.mark.parametrize("days", [False, True], ids=["hour", "day"])
def test_a_late_sample_meets_a_peer_still_holding_the_folded_blocks(
    tmp_path: Path, days: bool
) -> None:
    """The property test's first find: b keeps a copy of a's blocks; a folds them, then
    records a late sample for the folded hour. Written into a block under the deleted key,
    b's longer copy of that key won the merge and the late sample was gone (and the merge
    reported the two copies as tampered)."""
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    start = NOW - 40 * DAY - NOW % DAY if days else NOW - 10 * DAY
    _fill(a, start, 120)  # two hours
    PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a0.db"))
    hours_older = 5 * DAY if days else None
    assert a.compact(older_than_s=5 * DAY, now=NOW, hours_older_than_s=hours_older) == 120
    SampleLog(a).record_many([("p1", {"time": start + 30, "temperature_c": 9.0})])
    assert _counts(a) == ((0, 0, 121) if days else (0, 121, 0))
    reports = [
        PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "b1.db")),
        PeerMerge(b).merge(Exchange(a).snapshot(tmp_path / "a1.db")),
    ]
    assert all(r.corruption == [] for r in reports)
    assert _counts(a) == _counts(b) == ((0, 0, 121) if days else (0, 121, 0))
    assert dump(a) == dump(b)
    # the late sample's number stays taken, also after a merge re-reads our numbers
    SampleLog(a).record("p1", {"time": NOW, "temperature_c": 1.0})
    assert a.last_seq("samples") == 122
    a.close()
    b.close()
    with Store.open(tmp_path / "a.db") as a:
        SampleLog(a).record("p1", {"time": NOW + 60, "temperature_c": 1.0})
        assert a.last_seq("samples") == 123


@pytest.mark.parametrize("days", [False, True], ids=["hour", "day"])
def test_a_change_set_with_only_the_grown_part_of_a_folded_hour_adds_what_is_new(
    tmp_path: Path, days: bool
) -> None:
    """A change set carries the blocks that changed, not the whole hour: here only the
    hour's second part, which grew after b folded the hour (or its day). Its records that
    the row already holds are skipped, the others added; keeping the bigger of the two
    would have lost them."""
    a, b = Store.open(tmp_path / "a.db"), Store.open(tmp_path / "b.db")
    start = NOW - 40 * DAY - NOW % DAY if days else NOW - 10 * DAY
    times = [start + 30 * i for i in range(95)]  # one hour: two parts, 90 + 5
    SampleLog(a).record_many([("p1", {"time": t, "temperature_c": 40.0}) for t in times[:92]])
    cursor, _ = Exchange(a).write_changes(tmp_path / "c1.db")
    PeerMerge(b).merge(tmp_path / "c1.db")
    b.compact(older_than_s=5 * DAY, now=NOW, hours_older_than_s=5 * DAY if days else None)
    assert _counts(b) == ((0, 0, 92) if days else (0, 92, 0))
    SampleLog(a).record_many([("p1", {"time": t, "temperature_c": 41.0}) for t in times[92:]])
    Exchange(a).write_changes(tmp_path / "c2.db", since=cursor)
    assert (
        PeerMerge(b).merge(tmp_path / "c2.db").tables["samples"].added == 5
    )  # the whole second part
    assert _counts(b) == ((0, 0, 95) if days else (0, 95, 0))
    PeerMerge(a).merge(Exchange(b).snapshot(tmp_path / "b1.db"))
    assert _counts(a) == _counts(b) and dump(a) == dump(b)
    a.close()
    b.close()


# ---- property: compaction anywhere, merges in any order, nothing counted twice or lost -------

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

HOUR = 3600.0
step = st.one_of(
    st.tuples(st.just("append"), st.integers(0, 2), st.integers(1, 4)),
    st.tuples(st.just("compact"), st.integers(0, 2), st.sampled_from([1, 2])),
    st.tuples(st.just("days"), st.integers(0, 2), st.sampled_from([1, 2])),
    # samples for the first hours again, long compacted by now (a backfill, a clock set back)
    st.tuples(st.just("late"), st.integers(0, 2), st.integers(1, 3)),
    st.tuples(st.just("merge"), st.integers(0, 2), st.integers(0, 2)),
    # what the sync mailbox sends: the rows changed since the last change set between the two
    st.tuples(st.just("delta"), st.integers(0, 2), st.integers(0, 2)),
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


EXAMPLES = int(os.environ.get("FLEET_PROPERTY_EXAMPLES", "10"))


# Bounded by what the run may take: EXAMPLES cases (each well under a second), then, after a
# failure, Hypothesis's own shrinking limit (300 s). Under pytest's default 120 s a long run
# was interrupted inside whichever case was running, and Hypothesis, replaying that case
# without the alarm, reported it as a second, flaky failure.
@pytest.mark.timeout(60 + 300 + 2 * EXAMPLES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(steps=st.lists(step, min_size=8, max_size=40))
# Found by this test: a late sample for an hour its origin had folded was written into a block
# under the deleted block's key; a peer's older copy of that block won the merge.
@example(
    steps=[("append", 0, 1)] * 12
    + [("merge", 1, 0), ("compact", 0, 1), ("late", 0, 1), ("merge", 0, 1)]
)
def test_compaction_and_merges_converge_and_count_every_sample(
    tmp_path_factory: object, steps: list[tuple[str, int, int]]
) -> None:
    root = tmp_path_factory.mktemp("cm")  # type: ignore[attr-defined]
    stores = [Store.open(root / f"r{i}.db", maintenance=False) for i in range(3)]
    now, appended, snaps = 10 * DAY, 0, 0
    cursors: dict[tuple[int, int], int] = {}  # (to, from) -> the sender's last cursor
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
            elif kind == "delta" and i != arg:
                snaps += 1
                changes = root / f"c{snaps}.db"
                since = cursors.get((i, arg), 0)
                cursors[(i, arg)], _ = Exchange(stores[arg]).write_changes(changes, since=since)
                PeerMerge(stores[i]).merge(changes)
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
