"""Expected power draw per Pi model, in watts: an estimate, never a measurement.

The one table of it: the rack budget check of `power on` (core/power/budget.py) uses each
model's most, the rack screen's power overlay (screens/racks/rack_model.py) a draw between idle and
most, linear in CPU use, marked "est.". Idle is a booted Pi doing nothing; max is all cores
busy without USB peripherals. Figures from the Raspberry Pi documentation and common bench
measurements. A model not in the table: the budget check assumes the most a Pi 5 draws, the
overlay says it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Draw:
    idle_w: float
    max_w: float
    model: str  # the table row that matched
    estimate: bool = True  # always: nothing here was measured

    def at_load(self, cpu_percent: float | None) -> float:
        """The estimate for a CPU use (0-100 %; unknown counts as idle)."""
        busy = min(max(cpu_percent or 0.0, 0.0), 100.0) / 100.0
        return self.idle_w + (self.max_w - self.idle_w) * busy


# (substring of /proc/device-tree/model, idle W, max W); the first that matches wins, so a
# longer name comes before the name it starts with ("Raspberry Pi 500" before "Pi 5")
TABLE: tuple[tuple[str, float, float], ...] = (
    ("Raspberry Pi 500", 2.7, 8.8),
    ("Raspberry Pi 5", 2.7, 8.8),
    ("Compute Module 5", 2.5, 8.5),
    ("Raspberry Pi 400", 2.7, 6.4),
    ("Raspberry Pi 4", 2.7, 6.4),
    ("Compute Module 4", 1.6, 7.0),
    ("Compute Module 3 Plus", 1.2, 3.5),
    ("Raspberry Pi 3 Model B Plus", 1.9, 5.1),
    ("Raspberry Pi 3 Model A Plus", 1.1, 3.4),
    ("Raspberry Pi 3", 1.4, 3.7),
    ("Raspberry Pi Zero 2", 0.6, 3.0),
    ("Raspberry Pi Zero W", 0.6, 1.2),
    ("Raspberry Pi Zero", 0.5, 1.0),
    ("Raspberry Pi 2", 1.1, 2.1),
)
UNKNOWN = Draw(2.7, 8.8, "unknown model")


def known_draw(model: str | None) -> Draw | None:
    """The table's row for `model` (its /proc/device-tree/model text), None when not in it."""
    for prefix, idle, peak in TABLE:
        if model and prefix in model:
            return Draw(idle, peak, prefix)
    return None


def expected_draw(model: str | None) -> Draw:
    """As `known_draw`, an unknown model drawing what a Pi 5 may (for budgets)."""
    return known_draw(model) or UNKNOWN
