"""The local fleet database: one SQLite file per technician, merged conflict-free with peers.

Calls on one Store may come from several threads, one at a time (a lock guards its single
connection). Any number of Stores, in any number of processes, may write the same file (the
TUI, `fleet-tui device edit` or `merge` in another terminal): every write transaction takes
SQLite's write lock first (BEGIN IMMEDIATE) and derives from the file, inside it, what it
hands out: the next sequence number of our origin per append-only table (max(seq) by primary
key, never below `seq_floor.<table>`), the HLC (the persisted `hlc` meta witnessed, then
advanced and persisted) and the local version `_ver` (`db_version` meta). What a Store
counted in memory is used again only while no other connection has committed to the file
(`PRAGMA data_version`, read inside the transaction; see `_tx`). Only the sample gate is per
instance (core/samples.py). Schema and merge rules: core/schema.py, core/sync/.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from core import compaction
from core.hlc import Clock, ClockDriftError
from core.records import DeviceRecord, EventRecord, HostKeyEvent, SampleRecord
from core.samples import SAMPLE_COLUMNS, SampleGate, sample_values
from core.schema import (
    APPEND_TABLES,
    APPLICATION_ID,
    CLK,
    DEVICE_FIELDS,
    SAMPLE_METRICS,
    SCHEMA_VERSION,
    TABLES,
    AppendTable,
    LwwTable,
    ensure_schema,
    migrate_v1,
)
from core.store_maintenance import POKE_EVERY, Maintenance
from core.sync import files, identity
from core.sync.beside import SideTask
from core.sync.conflicts import placement_conflicts
from core.sync.merge import analyse, merge_attached
from core.sync.peer import PageCheck, PeerError, PeerInfo, inspect_peer
from core.sync.report import ConstraintConflict, MergeReport

SQLITE_MAGIC = b"SQLite format 3\x00"
_DEVICE_FIELD_NAMES = frozenset(c.name for c in DEVICE_FIELDS)


class StoreError(Exception):
    """Anything the user must be told about the database, as one line."""


@dataclass
class Exchange:
    cursor: int  # our version the outgoing changes run up to
    rows: int  # rows written to the outgoing file
    report: MergeReport | None  # what merging the incoming file changed

    @property
    def echo_ver(self) -> int | None:
        return self.report.version if self.report else None


@dataclass
class SyncState:
    target: str
    sent_ver: int  # our changes up to this version are in the partner's copy
    echo_ver: int | None  # rows our last merge of the partner's files wrote
    last_sync: float | None
    seen: dict[str, int]  # writing site -> highest change-set cursor merged


class _DryRun(Exception):
    """Raised inside a merge transaction to roll it back after computing the report."""


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


class Store:
    site_id: str
    path: Path

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

    # ---- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, maintenance: bool = True) -> Store:
        """Open (or create) the store at `path`. Writes nothing if the file is current.

        `maintenance`: compact old samples and checkpoint the WAL in a background thread
        (core/store_maintenance.py), started on first need; writable stores only."""
        p = Path(path).expanduser().absolute()
        if p.exists() and p.stat().st_size > 0:
            check_sqlite_header(p)
        elif readonly:
            raise StoreError(f"{p}: no such database")
        else:
            p.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                file_uri(p, mode="ro" if readonly else "rwc"),
                uri=True,
                check_same_thread=False,  # guarded by Store._lock instead
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            )
        except sqlite3.Error as e:
            raise StoreError(f"{p}: cannot open: {e}") from e
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
        c = self._conn
        c.execute("PRAGMA busy_timeout = 5000")
        # merges read and write whole tables: a bigger cache and mmap cut syscalls a lot
        c.execute("PRAGMA cache_size = -65536")
        c.execute("PRAGMA mmap_size = 268435456")
        c.execute("PRAGMA temp_store = MEMORY")
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        version = c.execute("PRAGMA user_version").fetchone()[0]
        has_tables = c.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
        if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
            raise StoreError(f"{self.path}: not a fleet-tui database (application_id {app_id})")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this fleet-tui "
                f"({SCHEMA_VERSION}); upgrade fleet-tui"
            )
        if not self.readonly:
            if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes
            with self._tx(load=False):  # the clock and identity are not known yet
                if version == 1:
                    migrate_v1(c)
                ensure_schema(c)
                if app_id != APPLICATION_ID:
                    c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                if version != SCHEMA_VERSION:
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._claim_identity()
        meta = self.meta()
        self.site_id = str(meta.get("site_id", ""))
        self.origin = identity.origin_of(self.site_id)
        self._ver = _meta_int(meta.get("db_version"), 1)
        self.clock = Clock(self.site_id, _meta_int(meta.get("hlc"), 0))
        for t in APPEND_TABLES:
            row = c.execute(f"SELECT max(seq) FROM {t.name} WHERE origin = ?", (self.origin,))
            # compaction may have deleted our newest rows: never reuse their sequence numbers
            floor = _meta_int(meta.get(f"seq_floor.{t.name}"), 0)
            self._seq[t.name] = max(row.fetchone()[0] or 0, floor)

    def _claim_identity(self) -> None:
        """Mint a site id for a new file, or a fresh one for a file copied elsewhere."""
        meta = self.meta()
        here_path, here_machine = identity.location(self.path)
        site = meta.get("site_id")
        if site and meta.get("site_path") == here_path and meta.get("site_machine") == here_machine:
            return
        if site:  # copied or moved: this file is now another replica
            old = json.loads(str(meta.get("previous_site_ids", "[]")))
            self._set_meta("previous_site_ids", json.dumps([*old, site]))
        self._set_meta("site_id", identity.new_site_id())
        self._set_meta("site_path", here_path)
        self._set_meta("site_machine", here_machine)
        if "db_version" not in meta:
            self._set_meta("db_version", 1)

    def close(self) -> None:
        if self._maint is not None:  # not under the lock: a compaction slice may need it
            self._maint.stop()
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        row = self._conn.execute(
            f"SELECT max(seq) FROM {table} WHERE origin = ?", (self.origin,)
        ).fetchone()
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

    def _row_dicts(self, sql: str, params: tuple[object, ...] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

    # ---- any table of the data model (racks, releases, audits, …) ------------------------
    def _spec(self, table: str, kind: type) -> Any:
        t = TABLES.get(table)
        if not isinstance(t, kind):
            raise StoreError(f"no {kind.__name__} named {table!r}")
        return t

    def _check_fields(self, t: LwwTable | AppendTable, fields: Mapping[str, object]) -> None:
        known = {c.name for c in t.columns}
        unknown = set(fields) - known
        if unknown:
            raise StoreError(f"unknown {t.name} field(s): {', '.join(sorted(unknown))}")

    def set_row(self, table: str, key: str, **fields: object) -> None:
        """LWW-write columns of one row of an editable table; also brings a deleted row back."""
        t: LwwTable = self._spec(table, LwwTable)
        self._check_fields(t, fields)
        with self._write() as c:
            self._lww_set(c, table, key, {**fields, "deleted": 0})

    def delete_row(self, table: str, key: str) -> None:
        """Tombstone one row of an editable table (never a physical delete)."""
        self._spec(table, LwwTable)
        with self._write() as c:
            self._lww_set(c, table, key, {"deleted": 1})

    def delete_rows(
        self, table: str, keys: list[str], event: tuple[str | None, str, str] | None = None
    ) -> None:
        """Tombstone several rows and log why (`event` = serial, kind, message), atomically."""
        self._spec(table, LwwTable)
        with self._write() as c:
            for key in keys:
                self._lww_set(c, table, key, {"deleted": 1})
            if event is not None:
                serial, kind, message = event
                self._append(
                    c,
                    "events",
                    {"serial": serial, "time": time.time(), "kind": kind, "message": message},
                )

    def get_row(self, table: str, key: str) -> dict[str, Any] | None:
        found = self.rows(table, f"{self._spec(table, LwwTable).key} = ?", (key,))
        return found[0] if found else None

    def rows(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        """Live rows of an editable table (values only, no clocks), ordered by key."""
        t: LwwTable = self._spec(table, LwwTable)
        cols = ", ".join([t.key, *(c.name for c in t.columns)])
        return self._row_dicts(
            f"SELECT {cols} FROM {table} WHERE deleted = 0 AND ({where}) ORDER BY {t.key}", params
        )

    def append_row(self, table: str, **fields: object) -> tuple[int, int]:
        """Append to an append-only table; returns the row's key (origin, seq)."""
        t: AppendTable = self._spec(table, AppendTable)
        self._check_fields(t, fields)
        with self._write() as c:
            self._append(c, table, fields)
            return self.origin, self._seq[table]

    def appended(
        self, table: str, where: str = "1", params: tuple[object, ...] = ()
    ) -> list[dict[str, Any]]:
        t: AppendTable = self._spec(table, AppendTable)
        cols = ", ".join(["origin", "seq", *(c.name for c in t.columns)])
        order = "time, origin, seq" if any(c.name == "time" for c in t.columns) else "origin, seq"
        return self._row_dicts(f"SELECT {cols} FROM {table} WHERE {where} ORDER BY {order}", params)

    # ---- merge, snapshots, change sets -----------------------------------------------------
    @property
    def version(self) -> int:
        """The version local writes are stamped with now (the sync cursor's unit)."""
        with self._lock:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'db_version'").fetchone()
        return _meta_int(row[0] if row else None, 1)

    def merge(
        self, peer: str | Path, *, dry_run: bool = False, details: bool = True
    ) -> MergeReport:
        """Merge a peer file in one transaction. A refused or failed merge changes nothing.

        `details`: list every cell both sides wrote with different values in the report."""
        if self.readonly and not dry_run:
            raise StoreError(f"{self.path}: opened read-only")
        if self.readonly:
            return self._dry_run_on_copy(Path(peer), details)
        with self._lock:
            info = self._inspect(Path(peer))
            if not dry_run:
                self._maintenance()
            report = MergeReport(str(info.path), info.site_id, dry_run=dry_run)
            with self._attached(info.uri, "peer"), self._beside(info, report, details) as verdict:
                try:
                    with self._tx() as c:
                        self._merge_in_tx(c, info, report, verdict)
                        if dry_run:
                            raise _DryRun
                    self._ver = report.version + 1
                except _DryRun:
                    pass
                except sqlite3.DatabaseError as e:
                    raise StoreError(f"{info.path}: merge failed, nothing changed: {e}") from e
        if not dry_run:
            self._after_merge()
        return report

    def _dry_run_on_copy(self, peer: Path, details: bool) -> MergeReport:
        """A read-only store previews a merge on a private copy of itself (VACUUM INTO works
        on a read-only file); the copy answers with our identity, so our own snapshot is
        still refused."""
        with tempfile.TemporaryDirectory(prefix="fleet-dry-run-") as tmpdir:
            copy = Path(tmpdir) / "fleet.db"
            with self._lock:
                try:
                    files.vacuum_into(self._conn, copy)
                except (sqlite3.Error, OSError) as e:
                    raise StoreError(f"{self.path}: cannot copy for a preview: {e}") from e
            with Store.open(copy, maintenance=False) as twin:
                twin.site_id, twin.origin = self.site_id, self.origin
                return twin.merge(peer, dry_run=True, details=details)

    def _inspect(self, path: Path) -> PeerInfo:
        try:
            return inspect_peer(path, self.site_id, self.clock, pages=False)
        except PeerError as e:
            raise StoreError(str(e)) from e

    def _reader(self, info: PeerInfo) -> sqlite3.Connection:
        """A read-only connection to this file (its last committed state) with the peer."""
        conn = sqlite3.connect(file_uri(self.path, mode="ro"), uri=True, check_same_thread=False)
        try:
            conn.execute("ATTACH DATABASE ? AS peer", (info.uri,))
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    @contextmanager
    def _beside(
        self, info: PeerInfo, report: MergeReport, details: bool
    ) -> Iterator[Callable[[], None]]:
        """Start the peer's page check and the report's analysis beside the merge; yield the
        verdict to call before COMMIT (raises StoreError). Both are joined however we leave."""
        check = PageCheck(info)

        def analysis_work(conn: sqlite3.Connection) -> None:
            analyse(conn, info.columns, report, details)

        analysis = SideTask("merge analysis", lambda: self._reader(info), analysis_work)
        try:
            check.start()
        except PeerError as e:
            raise StoreError(str(e)) from e
        try:
            try:
                analysis.start()
            except sqlite3.Error as e:
                raise StoreError(f"{self.path}: cannot read: {e}") from e

            def verdict() -> None:
                try:
                    check.verdict()
                except PeerError as e:
                    raise StoreError(str(e)) from e
                problem = analysis.wait()
                if problem is not None:
                    raise StoreError(f"{info.path}: merge failed, nothing changed: {problem}")

            yield verdict
        finally:
            check.wait()
            analysis.wait()

    @contextmanager
    def _attached(self, uri: str, name: str) -> Iterator[None]:
        try:
            self._conn.execute(f"ATTACH DATABASE ? AS {name}", (uri,))
        except sqlite3.Error as e:
            raise StoreError(f"{uri}: cannot open: {e}") from e
        try:
            yield
        finally:
            self._conn.execute(f"DETACH DATABASE {name}")

    def _merge_in_tx(
        self,
        c: sqlite3.Connection,
        info: PeerInfo,
        report: MergeReport,
        verdict: Callable[[], None],
    ) -> None:
        """Merge the attached `peer` (caller holds the transaction). Raises before the caller
        can commit if the peer's page check finds damage or the analysis failed."""
        # merged rows get a version of their own, so a sync can tell them from local writes
        ver = report.version = self._ver + 1
        try:
            merge_attached(c, info.columns, ver, report)
            self._top.clear()  # count our sequence numbers again from what is now in the file
            top = self._seq_top("samples")
            report.compacted = compaction.absorb(c, ver, info.columns)
            if report.compacted:  # may have folded our newest samples away
                self._hold_seq_floor("samples", top)
        except sqlite3.DatabaseError:
            verdict()  # a damaged file explains the failure best
            raise
        report.conflicts = placement_conflicts(c)
        try:
            self.clock.observe(info.hlc)
        except ClockDriftError as e:  # checked before; the wall clock moved meanwhile
            raise StoreError(str(e)) from e
        self._set_meta("hlc", self.clock.last)
        self._set_meta("db_version", ver + 1)
        verdict()

    def conflicts(self) -> list[ConstraintConflict]:
        with self._lock:
            return placement_conflicts(self._conn)

    def snapshot(self, out: str | Path) -> Path:
        """A consistent copy (VACUUM INTO), safe to carry on a USB stick and merge elsewhere."""
        target = Path(out).expanduser().absolute()
        if target.resolve() == self.path.resolve():
            raise StoreError(f"{target}: is this database itself")
        with self._lock:
            try:
                files.vacuum_into(self._conn, target)
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"{target}: snapshot failed: {e}") from e
        return target

    def write_changes(
        self, out: str | Path, since: int = 0, exclude_ver: int | None = None
    ) -> tuple[int, int]:
        """Write rows changed after version `since` to a peer file at `out`.

        Returns (cursor, rows): pass `cursor` as `since` next time. Rows stamped
        `exclude_ver` (what a merge from the same partner wrote) are left out: no echo.
        """
        ex = self.exchange(out, since, exclude_ver, None)
        return ex.cursor, ex.rows

    def count_changes(self, since: int, exclude_ver: int | None = None) -> int:
        """Rows a change set since `since` would hold (what a sync would send)."""
        with self._lock:
            return files.count_changes(self._conn, since, exclude_ver)

    def exchange(
        self, out: str | Path, since: int, exclude_ver: int | None, incoming: Path | None
    ) -> Exchange:
        """Atomically: write our changes since `since` to `out`, then merge `incoming`.

        One transaction under the lock, so no local write can slip between the two: every
        row stamped with the merge's version came from `incoming` alone, and the next
        exchange with the same partner can leave those rows out (`exclude_ver`).
        """
        target = Path(out).expanduser().absolute()
        tmp = files.tmp_beside(target)
        with self._lock:
            info = self._inspect(incoming) if incoming is not None else None
            self._maintenance()
            try:
                files.empty_peer_file(tmp)
                with self._attached(str(tmp), "delta"), contextlib.ExitStack() as stack:
                    report = MergeReport(str(info.path), info.site_id) if info else None
                    verdict = None
                    if info is not None and report is not None:
                        stack.enter_context(self._attached(info.uri, "peer"))
                        verdict = stack.enter_context(self._beside(info, report, True))
                    ex = self._exchange_tx(since, exclude_ver, info, report, verdict)
                files.publish(tmp, target)
            except (sqlite3.Error, OSError) as e:
                raise StoreError(f"{target}: exchange failed, nothing changed: {e}") from e
            finally:
                tmp.unlink(missing_ok=True)
        if ex.report is not None:
            self._after_merge()
        return ex

    def _exchange_tx(
        self,
        since: int,
        exclude_ver: int | None,
        info: PeerInfo | None,
        report: MergeReport | None,
        verdict: Callable[[], None] | None,
    ) -> Exchange:
        with self._tx() as c:
            cursor = self._ver
            rows = files.copy_changes(c, since, exclude_ver)
            files.write_delta_meta(
                c,
                {
                    "site_id": self.site_id,
                    "hlc": self.clock.last,
                    "db_version": cursor,
                    "delta_since": since,
                },
            )
            # later local writes get a higher version than this cursor
            self._set_meta("db_version", cursor + 1)
            self._ver = cursor + 1
            if info is not None and report is not None and verdict is not None:
                self._merge_in_tx(c, info, report, verdict)
                self._ver = report.version + 1
        return Exchange(cursor, rows, report)

    # ---- sync bookkeeping (local-only, never merged) ----------------------------------------
    def sync_state(self, target: str) -> SyncState:
        with self._lock:
            row = self._conn.execute(
                "SELECT sent_ver, echo_ver, last_sync FROM sync_peers WHERE target = ?", (target,)
            ).fetchone()
            seen = dict(
                self._conn.execute(
                    "SELECT site, cursor FROM sync_seen WHERE target = ?", (target,)
                ).fetchall()
            )
        if row is None:
            return SyncState(target, 0, None, None, seen)
        return SyncState(target, row[0], row[1], row[2], seen)

    def save_sync_state(self, state: SyncState) -> None:
        with self._write() as c:
            c.execute(
                "INSERT OR REPLACE INTO sync_peers (target, sent_ver, echo_ver, last_sync) "
                "VALUES (?, ?, ?, ?)",
                (state.target, state.sent_ver, state.echo_ver, state.last_sync),
            )
            c.executemany(
                "INSERT OR REPLACE INTO sync_seen (target, site, cursor) VALUES (?, ?, ?)",
                [(state.target, site, cur) for site, cur in state.seen.items()],
            )

    def compact(
        self, older_than_s: float = compaction.DEFAULT_HORIZON_S, now: float | None = None
    ) -> int:
        """Downsample raw samples older than the horizon into hourly buckets."""
        before = (time.time() if now is None else now) - older_than_s
        with self._write() as c:
            self._hold_seq_floor("samples", self._seq_top("samples"))
            return compaction.compact(c, before, self._ver)

    # ---- devices -------------------------------------------------------------------------
    def upsert_device(self, serial: str, **fields: object) -> None:
        """Write the given columns of a device (each LWW-stamped). Brings a forgotten device back.

        Every write also stamps `deleted = 0`: a write newer than a forget wins over it even
        on a replica that had not heard of the forget yet ("a newer write brings it back")."""
        unknown = set(fields) - _DEVICE_FIELD_NAMES
        if unknown:
            raise StoreError(f"unknown device field(s): {', '.join(sorted(unknown))}")
        if not serial:
            raise StoreError("a device needs a serial")
        values = dict(fields)
        if "tags" in values:
            tags = values["tags"]
            values["tags"] = json.dumps(sorted(set(tags))) if tags is not None else None  # type: ignore[call-overload]
        values["deleted"] = 0
        with self._write() as c:
            self._lww_set(c, "devices", serial, values)

    def forget_device(self, serial: str) -> None:
        """Tombstone a device (LWW): a newer write anywhere brings it back."""
        with self._write() as c:
            self._lww_set(c, "devices", serial, {"deleted": 1})

    def _devices(self, where: str, params: tuple[object, ...]) -> list[DeviceRecord]:
        cols = ", ".join(["serial", *(f.name for f in DEVICE_FIELDS)])
        with self._lock:
            cur = self._conn.execute(
                f"SELECT {cols} FROM devices WHERE deleted = 0 AND ({where}) "
                "ORDER BY hostname IS NULL, hostname, serial",
                params,
            )
            names = [d[0] for d in cur.description]
            return [DeviceRecord(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def get_device(self, serial: str) -> DeviceRecord | None:
        found = self._devices("serial = ?", (serial,))
        return found[0] if found else None

    def find_device(self, ref: str) -> DeviceRecord | None:
        """By serial, else hostname (also without `.local`), else address."""
        for where, params in (
            ("serial = ?", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref,)),
            ("hostname = ? COLLATE NOCASE", (ref.removesuffix(".local"),)),
            ("address = ?", (ref,)),
        ):
            found = self._devices(where, params)
            if found:
                return found[0]
        return None

    def list_devices(self) -> list[DeviceRecord]:
        return self._devices("1", ())

    # ---- host keys -----------------------------------------------------------------------
    def pinned_host_key(self, endpoint: str) -> str | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT key FROM host_keys WHERE endpoint = ? AND deleted = 0", (endpoint,)
            ).fetchone()
        return row[0] if row else None

    def pin_host_key(
        self, endpoint: str, key: str, serial: str | None = None, reason: str = "first use"
    ) -> None:
        now = time.time()
        with self._write() as c:
            fields: dict[str, object] = {"key": key, "pinned_at": now, "deleted": 0}
            if serial is not None:
                fields["serial"] = serial
            self._lww_set(c, "host_keys", endpoint, fields)
            self._append(
                c,
                "host_key_history",
                {"endpoint": endpoint, "serial": serial, "key": key, "reason": reason, "time": now},
            )

    def host_key_history(self, endpoint_or_serial: str) -> list[HostKeyEvent]:
        with self._lock:
            cur = self._conn.execute(
                "SELECT origin, seq, endpoint, serial, key, reason, time FROM host_key_history "
                "WHERE endpoint = ?1 OR serial = ?1 ORDER BY time, origin, seq",
                (endpoint_or_serial,),
            )
            names = [d[0] for d in cur.description]
            return [HostKeyEvent(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    # ---- metric samples and events ---------------------------------------------------------
    def record_health(self, serial: str, sample: Mapping[str, object]) -> bool:
        """Append one health sample (the agent's health JSON) if the gate keeps it.

        The poller calls this every ~2 s per device; at most one sample per device per minute
        is kept, plus every reading whose throttle flags changed or whose temperature moved
        more than 2 °C (core/samples.py, `Store.gate`). Returns whether it was kept.

        The gate lives in memory, one per Store: two Stores polling the same device each
        keep their own one-a-minute samples (more rows, never a lost or colliding one)."""
        row = sample_values(serial, sample)
        if not self.gate.keep(row):
            return False
        self._insert_samples([row])
        return True

    def record_health_many(self, items: Sequence[tuple[str, Mapping[str, object]]]) -> None:
        """Append every given sample in one transaction, ungated (imports, backfills)."""
        self._insert_samples([sample_values(serial, s) for serial, s in items])

    def _insert_samples(self, rows: list[tuple[object, ...]]) -> None:
        sql = (
            f"INSERT INTO samples (origin, seq, {', '.join(SAMPLE_COLUMNS)}, _ver) "
            f"VALUES ({', '.join('?' for _ in range(len(SAMPLE_COLUMNS) + 3))})"
        )
        with self._write() as c:
            c.executemany(
                sql, [(self.origin, self._next_seq("samples"), *r, self._ver) for r in rows]
            )
            self._unpoked += len(rows)
            if self._unpoked >= POKE_EVERY:
                self._poke()

    # ---- upkeep: automatic compaction and checkpoints (core/store_maintenance.py) -----------
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

    def recent_samples(self, serial: str, since: float) -> list[SampleRecord]:
        """Raw samples, plus compacted buckets (count > 1, time = the bucket's middle)."""
        metrics = ", ".join(c.name for c in SAMPLE_METRICS)
        with self._lock:
            cur = self._conn.execute(
                f"SELECT serial, time, {metrics}, 1 AS count FROM samples "
                "WHERE serial = ?1 AND time >= ?2 "
                f"UNION ALL SELECT serial, bucket + bucket_s / 2.0, {metrics}, n FROM "
                "sample_rollups WHERE serial = ?1 AND bucket + bucket_s > ?2 ORDER BY 2",
                (serial, since),
            )
            names = [d[0] for d in cur.description]
            return [SampleRecord(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]

    def record_event(self, serial: str | None, kind: str, message: str) -> None:
        with self._write() as c:
            self._append(
                c,
                "events",
                {"serial": serial, "time": time.time(), "kind": kind, "message": message},
            )

    def events(self, serial: str | None = None, limit: int = 100) -> list[EventRecord]:
        """The newest `limit` events (of one device, or all), newest first."""
        where, params = ("serial = ?", (serial,)) if serial is not None else ("1", ())
        with self._lock:
            cur = self._conn.execute(
                f"SELECT origin, seq, time, serial, kind, message FROM events WHERE {where} "
                "ORDER BY time DESC, origin DESC, seq DESC LIMIT ?",
                (*params, limit),
            )
            names = [d[0] for d in cur.description]
            return [EventRecord(**dict(zip(names, r, strict=True))) for r in cur.fetchall()]


_STATE_SQL = "SELECT key, value FROM meta WHERE key IN ({})".format(
    ", ".join(
        f"'{k}'" for k in ["db_version", "hlc", *(f"seq_floor.{t.name}" for t in APPEND_TABLES)]
    )
)


def _meta_int(value: object, default: int) -> int:
    """A meta value written by us as an integer (stored as INTEGER or, by v1, TEXT)."""
    if isinstance(value, int | str) and str(value).strip():
        return int(value)
    return default
