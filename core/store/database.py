"""The local fleet database: one SQLite file per technician, merged conflict-free with peers.

`Store` is the file and nothing of any one domain: its connection and lock, write
transactions, HLC stamps, sequence numbers, meta, the background maintenance (compaction and
WAL checkpoints, core/store/maintenance.py) and the generic table API every service builds
on (`set_row`, `rows`, `append_row`, …; SQL in core/store/tables.py). Domain parts are
services constructed with a store, each over that API and the documented primitives below:
`DeviceBook` (core/store/devices.py), `EventLog` (core/store/events.py), `SampleLog`
(core/store/samples.py), `HostKeys` and `Trust` (core/net/), `HostBook` (core/net/hosts.py),
`PeerMerge` and `Exchange` (core/sync/). A new table gets a service, never a Store method.
Opening and upgrading a file: core/store/opening.py.

Concurrency. Calls on one Store may come from several threads, one at a time (a lock guards
its single connection). Any number of Stores, in any number of processes, may write the same
file (the TUI, `fleet-tui device edit` or `merge` in another terminal): every write
transaction takes SQLite's write lock first (BEGIN IMMEDIATE) and derives from the file,
inside it, what it hands out: the next sequence number of our origin per append-only table
(max(seq) by primary key, never below `seq_floor.<table>`), the HLC (the persisted `hlc` meta
witnessed, then advanced and persisted) and the local version `_ver` (`db_version` meta).
What a Store counted in memory is used again only while no other connection has committed to
the file (`PRAGMA data_version`, read inside the transaction; see `Store._tx`). Only
in-memory state of a service is per instance (the sample gate of a `SampleLog`).
Schema and merge rules: core/store/schema.py, core/sync/.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fleet_tui.core.store import compaction, opening
from fleet_tui.core.store.base import (
    SEQ_TABLES,
    SQLITE_MAGIC,
    STATE_SQL,
    StoreError,
    check_sqlite_header,
    file_uri,
    meta_int,
    seq_top_sql,
)
from fleet_tui.core.store.hlc import Clock, ClockDriftError
from fleet_tui.core.store.identity import origin_of
from fleet_tui.core.store.maintenance import POKE_EVERY, Maintenance
from fleet_tui.core.store.schema import AppendTable, LwwTable, table_columns
from fleet_tui.core.store.tables import (
    append_sql,
    appended_sql,
    check_fields,
    live_rows_sql,
    lww_set_sql,
    spec,
)

__all__ = ["SQLITE_MAGIC", "Store", "StoreError", "check_sqlite_header", "file_uri"]


class Store:
    """One fleet database file, opened by `Store.open`. Its public surface: reading
    (`locked`, `query`, `meta`, `columns`), write transactions (`write`, `transaction`) and
    the primitives a service calls inside one (`lww_set`, `append`, `log_event`, …), the
    generic table API, and upkeep (`compact`, the maintenance thread)."""

    site_id: str
    origin: int  # our site id as the integer that keys our appended rows
    clock: Clock

    def __init__(
        self, conn: sqlite3.Connection, path: Path, readonly: bool, maintenance: bool = True
    ) -> None:
        """Use `Store.open`."""
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
        self._columns: dict[str, frozenset[str]] = {}  # what this file's tables have
        self._auto = maintenance and not readonly
        self._maint: Maintenance | None = None
        self._unpoked = 0  # samples appended since the maintenance thread was last poked

    # ---- opening and closing -------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, maintenance: bool = True) -> Store:
        """Open (or create) the store at `path`; its folder must exist (it is never made
        here). Writes nothing if the file is current.

        `maintenance`: compact old samples and checkpoint the WAL in a background thread
        (core/store/maintenance.py), started on first need; writable stores only."""
        conn, p = opening.connect(path, readonly)
        store = cls(conn, p, readonly, maintenance)
        try:
            store._setup()
        except sqlite3.DatabaseError as e:
            conn.close()
            raise StoreError(f"{p}: {e}") from e
        except BaseException:
            conn.close()
            raise
        return store

    def _setup(self) -> None:
        state = opening.check(self._conn, self.path, self.readonly)
        if not self.readonly:
            opening.use_wal(self._conn)
            with self._tx(load=False) as c:  # the clock and identity are not known yet
                opening.upgrade(c, state)
                opening.claim_identity(c, self.path)
        meta = self.meta()
        self.site_id = str(meta.get("site_id", ""))
        self.origin = origin_of(self.site_id)
        self._ver = meta_int(meta.get("db_version"), 1)
        self.clock = Clock(self.site_id, meta_int(meta.get("hlc"), 0))
        # compaction may have deleted our newest rows: never reuse their sequence numbers
        self._floors = {t: meta_int(meta.get(f"seq_floor.{t}"), 0) for t in SEQ_TABLES}
        for t in SEQ_TABLES:
            self._seq[t] = self._seq_top(t)

    def close(self) -> None:
        if self._maint is not None:  # not under the lock: a compaction slice may need it
            self._maint.stop()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- reading --------------------------------------------------------------------------
    @contextmanager
    def locked(self) -> Iterator[sqlite3.Connection]:
        """The connection under the store's lock, not in a transaction: for reads of several
        statements, and for work no local write may interleave with (a merge attaches its
        peer here, then runs its transaction inside). Re-entrant."""
        with self._lock:
            yield self._conn

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        """Rows of one SELECT as dicts (column name -> value)."""
        with self._lock:
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    def meta(self) -> dict[str, object]:
        with self._lock:
            return dict(self._conn.execute("SELECT key, value FROM meta").fetchall())

    @property
    def version(self) -> int:
        """The version local writes are stamped with now (the sync cursor's unit)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'db_version'").fetchone()
        return meta_int(row[0] if row else None, 1)

    def columns(self, table: str) -> frozenset[str]:
        """The columns `table` has in this file: one from before a column was added, opened
        read-only (so never migrated), lacks it."""
        with self._lock:
            have = self._columns.get(table)
            if have is None:
                have = self._columns[table] = frozenset(table_columns(self._conn, table))
            return have

    # ---- write transactions ---------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock, rolled back on any error; SQLite's errors
        pass through as they are (a merge words its own). Services use `write` instead.
        How it stays exact beside other writers of the file: `_tx`."""
        with self._tx() as c:
            yield c

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction for a service: refused on a read-only store, and any SQLite
        error is a StoreError naming the file."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened read-only")
        try:
            with self._tx() as c:
                yield c
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: {e}") from e

    @contextmanager
    def _tx(self, load: bool = True) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the file's write lock before anything is read, so what we read
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
        state = dict(self._conn.execute(STATE_SQL).fetchall())
        self._ver = meta_int(state.pop("db_version", None), 1)
        self.clock.witness(meta_int(state.pop("hlc", None), 0))
        self._floors = {k.removeprefix("seq_floor."): meta_int(v, 0) for k, v in state.items()}

    def _set_meta(self, c: sqlite3.Connection, key: str, value: object) -> None:
        c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # ---- primitives inside a write transaction (the caller holds one: `c`) ----------------
    @property
    def write_version(self) -> int:
        """The version this transaction's rows are stamped with (`_ver`, the sync cursor)."""
        return self._ver

    def set_write_version(self, c: sqlite3.Connection, ver: int) -> None:
        """Stamp later local writes with `ver` (persisted as `db_version`): a merge gives the
        rows it wrote a version of their own, an exchange closes its cursor."""
        self._set_meta(c, "db_version", ver)
        self._ver = ver

    def _stamp(self, c: sqlite3.Connection) -> int:
        """A fresh HLC stamp for a local write, persisted so the clock survives restarts."""
        try:
            stamp = self.clock.now()
        except ClockDriftError as e:
            raise StoreError(str(e)) from e
        self._set_meta(c, "hlc", stamp)
        return stamp

    def observe_clock(self, c: sqlite3.Connection, hlc: int) -> None:
        """Move our clock past a peer's (merged in this transaction) and persist it."""
        try:
            self.clock.observe(hlc)
        except ClockDriftError as e:  # a merge checks before; the wall clock may move meanwhile
            raise StoreError(str(e)) from e
        self._set_meta(c, "hlc", self.clock.last)

    def lww_set(
        self, c: sqlite3.Connection, table: str, key: str, fields: Mapping[str, Any]
    ) -> None:
        """Stamp each given column of one row of an LWW table with one new HLC. No field
        check and no implied `deleted = 0`: the caller says exactly what it writes."""
        t = spec(table, LwwTable)
        stamp = self._stamp(c)
        params: list[Any] = [key]
        for n in fields:
            params += [fields[n], stamp]
        c.execute(lww_set_sql(t, fields), [*params, self._ver])

    def append(self, c: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
        """Append one row to an append-only table under our origin; returns its seq."""
        seq = self.next_seq(table)
        c.execute(append_sql(table, row), [self.origin, seq, *row.values(), self._ver])
        return seq

    def log_event(self, c: sqlite3.Connection, serial: str | None, kind: str, message: str) -> None:
        """Append one event to the event log, stamped now: any service can say why it wrote
        in the same transaction as the write (core/store/events.py reads them)."""
        row = {"serial": serial, "time": time.time(), "kind": kind, "message": message}
        self.append(c, "events", row)

    # ---- sequence numbers -------------------------------------------------------------------
    def next_seq(self, table: str) -> int:
        """The next sequence number of our origin in `table` (caller holds a write
        transaction): read from the file after anyone else wrote to it, else counted on."""
        top = self._top.get(table)
        if top is None:
            top = self._seq_top(table)
        top += 1
        self._top[table] = self._seq[table] = top
        return top

    def last_seq(self, table: str) -> int:
        """The last sequence number this Store handed out in `table` (at open: the file's)."""
        return self._seq.get(table, 0)

    def recount_seqs(self) -> None:
        """Read our sequence numbers from the file again at their next use: a merge may have
        brought rows of our own origin back (from a peer that had them from us)."""
        self._top.clear()

    def fold_samples(self, c: sqlite3.Connection, fold: Callable[[], int]) -> int:
        """Run `fold` (compaction: it may delete our newest sample rows) and never hand out
        the sequence numbers of what it folded away again. Returns what `fold` returns."""
        top = self._seq_top("samples")
        folded = fold()
        if folded:
            self.hold_seq_floor(c, "samples", top)
        return folded

    def _seq_top(self, table: str) -> int:
        """The highest sequence number our origin ever used in `table`, from the file (caller
        holds a write transaction): the newest row by primary key, or the floor compaction
        left when it folded our newest rows away."""
        row = self._conn.execute(seq_top_sql(table), (self.origin,)).fetchone()
        return max(row[0] or 0, self._floors.get(table, 0))

    def hold_seq_floor(self, c: sqlite3.Connection, table: str, top: int) -> None:
        """Rows of ours up to `top` may be gone (folded): never hand their numbers out again."""
        if top > self._floors.get(table, 0):
            self._set_meta(c, f"seq_floor.{table}", top)
            self._floors[table] = top

    # ---- the generic table API --------------------------------------------------------------
    def set_row(self, table: str, key: str, **fields: object) -> None:
        """LWW-write columns of one row of an editable table; also brings a deleted row back."""
        check_fields(spec(table, LwwTable), fields)
        with self.write() as c:
            self.lww_set(c, table, key, {**fields, "deleted": 0})

    def set_rows(self, table: str, rows: Mapping[str, Mapping[str, object]]) -> None:
        """`set_row` for many rows (key -> fields) in one transaction."""
        t = spec(table, LwwTable)
        for fields in rows.values():
            check_fields(t, fields)
        with self.write() as c:
            for key, fields in rows.items():
                self.lww_set(c, table, key, {**fields, "deleted": 0})

    def delete_row(self, table: str, key: str) -> None:
        """Tombstone one row of an editable table (never a physical delete)."""
        spec(table, LwwTable)
        with self.write() as c:
            self.lww_set(c, table, key, {"deleted": 1})

    def delete_rows(
        self, table: str, keys: list[str], event: tuple[str | None, str, str] | None = None
    ) -> None:
        """Tombstone several rows and log why (`event` = serial, kind, message), atomically."""
        spec(table, LwwTable)
        with self.write() as c:
            for key in keys:
                self.lww_set(c, table, key, {"deleted": 1})
            if event is not None:
                self.log_event(c, *event)

    def get_row(self, table: str, key: str) -> dict[str, Any] | None:
        found = self.rows(table, f"{spec(table, LwwTable).key} = ?", (key,))
        return found[0] if found else None

    def rows(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        """Live rows of an editable table (values only, no clocks), ordered by key."""
        return self.query(live_rows_sql(spec(table, LwwTable), where), params)

    def append_row(self, table: str, **fields: object) -> tuple[int, int]:
        """Append to an append-only table; returns the row's key (origin, seq)."""
        check_fields(spec(table, AppendTable), fields)
        with self.write() as c:
            return self.origin, self.append(c, table, fields)

    def appended(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        return self.query(appended_sql(spec(table, AppendTable), where), params)

    # ---- upkeep: compaction and the maintenance thread --------------------------------------
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
        with self.write() as c:
            self.hold_seq_floor(c, "samples", self._seq_top("samples"))
            return compaction.compact(c, at - older_than_s, self._ver, at - hours_older_than_s)

    def compact_due(self, now: float | None = None) -> int:
        """Fold one bounded slice of raw samples older than the raw tier (two days behind the
        newest sample) into hourly buckets; 0 when nothing is due. The maintenance thread
        calls this until it returns 0."""
        with self.write() as c:
            at = time.time() if now is None else now
            return self.fold_samples(c, lambda: compaction.compact_slice(c, self._ver, at))

    def start_maintenance(self) -> None:
        """Create the maintenance thread's handle now, before a big write (a merge): from
        then on it checkpoints the WAL beside writers, so no COMMIT pays for a checkpoint."""
        with self._lock:
            self._maintenance()

    def poke_maintenance(self) -> None:
        """Ask the maintenance thread for a round (after a merge brought rows in)."""
        with self._lock:
            self._poke()

    def samples_appended(self, n: int) -> None:
        """Count appended samples; every POKE_EVERY of them the maintenance thread is poked."""
        with self._lock:
            self._unpoked += n
            if self._unpoked >= POKE_EVERY:
                self._poke()

    def maintenance_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait until the maintenance round asked for last is done (tests, benchmarks)."""
        return self._maint is None or self._maint.wait_idle(timeout_s)

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
