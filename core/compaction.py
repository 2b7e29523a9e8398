"""Downsampling old metric samples into hourly buckets, in a way merges stay correct with.

A rollup row is keyed (serial, bucket, origin of the raw samples) and carries n, the number of
raw samples it covers. Raw samples live in blocks of the same key (core/sample_blocks.py);
a block is only ever folded into the rollup of its own key, and
two candidate rollups for one key are joined by taking the one covering more samples (ties by
digest, then values): a max, so it is commutative, associative and idempotent. After a merge,
blocks that arrive for a key that already has a rollup are folded the same way, so a
replica that compacted and one that did not converge to the same rows.

Only the origin replica ever holds all of its own samples, so its rollup of an hour covers a
superset of anyone else's and wins. The one price: a replica that compacts an hour of another
site's samples before it has all of them keeps the smaller part until that site's own rollup
arrives (the horizon is two days, so this needs a partial sync and then two days offline).

The tier: raw samples for RAW_HORIZON_S behind the newest sample, hourly buckets before that.
The horizon is measured from min(now, the newest hour with raw samples), so a file of old samples (a test
fixture, a laptop back from a month in a drawer) is not folded the moment it is opened.
"""

from __future__ import annotations

import sqlite3

from core.sample_blocks import BUCKET_S, NAME
from core.schema import ROLLUP, SAMPLE_METRICS, SAMPLE_RECORD, STRIDE
from core.sync.merge import rollup_sql

RAW_HORIZON_S = 2 * 86400  # raw samples kept this long behind the newest one
DEFAULT_HORIZON_S = RAW_HORIZON_S
SLICE_S = 2 * BUCKET_S  # automatic compaction folds at most this much time per transaction
_THROTTLE_BITS = (0, 1, 2, 3, 16, 17, 18, 19)
_GROUP = "b.serial, b.bucket, b.origin"


def _field(name: str) -> str:
    """SQL: the value of record field `name` when the json_each row `j` holds it, else NULL."""
    return f"CASE WHEN j.key % {STRIDE} = {SAMPLE_RECORD.index(name)} THEN j.value END"


def _aggregates() -> str:
    out = []
    for c in SAMPLE_METRICS:
        if c.name == "throttled":  # a bit field: OR the bits, an average means nothing
            bits = " | ".join(f"max({_field('throttled')} & {1 << b})" for b in _THROTTLE_BITS)
            out.append(f"({bits}) AS throttled")
        else:
            out.append(f"avg({_field(c.name)}) AS {c.name}")
    return ", ".join(out)


def _fold(conn: sqlite3.Connection, where: str, params: dict[str, object]) -> int:
    """Roll the selected blocks into candidate rollups, join them in, delete the blocks.

    `where` (over block columns, alias `b`) must select whole hours: every part of a
    (serial, bucket, origin) or none. Every record is read once, by one json_each per block."""
    seq = _field("seq")
    conn.execute("DROP TABLE IF EXISTS temp.rollup_candidates")
    conn.execute(
        f"CREATE TEMP TABLE rollup_candidates AS "
        f"SELECT b.serial AS serial, b.bucket AS bucket, b.origin AS origin, "
        f"{BUCKET_S} AS bucket_s, count({seq}) AS n, "
        f"printf('%016x:%016x:%016x', min({seq}), max({seq}), sum({seq})) AS digest, "
        f"{_aggregates()} FROM main.{NAME} b, json_each(b.data) j WHERE {where} "
        f"GROUP BY {_GROUP} HAVING count({seq}) > 0"
    )
    all_cols = {c.name for c in ROLLUP.all_columns()}
    conn.execute(rollup_sql(ROLLUP, all_cols, src="temp.rollup_candidates"), params)
    folded = conn.execute(f"SELECT sum(n) FROM main.{NAME} b WHERE {where}", params).fetchone()[0]
    conn.execute(f"DELETE FROM main.{NAME} AS b WHERE {where}", params)
    conn.execute("DROP TABLE temp.rollup_candidates")
    return int(folded or 0)


def compact(conn: sqlite3.Connection, before: float, ver: int) -> int:
    """Fold raw samples of whole buckets that end before `before`. Returns samples folded."""
    edge = int(before // BUCKET_S) * BUCKET_S
    return _fold(conn, f"b.bucket < {edge}", {"ver": ver})


def compact_slice(
    conn: sqlite3.Connection,
    ver: int,
    now: float,
    horizon_s: float = RAW_HORIZON_S,
    slice_s: int = SLICE_S,
) -> int:
    """Fold the oldest due raw samples, at most `slice_s` seconds of them (whole buckets).

    The horizon runs from min(now, the start of the newest hour with samples). Returns the
    samples folded; 0 when nothing is due. Bounded work (two index seeks to decide), so the
    caller can hold the store's lock for it without stalling the poller."""
    oldest, newest = conn.execute(f"SELECT min(bucket), max(bucket) FROM main.{NAME}").fetchone()
    if oldest is None or newest is None:
        return 0
    edge = int((min(now, newest) - horizon_s) // BUCKET_S) * BUCKET_S
    if oldest >= edge:
        return 0
    high = min(edge, oldest + max(BUCKET_S, slice_s // BUCKET_S * BUCKET_S))
    return _fold(conn, f"b.bucket >= {int(oldest)} AND b.bucket < {int(high)}", {"ver": ver})


# ---- after a merge ---------------------------------------------------------------------------


def absorb(conn: sqlite3.Connection, ver: int, peer_columns: dict[str, list[str]]) -> int:
    """Fold blocks whose hour has a rollup: blocks a merge just brought in (or lengthened),
    or blocks of ours whose rollup a merge just brought in (both stamped `ver`).

    Driven by the attached `peer`'s rows, so the cost follows the size of what came in, not
    of our table."""
    if conn.execute("SELECT 1 FROM main.sample_rollups LIMIT 1").fetchone() is None:
        return 0
    conn.execute("DROP TABLE IF EXISTS temp.absorb_keys")
    conn.execute(
        "CREATE TEMP TABLE absorb_keys (serial TEXT, bucket INTEGER, origin INTEGER, "
        "PRIMARY KEY (serial, bucket, origin)) WITHOUT ROWID"
    )
    same = "r.serial = p.serial AND r.bucket = p.bucket AND r.origin = p.origin"
    try:
        if NAME in peer_columns:  # blocks that arrived for an hour we have rolled up
            conn.execute(
                f"INSERT OR IGNORE INTO temp.absorb_keys SELECT p.serial, p.bucket, p.origin "
                f"FROM peer.{NAME} p JOIN main.{ROLLUP.name} r ON {same}"
            )
        if ROLLUP.name in peer_columns:  # rollups that arrived (or won) for our blocks
            conn.execute(
                f"INSERT OR IGNORE INTO temp.absorb_keys SELECT r.serial, r.bucket, r.origin "
                f"FROM peer.{ROLLUP.name} p JOIN main.{ROLLUP.name} r ON {same} "
                f"WHERE r._ver = {int(ver)} AND EXISTS (SELECT 1 FROM main.{NAME} b "
                "WHERE b.serial = r.serial AND b.bucket = r.bucket AND b.origin = r.origin)"
            )
        if conn.execute("SELECT 1 FROM temp.absorb_keys LIMIT 1").fetchone() is None:
            return 0
        where = f"({_GROUP}) IN (SELECT serial, bucket, origin FROM temp.absorb_keys)"
        return _fold(conn, where, {"ver": ver})
    finally:
        conn.execute("DROP TABLE temp.absorb_keys")
