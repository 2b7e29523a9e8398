"""The simulated state of one Pi: what its fake files show and what ``step`` advances."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

AMBIENT_C = 25.0

# What the kernel says of the firmware (``SimPiState.rpi_hwmon``; hardware/sensors.py):
# "auto": as today's Raspberry Pi kernels on the model: on Pi 0-4 the raspberrypi-hwmon device
#   ``rpi_volt`` with only the under-voltage alarm, and the firmware driver's ``get_throttled``
#   file; on a Pi 5, neither (its firmware node has no get_throttled and no rpi_volt);
# "alarm": that on any model; "volts": rpi_volt also with the voltage inputs of newer kernels
#   (in0 core, in1-3 sdram, in millivolts); None: neither (an older kernel, or no driver).
RPI_HWMON = ("auto", "alarm", "volts", None)


@dataclass(frozen=True)
class SimProbe:
    """An ambient sensor wired to a simulated Pi (hardware/ambient.py reads it).

    kind "w1": a DS18B20 with the kernel's ``temperature`` file; "w1_slave": an older kernel's
    ``w1_slave`` only (CRC line + ``t=``); "hwmon": an SHT3x-like hwmon device with a
    temperature and a humidity channel. ``offset_c``: how much warmer than the room it sits
    (an inlet ~0, the top of a rack several degrees)."""

    kind: str
    id: str  # "28-0316a2795aff" (1-wire) or the hwmon device name ("sht3x")
    name: str  # the technician's name for it, written to /etc/fleet-tui/sensors.conf
    offset_c: float = 0.0
    phase: float = 0.0  # where in its slow swing it starts (radians)


@dataclass
class SimPiState:
    temperature_c: float = 45.0
    throttled: int = 0
    load: float = 0.1  # 1-minute load average (runnable tasks)
    fan_rpm: int | None = None
    fan_pwm: int | None = None  # 0..255
    uptime_s: float = 600.0
    fan_mode: str = "auto"  # "auto" (firmware curve) or "manual" (set through pwm1)
    under_voltage: bool = False
    ambient_c: float = AMBIENT_C
    core_volts: float | None = None  # None: the model's nominal
    ext5v_v: float = 5.13
    mem_available_mb: int | None = None  # None: derived from RAM and load
    disk_total_mb: int = 29_500
    disk_free_mb: int = 21_800
    boot_time: float = field(default_factory=lambda: float(int(time.time() - 600)))
    cpu_busy_s: float = 0.0  # accumulated busy CPU seconds (all cores)
    net_rx_bytes: int = 123_456
    net_tx_bytes: int = 65_432
    poe_hat: bool = False  # a PoE HAT pwm-fan (Pi 3B+/4B)
    power_w: float = 0.0  # last computed board power
    vcgencmd_fail: bool = False
    overheat: bool = False  # blocked airflow / hot enclosure: step() adds OVERHEAT_EXTRA_C
    rpi_hwmon: str | None = "auto"  # the kernel's firmware files: see RPI_HWMON
    saved: dict[str, float] = field(default_factory=dict)  # values a cleared fault restores
    probes: tuple[SimProbe, ...] = ()  # ambient sensors wired to this Pi
