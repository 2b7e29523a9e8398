"""The merge itself: one `INSERT … SELECT … ON CONFLICT DO UPDATE` per table from an attached peer.

Runs inside the caller's transaction with the peer attached as schema `peer`. The rules:
- LWW cell: the higher clock wins; equal clocks with different values (only possible if a file
  was tampered with) are resolved by value, NULL lowest, so every replica still converges.
- Append-only row: union; the same (origin, seq) with different content is reported.
- Sample block: grow-only, the longer version wins (core/store/sample_blocks.py); a v2 peer's
  row-per-sample table is packed into blocks first.
- Rollup row: the one covering more samples wins whole; then whatever arrived under a coarser
  row (or a coarser row over finer ones) is folded into it (core/store/compaction.py, `absorb`).
Columns a peer of an older schema lacks merge as never written (clock 0), so additive
migrations and merge go together.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from fleet_tui.core.store import sample_blocks
from fleet_tui.core.store.compaction import rollup_sql
from fleet_tui.core.store.schema import (
    CLK,
    LEGACY_SAMPLES,
    SAMPLE_BLOCKS,
    TABLES,
    AppendTable,
    LwwTable,
    RollupTable,
    Table,
    index_ddl,
)
from fleet_tui.core.sync.report import CellConflict, Corruption, MergeReport, TableChange

DETAIL_LIMIT = 200  # overwritten cells listed one by one; the rest are only counted
MAX_SKIP_SCAN = 1000  # origins looked up one by one before a full scan is cheaper
REBUILD_MIN_ROWS = 20_000  # smaller batches always update indexes row by row
REBUILD_RATIO = 2  # rebuild indexes when the batch has this many times our rows


def _wins(new: str, old: str, col: str) -> str:
    """SQL: does the incoming cell beat ours? (`new`/`old` are row prefixes)."""
    nc, oc = f"{new}{col}{CLK}", f"{old}{col}{CLK}"
    nv, ov = f"{new}{col}", f"{old}{col}"
    return f"({nc} > {oc} OR ({nc} = {oc} AND {nv} IS NOT {ov} AND ({ov} IS NULL OR {nv} > {ov})))"


def lww_sql(t: LwwTable, peer_cols: set[str], src: str = "peer") -> str:
    cols = [c for c in t.value_columns if c.name in peer_cols and c.name + CLK in peer_cols]
    names = [t.key, *(x for c in cols for x in (c.name, c.name + CLK))]
    sets = []
    for c in cols:
        sets.append(
            f"{c.name} = CASE WHEN {_wins('excluded.', '', c.name)} THEN excluded.{c.name} ELSE {c.name} END"
        )
        sets.append(f"{c.name}{CLK} = max({c.name}{CLK}, excluded.{c.name}{CLK})")
    where = " OR ".join(_wins("excluded.", "", c.name) for c in cols) or "0"
    return (
        f"INSERT INTO main.{t.name} ({', '.join(names)}, _ver) "
        f"SELECT {', '.join(names)}, :ver FROM {src}.{t.name} WHERE true "
        f"ON CONFLICT({t.key}) DO UPDATE SET {', '.join([*sets, '_ver = excluded._ver'])} "
        f"WHERE {where}"
    )


def append_sql(t: AppendTable, peer_cols: set[str], src: str = "peer") -> str:
    cols = [c.name for c in t.all_columns() if c.name != "_ver" and c.name in peer_cols]
    return (
        f"INSERT INTO main.{t.name} ({', '.join(cols)}, _ver) "
        f"SELECT {', '.join(cols)}, :ver FROM {src}.{t.name} WHERE true ON CONFLICT DO NOTHING"
    )


def _count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM main.{table}").fetchone()[0])


def _lww_overwrites(
    conn: sqlite3.Connection, t: LwwTable, peer_cols: set[str], report: MergeReport
) -> None:
    """Cells both sides wrote with different values, and which side's value is kept."""
    cols = [c.name for c in t.value_columns if c.name + CLK in peer_cols]
    if not cols:
        return
    cond = " OR ".join(
        f"(p.{c} IS NOT m.{c} AND p.{c}{CLK} != 0 AND m.{c}{CLK} != 0)" for c in cols
    )
    sel = ", ".join(f"p.{c}, m.{c}, p.{c}{CLK}, m.{c}{CLK}" for c in cols)
    cur = conn.execute(
        f"SELECT p.{t.key}, {sel} FROM peer.{t.name} p JOIN main.{t.name} m "
        f"ON m.{t.key} = p.{t.key} WHERE {cond}"
    )
    for row in cur:
        key = row[0]
        for i, c in enumerate(cols):
            theirs, ours, tclk, oclk = row[1 + 4 * i : 5 + 4 * i]
            if theirs == ours or not tclk or not oclk:
                continue
            if tclk == oclk:
                report.corruption.append(
                    Corruption(t.name, key, f"{c}: same clock, values {ours!r} vs {theirs!r}")
                )
                continue
            report.overwrite_count += 1
            if len(report.overwrites) < DETAIL_LIMIT:
                winner = "theirs" if tclk > oclk else "ours"
                report.overwrites.append(CellConflict(t.name, key, c, ours, theirs, winner))


