"""Raspberry Pi models the simulator can play, with their real identity strings.

Model strings and revision codes are those the boards report in ``/proc/device-tree/model``
and ``/proc/cpuinfo`` (revision codes per the Raspberry Pi documentation's revision-code
table). Power figures are typical bare-board idle / stress numbers, for the power profile.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PiModel:
    key: str
    model_string: str
    revision: str
    soc: str
    ram_mb: int
    soft_temp_limit_c: float | None  # only 3A+/3B+ have a soft limit (default 60 °C)
    throttle_temp_c: float  # firmware starts throttling the ARM cores here
    has_fan: bool
    has_pmic: bool
    idle_watts: float
    max_watts: float
    mac_oui: str
    hard_temp_c: float = 85.0  # ARM and GPU throttled hard at this temperature
    arch: str = "aarch64"
    kernel: str = "6.6.31+rpt-rpi-v8"
    cores: int = 4
    core_volts: float = 0.85
    # Thermal model: °C above ambient per watt at steady state, and time constant in seconds.
    c_per_watt: float = 8.0
    tau_s: float = 60.0


MODELS: dict[str, PiModel] = {
    "3b+": PiModel(
        key="3b+",
        model_string="Raspberry Pi 3 Model B Plus Rev 1.3",
        revision="a020d3",
        soc="BCM2837",
        ram_mb=1024,
        soft_temp_limit_c=60.0,
        throttle_temp_c=80.0,
        has_fan=False,
        has_pmic=False,
        idle_watts=1.9,
        max_watts=5.1,
        mac_oui="B8:27:EB",
        arch="armv7l",
        kernel="6.6.31+rpt-rpi-v7",
        core_volts=1.2,
        c_per_watt=9.0,
        tau_s=50.0,
    ),
    "4b": PiModel(
        key="4b",
        model_string="Raspberry Pi 4 Model B Rev 1.4",
        revision="c03114",
        soc="BCM2711",
        ram_mb=4096,
        soft_temp_limit_c=None,
        throttle_temp_c=80.0,
        has_fan=False,
        has_pmic=False,
        idle_watts=2.7,
        max_watts=6.4,
        mac_oui="DC:A6:32",
        core_volts=0.85,
        c_per_watt=8.5,
        tau_s=70.0,
    ),
    "5": PiModel(
        key="5",
        model_string="Raspberry Pi 5 Model B Rev 1.0",
        revision="d04170",
        soc="BCM2712",
        ram_mb=8192,
        soft_temp_limit_c=None,
        throttle_temp_c=80.0,
        has_fan=True,
        has_pmic=True,
        idle_watts=2.7,
        max_watts=9.5,
        mac_oui="2C:CF:67",
        kernel="6.6.31+rpt-rpi-2712",
        core_volts=0.72,
        c_per_watt=9.0,
        tau_s=60.0,
    ),
    "zero2w": PiModel(
        key="zero2w",
        model_string="Raspberry Pi Zero 2 W Rev 1.0",
        revision="902120",
        soc="BCM2837",
        ram_mb=512,
        soft_temp_limit_c=None,
        throttle_temp_c=80.0,
        has_fan=False,
        has_pmic=False,
        idle_watts=0.6,
        max_watts=3.0,
        mac_oui="D8:3A:DD",
        core_volts=1.2,
        c_per_watt=14.0,
        tau_s=40.0,
    ),
    "cm4": PiModel(
        key="cm4",
        model_string="Raspberry Pi Compute Module 4 Rev 1.0",
        revision="b03140",
        soc="BCM2711",
        ram_mb=2048,
        soft_temp_limit_c=None,
        throttle_temp_c=80.0,
        has_fan=False,
        has_pmic=False,
        idle_watts=2.0,
        max_watts=7.0,
        mac_oui="E4:5F:01",
        core_volts=0.85,
        c_per_watt=8.0,
        tau_s=70.0,
    ),
}
