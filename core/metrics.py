"""One mapping from an agent health reading to the metrics fleet-tui keeps, judges and charts.

A reading comes as a validated `Health` (live, from the agent) or as the dict it is recorded
in (`Health.model_dump`, a backfill, an import); both give the same `Metrics`: the sample
columns of core/store/schema.py. Samples store them (core/store/sample_gate.py), the status policy
judges them (core/policy.py), the device screen charts them (screens/device/device_data.py). The
agent's output is untrusted: a value of the wrong type or shape is a missing metric, never an
error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from pydantic import BaseModel

from fleet_tui.core.models import Health

Reading = Health | Mapping[str, Any]


@dataclass(frozen=True)
class Metrics:
    temperature_c: float | None = None
    cpu_percent: float | None = None
    throttled: int | None = None  # the raw `vcgencmd get_throttled` bits
    load1: float | None = None
    mem_percent: float | None = None
    disk_percent: float | None = None
    core_volts: float | None = None
    power_w: float | None = None  # the PMIC's total (Pi 5)
    fan_rpm: float | None = None

    def values(self) -> tuple[float | int | None, ...]:
        """In column order (`METRIC_NAMES`, the samples table's)."""
        return tuple(getattr(self, name) for name in METRIC_NAMES)


METRIC_NAMES = tuple(f.name for f in fields(Metrics))
STORED_PERCENT_PLACES = 2


def metrics_of(reading: Reading, percent_places: int | None = None) -> Metrics:
    """The metrics of one health reading; whatever is missing or malformed is None.

    Memory and disk use come from the agent's totals; `percent_places` rounds those derived
    percentages (samples are stored to 0.01 %: `STORED_PERCENT_PLACES`), a percentage the
    reading gives itself is kept as it is."""

    def get(name: str) -> object:
        return _field(reading, name)

    load = get("load")
    pmic, fan = get("pmic"), get("fan")
    power = number(get("power_w"))
    if power is None and _is_record(pmic):
        power = number(_field(pmic, "total_w"))
    return Metrics(
        temperature_c=number(get("temperature_c")),
        cpu_percent=number(get("cpu_percent")),
        throttled=_throttle_bits(get("throttled")),
        load1=number(load[0] if isinstance(load, list | tuple) and load else None),
        mem_percent=_percent_used(
            get("mem_percent"), get("mem_total_mb"), get("mem_available_mb"), percent_places
        ),
        disk_percent=_percent_used(
            get("disk_percent"), get("disk_total_mb"), get("disk_free_mb"), percent_places
        ),
        core_volts=number(get("core_volts")),
        power_w=power,
        # a fan record without a tachometer (a PoE HAT) has no rpm: no fallback then
        fan_rpm=number(_field(fan, "rpm")) if _is_record(fan) else number(get("fan_rpm")),
    )


def number(value: object) -> float | None:
    """A float of a JSON number; a bool, text or a number too big for a float is None."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _is_record(value: object) -> bool:
    return isinstance(value, Mapping | BaseModel)


def _field(record: object, name: str) -> object:
    """`record[name]` of a dict, the field (or extra field) of a model; else None."""
    if isinstance(record, Mapping):
        return record.get(name)
    if isinstance(record, BaseModel):
        if name in type(record).model_fields:
            return getattr(record, name)
        return (record.model_extra or {}).get(name)
    return None


def _throttle_bits(throttled: object) -> int | None:
    """`{"raw": "0x50005", …}` (or the raw value itself) as an int."""
    raw = _field(throttled, "raw") if _is_record(throttled) else throttled
    if isinstance(raw, str):
        try:
            raw = int(raw, 0)
        except ValueError:  # not a number: the flags are unknown, the rest is still kept
            return None
    if not isinstance(raw, int | float):
        return None
    try:
        return int(raw)
    except (ValueError, OverflowError):  # NaN, infinity
        return None


def _percent_used(given: object, total: object, free: object, places: int | None) -> float | None:
    """The percentage the reading gave, else (total - free) / total."""
    percent = number(given)
    size, left = number(total), number(free)
    if percent is None and size and left is not None:
        percent = 100.0 * (size - left) / size
        if places is not None:
            percent = round(percent, places)
    return percent
