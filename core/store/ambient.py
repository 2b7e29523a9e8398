"""Ambient readings (hardware/ambient.py) stored like samples, and read back per device or rack.

The agent reports every ambient sensor with each health reading (~every 2 s); the `ambient`
table (append-only, merged as a union) keeps at most one reading per sensor per minute, plus
every reading that moved by more than `DELTA` since the last kept one. A sensor's name is what
the Pi reports: untrusted text, shown literally.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from fleet_tui.core.models import AmbientReading
from fleet_tui.core.store.database import Store

MIN_INTERVAL_S = 60.0
DELTA = {"temp": 0.5, "humidity": 2.0}
KINDS = ("temp", "humidity")
MAX_NAME = 48
FRESH_S = 900.0  # a reading older than this is not "now" on a dashboard
MAX_TRACKED = 100_000


@dataclass(frozen=True)
class Ambient:
    serial: str
    time: float
    sensor: str
    kind: str  # temp | humidity
    value: float

    @property
    def text(self) -> str:
        """'inlet 24 °C' / 'cabinet humidity 41 %RH' (the name literally: render as Text)."""
        unit = "°C" if self.kind == "temp" else "%RH"
        return f"{self.sensor} {self.value:.0f} {unit}"

    def to_json(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "time": self.time,
            "sensor": self.sensor,
            "kind": self.kind,
            "value": self.value,
        }


class AmbientLog:
    """The `ambient` table, and the in-memory gate of one writer (keep one per writer's life,
    like core/store/samples.py's SampleLog)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._last: dict[tuple[str, str, str], tuple[float, float]] = {}

    def record(self, serial: str, readings: Sequence[AmbientReading] | None, now: float) -> int:
        """Keep the readings the gate lets through; returns how many were written."""
        rows = []
        for r in readings or ():
            if r.kind not in KINDS or not isinstance(r.value, int | float) or not r.name:
                continue
            name = r.name[:MAX_NAME]
            key = (serial, name, r.kind)
            last = self._last.get(key)
            if last is not None:
                t, v = last
                if 0 <= now - t < MIN_INTERVAL_S and abs(r.value - v) <= DELTA[r.kind]:
                    continue
            if last is None and len(self._last) >= MAX_TRACKED:
                self._last.clear()
            self._last[key] = (now, float(r.value))
            rows.append(
                {"serial": serial, "time": now, "sensor": name, "kind": r.kind, "value": r.value}
            )
        if rows:
            with self.store.write() as c:
                for row in rows:
                    self.store.append(c, "ambient", row)
        return len(rows)

    def latest(
        self, serials: Iterable[str] | None = None, now: float | None = None
    ) -> list[Ambient]:
        """The newest reading of every sensor seen in the last FRESH_S seconds."""
        since = (now if now is not None else time.time()) - FRESH_S
        rows = self.store.query(
            "SELECT serial, sensor, kind, max(time) AS time, value FROM ambient WHERE time > ? "
            "GROUP BY serial, sensor, kind",
            (since,),
        )
        wanted = set(serials) if serials is not None else None
        out = [
            Ambient(
                str(r["serial"]),
                float(r["time"]),
                str(r["sensor"]),
                str(r["kind"]),
                float(r["value"]),
            )
            for r in rows
            if (wanted is None or r["serial"] in wanted) and r["value"] is not None
        ]
        out.sort(key=lambda a: (a.serial, a.kind, a.sensor))
        return out

    def history(self, serial: str, sensor: str, since: float) -> list[Ambient]:
        rows = self.store.query(
            "SELECT serial, time, sensor, kind, value FROM ambient WHERE serial = ? AND "
            "sensor = ? AND time >= ? ORDER BY time",
            (serial, sensor, since),
        )
        return [Ambient(**r) for r in rows]


def by_rack(readings: Iterable[Ambient], rack_of: Mapping[str, str]) -> dict[str, list[Ambient]]:
    """Readings grouped by the rack their Pi is placed in (`rack_of`: serial -> rack id);
    readings of unplaced Pis are left out."""
    out: dict[str, list[Ambient]] = {}
    for a in readings:
        rack = rack_of.get(a.serial)
        if rack is not None:
            out.setdefault(rack, []).append(a)
    for items in out.values():
        items.sort(key=lambda a: (a.kind != "temp", a.value))
    return out


def summary(readings: Iterable[Ambient]) -> str:
    """'inlet 24 °C, top of rack 31 °C' (temperatures first, coolest first)."""
    items = sorted(readings, key=lambda a: (a.kind != "temp", a.value))
    return ", ".join(a.text for a in items)
