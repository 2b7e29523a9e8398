"""Store upkeep: compaction of old samples and the background maintenance thread
(core/store/maintenance.py) that runs it and checkpoints the WAL."""

from __future__ import annotations

import time

from fleet_tui.core.store import compaction
from fleet_tui.core.store.base import StoreCore, file_uri
from fleet_tui.core.store.maintenance import Maintenance


class StoreUpkeep(StoreCore):
    def compact(
        self,
        older_than_s: float = compaction.DEFAULT_HORIZON_S,
        now: float | None = None,
        hours_older_than_s: float | None = None,
    ) -> int:
        """Downsample raw samples older than `older_than_s` into hourly buckets, and hourly
        buckets older than `hours_older_than_s` (thirty days, or `older_than_s` if longer)
        into daily ones. Returns the raw samples folded."""
        at = time.time() if now is None else now
        if hours_older_than_s is None:
            hours_older_than_s = max(older_than_s, compaction.HOURLY_HORIZON_S)
        with self._write() as c:
            self._hold_seq_floor("samples", self._seq_top("samples"))
            return compaction.compact(c, at - older_than_s, self._ver, at - hours_older_than_s)

    def _maintenance(self) -> Maintenance | None:
        """The maintenance thread's handle, created on first need (caller holds the lock)."""
        if self._maint is None and self._auto:
            self._maint = Maintenance(file_uri(self.path, mode="rw"), self.compact_due)
            # it checkpoints beside writers from now on: no COMMIT pays for the checkpoint
            self._conn.execute("PRAGMA wal_autocheckpoint = 0")
        return self._maint

    def _poke(self) -> None:
        """Ask the maintenance thread for a round (caller holds the lock)."""
        maint = self._maintenance()
        if maint is not None:
            self._unpoked = 0
            maint.poke()

    def _after_merge(self) -> None:
        with self._lock:
            self._poke()

    def maintenance_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until the maintenance round asked for last is done (tests, benchmarks)."""
        return self._maint is None or self._maint.wait_idle(timeout_s)

    def compact_due(self, now: float | None = None) -> int:
        """Fold one bounded slice of raw samples older than the raw tier (two days behind the
        newest sample) into hourly buckets; 0 when nothing is due. The maintenance thread
        calls this until it returns 0."""
        with self._write() as c:
            top = self._seq_top("samples")
            folded = compaction.compact_slice(c, self._ver, time.time() if now is None else now)
            if folded:  # never reuse the sequence numbers of rows folded away
                self._hold_seq_floor("samples", top)
            return folded
