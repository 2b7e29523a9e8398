"""Simulated ambient probes: the files hardware/ambient.py reads, with plausible values.

A probe reads the room (the Pi's ``ambient_c``) plus its own offset (the top of a rack is
warmer than the inlet), swinging slowly (±0.8 °C over an hour of the Pi's uptime) so a trend
has something to show. An SHT3x-like hwmon device also reports humidity.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from fleet_tui.core.sim.pi_state import SimPiState, SimProbe
from fleet_tui.core.sim.tree_writes import ensure_symlink, write_file, write_if_changed

W1 = "sys/bus/w1/devices"
NAMES = "etc/fleet-tui/sensors.conf"
SWING_C = 0.8
SWING_PERIOD_S = 3600.0
HWMON_INDEX = 6  # after the thermal zone (0), rp1_adc (1) and the fans (3, 4)


def probes_for(index: int, rng: random.Random) -> tuple[SimProbe, ...]:
    """Which probes the lab's Pi at ``index`` has: every fourth an inlet and a top-of-rack
    DS18B20 (the second on an older kernel: ``w1_slave`` only); every eighth, from the
    second, an SHT3x temperature/humidity sensor."""
    out: list[SimProbe] = []
    if index % 4 == 0:
        out.append(SimProbe("w1", f"28-{rng.getrandbits(48):012x}", "inlet", 0.0, rng.random()))
        out.append(
            SimProbe("w1_slave", f"28-{rng.getrandbits(48):012x}", "top of rack", 6.5, rng.random())
        )
    if index % 8 == 2:
        out.append(SimProbe("hwmon", "sht3x", "cabinet", 3.0, rng.random()))
    return tuple(out)


def probe_value(state: SimPiState, probe: SimProbe) -> float:
    swing = SWING_C * math.sin(2 * math.pi * state.uptime_s / SWING_PERIOD_S + probe.phase * 6.28)
    return state.ambient_c + probe.offset_c + swing


def humidity(state: SimPiState, probe: SimProbe) -> float:
    return max(5.0, min(95.0, 45.0 - 1.5 * (probe_value(state, probe) - 25.0)))


def _hwmon_dir(root: Path, probe: SimProbe) -> Path:
    return root / f"sys/devices/platform/soc/i2c-1/1-0044/hwmon/hwmon{HWMON_INDEX}"


def write_probe_layout(root: Path, state: SimPiState) -> None:
    """The probes' directories, the hwmon link and the technician's names file."""
    if not state.probes:
        return
    names = []
    for probe in state.probes:
        if probe.kind == "hwmon":
            d = _hwmon_dir(root, probe)
            write_file(d / "name", probe.id + "\n")
            ensure_symlink(
                root / f"sys/class/hwmon/hwmon{HWMON_INDEX}",
                f"../../devices/platform/soc/i2c-1/1-0044/hwmon/hwmon{HWMON_INDEX}",
            )
            names.append(f"{probe.id} temp1 = {probe.name}")
            names.append(f"{probe.id} humidity1 = {probe.name} humidity")
        else:
            write_file(root / W1 / probe.id / "name", probe.id + "\n")
            names.append(f"{probe.id} = {probe.name}")
    write_file(
        root / NAMES, "# fleet-tui ambient sensor names: ID = NAME\n" + "\n".join(names) + "\n"
    )


def write_probe_values(root: Path, state: SimPiState) -> None:
    for probe in state.probes:
        mc = int(round(probe_value(state, probe) * 1000))
        if probe.kind == "hwmon":
            d = _hwmon_dir(root, probe)
            write_if_changed(d / "temp1_input", f"{mc}\n")
            write_if_changed(d / "humidity1_input", f"{int(humidity(state, probe) * 1000)}\n")
        elif probe.kind == "w1":
            write_if_changed(root / W1 / probe.id / "temperature", f"{mc}\n")
        else:
            raw = mc * 16 // 1000 & 0xFFFF
            b = f"{raw & 0xFF:02x} {raw >> 8:02x} 4b 46 7f ff 0c 10 1c"
            write_if_changed(root / W1 / probe.id / "w1_slave", f"{b} : crc=1c YES\n{b} t={mc}\n")
