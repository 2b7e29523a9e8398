"""Downsampling old metric samples into hourly buckets, in a way merges stay correct with.

A rollup row is keyed (serial, bucket, origin of the raw samples) and carries n, the number of
raw samples it covers. Raw samples are only ever folded into the rollup of their own key, and
two candidate rollups for one key are joined by taking the one covering more samples (ties by
digest, then values): a max, so it is commutative, associative and idempotent. After a merge,
raw samples that arrive for a key that already has a rollup are folded the same way, so a
replica that compacted and one that did not converge to the same rows.

The price: if two replicas compacted disjoint parts of one origin's hour without ever syncing,
the smaller part is dropped. Compaction only touches samples older than its horizon (default
30 days), by which time every replica has normally exchanged them.
"""

from __future__ import annotations

import sqlite3

from core.schema import ROLLUP, SAMPLE_METRICS
from core.sync.merge import rollup_sql

BUCKET_S = 3600  # fixed for every replica: different sizes would give different keys
DEFAULT_HORIZON_S = 30 * 86400
_THROTTLE_BITS = (0, 1, 2, 3, 16, 17, 18, 19)

_BUCKET = f"(CAST(s.time / {BUCKET_S} AS INTEGER) * {BUCKET_S})"


def _aggregates() -> str:
    out = []
    for c in SAMPLE_METRICS:
        if c.name == "throttled":  # a bit field: OR the bits, an average means nothing
            bits = " | ".join(f"max(s.throttled & {1 << b})" for b in _THROTTLE_BITS)
            out.append(f"({bits}) AS throttled")
        else:
            out.append(f"avg(s.{c.name}) AS {c.name}")
    return ", ".join(out)


def _fold(conn: sqlite3.Connection, where: str, params: dict[str, object]) -> int:
    """Roll the selected raw samples into candidate rollups, join them in, delete the raws."""
    conn.execute("DROP TABLE IF EXISTS temp.rollup_candidates")
    conn.execute(
        f"CREATE TEMP TABLE rollup_candidates AS "
        f"SELECT s.serial AS serial, {_BUCKET} AS bucket, s.origin AS origin, "
        f"{BUCKET_S} AS bucket_s, count(*) AS n, "
        f"printf('%016x:%016x:%016x', min(s.seq), max(s.seq), sum(s.seq)) AS digest, "
        f"{_aggregates()} FROM main.samples s WHERE {where} "
        f"GROUP BY s.serial, bucket, s.origin"
    )
    all_cols = {c.name for c in ROLLUP.all_columns()}
    conn.execute(rollup_sql(ROLLUP, all_cols, src="temp.rollup_candidates"), params)
    cur = conn.execute(f"DELETE FROM main.samples AS s WHERE {where}", params)
    conn.execute("DROP TABLE temp.rollup_candidates")
    return cur.rowcount


def compact(conn: sqlite3.Connection, before: float, ver: int) -> int:
    """Fold raw samples of whole buckets that end before `before`. Returns samples folded."""
    edge = int(before // BUCKET_S) * BUCKET_S
    return _fold(conn, f"s.time < {edge}", {"ver": ver})


def absorb(conn: sqlite3.Connection, ver: int) -> int:
    """Fold raw samples whose bucket has a rollup: raw rows a merge just brought in, or raw
    rows of ours whose rollup a merge just brought in (both stamped `ver`)."""
    top = conn.execute("SELECT max(bucket) FROM main.sample_rollups").fetchone()[0]
    if top is None:
        return 0
    where = (
        f"s.time < {int(top) + BUCKET_S} AND EXISTS (SELECT 1 FROM main.sample_rollups r "
        f"WHERE r.serial = s.serial AND r.bucket = {_BUCKET} AND r.origin = s.origin "
        f"AND (s._ver = {int(ver)} OR r._ver = {int(ver)}))"
    )
    return _fold(conn, where, {"ver": ver})
