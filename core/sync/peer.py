"""Vetting a peer file before anything of ours is committed.

Every refusal is a StoreError with a one-line reason. The checks are cheap first (file, header,
size against the header's page count, a live `-wal` beside it), then ours (application id,
schema version, site id, clock), then SQLite's own structural check of every page.

The structural check reads the whole file, so it runs beside the merge statements
(`PageCheck`, core/sync/beside.py); the merge waits for its verdict before COMMIT and rolls
back on a bad one. Files up to QUICK_CHECK_ABOVE bytes get `integrity_check`; larger ones get
`quick_check`, which checks every b-tree page, record and free-list page but not that indexes
agree with their tables — and the merge never reads a peer's index, only its tables (full
scans in key order), so what `quick_check` skips cannot change what a merge writes.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from fleet_tui.core.store.base import SQLITE_MAGIC, file_uri
from fleet_tui.core.store.hlc import Clock, ClockDriftError
from fleet_tui.core.store.schema import (
    APPLICATION_ID,
    LEGACY_SAMPLES,
    SCHEMA_VERSION,
    TABLES,
    schema_names,
    table_columns,
)
from fleet_tui.core.sync.beside import SideTask

QUICK_CHECK_ABOVE = 16 * 1024 * 1024  # bytes; integrity_check is cheap below this
CHECK_TIMEOUT_S = 600.0  # a structural check that takes longer is interrupted and refused


class PeerError(Exception):
    """Why a peer file is refused (the store turns it into a StoreError)."""


@dataclass
class PeerInfo:
    path: Path
    uri: str
    site_id: str
    schema_version: int
    hlc: int
    db_version: int
    columns: dict[str, list[str]] = field(default_factory=dict)  # tables we share -> columns


def peer_uri(path: Path) -> str:
    # immutable: no locks, no -shm beside a file that may sit on a read-only USB stick; safe
    # because a file with a live -wal is refused before we get here.
    return file_uri(path, mode="ro", immutable="1")


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise PeerError(f"{path}: no such file")
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise PeerError(
            f"{path}: a live database (its -wal is beside it); "
            "copy it with `fleet-tui snapshot` instead"
        )
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(100)
    if len(head) < 100 or not head.startswith(SQLITE_MAGIC):
        raise PeerError(f"{path}: not an SQLite database")
    page_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(head[28:32], "big")
    valid_for, change = head[92:96], head[24:28]
    if valid_for == change and pages and size < pages * page_size:
        raise PeerError(f"{path}: truncated ({size} of {pages * page_size} bytes)")


def inspect_peer(path: Path, own_site: str, clock: Clock, *, pages: bool = True) -> PeerInfo:
    """Check a peer file; return what the merge needs to know about it.

    With `pages=False` the structural check is left to the caller (see PageCheck)."""
    path = path.absolute()
    _check_file(path)
    uri = peer_uri(path)
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as e:
        raise PeerError(f"{path}: cannot open: {e}") from e
    try:
        info = _inspect(conn, path, uri, own_site, clock)
    except sqlite3.DatabaseError as e:
        raise PeerError(f"{path}: damaged: {e}") from e
    finally:
        conn.close()
    if pages:
        check = PageCheck(info)
        check.start()
        check.verdict()
    return info


def _structure_pragma(path: Path) -> str:
    big = path.stat().st_size > QUICK_CHECK_ABOVE
    return "PRAGMA quick_check(5)" if big else "PRAGMA integrity_check(5)"


class PageCheck:
    """SQLite's structural check of a peer file, beside the merge (core/sync/beside.py).

    `start()` it, do the merge, then call `verdict()` before committing: it waits (bounded)
    and raises PeerError if the file is damaged."""

    def __init__(self, info: PeerInfo, timeout_s: float = CHECK_TIMEOUT_S) -> None:
        self.info = info
        self._task = SideTask(
            "page check",
            lambda: sqlite3.connect(info.uri, uri=True, check_same_thread=False),
            self._check,
            timeout_s,
        )

    def _check(self, conn: sqlite3.Connection) -> str | None:
        rows = [r[0] for r in conn.execute(_structure_pragma(self.info.path))]
        return None if rows == ["ok"] else (rows[0] if rows else "no answer")

    def start(self) -> None:
        try:
            self._task.start()
        except sqlite3.Error as e:
            raise PeerError(f"{self.info.path}: cannot open: {e}") from e

    def wait(self) -> str | None:
        """Wait (bounded) for the check to end; its finding, or None if the file is sound."""
        return self._task.wait()

    def verdict(self) -> None:
        """Wait for the check; raise PeerError with its finding. Safe to call twice."""
        problem = self.wait()
        if problem is not None:
            raise PeerError(f"{self.info.path}: damaged: {problem}")


def _inspect(
    conn: sqlite3.Connection, path: Path, uri: str, own_site: str, clock: Clock
) -> PeerInfo:
    app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    if app_id != APPLICATION_ID:
        raise PeerError(f"{path}: not a fleet-tui database (application_id {app_id})")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise PeerError(
            f"{path}: schema version {version} is newer than this fleet-tui ({SCHEMA_VERSION}); "
            "upgrade fleet-tui first"
        )
    if version < 2:  # v1 had text clocks; it lived one afternoon, in development only
        raise PeerError(
            f"{path}: schema version {version} is a development build's; "
            "open it once with this fleet-tui to upgrade it"
        )
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    site = str(meta.get("site_id") or "")
    if not site:
        raise PeerError(f"{path}: has no site id")
    if site == own_site:
        raise PeerError(f"{path}: has this database's own site id (a copy of it); nothing to merge")
    hlc = meta.get("hlc") or 0
    try:
        clock.check(hlc)  # refuse a far-ahead peer before merging, not halfway
    except ClockDriftError as e:
        raise PeerError(f"{path}: {e}") from e
    except (TypeError, ValueError) as e:
        raise PeerError(f"{path}: bad clock in meta: {e}") from e
    have = schema_names(conn, "table")
    # a v2 peer's row-per-sample table is read too: the merge packs it into blocks
    shared = [*TABLES, LEGACY_SAMPLES.name] if version < 3 else list(TABLES)
    columns = {name: table_columns(conn, name) for name in shared if name in have}
    return PeerInfo(path, uri, site, version, int(hlc), int(meta.get("db_version") or 0), columns)
