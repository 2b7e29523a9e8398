"""Waves: the canary first, then batches. `--by rack`: a batch takes at most one device of
each rack, so a bad release never takes down a whole rack at once (devices not placed in a
rack count as a rack of their own). `--by outlet` the same with power sources: never two
devices fed by the same PoE switch (PSE group) or PDU in one batch."""

from __future__ import annotations

import math
from collections.abc import Sequence


class WaveError(ValueError):
    pass


def count_of(spec: str, total: int, what: str, minimum: int = 0) -> int:
    """'5' -> 5; '25%' -> a quarter of `total`, rounded up (a batch of 0 would never end)."""
    text = spec.strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 <= pct <= 100:
                raise ValueError
            return max(minimum, math.ceil(total * pct / 100))
        n = int(text)
        if n < 0:
            raise ValueError
        return max(minimum, n)
    except ValueError:
        raise WaveError(f"{what}: {spec!r} is not N or P% (e.g. 5 or 25%)") from None


def plan_waves(
    devices: Sequence[tuple[str, str]],  # (serial, its group: rack, power source, or "")
    canary: int,
    batch: int,
    spread: bool,
) -> list[list[str]]:
    if batch < 1:
        raise WaveError("--batch must be at least 1")
    remaining = list(devices)
    waves: list[list[str]] = []
    if canary > 0:
        first = _take(remaining, min(canary, len(remaining)), spread)
        if first:
            waves.append(first)
    while remaining:
        waves.append(_take(remaining, batch, spread))
    return waves


def _take(remaining: list[tuple[str, str]], n: int, spread: bool) -> list[str]:
    taken: list[str] = []
    groups: set[str] = set()
    for item in list(remaining):
        if len(taken) >= n:
            break
        serial, group = item
        if spread and group:
            if group in groups:
                continue
            groups.add(group)
        taken.append(serial)
        remaining.remove(item)
    return taken
