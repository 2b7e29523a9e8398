"""Hybrid logical clock (Kulkarni et al. 2014) with the site id as the last tie-break.

A stamp is one 63-bit integer: wall ms (42 bits, good until 2109) | counter (11 bits) |
site tag (10 bits of the site id). Integer order is (wall, counter, site) order, so SQL compares
clocks with a plain `>` on an 8-byte column: compact rows, fast merges. Two sites whose tags
collide and stamp the same (wall, counter) are still ordered deterministically: the merge then
compares the values themselves (core/sync/merge.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_DRIFT_MS = 5 * 60 * 1000  # a clock further ahead of wall time than this is refused
COUNTER_BITS = 11
SITE_BITS = 10
_COUNTER_MAX = (1 << COUNTER_BITS) - 1
_SITE_MASK = (1 << SITE_BITS) - 1
EMPTY = 0  # the clock of a cell nobody wrote; below every real stamp


class ClockDriftError(ValueError):
    """A clock (ours or a peer's) is further ahead of wall time than MAX_DRIFT_MS."""


def site_tag(site_id: str) -> int:
    return int(site_id[-4:], 16) & _SITE_MASK if site_id else 0


@dataclass(frozen=True, order=True)
class Stamp:
    wall_ms: int
    counter: int
    site: int  # the site tag

    def encode(self) -> int:
        return (
            (self.wall_ms << (COUNTER_BITS + SITE_BITS)) | (self.counter << SITE_BITS) | self.site
        )

    @classmethod
    def decode(cls, value: int) -> Stamp:
        value = int(value)
        return cls(
            value >> (COUNTER_BITS + SITE_BITS),
            (value >> SITE_BITS) & _COUNTER_MAX,
            value & _SITE_MASK,
        )

    def __str__(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self.wall_ms / 1000))
        return f"{when}.{self.wall_ms % 1000:03d}Z+{self.counter}@{self.site:03x}"


def wall_ms() -> int:
    return int(time.time() * 1000)


class Clock:
    """The HLC of one site. Not thread-safe: the store calls it under its lock.

    Several Stores (processes) may write one database: each witnesses the persisted clock in
    every write transaction that follows another's commit, so the site's stamps stay strictly
    increasing across all of them."""

    def __init__(
        self,
        site: str,
        last: int | str | None = EMPTY,
        now_ms: Callable[[], int] = wall_ms,
        max_drift_ms: int = MAX_DRIFT_MS,
    ) -> None:
        self.tag = site_tag(site)
        self._now = now_ms
        self.max_drift_ms = max_drift_ms
        self.wall = 0
        self.counter = 0
        if last:
            s = Stamp.decode(int(last))
            self.wall, self.counter = s.wall_ms, s.counter

    @property
    def last(self) -> int:
        return Stamp(self.wall, self.counter, self.tag).encode() if self.wall else EMPTY

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

    def now(self) -> int:
        """Stamp a local event (a write); strictly greater than every stamp seen before."""
        pt = self._now()
        if pt > self.wall:
            self._tick(pt, 0)
        else:
            self._tick(self.wall, self.counter + 1)
        self._check(self.wall, pt, "this database's")
        return self.last

    def witness(self, persisted: int | str | None) -> None:
        """Catch up with a stamp of this site read back from the database: another Store on
        the same file may have stamped since we last did. Later stamps sort after it.

        No drift check here: it is our own clock; `now()` refuses it if it is far ahead."""
        if not persisted:
            return
        s = Stamp.decode(int(persisted))
        if (s.wall_ms, s.counter) > (self.wall, self.counter):
            self.wall, self.counter = s.wall_ms, s.counter

    def check(self, remote: int | str | None) -> None:
        """Raise ClockDriftError if observing `remote` would be refused; changes nothing."""
        if remote:
            self._check(Stamp.decode(int(remote)).wall_ms, self._now(), "the peer's")

    def observe(self, remote: int | str | None) -> None:
        """Receive a peer's stamp: later local stamps sort after it. Refuses far-ahead clocks."""
        if not remote:
            return
        r = Stamp.decode(int(remote))
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
