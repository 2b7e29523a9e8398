"""Read-only work that runs in a thread beside a merge, on a connection of its own.

A merge holds one write transaction on the store's connection. Two other jobs only read: the
peer's page check (core/sync/peer.py) and the report's analysis (which cells both sides edited,
which appended rows clash; core/sync/merge.py). Each runs here, on its own connection, while
the merge statements run; the merge waits for both before COMMIT, so a bad verdict still rolls
everything back. Python's sqlite3 releases the GIL inside SQLite, so the work really overlaps.

A reader of the store's own file sees the last committed state (WAL), which is exactly the
state before this merge: the merge has not committed, and the store's lock keeps every other
local write out until it has.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable

DEFAULT_TIMEOUT_S = 600.0


class SideTask:
    """`start()`, then `wait()` (bounded): None when the work succeeded, else why it failed."""

    def __init__(
        self,
        name: str,
        connect: Callable[[], sqlite3.Connection],
        work: Callable[[sqlite3.Connection], str | None],
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.timeout_s = timeout_s
        self._connect = connect
        self._work = work
        self._conn: sqlite3.Connection | None = None
        self._problem: str | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Open the connection here (errors surface to the caller), then run the work."""
        self._conn = self._connect()
        self._thread.start()

    def _run(self) -> None:
        conn = self._conn
        assert conn is not None
        try:
            self._problem = self._work(conn)
        except sqlite3.Error as e:
            self._problem = str(e) or type(e).__name__
        finally:
            conn.close()

    def wait(self) -> str | None:
        if self._thread.ident is None:
            return f"{self.name} did not run"
        self._thread.join(self.timeout_s)
        if self._thread.is_alive():
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.interrupt()
            self._thread.join(5.0)
            self._problem = f"{self.name} took over {self.timeout_s:.0f} s"
        return self._problem
