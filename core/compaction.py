"""Downsampling old metric samples into hourly buckets, in a way merges stay correct with.

A rollup row is keyed (serial, bucket, origin of the raw samples) and carries n, the number of
raw samples it covers. Raw samples are only ever folded into the rollup of their own key, and
two candidate rollups for one key are joined by taking the one covering more samples (ties by
digest, then values): a max, so it is commutative, associative and idempotent. After a merge,
raw samples that arrive for a key that already has a rollup are folded the same way, so a
replica that compacted and one that did not converge to the same rows.

Only the origin replica ever holds all of its own samples, so its rollup of an hour covers a
superset of anyone else's and wins. The one price: a replica that compacts an hour of another
site's samples before it has all of them keeps the smaller part until that site's own rollup
arrives (the horizon is two days, so this needs a partial sync and then two days offline).

The tier: raw samples for RAW_HORIZON_S behind the newest sample, hourly buckets before that.
The horizon is measured from min(now, newest raw sample), so a file of old samples (a test
fixture, a laptop back from a month in a drawer) is not folded the moment it is opened.
"""

from __future__ import annotations

import sqlite3

from core.schema import ROLLUP, SAMPLE_METRICS
from core.sync.merge import rollup_sql

BUCKET_S = 3600  # fixed for every replica: different sizes would give different keys
RAW_HORIZON_S = 2 * 86400  # raw samples kept this long behind the newest one
DEFAULT_HORIZON_S = RAW_HORIZON_S
SLICE_S = 2 * BUCKET_S  # automatic compaction folds at most this much time per transaction
MAX_SERIALS = 100_000  # bound on the per-device skip-scan
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
    """Roll the selected raw samples into candidate rollups, join them in, delete the raws.

    `where` must select whole buckets: every raw row of a (serial, bucket, origin) or none."""
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


# ---- automatic compaction: small slices, driven by the (serial, time) index ----------------


def _serials(conn: sqlite3.Connection) -> list[str]:
    """Every serial with raw samples: one index seek each, not a scan of the table."""
    out: list[str] = []
    row = conn.execute("SELECT serial FROM main.samples ORDER BY serial LIMIT 1").fetchone()
    while row is not None and len(out) < MAX_SERIALS:
        out.append(row[0])
        row = conn.execute(
            "SELECT serial FROM main.samples WHERE serial > ? ORDER BY serial LIMIT 1", (row[0],)
        ).fetchone()
    return out


def _raw_range(conn: sqlite3.Connection) -> tuple[list[str], float | None, float | None]:
    """(serials, oldest, newest raw sample time), from two index seeks per serial."""
    serials = _serials(conn)
    oldest: float | None = None
    newest: float | None = None
    for serial in serials:
        lo, hi = conn.execute(
            "SELECT min(time), max(time) FROM main.samples WHERE serial = ?", (serial,)
        ).fetchone()
        if lo is None:  # NULL times: only a full compact() folds those
            continue
        oldest = lo if oldest is None else min(oldest, lo)
        newest = hi if newest is None else max(newest, hi)
    return serials, oldest, newest


def compact_slice(
    conn: sqlite3.Connection,
    ver: int,
    now: float,
    horizon_s: float = RAW_HORIZON_S,
    slice_s: int = SLICE_S,
) -> int:
    """Fold the oldest due raw samples, at most `slice_s` seconds of them (whole buckets).

    Returns the samples folded; 0 when nothing is due. Bounded work, so the caller can hold
    the store's lock for it without stalling the poller."""
    serials, oldest, newest = _raw_range(conn)
    if oldest is None or newest is None:
        return 0
    edge = int((min(now, newest) - horizon_s) // BUCKET_S) * BUCKET_S
    if oldest >= edge:
        return 0
    low = int(oldest // BUCKET_S) * BUCKET_S
    high = min(edge, low + max(BUCKET_S, slice_s // BUCKET_S * BUCKET_S))
    conn.execute("DROP TABLE IF EXISTS temp.compact_serials")
    conn.execute("CREATE TEMP TABLE compact_serials (serial TEXT PRIMARY KEY) WITHOUT ROWID")
    conn.executemany("INSERT INTO temp.compact_serials VALUES (?)", [(s,) for s in serials])
    where = (
        "s.serial IN (SELECT serial FROM temp.compact_serials) "
        f"AND s.time >= {low} AND s.time < {high}"
    )
    try:
        return _fold(conn, where, {"ver": ver})
    finally:
        conn.execute("DROP TABLE temp.compact_serials")


# ---- after a merge ---------------------------------------------------------------------------


def absorb(conn: sqlite3.Connection, ver: int, peer_columns: dict[str, list[str]]) -> int:
    """Fold raw samples whose bucket has a rollup: raw rows a merge just brought in, or raw
    rows of ours whose rollup a merge just brought in (both stamped `ver`).

    Driven by the attached `peer`'s rows, so the cost follows the size of what came in, not
    of our table."""
    top = conn.execute("SELECT max(bucket) FROM main.sample_rollups").fetchone()[0]
    if top is None:
        return 0
    conn.execute("DROP TABLE IF EXISTS temp.absorb_keys")
    conn.execute(
        "CREATE TEMP TABLE absorb_keys (serial TEXT, bucket INTEGER, origin INTEGER, "
        "PRIMARY KEY (serial, bucket, origin)) WITHOUT ROWID"
    )
    try:
        if "samples" in peer_columns:  # raw rows that arrived for a bucket we have rolled up
            conn.execute(
                f"INSERT OR IGNORE INTO temp.absorb_keys SELECT s.serial, {_BUCKET}, s.origin "
                f"FROM peer.samples s WHERE s.time < {int(top) + BUCKET_S} AND EXISTS ("
                f"SELECT 1 FROM main.sample_rollups r WHERE r.serial = s.serial "
                f"AND r.bucket = {_BUCKET} AND r.origin = s.origin)"
            )
        if ROLLUP.name in peer_columns:  # rollups that arrived (or won) for our raw rows
            conn.execute(
                f"INSERT OR IGNORE INTO temp.absorb_keys SELECT r.serial, r.bucket, r.origin "
                f"FROM peer.{ROLLUP.name} p JOIN main.{ROLLUP.name} r ON r.serial = p.serial "
                f"AND r.bucket = p.bucket AND r.origin = p.origin WHERE r._ver = {int(ver)}"
            )
        if conn.execute("SELECT 1 FROM temp.absorb_keys LIMIT 1").fetchone() is None:
            return 0
        where = (
            "(s.origin, s.seq) IN (SELECT x.origin, x.seq FROM temp.absorb_keys k "
            "JOIN main.samples x ON x.serial = k.serial AND x.time >= k.bucket "
            f"AND x.time < k.bucket + {BUCKET_S} AND x.origin = k.origin)"
        )
        return _fold(conn, where, {"ver": ver})
    finally:
        conn.execute("DROP TABLE temp.absorb_keys")
