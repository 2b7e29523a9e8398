"""Power draw per device, per power source and per rack, against the rack's budget.

Measured where the hardware measures: a Pi 5's PMIC (the agent's `pmic.total_w`, stored as
`samples.power_w`). Elsewhere estimated from the model's idle and full-load draw scaled by
load (one-minute load average over its cores), and always marked `estimate`: an estimate is
never shown as a measurement. Under-voltage now and since boot come from the same sample's
get_throttled bits. Outlets are the `outlets` rows as last recorded (the power part of
fleet-tui writes them; their state is shown with the time it was recorded, never guessed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from fleet_tui.core.racks.layout import load_elevations
from fleet_tui.core.records import DeviceRecord, SampleRecord
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.text import visible
from fleet_tui.core.thermal.dashboard import flags_of

# (model string prefix, cores, idle W, full-load W): the board without USB loads, from the
# Raspberry Pi documentation and common measurements; the first prefix that matches wins.
MODEL_POWER: tuple[tuple[str, int, float, float], ...] = (
    ("Raspberry Pi 5", 4, 2.7, 9.5),
    ("Raspberry Pi Compute Module 5", 4, 2.5, 9.0),
    ("Raspberry Pi 4", 4, 2.7, 6.4),
    ("Raspberry Pi 400", 4, 3.0, 7.0),
    ("Raspberry Pi Compute Module 4", 4, 2.0, 7.0),
    ("Raspberry Pi 3 Model B Plus", 4, 1.9, 5.1),
    ("Raspberry Pi 3 Model A Plus", 4, 1.1, 4.0),
    ("Raspberry Pi 3", 4, 1.4, 3.7),
    ("Raspberry Pi Zero 2", 4, 0.6, 3.0),
    ("Raspberry Pi Zero", 1, 0.5, 1.2),
    ("Raspberry Pi 2", 4, 1.1, 2.2),
)
UNKNOWN_MODEL = ("", 4, 2.7, 6.4)  # a Pi we cannot name: a Pi 4's figures
SOURCE_NONE = "no outlet linked"


def model_power(model: str | None) -> tuple[str, int, float, float]:
    for entry in MODEL_POWER:
        if (model or "").startswith(entry[0]):
            return entry
    return UNKNOWN_MODEL


@dataclass(frozen=True)
class DeviceDraw:
    serial: str
    hostname: str
    model: str
    watts: float | None
    measured: bool  # True: the PMIC said so; False: an estimate (or nothing)
    basis: str  # "PMIC" | "estimate: idle 2.7 W + load 37 % of 3.7 W" | "no sample"
    under_voltage_now: bool
    under_voltage_since_boot: bool
    time: float | None
    rack_id: str | None = None
    rack: str | None = None
    source: str = SOURCE_NONE  # "poe sw1 port 3" ...

    @property
    def kind(self) -> str:
        return "measured" if self.measured else ("estimate" if self.watts is not None else "none")

    def to_json(self) -> dict[str, object]:
        return {
            "serial": self.serial,
            "hostname": self.hostname,
            "model": self.model,
            "watts": None if self.watts is None else round(self.watts, 2),
            "kind": self.kind,
            "basis": self.basis,
            "under_voltage_now": self.under_voltage_now,
            "under_voltage_since_boot": self.under_voltage_since_boot,
            "time": self.time,
            "rack": self.rack,
            "source": self.source,
        }


def draw_of(d: DeviceRecord, s: SampleRecord | None) -> DeviceDraw:
    hostname = visible(d.hostname or d.serial, 64)
    model = d.model or ""
    if s is None:
        return DeviceDraw(d.serial, hostname, model, None, False, "no sample", False, False, None)
    now, past = flags_of(s.throttled)
    uv_now, uv_past = "under_voltage" in now, "under_voltage" in past
    if s.power_w is not None:
        return DeviceDraw(
            d.serial, hostname, model, float(s.power_w), True, "PMIC", uv_now, uv_past, s.time
        )
    _, cores, idle, full = model_power(d.model)
    util = min(1.0, max(0.0, (s.load1 or 0.0) / cores)) if s.load1 is not None else 0.0
    watts = idle + (full - idle) * util
    basis = f"estimate: idle {idle:g} W + load {util * 100:.0f} % of {full - idle:.1f} W"
    return DeviceDraw(d.serial, hostname, model, watts, False, basis, uv_now, uv_past, s.time)


@dataclass(frozen=True)
class Outlet:
    id: str
    name: str
    kind: str
    host: str
    serial: str | None
    state: str | None  # as last recorded, None: never recorded
    state_time: float | None

    @property
    def source(self) -> str:
        return f"{self.kind} {self.name}" if self.kind else self.name

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "kind": self.kind,
            "host": self.host,
            "serial": self.serial,
            "state": self.state,
            "state_time": self.state_time,
        }


def load_outlets(store: Store) -> list[Outlet]:
    """The outlets as stored. Their state columns (`state`, `state_at`) are the power part's:
    read when the table has them, else the state is "not recorded"."""
    out = []
    for r in store.rows("outlets"):
        state = r.get("state")
        when = r.get("state_at") or r.get("state_time")
        out.append(
            Outlet(
                r["id"],
                visible(str(r.get("name") or r["id"]), 40),
                visible(str(r.get("kind") or ""), 12),
                visible(str(r.get("host") or ""), 64),
                r.get("serial"),
                visible(str(state), 20) if state is not None else None,
                float(when) if isinstance(when, int | float) else None,
            )
        )
    return out


@dataclass
class Group:
    """The draw of some devices (a rack, or one power source in a rack)."""

    name: str
    measured_w: float = 0.0
    estimated_w: float = 0.0
    devices: int = 0
    unknown: int = 0  # devices without a sample

    @property
    def total_w(self) -> float:
        return self.measured_w + self.estimated_w

    def add(self, d: DeviceDraw) -> None:
        self.devices += 1
        if d.watts is None:
            self.unknown += 1
        elif d.measured:
            self.measured_w += d.watts
        else:
            self.estimated_w += d.watts

    def describe(self) -> str:
        """'21.4 W (12.0 measured + 9.4 estimate)'."""
        text = f"{self.total_w:.1f} W"
        if self.measured_w and self.estimated_w:
            text += f" ({self.measured_w:.1f} measured + {self.estimated_w:.1f} estimate)"
        elif self.estimated_w:
            text += " (estimate)"
        elif self.measured_w:
            text += " (measured)"
        if self.unknown:
            text += f", {self.unknown} without a reading"
        return text

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "total_w": round(self.total_w, 2),
            "measured_w": round(self.measured_w, 2),
            "estimated_w": round(self.estimated_w, 2),
            "devices": self.devices,
            "without_reading": self.unknown,
        }


@dataclass
class RackPower:
    rack_id: str
    rack: str
    budget_w: float | None
    total: Group
    sources: dict[str, Group] = field(default_factory=dict)

    @property
    def over_budget(self) -> bool:
        return self.budget_w is not None and self.total.total_w > self.budget_w

    def to_json(self) -> dict[str, object]:
        return {
            "rack": self.rack,
            "budget_w": self.budget_w,
            "over_budget": self.over_budget,
            **self.total.to_json(),
            "sources": [g.to_json() for g in self.sources.values()],
        }


@dataclass
class PowerView:
    devices: list[DeviceDraw]
    racks: list[RackPower]
    outlets: list[Outlet]
    unplaced: Group


def load_power(store: Store, devices: Mapping[str, DeviceRecord] | None = None) -> PowerView:
    devices = devices if devices is not None else {d.serial: d for d in DeviceBook(store).all()}
    latest = SampleLog(store).latest()
    outlets = load_outlets(store)
    source_of = {o.serial: o.source for o in outlets if o.serial}
    draws = {s: draw_of(d, latest.get(s)) for s, d in devices.items()}
    racks: list[RackPower] = []
    placed: set[str] = set()
    out_devices: list[DeviceDraw] = []
    for e in load_elevations(store, devices=devices):
        rp = RackPower(e.rack.id, e.rack.name, e.rack.budget_w, Group(e.rack.name))
        for p in e.placements:
            d = draws.get(p.serial)
            if d is None or p.serial in placed:
                continue
            placed.add(p.serial)
            source = source_of.get(p.serial, SOURCE_NONE)
            d = replace(d, rack_id=e.rack.id, rack=e.rack.name, source=source)
            out_devices.append(d)
            rp.total.add(d)
            rp.sources.setdefault(source, Group(source)).add(d)
        racks.append(rp)
    unplaced = Group("not in a rack")
    for s, d in draws.items():
        if s not in placed:
            d = replace(d, source=source_of.get(s, SOURCE_NONE))
            out_devices.append(d)
            unplaced.add(d)
    out_devices.sort(key=lambda d: (d.rack or "~", d.hostname))
    return PowerView(out_devices, racks, outlets, unplaced)