def _first_rows(
    conn: sqlite3.Connection, schema: str, table: str, limit: int
) -> list[tuple[int, int]] | None:
    """(origin, lowest seq) per origin by skip-scan: one index seek per origin instead of a
    scan of the whole table. None when there are more than `limit` origins."""
    out: list[tuple[int, int]] = []
    row = conn.execute(
        f"SELECT origin, seq FROM {schema}.{table} ORDER BY origin, seq LIMIT 1"
    ).fetchone()
    while row is not None:
        if len(out) >= limit:
            return None
        out.append((row[0], row[1]))
        row = conn.execute(
            f"SELECT origin, seq FROM {schema}.{table} WHERE origin > ? ORDER BY origin, seq "
            "LIMIT 1",
            (row[0],),
        ).fetchone()
    return out


def _append_corruption(
    conn: sqlite3.Connection, t: AppendTable, peer_cols: set[str], report: MergeReport
) -> None:
    """Same (origin, seq) on both sides with different content: checked only where the
    per-origin sequence ranges overlap, so disjoint histories cost nothing."""
    cols = [c.name for c in t.columns if c.name in peer_cols]
    if not cols:
        return
    theirs = _first_rows(conn, "peer", t.name, MAX_SKIP_SCAN)
    if theirs is None:  # a file with very many origins: one scan is cheaper
        theirs = conn.execute(
            f"SELECT origin, min(seq) FROM peer.{t.name} GROUP BY origin"
        ).fetchall()
    differs = " OR ".join(f"p.{c} IS NOT m.{c}" for c in cols)
    for origin, low in theirs:
        high = conn.execute(
            f"SELECT max(seq) FROM main.{t.name} WHERE origin = ?", (origin,)
        ).fetchone()[0]
        if high is None or low > high:
            continue
        cur = conn.execute(
            f"SELECT p.seq FROM peer.{t.name} p JOIN main.{t.name} m "
            f"ON m.origin = p.origin AND m.seq = p.seq "
            f"WHERE p.origin = ? AND p.seq <= ? AND ({differs}) LIMIT 20",
            (origin, high),
        )
        for (seq,) in cur:
            report.corruption.append(
                Corruption(t.name, f"{origin:015x}/{seq}", "same key, different content")
            )


def _bulk_load(conn: sqlite3.Connection, t: AppendTable) -> bool:
    """Is the incoming batch big next to our table? Then dropping the secondary indexes and
    building them again after the insert (one sort) beats updating them row by row. Measured
    (bench/bench_merge.py): the rebuild wins once the batch is about twice our table."""
    if not t.indexes:
        return False
    incoming = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM peer.{t.name} LIMIT {REBUILD_MIN_ROWS})"
    ).fetchone()[0]
    if incoming < REBUILD_MIN_ROWS:
        return False
    incoming = conn.execute(f"SELECT count(*) FROM peer.{t.name}").fetchone()[0]
    cap = incoming // REBUILD_RATIO + 1
    ours = conn.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM main.{t.name} LIMIT {cap})"
    ).fetchone()[0]
    return bool(ours < cap)


