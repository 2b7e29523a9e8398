"""Health samples stay few: the poller's 2-second readings are thinned per device, and samples
older than two days are folded into hourly buckets in the background, losing no count."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from fleet_tui.core.store.database import Store
from fleet_tui.core.store.samples import SampleLog

DAY = 86400.0


def reading(t: float, temp: float = 50.0, raw: str = "0x0") -> dict[str, object]:
    return {"time": t, "temperature_c": temp, "cpu_percent": 3.0, "throttled": {"raw": raw}}


def test_poller_readings_every_two_seconds_keep_one_a_minute(store: Store) -> None:
    t0 = 1_700_000_000.0
    log = SampleLog(store)
    kept = [log.record("pi1", reading(t0 + 2 * i)) for i in range(300)]  # 10 minutes
    assert sum(kept) == 10
    samples = SampleLog(store).recent("pi1", 0)
    assert [s.time - t0 for s in samples] == [60.0 * i for i in range(10)]
    # a second device has a gate of its own
    assert log.record("pi2", reading(t0 + 1))


def test_throttle_changes_and_temperature_jumps_are_always_kept(store: Store) -> None:
    t0 = 1_700_000_000.0
    log = SampleLog(store)
    assert log.record("pi1", reading(t0))
    assert not log.record("pi1", reading(t0 + 2, temp=51.5))  # within 2 °C
    assert log.record("pi1", reading(t0 + 4, temp=55.0))  # jumped
    assert log.record("pi1", reading(t0 + 6, temp=55.0, raw="0x50005"))  # throttled
    assert not log.record("pi1", reading(t0 + 8, temp=55.0, raw="0x50005"))
    assert log.record("pi1", reading(t0 + 10, temp=55.0, raw="0x50000"))  # cleared
    assert log.record("pi1", reading(t0 - 30))  # the Pi's clock went back: kept
    flags = [s.throttled for s in SampleLog(store).recent("pi1", 0)]
    assert flags == [0, 0, 0, 0x50005, 0x50000]


def test_garbage_reading_is_kept_as_far_as_it_makes_sense(store: Store) -> None:
    assert SampleLog(store).record("pi1", {"time": 5.0, "throttled": {"raw": "junk"}, "load": "x"})
    (s,) = SampleLog(store).recent("pi1", 0)
    assert (s.throttled, s.load1, s.temperature_c) == (None, None, None)


def _days_of_samples(store: Store, serials: list[str], start: float, days: float) -> int:
    items = [
        (serial, reading(start + 60 * k, temp=40.0 + k % 20))
        for k in range(int(days * 1440))
        for serial in serials
    ]
    SampleLog(store).record_many(items)
    return len(items)


def test_old_samples_compact_in_the_background_and_counts_survive(tmp_path: Path) -> None:
    now = time.time()
    with Store.open(tmp_path / "fleet.db") as store:
        total = _days_of_samples(store, ["pi1", "pi2"], now - 5 * DAY, 5)
        SampleLog(store).record_many([])  # nothing: no poke needed
        assert store.maintenance_idle(30.0)  # the appends poked the maintenance thread
        raw_left = store._conn.execute("SELECT count(*) FROM samples").fetchone()[0]
        assert raw_left < total / 2  # three of five days folded
        got = SampleLog(store).recent("pi1", 0)
        assert sum(s.count for s in got) == total // 2  # every sample still counted
        buckets = [s for s in got if s.count > 1]
        assert buckets and all(s.count == 60 for s in buckets[1:-1])
        assert all(s.time < now - 2 * DAY for s in buckets)
        recent = [s for s in got if s.time > now - 2 * DAY + 3600]
        assert recent and all(s.count == 1 for s in recent)  # the raw tier stays raw
        assert store.compact_due() == 0  # nothing more is due


def test_a_file_of_old_samples_is_not_folded_by_opening_it(tmp_path: Path) -> None:
    """The horizon runs from the newest sample: fixtures and long-idle files stay as they are."""
    with Store.open(tmp_path / "fleet.db") as store:
        _days_of_samples(store, ["pi1"], 1_500_000_000.0, 1.5)
        assert store.maintenance_idle(30.0)
        assert store.compact_due() == 0
        assert all(s.count == 1 for s in SampleLog(store).recent("pi1", 0))


def test_poller_writes_during_compaction_are_not_lost(tmp_path: Path) -> None:
    now = time.time()
    with Store.open(tmp_path / "fleet.db", maintenance=False) as store:
        total = _days_of_samples(store, [f"pi{i}" for i in range(20)], now - 4 * DAY, 4)
        written = []

        log = SampleLog(store)

        def poller() -> None:
            for i in range(200):
                if log.record(f"live{i % 20}", reading(now + 60 * i)):
                    written.append(i)

        thread = threading.Thread(target=poller)
        thread.start()
        folded = 0
        for _ in range(1000):  # bounded: 2-hour slices of 2 days
            step = store.compact_due()
            if not step:
                break
            folded += step
        thread.join(30)
        assert folded > 0 and len(written) == 200
        rows = store._conn.execute(
            "SELECT (SELECT count(*) FROM samples) + (SELECT sum(n) FROM sample_rollups)"
        ).fetchone()[0]
        assert rows == total + 200
