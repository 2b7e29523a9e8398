"""Where the fans' hwmon directories sit in a fake tree (the builder and the refresher share them)."""

from __future__ import annotations

from pathlib import Path


def fan_hwmon_dir(root: Path) -> Path:
    return root / "sys/devices/platform/cooling_fan/hwmon/hwmon3"


def poe_hwmon_dir(root: Path) -> Path:
    return root / "sys/devices/platform/pwm-fan/hwmon/hwmon4"
