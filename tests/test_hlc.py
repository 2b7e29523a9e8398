"""Hybrid logical clock: monotonic, ordered as text, refuses far-ahead clocks."""

from __future__ import annotations

import pytest

from core.hlc import MAX_DRIFT_MS, Clock, ClockDriftError, Stamp


def fixed(ms: list[int]):  # type: ignore[no-untyped-def]
    return lambda: ms[0]


def test_monotonic_even_when_wall_time_goes_back() -> None:
    ms = [1_000_000]
    c = Clock("aa", now_ms=fixed(ms))
    a = c.now()
    ms[0] -= 500
    b = c.now()
    ms[0] += 10_000
    d = c.now()
    assert a < b < d
    assert Stamp.decode(b).wall_ms == Stamp.decode(a).wall_ms


def test_text_order_is_clock_order_with_site_tie_break() -> None:
    x = Stamp(0x10, 2, "bb").encode()
    y = Stamp(0x10, 2, "cc").encode()
    z = Stamp(0x10, 3, "aa").encode()
    w = Stamp(0x100, 0, "aa").encode()
    assert x < y < z < w
    assert Stamp.decode(w) == Stamp(0x100, 0, "aa")


def test_observe_moves_past_remote() -> None:
    ms = [1_000_000]
    c = Clock("aa", now_ms=fixed(ms))
    remote = Stamp(1_000_050, 7, "bb").encode()
    c.observe(remote)
    assert c.now() > remote


def test_far_ahead_clock_refused() -> None:
    ms = [1_000_000_000]
    c = Clock("aa", now_ms=fixed(ms))
    ahead = Stamp(ms[0] + MAX_DRIFT_MS + 1, 0, "bb").encode()
    with pytest.raises(ClockDriftError, match="ahead"):
        c.observe(ahead)
    # our own persisted clock far ahead (wall time went back a lot): writes refused
    c2 = Clock("aa", last=ahead, now_ms=fixed(ms))
    with pytest.raises(ClockDriftError):
        c2.now()


def test_counter_overflow_borrows_next_ms() -> None:
    ms = [5_000]
    c = Clock("aa", now_ms=fixed(ms))
    stamps = [c.now() for _ in range(0x10002)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
