"""Health readings as sample rows, and which of them are worth keeping.

The poller reads every device every ~2 s; a year of that from 200 Pis would be 3 billion rows.
`SampleGate` keeps at most one raw sample per device per `min_interval_s` (60 s), plus every
reading that says something new: the throttle flags changed, or the temperature moved more
than `temp_delta_c` since the last kept sample. The rest are dropped before they reach SQLite.
Compaction (core/store/compaction.py) then folds kept samples older than two days into hourly rows.

The gate is in-memory state of one `SampleLog` (core/store/samples.py) and is not shared: two
SampleLogs writing one file (two processes, or the UI's and the poller's) each gate the
readings they are given, so a device polled by both may get up to one kept sample per minute
from each. That only costs a
few rows (compaction folds them like any other); it never loses or duplicates a row, since
sequence numbers come from the file (core/store/database.py).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fleet_tui.core.metrics import STORED_PERCENT_PLACES, metrics_of, number
from fleet_tui.core.store.schema import SAMPLE_METRICS

SAMPLE_COLUMNS = ("serial", "time", *(c.name for c in SAMPLE_METRICS))
_TIME, _TEMP, _THROTTLED = 1, 2, 4  # positions in sample_values()
MIN_INTERVAL_S = 60.0
TEMP_DELTA_C = 2.0
MAX_TRACKED = 100_000  # devices remembered by the gate (a bound, not a real fleet size)


@dataclass
class SampleGate:
    """Per device: keep a sample if it is the first, `min_interval_s` after the last kept
    one, earlier than it (a clock set back), or when throttling or temperature changed."""

    min_interval_s: float = MIN_INTERVAL_S
    temp_delta_c: float = TEMP_DELTA_C
    _last: dict[str, tuple[float, float | None, int | None]] = field(default_factory=dict)

    def keep(self, row: tuple[object, ...]) -> bool:
        serial = str(row[0])
        t = float(row[_TIME])  # type: ignore[arg-type]
        temp, throttled = row[_TEMP], row[_THROTTLED]
        last = self._last.get(serial)
        if last is not None:
            last_t, last_temp, last_throttled = last
            moved = (
                isinstance(temp, float)
                and last_temp is not None
                and abs(temp - last_temp) > self.temp_delta_c
            )
            if (
                0 <= t - last_t < self.min_interval_s
                and throttled == last_throttled
                and not moved
                and (temp is None) == (last_temp is None)
            ):
                return False
        if last is None and len(self._last) >= MAX_TRACKED:
            self._last.clear()
        self._last[serial] = (
            t,
            temp if isinstance(temp, float) else None,
            throttled if isinstance(throttled, int) else None,
        )
        return True


def received(sample: Mapping[str, Any], at: float) -> dict[str, Any]:
    """The agent's health reading stamped with the time it reached us, on this machine's clock.

    The Pi's own clock is not trusted for history: a Pi has no real-time clock, and on a site
    LAN without NTP it boots at its last shutdown's time (fake-hwclock), hours or days behind;
    its readings would land in hours long since compacted. Its own time is passed on as
    `pi_time` (not stored)."""
    return {**sample, "pi_time": sample.get("time"), "time": at}


def sample_values(serial: str, s: Mapping[str, Any]) -> tuple[object, ...]:
    """The numeric columns we keep from an agent health reading (missing ones are NULL)."""
    t = number(s.get("time"))
    metrics = metrics_of(s, STORED_PERCENT_PLACES)
    return (serial, t if t is not None else time.time(), *metrics.values())
