"""Hybrid logical clock: monotonic, ordered as integers, refuses far-ahead clocks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fleet_tui.core.store.hlc import MAX_DRIFT_MS, Clock, ClockDriftError, Stamp, site_tag


def fixed(ms: list[int]) -> Callable[[], int]:
    return lambda: ms[0]


def test_monotonic_even_when_wall_time_goes_back() -> None:
    ms = [1_000_000]
    c = Clock("aa" * 16, now_ms=fixed(ms))
    a = c.now()
    ms[0] -= 500
    b = c.now()
    ms[0] += 10_000
    d = c.now()
    assert a < b < d
    assert Stamp.decode(b).wall_ms == Stamp.decode(a).wall_ms


def test_integer_order_is_wall_counter_site_order() -> None:
    x = Stamp(0x10, 2, 1).encode()
    y = Stamp(0x10, 2, 5).encode()
    z = Stamp(0x10, 3, 0).encode()
    w = Stamp(0x100, 0, 0).encode()
    assert x < y < z < w
    assert Stamp.decode(w) == Stamp(0x100, 0, 0)
    big = Stamp(4_102_444_800_000, 2047, 1023)  # year 2100, counter and tag at their maximum
    assert Stamp.decode(big.encode()) == big and big.encode() < 2**63


def test_two_sites_same_millisecond_differ_by_tag() -> None:
    ms = [1_000_000]
    a = Clock("0" * 31 + "1", now_ms=fixed(ms))
    b = Clock("0" * 31 + "2", now_ms=fixed(ms))
    assert a.now() != b.now()
    assert site_tag("0" * 31 + "2") == 2


def test_observe_moves_past_remote() -> None:
    ms = [1_000_000]
    c = Clock("aa" * 16, now_ms=fixed(ms))
    remote = Stamp(1_000_050, 7, 3).encode()
    c.observe(remote)
    assert c.now() > remote


def test_far_ahead_clock_refused() -> None:
    ms = [1_000_000_000]
    c = Clock("aa" * 16, now_ms=fixed(ms))
    ahead = Stamp(ms[0] + MAX_DRIFT_MS + 1, 0, 3).encode()
    with pytest.raises(ClockDriftError, match="ahead"):
        c.observe(ahead)
    with pytest.raises(ClockDriftError):
        c.check(ahead)
    # our own persisted clock far ahead (wall time went back a lot): writes refused
    c2 = Clock("aa" * 16, last=ahead, now_ms=fixed(ms))
    with pytest.raises(ClockDriftError):
        c2.now()


def test_counter_overflow_borrows_next_ms() -> None:
    ms = [5_000]
    c = Clock("aa" * 16, now_ms=fixed(ms))
    stamps = [c.now() for _ in range(5000)]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
