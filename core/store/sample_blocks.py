"""Health samples packed into blocks: writing, reading, merging and checking them.

The table and its rules are in core/store/schema.py (`SampleBlockTable`). In short: one row per
(serial, hour bucket, origin, part); `data` is a flat JSON array of `n` records of STRIDE
values (seq, time, metrics…); only the origin appends to its blocks, and never again to an hour
it has folded (a late sample goes straight into the hour's row: compaction.append), so two
versions of one block are prefixes of each other and the merge keeps the longer.

JSON because SQLite reads it natively: compaction averages a block's values with `json_each`
inside the same transaction (core/store/compaction.py), and `sqlite3 fleet.db` shows samples as
plain text. A flat array (not one array per record) is parsed once per block.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Iterator, Sequence

from fleet_tui.core.store.schema import (
    LEGACY_SAMPLES,
    SAMPLE_BLOCKS,
    SAMPLE_RECORD,
    STRIDE,
    samples_view_ddl,
    schema_names,
    table_columns,
)

BUCKET_S = 3600  # fixed for every replica: a different size would give different keys
MAX_RECORDS = 90  # a block this full is closed; the next sample of its hour starts a new part
NAME = SAMPLE_BLOCKS.name
KEY = SAMPLE_BLOCKS.key


def bucket_of(t: float) -> int:
    return int(t // BUCKET_S) * BUCKET_S


def _num(v: object) -> str:
    if isinstance(v, bool) or v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) and math.isfinite(v):
        return repr(v)
    return "null"  # NaN, infinities and anything else: JSON has no word for them


def encode(seq: int, values: Sequence[object]) -> str:
    """One record as JSON text without brackets: `values` are (time, metric, …)."""
    return ",".join(_num(v) for v in (seq, *values))


# A local write: start the block, or append one record to it. Every SET expression reads the
# row as it was, so `n` is the count before this record.
APPEND_SQL = (
    f"INSERT INTO {NAME} (serial, bucket, origin, part, n, seq_hi, data, _ver) "
    "VALUES (?, ?, ?, ?, 1, ?, '[' || ? || ']', ?) "
    f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET n = n + 1, "
    "seq_hi = max(seq_hi, excluded.seq_hi), "
    "data = CASE WHEN n = 0 THEN excluded.data "
    "ELSE substr(data, 1, length(data) - 1) || ',' || substr(excluded.data, 2) END, "
    "_ver = excluded._ver"
)


def append(
    conn: sqlite3.Connection, origin: int, ver: int, rows: Iterable[tuple[int, Sequence[object]]]
) -> list[tuple[str, int]]:
    """Append (seq, (serial, time, metrics…)) rows to our blocks (caller holds a write
    transaction); returns the (serial, bucket) hours written to, in write order. The open part
    of each hour is looked up in the file, not remembered: another Store may have written to
    it since.

    Call it through `compaction.append`: a block of an hour we have folded was deleted, and
    peers may still hold it under the same key, so a block written there again must not
    outlive this transaction (it would break the rule that every version of a block is a
    prefix of every longer one); compaction.append folds it into its hour or day at once."""
    parts: dict[tuple[str, int], tuple[int, int]] = {}
    for seq, row in rows:
        serial, t = str(row[0]), float(row[1])  # type: ignore[arg-type]
        bucket = bucket_of(t)
        got = parts.get((serial, bucket))
        if got is None:
            found = conn.execute(
                f"SELECT part, n FROM {NAME} WHERE serial = ? AND bucket = ? AND origin = ? "
                "ORDER BY part DESC LIMIT 1",
                (serial, bucket, origin),
            ).fetchone()
            got = (found[0], found[1]) if found else (0, 0)
        part, n = got
        if n >= MAX_RECORDS:
            part, n = part + 1, 0
        conn.execute(APPEND_SQL, (serial, bucket, origin, part, seq, encode(seq, row[1:]), ver))
        parts[(serial, bucket)] = (part, n + 1)
    return list(parts)


def records(data: str | None) -> list[list[object]]:
    """A block's records, each [seq, time, metrics…]; a malformed block reads as empty."""
    try:
        flat = json.loads(data or "[]")
    except ValueError:
        return []
    if not isinstance(flat, list) or len(flat) % STRIDE:
        return []
    return [flat[i : i + STRIDE] for i in range(0, len(flat), STRIDE)]


def samples(
    conn: sqlite3.Connection, where: str = "1", params: Sequence[object] = ()
) -> Iterator[dict[str, object]]:
    """Decoded samples of the blocks matching `where` (over the block table's columns), each
    with serial, origin and every SAMPLE_RECORD field; in block key order, then write order."""
    cur = conn.execute(
        f"SELECT serial, origin, data FROM {NAME} WHERE {where} ORDER BY {', '.join(KEY)}",
        tuple(params),
    )
    for serial, origin, data in cur:
        for rec in records(data):
            yield {"serial": serial, "origin": origin, **dict(zip(SAMPLE_RECORD, rec, strict=True))}


# ---- merging ---------------------------------------------------------------------------------


PEER = f"peer.{NAME}"


