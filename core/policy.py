"""Status policy: how bad is a device right now? ok / warn / critical / unreachable.

One pydantic model holds the thresholds (users may override them in their config file); one
function turns a reading into a `Status` with the reasons a technician can act on. The same
rules serve the fleet table, the device detail and `fleet-tui export health`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from fleet_tui.core.clock import describe
from fleet_tui.core.metrics import metrics_of
from fleet_tui.core.models import THROTTLE_FLAGS, DeviceState
from fleet_tui.core.records import SampleRecord


class Severity(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"  # known from the store, not (yet) contacted in this session
    WARN = "warn"
    UNREACHABLE = "unreachable"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Sort order, worst last: a reverse sort puts what needs a technician on top."""
        return _RANK[self]


_RANK = {
    Severity.OK: 0,
    Severity.UNKNOWN: 1,
    Severity.WARN: 2,
    Severity.UNREACHABLE: 3,
    Severity.CRITICAL: 4,
}


@dataclass(frozen=True)
class Status:
    severity: Severity
    reasons: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons) if self.reasons else self.severity.value


class StatusPolicy(BaseModel):
    """Thresholds for the status column. Every field has a sensible Raspberry Pi default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temp_warn_c: Annotated[float, Field(ge=0, le=150)] = 70.0
    # the firmware soft-throttles at 80 °C
    temp_critical_c: Annotated[float, Field(ge=0, le=150)] = 80.0
    disk_warn_percent: Annotated[float, Field(ge=0, le=100)] = 90.0
    disk_critical_percent: Annotated[float, Field(ge=0, le=100)] = 97.0
    mem_warn_percent: Annotated[float, Field(ge=0, le=100)] = 90.0
    mem_critical_percent: Annotated[float, Field(ge=0, le=100)] = 97.0
    critical_flags: tuple[str, ...] = ("under_voltage", "throttled")  # happening now
    warn_flags: tuple[str, ...] = ("freq_capped", "soft_temp_limit")  # happening now
    warn_on_past_throttle: bool = True  # sticky flags: it happened since boot
    # a Pi without NTP boots at its last shutdown's time: TLS, apt and logs break; 0 = off
    clock_skew_warn_s: Annotated[float, Field(ge=0, le=10 * 365 * 86400)] = 300.0

    @model_validator(mode="after")
    def _ordered(self) -> StatusPolicy:
        for name in ("temp", "disk", "mem"):
            unit = "_c" if name == "temp" else "_percent"
            warn, crit = (
                getattr(self, f"{name}_warn{unit}"),
                getattr(self, f"{name}_critical{unit}"),
            )
            if warn > crit:
                raise ValueError(
                    f"{name}_warn{unit} ({warn}) is above {name}_critical{unit} ({crit})"
                )
        unknown = set(self.critical_flags) | set(self.warn_flags)
        unknown -= set(THROTTLE_FLAGS)
        if unknown:
            raise ValueError(
                f"unknown throttle flag(s) {', '.join(sorted(unknown))}; "
                f"known: {', '.join(THROTTLE_FLAGS)}"
            )
        return self


@dataclass(frozen=True)
class Reading:
    """The few numbers the policy looks at, from a live state or a stored sample."""

    temperature_c: float | None = None
    current_flags: Sequence[str] = ()
    sticky_flags: Sequence[str] = ()
    mem_percent: float | None = None
    disk_percent: float | None = None
    clock_skew_s: float | None = None  # the Pi's clock minus ours


def throttle_flags(raw: int | None) -> tuple[list[str], list[str]]:
    """Decode `vcgencmd get_throttled` bits into (current, sticky) flag names."""
    if raw is None:
        return [], []
    current = [name for bit, name in enumerate(THROTTLE_FLAGS) if raw & (1 << bit)]
    sticky = [name for bit, name in enumerate(THROTTLE_FLAGS) if raw & (1 << (bit + 16))]
    return current, sticky


def reading_of_state(state: DeviceState) -> Reading:
    h = state.health
    if h is None:
        return Reading()
    t, m = h.throttled, metrics_of(h)
    return Reading(
        temperature_c=m.temperature_c,
        current_flags=tuple(t.current) if t else (),
        sticky_flags=tuple(t.sticky) if t else (),
        mem_percent=m.mem_percent,
        disk_percent=m.disk_percent,
        clock_skew_s=state.clock_skew_s,
    )


def reading_of_sample(sample: SampleRecord, clock_skew_s: float | None = None) -> Reading:
    """A stored sample; the skew is the device's, from its last contact (samples carry our
    time, not the Pi's)."""
    current, sticky = throttle_flags(sample.throttled)
    return Reading(
        temperature_c=sample.temperature_c,
        current_flags=tuple(current),
        sticky_flags=tuple(sticky),
        mem_percent=sample.mem_percent,
        disk_percent=sample.disk_percent,
        clock_skew_s=clock_skew_s,
    )


def clock_is_off(skew: float | None, policy: StatusPolicy) -> bool:
    limit = policy.clock_skew_warn_s
    return skew is not None and limit > 0 and abs(skew) > limit


def evaluate_reading(reading: Reading, policy: StatusPolicy) -> Status:
    crit: list[str] = []
    warn: list[str] = []

    def grade(value: float | None, w: float, c: float, text: str) -> None:
        if value is None:
            return
        if value >= c:
            crit.append(f"{text} ≥ {c:g}")
        elif value >= w:
            warn.append(f"{text} ≥ {w:g}")

    t = reading.temperature_c
    grade(t, policy.temp_warn_c, policy.temp_critical_c, f"temp {t:.1f}°C" if t is not None else "")
    for flag in reading.current_flags:
        if flag in policy.critical_flags:
            crit.append(f"{flag} now")
        elif flag in policy.warn_flags:
            warn.append(f"{flag} now")
    if policy.warn_on_past_throttle:
        past = [f for f in reading.sticky_flags if f not in reading.current_flags]
        if past:
            warn.append("past " + ",".join(past))
    d, m = reading.disk_percent, reading.mem_percent
    grade(
        d,
        policy.disk_warn_percent,
        policy.disk_critical_percent,
        f"disk {d:.0f}%" if d is not None else "",
    )
    grade(
        m,
        policy.mem_warn_percent,
        policy.mem_critical_percent,
        f"mem {m:.0f}%" if m is not None else "",
    )
    if clock_is_off(reading.clock_skew_s, policy):
        warn.append(f"clock {describe(reading.clock_skew_s)}")
    if crit:
        return Status(Severity.CRITICAL, tuple(crit + warn))
    if warn:
        return Status(Severity.WARN, tuple(warn))
    return Status(Severity.OK)


def evaluate(state: DeviceState | None, policy: StatusPolicy) -> Status:
    """The status of a device: None (never contacted this session) is `unknown`."""
    if state is None:
        return Status(Severity.UNKNOWN, ("not contacted yet",))
    if not state.reachable:
        if state.error is None and state.last_seen is None:
            return Status(Severity.UNKNOWN, ("connecting",))
        return Status(Severity.UNREACHABLE, (state.error or "not answering",))
    if state.health is None:
        return Status(Severity.UNKNOWN, ("no health reading yet",))
    return evaluate_reading(reading_of_state(state), policy)
