"""Simulated CPU load for each Pi: what drives its power draw, temperature and fan.

A workload is a number of runnable tasks over time (an idle kiosk, a steady service, a
periodic batch job, a saturated build box). The 1-minute load average follows it the way the
kernel's does (exponential smoothing, 60 s time constant), and ``pi_tree.step`` turns load
into power, heat, fan speed and throttling with the model's limits.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

LOADAVG_TAU_S = 60.0  # the kernel's 1-minute load average
# Profiles in the order Pis are given them (index modulo the length), so a small demo fleet
# already shows an idle Pi, a busy 3B+ at its soft limit and a Pi 5 whose fan follows bursts.
PROFILE_CYCLE = ("steady", "idle", "busy", "bursty", "idle", "steady", "bursty")


@dataclass
class Workload:
    profile: str
    base: float  # runnable tasks outside a burst
    burst: float  # extra runnable tasks during a burst
    period_s: float  # a burst starts every period_s seconds
    burst_s: float  # and lasts this long
    phase_s: float  # where in its period this Pi starts
    jitter: float  # +- random runnable tasks per tick

    def runnable(self, t: float) -> float:
        if self.burst <= 0 or self.period_s <= 0:
            return self.base
        in_burst = (t + self.phase_s) % self.period_s < self.burst_s
        return self.base + (self.burst if in_burst else 0.0)

    def advance(self, load: float, t: float, dt: float, rng: random.Random) -> float:
        """The load average ``dt`` seconds later, at simulated time ``t``."""
        target = max(0.0, self.runnable(t) + rng.uniform(-self.jitter, self.jitter))
        if dt <= 0:
            return load
        return round(load + (target - load) * (1.0 - math.exp(-dt / LOADAVG_TAU_S)), 3)


def make_workload(index: int, cores: int, rng: random.Random) -> Workload:
    profile = PROFILE_CYCLE[index % len(PROFILE_CYCLE)]
    period = rng.uniform(120.0, 300.0)
    phase = rng.uniform(0.0, period)
    if profile == "idle":
        return Workload(profile, rng.uniform(0.02, 0.2), 0.0, 0.0, 0.0, 0.0, 0.05)
    if profile == "steady":
        return Workload(profile, rng.uniform(0.6, 1.4), 0.0, 0.0, 0.0, 0.0, 0.2)
    if profile == "bursty":
        return Workload(
            profile, rng.uniform(0.1, 0.4), float(cores), period, period * 0.4, phase, 0.2
        )
    return Workload(profile, float(cores) * rng.uniform(0.9, 1.0), 0.0, 0.0, 0.0, 0.0, 0.3)
