"""Hybrid logical clock (Kulkarni et al. 2014) with the site id as the last tie-break.

A stamp is encoded as fixed-width text `WWWWWWWWWWWW-CCCC-SITE` (wall ms and counter in hex),
so that plain string comparison in SQL (`excluded.x__clk > x__clk`) is the clock order, and the
site id makes every stamp unique: two sites never produce equal stamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_DRIFT_MS = 5 * 60 * 1000  # a clock further ahead of wall time than this is refused
_COUNTER_MAX = 0xFFFF
EMPTY = ""  # the clock of a cell nobody wrote; sorts before every real stamp


class ClockDriftError(ValueError):
    """A clock (ours or a peer's) is further ahead of wall time than MAX_DRIFT_MS."""


@dataclass(frozen=True, order=True)
class Stamp:
    wall_ms: int
    counter: int
    site: str

    def encode(self) -> str:
        return f"{self.wall_ms:012x}-{self.counter:04x}-{self.site}"

    @classmethod
    def decode(cls, text: str) -> Stamp:
        try:
            wall, counter, site = text.split("-", 2)
            return cls(int(wall, 16), int(counter, 16), site)
        except ValueError as e:
            raise ValueError(f"not a clock stamp: {text!r}") from e


def wall_ms() -> int:
    return int(time.time() * 1000)


class Clock:
    """The HLC of one site. Not thread-safe: the store calls it under its lock."""

    def __init__(
        self,
        site: str,
        last: str = EMPTY,
        now_ms: Callable[[], int] = wall_ms,
        max_drift_ms: int = MAX_DRIFT_MS,
    ) -> None:
        self.site = site
        self._now = now_ms
        self.max_drift_ms = max_drift_ms
        self.wall = 0
        self.counter = 0
        if last:
            s = Stamp.decode(last)
            self.wall, self.counter = s.wall_ms, s.counter

    @property
    def last(self) -> str:
        return Stamp(self.wall, self.counter, self.site).encode() if self.wall else EMPTY

    def _check(self, wall: int, pt: int, whose: str) -> None:
        ahead = wall - pt
        if ahead > self.max_drift_ms:
            raise ClockDriftError(
                f"{whose} clock is {ahead / 1000:.0f} s ahead of this machine's time "
                f"(limit {self.max_drift_ms / 1000:.0f} s): fix the system clock"
            )

    def _tick(self, wall: int, counter: int) -> None:
        if counter > _COUNTER_MAX:  # counter exhausted: borrow the next millisecond
            wall, counter = wall + 1, 0
        self.wall, self.counter = wall, counter

    def now(self) -> str:
        """Stamp a local event (a write); strictly greater than every stamp seen before."""
        pt = self._now()
        if pt > self.wall:
            self._tick(pt, 0)
        else:
            self._tick(self.wall, self.counter + 1)
        self._check(self.wall, pt, "this database's")
        return self.last

    def check(self, remote: str) -> None:
        """Raise ClockDriftError if observing `remote` would be refused; changes nothing."""
        if remote:
            self._check(Stamp.decode(remote).wall_ms, self._now(), "the peer's")

    def observe(self, remote: str) -> None:
        """Receive a peer's stamp: later local stamps sort after it. Refuses far-ahead clocks."""
        if not remote:
            return
        r = Stamp.decode(remote)
        pt = self._now()
        self._check(r.wall_ms, pt, "the peer's")
        wall = max(self.wall, r.wall_ms, pt)
        if wall == self.wall == r.wall_ms:
            counter = max(self.counter, r.counter) + 1
        elif wall == self.wall:
            counter = self.counter + 1
        elif wall == r.wall_ms:
            counter = r.counter + 1
        else:
            counter = 0
        self._tick(wall, counter)
