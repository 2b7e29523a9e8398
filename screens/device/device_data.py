"""What the device detail shows, read from the store in a worker. No Textual here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from fleet_tui.core.export import rack_names
from fleet_tui.core.metrics import metrics_of
from fleet_tui.core.models import Health
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.policy import throttle_flags
from fleet_tui.core.records import DeviceRecord, EventRecord, HostKeyEvent, SampleRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog

HOUR = 3600.0
EVENTS_SHOWN = 200

# (sample field, label, unit/format) in display order
METRICS: tuple[tuple[str, str, str], ...] = (
    ("temperature_c", "Temp", "{:.1f}°C"),
    ("cpu_percent", "CPU", "{:.0f}%"),
    ("load1", "Load", "{:.2f}"),
    ("mem_percent", "Mem", "{:.0f}%"),
    ("disk_percent", "Disk", "{:.0f}%"),
    ("core_volts", "Volts", "{:.3f}V"),
    ("power_w", "Power", "{:.1f}W"),
    ("fan_rpm", "Fan", "{:.0f}rpm"),  # shown where the Pi has a fan with a tachometer
)


@dataclass
class Point:
    time: float
    values: dict[str, float | None]
    throttled: int | None = None


@dataclass
class ThrottleChange:
    time: float
    current: list[str]
    sticky: list[str]


@dataclass
class DeviceDetail:
    record: DeviceRecord | None = None
    rack: str = ""
    points: list[Point] = field(default_factory=list)
    events: list[EventRecord] = field(default_factory=list)
    pinned_key: str | None = None
    pinned_at: float | None = None
    key_history: list[HostKeyEvent] = field(default_factory=list)


def point_of_sample(s: SampleRecord) -> Point:
    return Point(s.time, {name: getattr(s, name) for name, _, _ in METRICS}, s.throttled)


def point_of_health(h: Health, clock_skew_s: float | None = None) -> Point:
    """A live reading as a point: the metrics a stored sample of it would have, at the time
    on this machine's clock (as samples are stored): the Pi's own clock may be days off."""
    m = metrics_of(h)
    time = h.time - (clock_skew_s or 0.0)
    return Point(time, {name: getattr(m, name) for name, _, _ in METRICS}, m.throttled)


def load_detail(store: Store, serial: str | None, endpoint: str | None, now: float) -> DeviceDetail:
    detail = DeviceDetail()
    if serial:
        detail.record = DeviceBook(store).get(serial)
        detail.rack = rack_names(store).get(serial, "")
        detail.points = [point_of_sample(s) for s in SampleLog(store).recent(serial, now - HOUR)]
        detail.events = EventLog(store).recent(serial, limit=EVENTS_SHOWN)
    if endpoint is None and detail.record is not None:
        endpoint = detail.record.endpoint
    if endpoint:
        row = store.get_row("host_keys", endpoint)
        if row is not None:
            detail.pinned_key, detail.pinned_at = row.get("key"), row.get("pinned_at")
    seen: set[tuple[int, int]] = set()
    keys = HostKeys(store)
    for ref in (serial, endpoint):
        if ref:
            for ev in keys.history(ref):
                if (ev.origin, ev.seq) not in seen:
                    seen.add((ev.origin, ev.seq))
                    detail.key_history.append(ev)
    detail.key_history.sort(key=lambda e: e.time, reverse=True)
    return detail


def series(points: Sequence[Point], metric: str) -> list[float]:
    return [v for p in points if (v := p.values.get(metric)) is not None]


def throttle_changes(points: Sequence[Point]) -> list[ThrottleChange]:
    """Each time the throttle bits changed (newest first)."""
    out: list[ThrottleChange] = []
    last: int | None = None
    for p in points:
        if p.throttled is None or p.throttled == last:
            continue
        last = p.throttled
        current, sticky = throttle_flags(p.throttled)
        out.append(ThrottleChange(p.time, current, sticky))
    out.reverse()
    return out
