"""Ambient and environmental sensors: hwmon temperature/humidity sensors that are not the SoC,
and 1-wire DS18B20 probes, as named readings.

- hwmon: every ``/sys/class/hwmon/hwmon*`` whose ``name`` is not the SoC's own (the thermal
  zone, the firmware's ``rpi_volt``, the Pi 5's RP1 ADC) nor a fan; each ``tempN_input``
  (millidegrees) and ``humidityN_input`` (milli-percent RH) is a reading, named by its
  ``tempN_label`` when the driver has one, else ``<hwmon name> tempN``.
- 1-wire: ``/sys/bus/w1/devices/28-*`` (family 0x28, DS18B20): ``temperature`` (millidegrees,
  kernels 5.x and later), else ``w1_slave`` whose first line must end in ``YES`` (the CRC
  check passed) and whose second carries ``t=<millidegrees>``.

A technician names a probe on the Pi in ``/etc/fleet-tui/sensors.conf``, one ``ID = NAME`` a
line (``28-0316a2795aff = inlet``, ``sht3x temp1 = top of rack``). Plain file reads only: no
process is started.
"""

from __future__ import annotations

from .paths import Missing, listdir, read_stripped, read_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

W1_DEVICES = "/sys/bus/w1/devices"
NAMES_FILE = "/etc/fleet-tui/sensors.conf"
# hwmon devices that are the SoC, the RP1, the firmware or a fan: not the room's air
NOT_AMBIENT = frozenset(
    ("cpu_thermal", "rpi_volt", "rp1_adc", "pwmfan", "cooling_fan", "rpipoefan", "rpi_poe_fan")
)
POWER_ON_RESET_MC = 85000  # a DS18B20 that has not converted yet reads exactly 85.000 °C
MAX_READINGS = 32
MAX_NAME = 48


def names() -> dict[str, str]:
    """The technician's names for sensors (``ID = NAME`` lines; ``#`` comments)."""
    try:
        text = read_text(NAMES_FILE, 1 << 14)
    except Missing:
        return {}
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0]
        key, sep, value = line.partition("=")
        if sep and key.strip() and value.strip():
            out[key.strip()] = value.strip()[:MAX_NAME]
    return out


def _milli(p: str) -> Optional[float]:
    try:
        return int(read_stripped(p)) / 1000.0
    except (Missing, ValueError):
        return None


def hwmon_readings(devices: list[tuple[str, str]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for d, name in devices:
        if name in NOT_AMBIENT or name.endswith("_thermal"):
            continue
        entries = listdir(d)
        for entry in entries:
            for prefix, kind in (("temp", "temp"), ("humidity", "humidity")):
                if not (entry.startswith(prefix) and entry.endswith("_input")):
                    continue
                channel = entry[: -len("_input")]
                if not channel[len(prefix) :].isdigit():
                    continue
                value = _milli(d + "/" + entry)
                if value is None:
                    continue
                label = None
                if channel + "_label" in entries:
                    try:
                        label = read_stripped(d + "/" + channel + "_label") or None
                    except Missing:
                        label = None
                out.append(
                    {
                        "id": "%s %s" % (name, channel),
                        "name": label,
                        "kind": kind,
                        "value": round(value, 2),
                        "source": d + "/" + entry,
                    }
                )
    return out


def w1_slave_value(text: str) -> Optional[int]:
    """Millidegrees from a ``w1_slave`` text, or None when its CRC check did not pass."""
    lines = text.strip().splitlines()
    if len(lines) < 2 or not lines[0].rstrip().endswith("YES"):
        return None
    _, sep, value = lines[1].rpartition("t=")
    if not sep:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def w1_readings(problems: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in listdir(W1_DEVICES):
        if not entry.startswith("28-"):
            continue
        d = W1_DEVICES + "/" + entry
        source = d + "/temperature"
        try:
            mc: Optional[int] = int(read_stripped(source))
        except (Missing, ValueError):
            source = d + "/w1_slave"
            try:
                mc = w1_slave_value(read_text(source, 4096))
            except Missing as e:
                problems.append(str(e))
                continue
            if mc is None:
                problems.append("%s: CRC check failed (no YES)" % source)
                continue
        if mc is None:
            continue
        if mc == POWER_ON_RESET_MC:
            problems.append("%s: 85.000 (power-on value: not converted yet)" % source)
            continue
        out.append(
            {
                "id": entry,
                "name": None,
                "kind": "temp",
                "value": round(mc / 1000.0, 2),
                "source": source,
            }
        )
    return out


def ambient(devices: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], str]:
    """Every ambient reading, named; raises Missing when there is none."""
    problems: list[str] = []
    found = hwmon_readings(devices) + w1_readings(problems)
    if not found:
        detail = "; ".join(problems)
        raise Missing(
            "no ambient sensor (no hwmon temperature/humidity besides the SoC, no 1-wire 28-*)"
            + (": " + detail if detail else "")
        )
    named = names()
    for r in found:
        r["name"] = named.get(r["id"]) or r["name"] or r["id"]
    return found[:MAX_READINGS], "hwmon, w1" + (" (%s)" % "; ".join(problems) if problems else "")
