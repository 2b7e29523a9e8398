"""The core every part of the Store stands on: its connection and lock, write transactions,
HLC stamps, sequence numbers and the generic LWW and append writes.

Calls on one Store may come from several threads, one at a time (a lock guards its single
connection). Any number of Stores, in any number of processes, may write the same file (the
TUI, `fleet-tui device edit` or `merge` in another terminal): every write transaction takes
SQLite's write lock first (BEGIN IMMEDIATE) and derives from the file, inside it, what it
hands out: the next sequence number of our origin per append-only table (max(seq) by primary
key, never below `seq_floor.<table>`), the HLC (the persisted `hlc` meta witnessed, then
advanced and persisted) and the local version `_ver` (`db_version` meta). What a Store
counted in memory is used again only while no other connection has committed to the file
(`PRAGMA data_version`, read inside the transaction; see `_tx`). Only the sample gate is per
instance (core/samples.py). Schema and merge rules: core/store/schema.py, core/sync/.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from fleet_tui.core.samples import SampleGate
from fleet_tui.core.store.hlc import Clock, ClockDriftError
from fleet_tui.core.store.maintenance import Maintenance
from fleet_tui.core.store.schema import APPEND_TABLES, CLK, SAMPLE_BLOCKS, TABLES, LwwTable

SQLITE_MAGIC = b"SQLite format 3\x00"


class StoreError(Exception):
    """Anything the user must be told about the database, as one line."""


def check_sqlite_header(path: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite itself touches it."""
    try:
        with path.open("rb") as f:
            head = f.read(100)
    except OSError as e:
        raise StoreError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        raise StoreError(f"{path}: not an SQLite database")


def file_uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{pathname2url(str(path))}" + (f"?{query}" if query else "")


