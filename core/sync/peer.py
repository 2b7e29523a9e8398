"""Vetting a peer file before anything of ours is touched.

Every refusal is a StoreError with a one-line reason. The checks are cheap first (file, header,
size against the header's page count, a live `-wal` beside it), then SQLite's own
`integrity_check`, then ours (application id, schema version, site id, clock).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from core.hlc import Clock, ClockDriftError
from core.schema import APPLICATION_ID, SCHEMA_VERSION, TABLES, table_columns

SQLITE_MAGIC = b"SQLite format 3\x00"


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
    from core.store import file_uri

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


def inspect_peer(path: Path, own_site: str, clock: Clock) -> PeerInfo:
    """Check a peer file; return what the merge needs to know about it."""
    path = path.absolute()
    _check_file(path)
    uri = peer_uri(path)
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as e:
        raise PeerError(f"{path}: cannot open: {e}") from e
    try:
        return _inspect(conn, path, uri, own_site, clock)
    except sqlite3.DatabaseError as e:
        raise PeerError(f"{path}: damaged: {e}") from e
    finally:
        conn.close()


def _inspect(
    conn: sqlite3.Connection, path: Path, uri: str, own_site: str, clock: Clock
) -> PeerInfo:
    problems = [r[0] for r in conn.execute("PRAGMA integrity_check(5)")]
    if problems != ["ok"]:
        raise PeerError(f"{path}: damaged: {problems[0]}")
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
        raise PeerError(f"{path}: schema version {version} is a development build's; "
                        "open it once with this fleet-tui to upgrade it")
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
    have = {r[0] for r in conn.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    columns = {name: table_columns(conn, name) for name in TABLES if name in have}
    return PeerInfo(path, uri, site, version, int(hlc), int(meta.get("db_version") or 0), columns)
