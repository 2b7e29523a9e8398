"""Pydantic models at the agent-protocol boundary, and the live view of one device.

Everything the agent sends is validated here before the rest of the program sees it. The
agent is ours, but it runs on a machine we do not control and its output is untrusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)

from fleet_tui.core.identity import serial_of

THROTTLE_FLAGS = ("under_voltage", "freq_capped", "throttled", "soft_temp_limit")


class _Lenient(BaseModel):
    # Newer agents may send more fields; older clients must keep working.
    model_config = ConfigDict(extra="allow")


# The readings below are optional parts of a health sample: a value of the wrong type is no
# value (None), a part of the wrong shape is no part. They never fail the whole reading.


def _number(value: object) -> int | float | None:
    """A number as the agent sent it (an int stays an int); text, a bool, a list: None."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _records(value: object) -> dict[str, Any]:
    """A name -> record mapping, keeping only the entries that are records."""
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, Mapping)}


def _or_none(value: object, handler: ValidatorFunctionWrapHandler) -> Any:
    try:
        return handler(value)
    except ValidationError:
        return None


Number = Annotated[int | float | None, PlainValidator(_number)]
Text = Annotated[str | None, PlainValidator(_text)]


class PmicRail(_Lenient):
    v: Number = None
    a: Number = None
    w: Number = None  # v × a


class Pmic(_Lenient):
    """A Pi 5's `vcgencmd pmic_read_adc` (hardware/vcgencmd.py `parse_pmic`)."""

    rails: Annotated[dict[str, PmicRail], BeforeValidator(_records)] = Field(default_factory=dict)
    total_w: Number = None  # the rails' watts summed: the board's draw, less the USB ports
    ext5v_v: Number = None  # the 5 V input
    label: Text = None


class Fan(_Lenient):
    """A PWM fan (Pi 5 active cooler, PoE HAT) as hardware/sensors.py `fan()` reads it."""

    kind: Text = None  # cooling_fan, poe_hat, pwm_fan
    rpm: Number = None  # None where there is no tachometer (a PoE HAT)
    pwm: Number = None  # 0-255
    pwm_percent: Number = None
    mode: Text = None  # full, manual, auto
    state: Number = None  # older kernels' PoE HAT cooling device: its state of max_state
    max_state: Number = None


def _readings(value: object) -> list[Any]:
    """A list of records, keeping only the entries that are records."""
    if not isinstance(value, list):
        return []
    return [v for v in value if isinstance(v, Mapping)]


class AmbientReading(_Lenient):
    """One ambient sensor as hardware/ambient.py reads it: a non-SoC hwmon temperature or
    humidity channel, or a 1-wire DS18B20 probe. `name` is what the Pi calls it (untrusted)."""

    id: Text = None  # "28-0316a2795aff", "sht3x temp1"
    name: Text = None  # the technician's name on the Pi, else the driver's label, else the id
    kind: Text = None  # temp | humidity
    value: Number = None  # °C or %RH
    source: Text = None


class NetInterface(_Lenient):
    """One interface's /proc/net/dev counters (hardware/sensors.py `parse_net_dev`)."""

    rx_bytes: Number = None
    rx_packets: Number = None
    rx_errs: Number = None
    rx_drop: Number = None
    tx_bytes: Number = None
    tx_packets: Number = None
    tx_errs: Number = None
    tx_drop: Number = None


class Net(_Lenient):
    """Every interface but `lo`, and the summed rates since the agent's previous reading."""

    ifaces: Annotated[dict[str, NetInterface], BeforeValidator(_records)] = Field(
        default_factory=dict
    )
    rx_bps: Number = None  # None on the first reading (a rate needs two)
    tx_bps: Number = None


class Hello(_Lenient):
    protocol: int
    agent_version: str
    agent_hash: str = ""
    python: str = ""
    # bool per capability; "sudo" may be None: not needed since the Pi booted, so unknown
    # (the agent never runs sudo just to find out; see hardware/README.md)
    capabilities: dict[str, bool | None] = Field(default_factory=dict)


class Throttled(_Lenient):
    raw: str
    current: list[str] = Field(default_factory=list)
    sticky: list[str] = Field(default_factory=list)

    @property
    def summary(self) -> str:
        if self.current:
            return ",".join(self.current)
        if self.sticky:
            return "past:" + ",".join(self.sticky)
        return "ok"


class Facts(_Lenient):
    hostname: str | None = None
    model: str | None = None
    revision: str | None = None
    serial: str | None = None
    os_name: str | None = None
    kernel: str | None = None
    arch: str | None = None
    boot_time: float | None = None
    python: str | None = None
    agent_version: str | None = None
    agent_hash: str | None = None
    capabilities: dict[str, bool | None] = Field(default_factory=dict)  # as in Hello


class Health(_Lenient):
    time: float
    uptime_s: float | None = None
    temperature_c: float | None = None
    throttled: Throttled | None = None
    core_volts: float | None = None
    load: list[float] | None = None
    cpu_percent: float | None = None
    mem_total_mb: float | None = None
    mem_available_mb: float | None = None
    disk_total_mb: float | None = None
    disk_free_mb: float | None = None
    pmic: Annotated[Pmic | None, WrapValidator(_or_none)] = None  # Pi 5 only
    fan: Annotated[Fan | None, WrapValidator(_or_none)] = None
    net: Annotated[Net | None, WrapValidator(_or_none)] = None
    ambient: Annotated[list[AmbientReading] | None, BeforeValidator(_readings)] = None
    sources: dict[str, str] = Field(default_factory=dict)
    missing: dict[str, str] = Field(default_factory=dict)


class AgentErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class DeviceState(BaseModel):
    """What the UI and the headless twin know about one device right now.

    `key` is the device's identity (core/identity.py): its serial, or `candidate:<endpoint>`
    until its agent reports one. The update that turns a candidate into a serial carries the
    provisional id in `replaces` (once): whoever keeps states by key drops that one (and,
    coalescing updates, keeps `replaces` until it has).
    """

    key: str  # the serial, else a provisional "candidate:<endpoint>"; never changes on a move
    endpoint: str  # where it is followed now (the connection layer's route key)
    address: str
    port: int
    name: str  # the name it was found under (mDNS instance or hostname)
    replaces: str | None = None  # the provisional id this update re-keys (on that update only)
    also_at: list[str] = Field(default_factory=list)  # other endpoints the same Pi answered on
    reachable: bool = False
    error: str | None = None
    facts: Facts | None = None
    health: Health | None = None
    last_seen: float | None = None
    # the Pi's clock minus ours at its last health reading (core/clock.py); None: not measured
    clock_skew_s: float | None = None

    @property
    def serial(self) -> str | None:
        """The serial this device is known by; None while it is a candidate."""
        return serial_of(self.key)

    @property
    def hostname(self) -> str:
        if self.facts and self.facts.hostname:
            return self.facts.hostname
        return self.name

    def to_json(self) -> dict[str, Any]:
        facts = self.facts or Facts()
        health = self.health
        return {
            "hostname": self.hostname,
            "address": self.address,
            "port": self.port,
            "reachable": self.reachable,
            "error": self.error,
            "model": facts.model,
            "serial": self.serial,
            "os": facts.os_name,
            "uptime_s": health.uptime_s if health else None,
            "temperature_c": health.temperature_c if health else None,
            "throttled": health.throttled.model_dump() if health and health.throttled else None,
            "last_seen": self.last_seen,
            "clock_skew_s": _rounded(self.clock_skew_s),
        }


def _rounded(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None