class StoreCore:
    """State and write plumbing shared by every part of `core.store.Store`."""

    site_id: str
    path: Path
    origin: int
    clock: Clock

    def __init__(
        self, conn: sqlite3.Connection, path: Path, readonly: bool, maintenance: bool = True
    ) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._seq: dict[str, int] = {}  # last sequence number this instance handed out
        # What the file said at the start of our last write transaction, valid while nobody
        # else commits to it (PRAGMA data_version unchanged): see `_tx`.
        self._seen: int | None = None  # data_version then; None: reload at the next one
        self._top: dict[str, int] = {}  # per append-only table: our origin's highest seq
        self._floors: dict[str, int] = {}  # seq_floor meta
        self._ver = 1  # db_version
        self.gate = SampleGate()  # which health readings record_health keeps
        self._auto = maintenance and not readonly
        self._maint: Maintenance | None = None
        self._unpoked = 0  # samples appended since the maintenance thread was last poked

    # ---- transactions and bookkeeping --------------------------------------------------
    @contextmanager
    def _tx(self, load: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back on any error.

        BEGIN IMMEDIATE takes the file's write lock before anything is read, so what we read
        next is the latest state and stays ours until COMMIT: other Stores on the file, in
        this process or another, wait for it (busy_timeout). If any of them committed since
        our last transaction (`PRAGMA data_version` moved: it counts other connections'
        commits, never ours), the version, the clock and the sequence numbers are read again
        from the file; otherwise what we know is still exact, and a write costs one pragma."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                if load:
                    seen = self._conn.execute("PRAGMA data_version").fetchone()[0]
                    if seen != self._seen:
                        self._load_state()
                        self._seen = seen
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._seen = None  # what we counted in memory was rolled back: read it again
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    def _load_state(self) -> None:
        """What other writers of the file may have moved: the version, the persisted clock and
        the sequence floors (caller holds the write lock). Sequence numbers: on first use."""
        self._top.clear()
        state = dict(self._conn.execute(_STATE_SQL).fetchall())
        self._ver = _meta_int(state.pop("db_version", None), 1)
        self.clock.witness(_meta_int(state.pop("hlc", None), 0))
        self._floors = {k.removeprefix("seq_floor."): _meta_int(v, 0) for k, v in state.items()}

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        try:
            with self._tx() as c:
                yield c
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {e}") from e

    def meta(self) -> dict[str, object]:
        with self._lock:
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    def _set_meta(self, key: str, value: object) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def _stamp(self) -> int:
        """A fresh HLC stamp for a local write, persisted so the clock survives restarts."""
        try:
            stamp = self.clock.now()
        except ClockDriftError as e:
            raise StoreError(str(e)) from e
        self._set_meta("hlc", stamp)
        return stamp

    def _seq_top(self, table: str) -> int:
        """The highest sequence number our origin ever used in `table`, from the file (caller
        holds a write transaction): the newest row by primary key, or the floor compaction
        left when it folded our newest rows away."""
        row = self._conn.execute(seq_top_sql(table), (self.origin,)).fetchone()
        return max(row[0] or 0, self._floors.get(table, 0))

    def _next_seq(self, table: str) -> int:
        """The next sequence number of our origin in `table` (caller holds a write
        transaction): read from the file after anyone else wrote to it, else counted on."""
        top = self._top.get(table)
        if top is None:
            top = self._seq_top(table)
        top += 1
        self._top[table] = self._seq[table] = top
        return top

    def _hold_seq_floor(self, table: str, top: int) -> None:
        """Rows of ours up to `top` may be gone (folded): never hand their numbers out again."""
        if top > self._floors.get(table, 0):
            self._set_meta(f"seq_floor.{table}", top)
            self._floors[table] = top

    # ---- generic LWW and append writes ---------------------------------------------------
    def _lww_set(
        self, c: sqlite3.Connection, table: str, key: str, fields: Mapping[str, Any]
    ) -> None:
        """Stamp each given column of one row with a new HLC (caller holds a transaction)."""
        t = TABLES[table]
        assert isinstance(t, LwwTable)
        stamp = self._stamp()
        cols = list(fields)
        names = ", ".join(f"{n}, {n}{CLK}" for n in cols)
        marks = ", ".join("?, ?" for _ in cols)
        sets = ", ".join(f"{n} = excluded.{n}, {n}{CLK} = excluded.{n}{CLK}" for n in cols)
        params: list[Any] = [key]
        for n in cols:
            params += [fields[n], stamp]
        c.execute(
            f"INSERT INTO {table} ({t.key}, {names}, _ver) VALUES (?, {marks}, ?) "
            f"ON CONFLICT({t.key}) DO UPDATE SET {sets}, _ver = excluded._ver",
            [*params, self._ver],
        )

    def _append(self, c: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        c.execute(
            f"INSERT INTO {table} (origin, seq, {cols}, _ver) VALUES (?, ?, {marks}, ?)",
            [self.origin, self._next_seq(table), *row.values(), self._ver],
        )

    def _log_event(
        self, c: sqlite3.Connection, serial: str | None, kind: str, message: str
    ) -> None:
        """Append one event, stamped now (caller holds a transaction)."""
        self._append(
            c, "events", {"serial": serial, "time": time.time(), "kind": kind, "message": message}
        )

    def _row_dicts(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


# Tables with per-origin sequence numbers: the append-only ones, and "samples" (numbered
# one by one, stored in blocks: core/store/sample_blocks.py).
SEQ_TABLES = (*(t.name for t in APPEND_TABLES), "samples")


def seq_top_sql(table: str) -> str:
    """SQL (one parameter, the origin): the highest sequence number of that origin."""
    if table == "samples":
        return f"SELECT max(seq_hi) FROM {SAMPLE_BLOCKS.name} WHERE origin = ?"
    return f"SELECT max(seq) FROM {table} WHERE origin = ?"


_STATE_SQL = "SELECT key, value FROM meta WHERE key IN ({})".format(
    ", ".join(f"'{k}'" for k in ["db_version", "hlc", *(f"seq_floor.{t}" for t in SEQ_TABLES)])
)


def _meta_int(value: object, default: int) -> int:
    """A meta value written by us as an integer (stored as INTEGER or, by v1, TEXT)."""
    if isinstance(value, int | str) and str(value).strip():
        return int(value)
    return default
