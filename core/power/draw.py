"""Expected power draw per Pi model, in watts: an estimate, never a measurement.

Idle is a booted Pi doing nothing; max is all cores busy without USB peripherals (what a
budget must allow for a Pi that boots and starts its services). The figures are the Raspberry
Pi documentation's and common bench measurements, rounded up; a model not in the table gets
the most a Pi 5 draws.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Draw:
    idle_w: float
    max_w: float
    model: str  # the table row that matched
    estimate: bool = True  # always: nothing here was measured


# (substring of /proc/device-tree/model, idle W, max W); the first that matches wins
TABLE: tuple[tuple[str, float, float], ...] = (
    ("Raspberry Pi 5", 3.0, 12.0),
    ("Raspberry Pi 500", 3.5, 12.0),
    ("Compute Module 5", 2.5, 11.0),
    ("Raspberry Pi 400", 3.0, 7.0),
    ("Raspberry Pi 4", 2.7, 6.4),
    ("Compute Module 4", 2.0, 7.0),
    ("Raspberry Pi 3 Model B Plus", 1.9, 5.1),
    ("Raspberry Pi 3 Model A Plus", 1.1, 2.9),
    ("Raspberry Pi 3", 1.4, 3.7),
    ("Raspberry Pi Zero 2", 0.6, 3.0),
    ("Raspberry Pi Zero", 0.5, 1.2),
    ("Raspberry Pi 2", 1.1, 2.1),
)
UNKNOWN = Draw(3.0, 12.0, "unknown model")


def expected_draw(model: str | None) -> Draw:
    for prefix, idle, peak in TABLE:
        if model and prefix in model:
            return Draw(idle, peak, prefix)
    return UNKNOWN
