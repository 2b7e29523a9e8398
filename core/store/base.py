"""What the Store (core/store/database.py) and the code around it share: the error every
caller is told, the checks and URIs of database files, and how the persisted counters —
sequence numbers, `db_version`, the clock — are read back from a file.

Nothing here holds state; the Store, its services and core/sync all import it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.request import pathname2url

from fleet_tui.core.store.schema import APPEND_TABLES, SAMPLE_BLOCKS

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


# Tables with per-origin sequence numbers: the append-only ones, and "samples" (numbered
# one by one, stored in blocks: core/store/sample_blocks.py).
SEQ_TABLES = (*(t.name for t in APPEND_TABLES), "samples")


def seq_top_sql(table: str) -> str:
    """SQL (one parameter, the origin): the highest sequence number of that origin."""
    if table == "samples":
        return f"SELECT max(seq_hi) FROM {SAMPLE_BLOCKS.name} WHERE origin = ?"
    return f"SELECT max(seq) FROM {table} WHERE origin = ?"


# What other writers of a file may move: its version, its clock and the sequence floors.
STATE_SQL = "SELECT key, value FROM meta WHERE key IN ({})".format(
    ", ".join(f"'{k}'" for k in ["db_version", "hlc", *(f"seq_floor.{t}" for t in SEQ_TABLES)])
)


def meta_int(value: object, default: int) -> int:
    """A meta value written by us as an integer (stored as INTEGER or, by v1, TEXT)."""
    if isinstance(value, int | str) and str(value).strip():
        return int(value)
    return default
