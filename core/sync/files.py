"""Files that leave this machine: full snapshots and change sets ("deltas").

Both are written under a temporary name, synced and renamed, so a reader never sees half a
file, and both are plain rollback-journal databases: there is never a `-wal` to forget.
A delta has the same schema and meta as a snapshot but holds only rows changed since a
cursor, so a peer merges it exactly like a full file.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

from fleet_tui.core.store.schema import APPLICATION_ID, SCHEMA_VERSION, TABLES, ensure_schema


def tmp_beside(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp-{secrets.token_hex(4)}")


def publish(tmp: Path, out: Path) -> None:
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, out)


def vacuum_into(conn: sqlite3.Connection, out: Path) -> None:
    """A consistent, compact copy of the whole database (caller holds the store lock)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_beside(out)
    try:
        conn.execute("VACUUM INTO ?", (str(tmp),))
        c = sqlite3.connect(tmp, isolation_level=None)
        try:
            c.execute("PRAGMA journal_mode = DELETE")
            c.execute("DELETE FROM sync_peers")  # our exchange cursors mean nothing elsewhere
        finally:
            c.close()
        publish(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


def empty_peer_file(path: Path) -> None:
    """A fresh database with our schema and no rows, to be filled through ATTACH."""
    c = sqlite3.connect(path, isolation_level=None)
    try:
        c.execute("PRAGMA journal_mode = DELETE")
        c.execute("BEGIN")
        ensure_schema(c)
        c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        c.execute("COMMIT")
    finally:
        c.close()


def copy_changes(conn: sqlite3.Connection, since: int, exclude_ver: int | None) -> int:
    """Copy rows with `since < _ver` (and `_ver != exclude_ver`) from main into the attached
    `delta` schema, inside the caller's transaction. Returns the number of rows copied."""
    total = 0
    skip = "" if exclude_ver is None else f" AND _ver != {int(exclude_ver)}"
    for t in TABLES.values():
        cols = ", ".join(c.name for c in t.all_columns())
        cur = conn.execute(
            f"INSERT INTO delta.{t.name} ({cols}) SELECT {cols} FROM main.{t.name} "
            f"WHERE _ver > ?{skip}",
            (since,),
        )
        total += cur.rowcount
    return total


def write_delta_meta(conn: sqlite3.Connection, meta: dict[str, object]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO delta.meta (key, value) VALUES (?, ?)", list(meta.items())
    )


def count_changes(conn: sqlite3.Connection, since: int, exclude_ver: int | None) -> int:
    """How many rows `copy_changes` would copy (no `_ver` index: one scan per table)."""
    total = 0
    skip = "" if exclude_ver is None else f" AND _ver != {int(exclude_ver)}"
    for t in TABLES.values():
        total += conn.execute(
            f"SELECT count(*) FROM main.{t.name} WHERE _ver > ?{skip}", (since,)
        ).fetchone()[0]
    return int(total)
