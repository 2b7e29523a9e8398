"""Opening a fleet database file: connect, refuse what is not ours, upgrade an older schema
and claim the file's identity (core/store/identity.py). `Store.open` runs these in order."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from fleet_tui.core.store import identity
from fleet_tui.core.store.base import StoreError, check_sqlite_header, file_uri
from fleet_tui.core.store.sample_blocks import migrate_v2
from fleet_tui.core.store.schema import APPLICATION_ID, SCHEMA_VERSION, ensure_schema, migrate_v1


@dataclass(frozen=True)
class FileState:
    """What an opened file says about itself before we touch it."""

    application_id: int
    schema_version: int
    has_tables: bool


def connect(path: str | Path, readonly: bool) -> tuple[sqlite3.Connection, Path]:
    """The Store's one connection to `path`: the file is created unless read-only, its folder
    never (a mistyped path must not become a new fleet: the caller decides which folders may
    be made, fleet_tui/paths.py)."""
    p = Path(path).expanduser().absolute()
    if p.is_dir():
        raise StoreError(f"{p}: is a directory, not a database file")
    if p.exists() and p.stat().st_size > 0:
        check_sqlite_header(p)
    elif readonly:
        raise StoreError(f"{p}: no such database")
    elif not p.parent.is_dir():
        raise StoreError(f"{p}: no such directory: {p.parent}")
    try:
        conn = sqlite3.connect(
            file_uri(p, mode="ro" if readonly else "rwc"),
            uri=True,
            check_same_thread=False,  # guarded by the Store's lock instead
            isolation_level=None,  # the Store issues BEGIN/COMMIT itself
        )
    except sqlite3.Error as e:
        raise StoreError(f"{p}: cannot open: {e}") from e
    return conn, p


def check(c: sqlite3.Connection, path: Path, readonly: bool) -> FileState:
    """Tune the connection and refuse a file that is not ours or that we cannot use."""
    c.execute("PRAGMA busy_timeout = 5000")
    # merges read and write whole tables: a bigger cache and mmap cut syscalls a lot
    c.execute("PRAGMA cache_size = -65536")
    c.execute("PRAGMA mmap_size = 268435456")
    c.execute("PRAGMA temp_store = MEMORY")
    app_id = c.execute("PRAGMA application_id").fetchone()[0]
    version = c.execute("PRAGMA user_version").fetchone()[0]
    has_tables = c.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0] > 0
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and has_tables):
        raise StoreError(f"{path}: not a fleet-tui database (application_id {app_id})")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: schema version {version} is newer than this fleet-tui "
            f"({SCHEMA_VERSION}); upgrade fleet-tui"
        )
    if readonly and has_tables and version < SCHEMA_VERSION:
        raise StoreError(
            f"{path}: written by an older fleet-tui (schema {version}); open it once "
            "without --readonly to upgrade it, or merge it into another database as it is"
        )
    return FileState(app_id, version, has_tables)


def use_wal(c: sqlite3.Connection) -> None:
    """WAL + NORMAL: durable across crashes, readers never block the writer."""
    if c.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA synchronous = NORMAL")


def upgrade(c: sqlite3.Connection, state: FileState) -> None:
    """Bring the schema to SCHEMA_VERSION (caller holds a write transaction)."""
    if state.schema_version == 1:
        migrate_v1(c)
    ensure_schema(c)
    if state.schema_version in (1, 2):
        migrate_v2(c)
    if state.application_id != APPLICATION_ID:
        c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    if state.schema_version != SCHEMA_VERSION:
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def claim_identity(c: sqlite3.Connection, path: Path) -> None:
    """Mint a site id for a new file, or a fresh one for a file copied elsewhere (caller
    holds a write transaction)."""
    meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
    here_path, here_machine = identity.location(path)
    site = meta.get("site_id")
    if site and meta.get("site_path") == here_path and meta.get("site_machine") == here_machine:
        return
    new: dict[str, object] = {
        "site_id": identity.new_site_id(),
        "site_path": here_path,
        "site_machine": here_machine,
    }
    if site:  # copied or moved: this file is now another replica
        old = json.loads(str(meta.get("previous_site_ids", "[]")))
        new["previous_site_ids"] = json.dumps([*old, site])
    if "db_version" not in meta:
        new["db_version"] = 1
    c.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(new.items()))