def _append(conn: sqlite3.Connection, t: AppendTable, peer_cols: set[str], ver: int) -> None:
    rebuild = index_ddl(t) if _bulk_load(conn, t) else []
    for name, _ in rebuild:
        conn.execute(f"DROP INDEX main.{name}")
    conn.execute(append_sql(t, peer_cols), {"ver": ver})
    for _, ddl in rebuild:
        conn.execute(ddl)


def _merge_samples(
    conn: sqlite3.Connection, columns: dict[str, list[str]], ver: int, report: MergeReport
) -> None:
    """Blocks of the peer, or of a v2 peer its samples packed into blocks on the way in."""
    added = 0
    if SAMPLE_BLOCKS.name in columns:
        added += sample_blocks.merge(conn, ver)
    if LEGACY_SAMPLES.name in columns:
        legacy = "temp.legacy_blocks"
        conn.execute(f"DROP TABLE IF EXISTS {legacy}")
        conn.execute(
            f"CREATE TEMP TABLE legacy_blocks AS SELECT * FROM main.{SAMPLE_BLOCKS.name} LIMIT 0"
        )
        try:
            sample_blocks.from_legacy(conn, "peer", legacy, ver)
            added += sample_blocks.merge(conn, ver, src=legacy)
        finally:
            conn.execute(f"DROP TABLE IF EXISTS {legacy}")
    if SAMPLE_BLOCKS.name in columns or LEGACY_SAMPLES.name in columns:
        report.tables["samples"] = TableChange(added, 0)


def merge_attached(
    conn: sqlite3.Connection,
    columns: dict[str, list[str]],
    ver: int,
    report: MergeReport,
    tables: Callable[[Table], bool] = lambda t: True,
) -> None:
    """Merge every table the peer has into main (caller holds the transaction)."""
    for name, t in TABLES.items():
        if t is SAMPLE_BLOCKS and tables(t):
            _merge_samples(conn, columns, ver, report)
            continue
        if name not in columns or not tables(t):
            continue
        peer_cols = set(columns[name])
        before = _count(conn, name) if not isinstance(t, AppendTable) else 0
        changes = conn.total_changes
        if isinstance(t, LwwTable):
            conn.execute(lww_sql(t, peer_cols), {"ver": ver})
        elif isinstance(t, AppendTable):
            _append(conn, t, peer_cols, ver)
        elif isinstance(t, RollupTable):
            conn.execute(rollup_sql(t, peer_cols), {"ver": ver})
        touched = conn.total_changes - changes
        # an append-only insert never updates: every change is an added row
        added = touched if isinstance(t, AppendTable) else _count(conn, name) - before
        report.tables[name] = TableChange(added, touched - added)


def analyse(
    conn: sqlite3.Connection,
    columns: dict[str, list[str]],
    report: MergeReport,
    details: bool = True,
) -> str | None:
    """What the report lists besides counts, read on a connection of its own that sees the
    state before the merge (core/sync/beside.py): same-key clashes of appended rows always,
    and with `details` every cell both sides wrote with different values. Returns why the
    peer must be refused (a malformed sample block), else None."""
    if SAMPLE_BLOCKS.name in columns:
        problem = sample_blocks.malformed(conn)
        if problem is not None:
            return problem
        report.corruption += [
            Corruption("samples", key, "records differ") for key in sample_blocks.differing(conn)
        ]
    for name, t in TABLES.items():
        if name not in columns:
            continue
        peer_cols = set(columns[name])
        if isinstance(t, LwwTable) and details:
            _lww_overwrites(conn, t, peer_cols, report)
        elif isinstance(t, AppendTable):
            _append_corruption(conn, t, peer_cols, report)
    return None
