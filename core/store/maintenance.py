"""The store's upkeep, off the hot path: automatic compaction and WAL checkpoints.

One daemon thread per writable store, started on first need (a merge, or every POKE_EVERY
appended samples) and stopped by `Store.close()`. Each wake it folds due samples one bounded
slice at a time (each slice its own short transaction under the store's lock, so the poller
waits at most one slice), then checkpoints the WAL on a connection of its own: a PASSIVE
checkpoint runs beside writers, so neither a merge's COMMIT nor a poller's insert pays for
copying the WAL back into the database (the store turns SQLite's automatic checkpoint off
while this thread runs). SQLite checkpoints once more when the store closes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

WAKE_EVERY_S = 300.0  # also wakes on a poke; a new hour of samples becomes due every hour
POKE_EVERY = 500  # appended samples between pokes
SLICE_PAUSE_S = 0.02  # between compaction slices: writers get the lock in between
MAX_SLICES = 100_000  # per wake: a year of two-hour slices is 4,380
STOP_TIMEOUT_S = 10.0


class Maintenance:
    def __init__(
        self,
        db_uri: str,
        compact_slice: Callable[[], int],
        wake_every_s: float = WAKE_EVERY_S,
    ) -> None:
        self._uri = db_uri
        self._compact_slice = compact_slice
        self._wake_every_s = wake_every_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread: threading.Thread | None = None
        self.folded = 0  # samples folded so far (for tests and the log)
        self.last_error: str | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def poke(self) -> None:
        """Ask for a round soon (starts the thread the first time)."""
        if self._stop.is_set():
            return
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="store-maintenance", daemon=True)
            self._thread.start()
        self._idle.clear()
        self._wake.set()

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until the round asked for by the last poke is done (tests, benchmarks)."""
        return self._thread is None or self._idle.wait(timeout_s)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while not self._stop.is_set():
                self._wake.wait(self._wake_every_s)
                self._wake.clear()
                if self._stop.is_set():
                    break
                self._compact()
                conn = self._checkpoint(conn)
                if not self._wake.is_set():
                    self._idle.set()
        finally:
            if conn is not None:
                conn.close()
            self._idle.set()

    def _compact(self) -> None:
        for _ in range(MAX_SLICES):
            if self._stop.is_set():
                return
            try:
                folded = self._compact_slice()
            except Exception as e:  # keep the thread alive; report once per round
                self.last_error = f"compaction: {e}"
                log.warning("fleet database %s", self.last_error)
                return
            if not folded:
                return
            self.folded += folded
            time.sleep(SLICE_PAUSE_S)

    def _checkpoint(self, conn: sqlite3.Connection | None) -> sqlite3.Connection | None:
        try:
            if conn is None:
                conn = sqlite3.connect(self._uri, uri=True, isolation_level=None)
                conn.execute("PRAGMA busy_timeout = 1000")
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as e:
            self.last_error = f"checkpoint: {e}"
            log.warning("fleet database %s", self.last_error)
        return conn
