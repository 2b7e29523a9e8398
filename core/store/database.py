"""The local fleet database: one SQLite file per technician, merged conflict-free with peers.

The Store is one class assembled from parts with one job each: core/store/base.py (connection,
write transactions, HLC, sequence numbers), core/store/tables.py, core/store/devices.py,
core/store/hostkeys.py, core/store/samples.py, core/store/events.py, core/store/merge.py,
core/store/sync.py and core/store/upkeep.py. This module opens, sets up and closes it.

Concurrency (threads, processes, several writers on one file): core/store/base.py.
Schema and merge rules: core/store/schema.py, core/sync/.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from fleet_tui.core.store import identity
from fleet_tui.core.store.base import (
    SEQ_TABLES,
    SQLITE_MAGIC,
    StoreCore,
    StoreError,
    _meta_int,
    check_sqlite_header,
    file_uri,
)
from fleet_tui.core.store.devices import StoreDevices
from fleet_tui.core.store.events import StoreEvents
from fleet_tui.core.store.hlc import Clock
from fleet_tui.core.store.hostkeys import StoreHostKeys
from fleet_tui.core.store.sample_blocks import migrate_v2
from fleet_tui.core.store.samples import StoreSamples
from fleet_tui.core.store.schema import APPLICATION_ID, SCHEMA_VERSION, ensure_schema, migrate_v1
from fleet_tui.core.store.sync import Exchange, StoreSync, SyncState
from fleet_tui.core.store.tables import StoreTables

__all__ = [
    "SQLITE_MAGIC",
    "Exchange",
    "Store",
    "StoreError",
    "SyncState",
    "check_sqlite_header",
    "file_uri",
]


class Store(
    StoreTables, StoreDevices, StoreHostKeys, StoreSamples, StoreEvents, StoreSync, StoreCore
):
    # ---- opening -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, readonly: bool = False, maintenance: bool = True) -> Store:
        """Open (or create) the store at `path`. Writes nothing if the file is current.

        `maintenance`: compact old samples and checkpoint the WAL in a background thread
        (core/store/maintenance.py), started on first need; writable stores only."""
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
        if self.readonly and has_tables and version < SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by an older fleet-tui (schema {version}); open it once "
                "without --readonly to upgrade it, or merge it into another database as it is"
            )
        if not self.readonly:
            if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                c.execute("PRAGMA journal_mode = WAL")
            c.execute("PRAGMA synchronous = NORMAL")  # WAL + NORMAL: durable across crashes
            with self._tx(load=False):  # the clock and identity are not known yet
                if version == 1:
                    migrate_v1(c)
                ensure_schema(c)
                if version in (1, 2):
                    migrate_v2(c)
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
        # compaction may have deleted our newest rows: never reuse their sequence numbers
        self._floors = {t: _meta_int(meta.get(f"seq_floor.{t}"), 0) for t in SEQ_TABLES}
        for t in SEQ_TABLES:
            self._seq[t] = self._seq_top(t)

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