def merge_sql(src: str = PEER) -> str:
    """Union of blocks; of two versions of one block the longer wins (ties: the greater text,
    so even a tampered pair converges everywhere)."""
    cols = [c.name for c in SAMPLE_BLOCKS.all_columns() if c.name != "_ver"]
    value_cols = [c for c in cols if c not in KEY]
    sets = ", ".join(f"{c} = excluded.{c}" for c in value_cols)
    return (
        f"INSERT INTO main.{NAME} ({', '.join(cols)}, _ver) "
        f"SELECT {', '.join(cols)}, :ver FROM {src} WHERE true "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {sets}, _ver = excluded._ver "
        "WHERE excluded.n > n OR (excluded.n = n AND excluded.data > data)"
    )


def _join(src: str) -> str:
    on = " AND ".join(f"m.{k} = p.{k}" for k in KEY)
    return f"{src} p LEFT JOIN main.{NAME} m ON {on}"


def gained(conn: sqlite3.Connection, src: str = PEER) -> int:
    """Samples merging the blocks in table `src` will add (run before the merge)."""
    row = conn.execute(
        f"SELECT sum(p.n - coalesce(m.n, 0)) FROM {_join(src)} WHERE p.n > coalesce(m.n, 0)"
    ).fetchone()
    return int(row[0] or 0)


def merge(conn: sqlite3.Connection, ver: int, src: str = PEER) -> int:
    """Merge the blocks in table `src` (`schema.table`); returns the samples added."""
    added = gained(conn, src)
    conn.execute(merge_sql(src), {"ver": ver})
    return added


_NUMBER_TEXT = b"0123456789.eE+-,nul[]"  # every byte a flat array of numbers and nulls uses


def malformed(conn: sqlite3.Connection, src: str = PEER) -> str | None:
    """Why `src`'s blocks cannot be taken in, or None: every block must be a flat JSON array
    of exactly n records of numbers and nulls, or compaction and the screens could not read
    it later. The byte check runs in C (bytes.translate); SQLite checks the JSON."""
    cur = conn.execute(
        f"SELECT serial, bucket, part, n, data, CASE WHEN json_valid(data) "
        f"THEN json_array_length(data) END FROM {src}"
    )
    for serial, bucket, part, n, data, length in cur:
        text = data.encode("utf-8", "replace") if isinstance(data, str) else b"?"
        if (
            not isinstance(n, int)
            or n < 0
            or length != n * STRIDE
            or text.translate(None, _NUMBER_TEXT)
            or b"[" in text[1:]
        ):
            return f"malformed sample block (serial {serial!r}, hour {bucket}, part {part})"
    return None


def differing(conn: sqlite3.Connection, src: str = PEER) -> list[str]:
    """Blocks both sides hold where neither is a prefix of the other (records were changed):
    their keys, "serial/bucket/origin/part", at most 20."""

    def stem(col: str) -> str:  # the array without its closing bracket
        return f"substr({col}, 1, length({col}) - 1)"

    short = "CASE WHEN p.n <= m.n THEN p.data ELSE m.data END"
    long = "CASE WHEN p.n <= m.n THEN m.data ELSE p.data END"
    cur = conn.execute(
        f"SELECT p.serial, p.bucket, p.origin, p.part FROM {_join(src)} "
        f"WHERE m.data IS NOT NULL AND p.data != m.data "
        f"AND substr({long}, 1, length({short}) - 1) != {stem(short)} LIMIT 20"
    )
    return [f"{serial}/{bucket}/{origin:015x}/{part}" for serial, bucket, origin, part in cur]


# ---- schema v2: one row per sample -----------------------------------------------------------


def from_legacy(conn: sqlite3.Connection, schema: str, dest: str, ver: int | None) -> int:
    """Pack the v2 `samples` table of `schema` into blocks in table `dest` (same columns as
    the block table; `ver`: stamp them, else keep each sample's own `_ver` maximum).
    Returns the samples packed."""
    have = set(table_columns(conn, LEGACY_SAMPLES.name, schema))
    fields = [f if f in have else "NULL" for f in SAMPLE_RECORD]
    cur = conn.execute(
        f"SELECT serial, origin, {', '.join(fields)}, _ver FROM {schema}.{LEGACY_SAMPLES.name} "
        "ORDER BY origin, serial, seq"
    )
    blocks: dict[tuple[str, int, int], list[tuple[int, str, int]]] = {}
    total = 0
    for serial, origin, seq, *values, row_ver in cur:
        t = values[0] if isinstance(values[0], int | float) else 0.0
        blocks.setdefault((str(serial), bucket_of(t), origin), []).append(
            (seq, encode(seq, values), row_ver)
        )
        total += 1
    out = []
    for (serial, bucket, origin), recs in blocks.items():
        for part, i in enumerate(range(0, len(recs), MAX_RECORDS)):
            chunk = recs[i : i + MAX_RECORDS]
            data = "[" + ",".join(r[1] for r in chunk) + "]"
            stamp = ver if ver is not None else max(r[2] for r in chunk)
            out.append(
                (serial, bucket, origin, part, len(chunk), max(r[0] for r in chunk), data, stamp)
            )
    conn.executemany(
        f"INSERT INTO {dest} (serial, bucket, origin, part, n, seq_hi, data, _ver) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        out,
    )
    return total


def migrate_v2(conn: sqlite3.Connection) -> None:
    """Schema v2 -> v3 of our own file: pack its samples into blocks, drop the old table
    (caller holds the transaction; the block table exists already)."""
    have = schema_names(conn, "table")
    if LEGACY_SAMPLES.name in have:
        from_legacy(conn, "main", f"main.{NAME}", None)
        conn.execute(f"DROP TABLE main.{LEGACY_SAMPLES.name}")  # its index goes with it
    conn.execute(samples_view_ddl())
