"""The local fleet database: one SQLite file per technician, merged conflict-free with peers.

The store is the only writer of the file. Calls may come from several threads, one at a time
(a lock guards the single connection). Schema and merge rules: core/schema.py, core/sync/.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.request import pathname2url

from core.hlc import Clock, ClockDriftError
from core.records import DeviceRecord, EventRecord, HostKeyEvent, SampleRecord
from core.schema import (
    APPEND_TABLES,
    APPLICATION_ID,
    CLK,
    DEVICE_FIELDS,
    SAMPLE_METRICS,
    SCHEMA_VERSION,
    TABLES,
    LwwTable,
    ensure_schema,
)
from core.sync import identity

SQLITE_MAGIC = b"SQLite format 3\x00"
_DEVICE_FIELD_NAMES = frozenset(c.name for c in DEVICE_FIELDS)
_SAMPLE_COLS = ("serial", "time", *(c.name for c in SAMPLE_METRICS))


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


class Store:
    site_id: str
    path: Path

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()
        self._seq: dict[str, int] = {}

    # ---- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False) -> Store:
        """Open (or create) the store at `path`. Writes nothing if the file is current."""
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
        store = cls(conn, p, readonly)
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
            with self._tx():
                ensure_schema(c)
                if app_id != APPLICATION_ID:
                    c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                if version != SCHEMA_VERSION:
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                self._claim_identity()
        meta = self.meta()
        self.site_id = str(meta.get("site_id", ""))
        self._ver = int(meta.get("db_version", 1))
        self.clock = Clock(self.site_id, str(meta.get("hlc", "")))
        for t in APPEND_TABLES:
            row = c.execute(f"SELECT max(seq) FROM {t.name} WHERE origin = ?", (self.site_id,))
            self._seq[t.name] = row.fetchone()[0] or 0

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
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- transactions and bookkeeping --------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction under the lock; rolled back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

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

    def _stamp(self) -> str:
        """A fresh HLC stamp for a local write, persisted so the clock survives restarts."""
        try:
            stamp = self.clock.now()
        except ClockDriftError as e:
            raise StoreError(str(e)) from e
        self._set_meta("hlc", stamp)
        return stamp

    def _next_seq(self, table: str) -> int:
        self._seq[table] += 1
        return self._seq[table]

    # ---- generic LWW and append writes ---------------------------------------------------
    def _lww_set(self, c: sqlite3.Connection, table: str, key: str, fields: Mapping[str, Any]) -> None:
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
            [self.site_id, self._next_seq(table), *row.values(), self._ver],
        )

    # ---- devices -------------------------------------------------------------------------
    def upsert_device(self, serial: str, **fields: object) -> None:
        """Write the given columns of a device (each LWW-stamped). Brings a forgotten device back."""
        unknown = set(fields) - _DEVICE_FIELD_NAMES
        if unknown:
            raise StoreError(f"unknown device field(s): {', '.join(sorted(unknown))}")
        if not serial:
            raise StoreError("a device needs a serial")
        values = dict(fields)
        if "tags" in values:
            tags = values["tags"]
            values["tags"] = json.dumps(sorted(set(tags))) if tags is not None else None  # type: ignore[call-overload]
        with self._write() as c:
            row = c.execute("SELECT deleted FROM devices WHERE serial = ?", (serial,)).fetchone()
            if row is not None and row[0]:
                values["deleted"] = 0
            if values:
                self._lww_set(c, "devices", serial, values)
            elif row is None:
                self._lww_set(c, "devices", serial, {"deleted": 0})

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
    def record_health(self, serial: str, sample: Mapping[str, object]) -> None:
        """Append one health sample (the agent's health JSON); cheap: one prepared insert."""
        self.record_health_many([(serial, sample)])

    def record_health_many(self, items: list[tuple[str, Mapping[str, object]]]) -> None:
        """Append many samples in one transaction (what a poller round should use)."""
        rows = [_sample_values(serial, s) for serial, s in items]
        sql = (
            f"INSERT INTO samples (origin, seq, {', '.join(_SAMPLE_COLS)}, _ver) "
            f"VALUES ({', '.join('?' for _ in range(len(_SAMPLE_COLS) + 3))})"
        )
        with self._write() as c:
            c.executemany(
                sql, [(self.site_id, self._next_seq("samples"), *r, self._ver) for r in rows]
            )

    def recent_samples(self, serial: str, since: float) -> list[SampleRecord]:
        with self._lock:
            cur = self._conn.execute(
                f"SELECT {', '.join(_SAMPLE_COLS)} FROM samples WHERE serial = ? AND time >= ? "
                "ORDER BY time, origin, seq",
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


def _num(v: object) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _sample_values(serial: str, s: Mapping[str, Any]) -> tuple[object, ...]:
    """The numeric columns we keep from an agent health reading (missing ones are NULL)."""
    throttled = s.get("throttled")
    raw = throttled.get("raw") if isinstance(throttled, dict) else throttled
    if isinstance(raw, str):
        raw = int(raw, 0)
    load = s.get("load")
    load1 = load[0] if isinstance(load, list | tuple) and load else None
    mem_pct = _num(s.get("mem_percent"))
    total, avail = _num(s.get("mem_total_mb")), _num(s.get("mem_available_mb"))
    if mem_pct is None and total and avail is not None:
        mem_pct = round(100.0 * (total - avail) / total, 2)
    disk_pct = _num(s.get("disk_percent"))
    dtotal, dfree = _num(s.get("disk_total_mb")), _num(s.get("disk_free_mb"))
    if disk_pct is None and dtotal and dfree is not None:
        disk_pct = round(100.0 * (dtotal - dfree) / dtotal, 2)
    pmic = s.get("pmic")
    power = _num(s.get("power_w"))
    if power is None and isinstance(pmic, dict):
        power = _num(pmic.get("total_w"))
    fan = s.get("fan")
    rpm = _num(fan.get("rpm")) if isinstance(fan, dict) else _num(s.get("fan_rpm"))
    t = _num(s.get("time"))
    return (
        serial,
        t if t is not None else time.time(),
        _num(s.get("temperature_c")),
        _num(s.get("cpu_percent")),
        int(raw) if isinstance(raw, int | float) else None,
        _num(load1),
        mem_pct,
        disk_pct,
        _num(s.get("core_volts")),
        power,
        rpm,
    )
