"""The thermal read model: every device's temperature, state word and reasons, its place in a
rack, ambient readings per rack, and the policies firing now. `fleet-tui thermal`, the
`:thermal` screen, `export thermal` and bench/bench_thermal.py all read it (one pass over
the tables: devices, newest samples, placements, ambient, policy states).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from fleet_tui.core.models import Health
from fleet_tui.core.policies.book import PolicyBook
from fleet_tui.core.policy import StatusPolicy
from fleet_tui.core.racks.layout import Elevation, load_elevations
from fleet_tui.core.racks.model import Placement
from fleet_tui.core.records import DeviceRecord, SampleRecord
from fleet_tui.core.store.ambient import Ambient, AmbientLog, by_rack, summary
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.text import visible

STATES = ("ok", "warm", "hot", "critical", "unknown")
WARM_MARGIN_C = 10.0  # "warm" from this far under the status policy's warning level
STALE_S = 600.0  # a newest sample older than this is not a current temperature
# the get_throttled bits: now (0-3) and since boot (16-19)
FLAG_BITS = (("under_voltage", 0), ("freq_capped", 1), ("throttled", 2), ("soft_temp_limit", 3))
SHORT = {"under_voltage": "UV", "freq_capped": "cap", "throttled": "thr", "soft_temp_limit": "soft"}


def flags_of(raw: int | None) -> tuple[list[str], list[str]]:
    """(now, since boot) flag names of a raw get_throttled value."""
    if raw is None:
        return [], []
    now = [name for name, bit in FLAG_BITS if raw >> bit & 1]
    past = [name for name, bit in FLAG_BITS if raw >> (bit + 16) & 1]
    return now, past


def state_word(temp: float | None, policy: StatusPolicy) -> str:
    if temp is None:
        return "unknown"
    if temp >= policy.temp_critical_c:
        return "critical"
    if temp >= policy.temp_warn_c:
        return "hot"
    if temp >= policy.temp_warn_c - WARM_MARGIN_C:
        return "warm"
    return "ok"


@dataclass(frozen=True)
class DeviceThermal:
    serial: str
    hostname: str
    model: str
    temperature_c: float | None
    state: str  # ok | warm | hot | critical | unknown
    reasons: tuple[str, ...]
    flags_now: tuple[str, ...]
    flags_past: tuple[str, ...]
    fan_rpm: float | None
    fan_mode: str | None  # live only (auto/manual/full), None from the store
    time: float | None  # of the reading
    rack_id: str | None = None
    rack: str | None = None
    where: str | None = None  # "R2 U12 slot 3"
    firing: tuple[str, ...] = ()  # policies firing on it now

    def to_json(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "hostname": self.hostname,
            "model": self.model,
            "temperature_c": self.temperature_c,
            "state": self.state,
            "reasons": list(self.reasons),
            "throttled_now": list(self.flags_now),
            "throttled_since_boot": list(self.flags_past),
            "fan_rpm": self.fan_rpm,
            "fan_mode": self.fan_mode,
            "time": self.time,
            "rack": self.rack,
            "where": self.where,
            "policies_firing": list(self.firing),
        }


@dataclass
class ThermalView:
    devices: list[DeviceThermal]  # hottest first
    elevations: list[Elevation]
    ambient: dict[str, list[Ambient]]  # by rack id
    unplaced_ambient: list[Ambient]
    by_serial: dict[str, DeviceThermal] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_serial = {d.serial: d for d in self.devices}

    def rack_summary(self, rack_id: str) -> str:
        return summary(self.ambient.get(rack_id, []))


def _where(e: Elevation, p: Placement) -> str:
    text = f"{e.rack.name} {e.label(p.unit)}"
    if p.slot is not None:
        text += f" slot {p.slot}"
    return text + (" rear" if p.face == "rear" else "")


def _firing(store: Store) -> dict[str, list[str]]:
    """serial -> the policies firing on it; only enabled ones (one disabled while firing is
    cleared by PolicyBook.enable, a leftover state of it is not shown)."""
    off = {p.name for p in PolicyBook(store).all() if not p.enabled}
    out: dict[str, list[str]] = {}
    for r in store.query("SELECT policy, serial FROM policy_state WHERE state = 'firing'"):
        if r["policy"] not in off:
            out.setdefault(r["serial"], []).append(r["policy"])
    return out


def describe(
    d: DeviceRecord,
    s: SampleRecord | None,
    live: Health | None,
    policy: StatusPolicy,
    now: float,
    firing: list[str],
    placed: tuple[Elevation, Placement] | None = None,
) -> DeviceThermal:
    temp = s.temperature_c if s is not None else None
    at = s.time if s is not None else None
    raw = s.throttled if s is not None else None
    rpm = s.fan_rpm if s is not None else None
    mode = None
    if live is not None:
        temp, at = live.temperature_c, live.time
        if live.throttled is not None:
            try:
                raw = int(live.throttled.raw, 16)
            except ValueError:
                raw = None
        if live.fan is not None:
            rpm, mode = live.fan.rpm, live.fan.mode
    reasons: list[str] = []
    if at is not None and now - at > STALE_S:
        reasons.append(f"last reading {int((now - at) // 60)} min ago")
        temp_state = "unknown"
    else:
        temp_state = state_word(temp, policy)
    if temp is not None and temp_state in ("hot", "critical"):
        limit = policy.temp_critical_c if temp_state == "critical" else policy.temp_warn_c
        reasons.append(f"{temp:.1f} °C >= {limit:g}")
    now_flags, past = flags_of(raw)
    if now_flags:
        reasons.append("now: " + ", ".join(f.replace("_", "-") for f in now_flags))
    elif past:
        reasons.append("since boot: " + ", ".join(f.replace("_", "-") for f in past))
    for name in firing:
        reasons.append(f"policy {name} firing")
    return DeviceThermal(
        serial=d.serial,
        hostname=visible(d.hostname or d.serial, 64),
        model=d.model or "",
        temperature_c=temp,
        state=temp_state,
        reasons=tuple(reasons),
        flags_now=tuple(now_flags),
        flags_past=tuple(past),
        fan_rpm=rpm,
        fan_mode=mode,
        time=at,
        firing=tuple(firing),
        rack_id=placed[0].rack.id if placed else None,
        rack=placed[0].rack.name if placed else None,
        where=_where(*placed) if placed else None,
    )


def load_thermal(
    store: Store,
    policy: StatusPolicy | None = None,
    *,
    live: Mapping[str, Health] | None = None,
    now: float | None = None,
) -> ThermalView:
    """The whole thermal picture. `live`: health readings newer than the store's (the TUI's
    live fleet), by serial."""
    policy = policy or StatusPolicy()
    now = time.time() if now is None else now
    devices = {d.serial: d for d in DeviceBook(store).all()}
    latest = SampleLog(store).latest()
    elevations = load_elevations(store, devices=devices)
    firing = _firing(store)
    placed: dict[str, tuple[Elevation, Placement]] = {}
    for e in elevations:
        for p in e.placements:
            placed.setdefault(p.serial, (e, p))
    live = live or {}
    out = [
        describe(
            d,
            latest.get(serial),
            live.get(serial),
            policy,
            now,
            firing.get(serial, []),
            placed.get(serial),
        )
        for serial, d in devices.items()
    ]
    out.sort(
        key=lambda t: (-(t.temperature_c if t.temperature_c is not None else -999), t.hostname)
    )
    readings = AmbientLog(store).latest(now=now)
    racks = by_rack(readings, {s: e.rack.id for s, (e, _) in placed.items()})
    unplaced = [a for a in readings if a.serial not in placed]
    return ThermalView(out, elevations, racks, unplaced)


def matches(t: DeviceThermal, text: str) -> bool:
    """`fleet-tui thermal FILTER`: a case-insensitive part of the hostname, serial, model,
    rack or state word."""
    want = text.casefold()
    return any(
        want in (v or "").casefold() for v in (t.hostname, t.serial, t.model, t.rack, t.state)
    )
