"""Waves: the canary first, then batches. `--by rack`: a batch takes at most one device of
each rack, so a bad release never takes down a whole rack at once (devices not placed in a
rack count as a rack of their own)."""

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
    devices: Sequence[tuple[str, str]],  # (serial, rack or "")
    canary: int,
    batch: int,
    by_rack: bool,
) -> list[list[str]]:
    if batch < 1:
        raise WaveError("--batch must be at least 1")
    remaining = list(devices)
    waves: list[list[str]] = []
    if canary > 0:
        first = _take(remaining, min(canary, len(remaining)), by_rack)
        if first:
            waves.append(first)
    while remaining:
        waves.append(_take(remaining, batch, by_rack))
    return waves


def _take(remaining: list[tuple[str, str]], n: int, by_rack: bool) -> list[str]:
    taken: list[str] = []
    racks: set[str] = set()
    for item in list(remaining):
        if len(taken) >= n:
            break
        serial, rack = item
        if by_rack and rack:
            if rack in racks:
                continue
            racks.add(rack)
        taken.append(serial)
        remaining.remove(item)
    return taken
