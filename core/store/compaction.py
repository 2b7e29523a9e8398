"""Downsampling old metric samples, in two tiers, in a way merges stay correct with.

The tiers: raw samples (in blocks, core/store/sample_blocks.py) for RAW_HORIZON_S behind the newest
hour with samples; hourly rows (`sample_rollups`) for HOURLY_HORIZON_S behind the newest
hour; daily rows (`sample_rollups_daily`) before that. A year of one-minute samples from 200
Pis is then about 2 days of blocks, 30 days of hours and 335 days of days (bench/bench_merge.py).
The horizons run from min(now, the newest hour held), so a file of old samples (a test fixture,
a laptop back from a month in a drawer) is not folded the moment it is opened.

A rollup row is keyed (serial, bucket, origin of the raw samples) and carries n, the number of
raw samples it covers, and a digest 'lo:hi:x' of their sequence numbers. Every row holds *all*
of its origin's samples for its serial and bucket numbered up to hi. That holds because a
replica knows each origin's samples up to some number (an origin numbers its samples in the
order it writes them; a snapshot brings a peer's whole state, a change set all it changed since
the one before), and every fold takes whole hours or days: every block of the hour; every block
and hour of the day. Hence:
- Two rows for one key are nested, so the one covering more wins (ties by digest, then
  values): a max, commutative, associative and idempotent.
- Blocks folded into an hour that has a row (or a day that has one, when no hours of that day
  are held) add only their records numbered above the row's hi; the others are in it already.
  That is exact whichever blocks arrive, even a part of them.
- Hours (and blocks) folded into a day that has a row: the candidate day, all that this replica
  holds of it finer, is nested with the row too, and the bigger wins; a candidate whose range
  does not even meet the row's covers other samples and is added to it.
After a merge, whatever arrived under a coarser row, or a coarser row that arrived over finer
ones, is folded at once (`absorb`). So at rest each hour of an origin's samples is either
blocks or inside a row, and a daily row never sits beside blocks or hours of its own day.

Late samples (a backfill, a clock set back). The origin folds a sample for an hour or day it has
already folded into that row as it records it, in the same transaction (`append`); it never
starts that hour's block again. Peers may still hold the block the fold deleted, under the same
key: a second history under that key would lose to the longer one in a merge, and a sample with
it. Added to the origin's row, which covers all of the origin's samples, the late one wins
everywhere.

The price of aggregates: a day row and an hourly row of the same day can overlap with neither
covering the other. A replica folded the day, then a change set (not a whole snapshot) brings
one hour of it that has grown since, without the rest of the day. Nothing tells which of the
hour's samples the day holds, so the bigger row is kept until the origin's own daily row (which
covers all of its samples) arrives and wins. Blocks alone never meet this: they are folded
record by record.

A day's values are the hours' means weighted by their sample counts (an hour whose value is
NULL adds no weight); throttle bits are OR-ed in both tiers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence

from fleet_tui.core.store import sample_blocks
from fleet_tui.core.store.sample_blocks import BUCKET_S, NAME
from fleet_tui.core.store.schema import (
    DAILY_ROLLUP,
    ROLLUP,
    SAMPLE_METRICS,
    SAMPLE_RECORD,
    STRIDE,
    RollupTable,
)

DAY_S = 86400
RAW_HORIZON_S = 2 * DAY_S  # raw samples kept this long behind the newest hour
HOURLY_HORIZON_S = 30 * DAY_S  # hourly rows kept this long; days before that
DEFAULT_HORIZON_S = RAW_HORIZON_S
SLICE_S = 2 * BUCKET_S  # automatic compaction folds at most this much raw time per transaction
_THROTTLE_BITS = (0, 1, 2, 3, 16, 17, 18, 19)
_GROUP = "b.serial, b.bucket, b.origin"
_DAY = f"(r.bucket - r.bucket % {DAY_S})"  # UTC days, like every replica


def rollup_sql(t: RollupTable, peer_cols: set[str], src: str = "peer") -> str:
    """Join candidate rollups from `src` into `t`: the row covering more samples wins whole
    (then the greater digest, then values). Compaction joins its own candidates with it and
    a merge a peer's rows (core/sync/merge.py). Parameter: `:ver`. `src` is a schema name, or
    a full `schema.table` to read candidates from elsewhere."""
    source = src if "." in src else f"{src}.{t.name}"
    cols = [c.name for c in t.all_columns() if c.name != "_ver" and c.name in peer_cols]
    value_cols = [c for c in cols if c not in t.key]
    rank = ["n", "digest", *(c for c in value_cols if c not in ("n", "digest"))]

    def row(prefix: str) -> str:
        return ", ".join(f"coalesce({prefix}{c}, -1e308)" for c in rank)

    sets = ", ".join(f"{c} = excluded.{c}" for c in value_cols)
    return (
        f"INSERT INTO main.{t.name} ({', '.join(cols)}, _ver) "
        f"SELECT {', '.join(cols)}, :ver FROM {source} WHERE true "
        f"ON CONFLICT({', '.join(t.key)}) DO UPDATE SET {sets}, _ver = excluded._ver "
        f"WHERE ({row('excluded.')}) > ({row('')})"
    )


def _throttle_or(value: str) -> str:
    """SQL: the OR of the known throttle bits over `value` (a bit field: no average)."""
    return "(" + " | ".join(f"max({value} & {1 << b})" for b in _THROTTLE_BITS) + ")"


def _field(name: str) -> str:
    """SQL: the value of record field `name` when the json_each row `j` holds it, else NULL."""
    return f"CASE WHEN j.key % {STRIDE} = {SAMPLE_RECORD.index(name)} THEN j.value END"


def _digest(text: object) -> tuple[int, int, int] | None:
    """(lowest seq, highest seq, third part) of a rollup's digest 'lo:hi:x' (hex), or None."""
    parts = str(text).split(":")
    try:
        lo, hi, x = (int(p, 16) for p in parts)
    except ValueError:
        return None
    return (lo, hi, x) if len(parts) == 3 else None


def _add_disjoint(conn: sqlite3.Connection, into: RollupTable) -> None:
    """A candidate whose samples' sequence range does not meet the range of the row it would
    join covers other samples (one origin numbers its samples once): add the two instead of
    keeping the bigger. This is how the records above an hour's row (`_fold`) and a late
    sample (`append`) get into a row; without it the smaller row would lose and the samples
    would be gone. Ranges that meet are joined by the usual max (covering more wins)."""
    metrics = [c.name for c in SAMPLE_METRICS]
    cols = ["n", "digest", *metrics]
    pairs = conn.execute(
        f"SELECT c.rowid, {', '.join(f'c.{x}' for x in cols)}, "
        f"{', '.join(f'r.{x}' for x in cols)} FROM temp.rollup_candidates c "
        f"JOIN main.{into.name} r ON r.serial = c.serial AND r.bucket = c.bucket "
        "AND r.origin = c.origin"
    ).fetchall()
    width = len(cols)
    for row in pairs:
        rowid, mine, theirs = row[0], row[1 : 1 + width], row[1 + width :]
        a, b = _digest(mine[1]), _digest(theirs[1])
        if a is None or b is None or not (a[0] > b[1] or a[1] < b[0]):
            continue
        n_a, n_b = int(mine[0]), int(theirs[0])
        values: list[object] = []
        for name, va, vb in zip(metrics, mine[2:], theirs[2:], strict=True):
            if va is None or vb is None:
                values.append(vb if va is None else va)
            elif name == "throttled":
                values.append(int(va) | int(vb))
            else:
                values.append((va * n_a + vb * n_b) / (n_a + n_b))
        digest = f"{min(a[0], b[0]):016x}:{max(a[1], b[1]):016x}:{(a[2] + b[2]) % 2**64:016x}"
        sets = ", ".join(f"{m} = ?" for m in metrics)
        conn.execute(
            f"UPDATE temp.rollup_candidates SET n = ?, digest = ?, {sets} WHERE rowid = ?",
            (n_a + n_b, digest, *values, rowid),
        )


def _join_candidates(conn: sqlite3.Connection, into: RollupTable, ver: int) -> None:
    _add_disjoint(conn, into)
    all_cols = {c.name for c in into.all_columns()}
    conn.execute(rollup_sql(into, all_cols, src="temp.rollup_candidates"), {"ver": ver})
    conn.execute("DROP TABLE temp.rollup_candidates")


def _digest_ok(col: str) -> str:
    """SQL: is `col` a digest as fleet-tui writes them ('lo:hi:x', 16 hex digits each)?"""
    return f"(length({col}) = 50 AND substr({col}, 17, 1) = ':' AND substr({col}, 34, 1) = ':')"


def _fold(conn: sqlite3.Connection, where: str, ver: int) -> int:
    """Roll the selected blocks into candidate hours, join them in, delete the blocks; hours
    whose day has a row go on into it. Returns the raw samples folded.

    `where` (over block columns, alias `b`) must select whole hours: every part of a
    (serial, bucket, origin) or none. Every record is read once, by one json_each per block.

    A block whose hour has a row, or whose day has one and no hours of that day are held,
    adds only its records numbered above that row's hi (module docstring): a block's records
    are in sequence order, so the others are a prefix to skip, counted first for those few
    blocks. The candidate then covers other samples than the row and is added to it."""
    seq = _field("seq")
    metrics = ", ".join(
        f"{_throttle_or(_field(c.name))} AS {c.name}"
        if c.name == "throttled"
        else f"avg({_field(c.name)}) AS {c.name}"
        for c in SAMPLE_METRICS
    )

    def skip(row: str) -> str:  # the records of block b numbered up to `row`'s hi
        return (
            f"(SELECT count(*) FROM json_each(b.data) s WHERE s.key % {STRIDE} = 0 "
            f"AND printf('%016x', s.value) <= substr({row}.digest, 18, 16))"
        )

    conn.execute("DROP TABLE IF EXISTS temp.fold_skip")
    conn.execute("CREATE TEMP TABLE fold_skip (id INTEGER PRIMARY KEY, skip INTEGER)")
    conn.execute(
        f"INSERT INTO temp.fold_skip SELECT b.rowid, {skip('r')} FROM main.{NAME} b "
        f"JOIN main.{ROLLUP.name} r ON r.serial = b.serial AND r.bucket = b.bucket "
        f"AND r.origin = b.origin WHERE ({where}) AND {_digest_ok('r.digest')}"
    )
    conn.execute(
        f"INSERT INTO temp.fold_skip SELECT b.rowid, {skip('d')} FROM main.{NAME} b "
        f"JOIN main.{DAILY_ROLLUP.name} d ON d.serial = b.serial "
        f"AND d.bucket = b.bucket - b.bucket % {DAY_S} AND d.origin = b.origin "
        f"WHERE ({where}) AND {_digest_ok('d.digest')} AND NOT EXISTS (SELECT 1 FROM "
        f"main.{ROLLUP.name} h WHERE h.serial = b.serial AND h.bucket >= d.bucket "
        f"AND h.bucket < d.bucket + {DAY_S} AND h.origin = b.origin)"
    )
    conn.execute("DROP TABLE IF EXISTS temp.rollup_candidates")
    conn.execute(
        f"CREATE TEMP TABLE rollup_candidates AS "
        f"SELECT b.serial AS serial, b.bucket AS bucket, b.origin AS origin, "
        f"{BUCKET_S} AS bucket_s, count({seq}) AS n, "
        f"printf('%016x:%016x:%016x', min({seq}), max({seq}), sum({seq})) AS digest, "
        f"{metrics} FROM main.{NAME} b LEFT JOIN temp.fold_skip f ON f.id = b.rowid, "
        f"json_each(b.data) j WHERE ({where}) AND j.key >= {STRIDE} * coalesce(f.skip, 0) "
        f"GROUP BY {_GROUP} HAVING count({seq}) > 0"
    )
    conn.execute("DROP TABLE temp.fold_skip")
    conn.execute("DROP TABLE IF EXISTS temp.fold_days")
    conn.execute(
        "CREATE TEMP TABLE fold_days AS SELECT DISTINCT c.serial AS serial, d.bucket AS bucket, "
        f"c.origin AS origin FROM temp.rollup_candidates c JOIN main.{DAILY_ROLLUP.name} d "
        f"ON d.serial = c.serial AND d.bucket = c.bucket - c.bucket % {DAY_S} "
        "AND d.origin = c.origin"
    )
    _join_candidates(conn, ROLLUP, ver)
    folded = conn.execute(f"SELECT sum(n) FROM main.{NAME} b WHERE {where}").fetchone()[0]
    conn.execute(f"DELETE FROM main.{NAME} AS b WHERE {where}")
    if conn.execute("SELECT 1 FROM temp.fold_days LIMIT 1").fetchone() is not None:
        days = "SELECT serial, bucket, origin FROM temp.fold_days"
        _fold_hours(conn, f"(r.serial, {_DAY}, r.origin) IN ({days})", ver)
    conn.execute("DROP TABLE temp.fold_days")
    return int(folded or 0)


def _fold_days(conn: sqlite3.Connection, blocks: str, hours: str, ver: int) -> tuple[int, int]:
    """Fold whole days: first their blocks into hours, then their hours into days, so a
    daily row never sits beside raw samples of its own day. `blocks` (alias `b`) and `hours`
    (alias `r`) select the same days. Returns (raw samples, hourly rows) folded."""
    return _fold(conn, blocks, ver), _fold_hours(conn, hours, ver)


def _fold_hours(conn: sqlite3.Connection, where: str, ver: int) -> int:
    """Roll the selected hourly rows (alias `r`; whole days only) into candidate days, join
    them in, delete the hours. Returns the hourly rows folded."""
    metrics = ", ".join(
        f"{_throttle_or('r.throttled')} AS throttled"
        if c.name == "throttled"
        else f"sum(r.{c.name} * r.n) / sum(CASE WHEN r.{c.name} IS NOT NULL THEN r.n END) "
        f"AS {c.name}"
        for c in SAMPLE_METRICS
    )
    conn.execute("DROP TABLE IF EXISTS temp.rollup_candidates")
    conn.execute(
        f"CREATE TEMP TABLE rollup_candidates AS "
        f"SELECT r.serial AS serial, {_DAY} AS bucket, r.origin AS origin, {DAY_S} AS bucket_s, "
        # the digest keeps the lo:hi sequence range (hex, fixed width: min/max as text work)
        f"sum(r.n) AS n, min(substr(r.digest, 1, 16)) || ':' || max(substr(r.digest, 18, 16)) "
        f"|| printf(':%016x', count(*)) AS digest, "
        f"{metrics} FROM main.{ROLLUP.name} r WHERE {where} "
        f"GROUP BY r.serial, {_DAY}, r.origin"
    )
    _join_candidates(conn, DAILY_ROLLUP, ver)
    return conn.execute(f"DELETE FROM main.{ROLLUP.name} AS r WHERE {where}").rowcount


def compact(
    conn: sqlite3.Connection, before: float, ver: int, hours_before: float | None = None
) -> int:
    """Fold raw samples of whole hours that end before `before`, and (if given) hourly rows
    of whole days that end before `hours_before`. Returns the raw samples folded."""
    edge = int(before // BUCKET_S) * BUCKET_S
    folded = _fold(conn, f"b.bucket < {edge}", ver)
    if hours_before is not None:  # only days whose blocks were all folded just now
        day_edge = int(min(hours_before, before) // DAY_S) * DAY_S
        _fold_hours(conn, f"r.bucket < {day_edge}", ver)
    return folded


def compact_slice(
    conn: sqlite3.Connection,
    ver: int,
    now: float,
    horizon_s: float = RAW_HORIZON_S,
    slice_s: int = SLICE_S,
) -> int:
    """Fold the oldest due raw samples (at most `slice_s` seconds of them, whole hours); when
    none are due, the oldest due day of hourly rows. Returns the samples (or hourly rows)
    folded; 0 when nothing is due. Bounded work (index seeks to decide), so the caller can
    hold the store's lock for it without stalling the poller."""
    oldest, newest = _span(conn, NAME)
    if oldest is not None and newest is not None:
        edge = int((min(now, newest) - horizon_s) // BUCKET_S) * BUCKET_S
        if oldest < edge:
            high = min(edge, oldest + max(BUCKET_S, slice_s // BUCKET_S * BUCKET_S))
            return _fold(conn, f"b.bucket >= {int(oldest)} AND b.bucket < {int(high)}", ver)
    return _compact_day(conn, ver, now, newest)


def _span(conn: sqlite3.Connection, table: str) -> tuple[int | None, int | None]:
    """The oldest and newest bucket of `table`: two seeks in its bucket index (a single
    SELECT of both min and max would scan it)."""
    row = conn.execute(
        f"SELECT (SELECT min(bucket) FROM main.{table}), (SELECT max(bucket) FROM main.{table})"
    ).fetchone()
    return row[0], row[1]


def _compact_day(conn: sqlite3.Connection, ver: int, now: float, newest_raw: int | None) -> int:
    oldest, newest = _span(conn, ROLLUP.name)
    if oldest is None or newest is None:
        return 0
    top = max(newest, newest_raw) if newest_raw is not None else newest
    edge = int((min(now, top) - HOURLY_HORIZON_S) // DAY_S) * DAY_S
    day = int(oldest) - int(oldest) % DAY_S
    if day >= edge:
        return 0

    def within(a: str) -> str:
        return f"{a}.bucket >= {day} AND {a}.bucket < {day + DAY_S}"

    return sum(_fold_days(conn, within("b"), within("r"), ver))


# ---- our own samples -------------------------------------------------------------------------

# Does a row of ours cover this hour (serial, bucket, origin), or its day?
_COVERED = (
    f"SELECT EXISTS (SELECT 1 FROM main.{ROLLUP.name} WHERE serial = ?1 AND bucket = ?2 "
    f"AND origin = ?3) OR EXISTS (SELECT 1 FROM main.{DAILY_ROLLUP.name} WHERE serial = ?1 "
    f"AND bucket = ?2 - ?2 % {DAY_S} AND origin = ?3)"
)


def append(
    conn: sqlite3.Connection, origin: int, ver: int, rows: Iterable[tuple[int, Sequence[object]]]
) -> int:
    """Append our own samples (sample_blocks.append); those of an hour or day we have folded
    already (a backfill, a clock set back) are folded into its row at once, in the same
    transaction. Their hour's blocks were deleted by that fold and peers may still hold
    them: a block started again under the same key would be a second history of it, and the
    merge, which keeps the longer version, would drop one. So no block of a folded hour is
    ever seen again, and our row stays what every row is: all of our samples of its hour or
    day up to its highest sequence number.

    Returns the samples folded at once: their numbers are in no block any more, so the
    caller holds its sequence floor above them."""
    written = sample_blocks.append(conn, origin, ver, rows)
    late = [
        (serial, bucket, origin)
        for serial, bucket in written
        if conn.execute(_COVERED, (serial, bucket, origin)).fetchone()[0]
    ]
    return _fold_keys(conn, [], lambda keys: _fold(conn, f"({_GROUP}) IN ({keys})", ver), late)


# ---- after a merge ---------------------------------------------------------------------------


def absorb(conn: sqlite3.Connection, ver: int, peer_columns: dict[str, list[str]]) -> int:
    """Fold what a merge brought in under a coarser row we hold, or what we hold under a
    coarser row the merge brought in: blocks under an hour or a day, hours under a day.

    Driven by the attached `peer`'s rows, so the cost follows the size of what came in, not
    of our table. Returns the raw samples folded."""
    folded = 0
    if conn.execute(f"SELECT 1 FROM main.{ROLLUP.name} LIMIT 1").fetchone() is not None:
        folded += _absorb_into_hours(conn, ver, peer_columns)
    if conn.execute(f"SELECT 1 FROM main.{DAILY_ROLLUP.name} LIMIT 1").fetchone() is not None:
        folded += _absorb_into_days(conn, ver, peer_columns)
    return folded


def _absorb_into_hours(conn: sqlite3.Connection, ver: int, peer: dict[str, list[str]]) -> int:
    same = "r.serial = p.serial AND r.bucket = p.bucket AND r.origin = p.origin"
    keys = []
    if NAME in peer:  # blocks that arrived for an hour we have rolled up
        keys.append(
            f"SELECT p.serial, p.bucket, p.origin FROM peer.{NAME} p JOIN main.{ROLLUP.name} r ON {same}"
        )
    if ROLLUP.name in peer:  # hours that arrived (or won) for our blocks
        keys.append(
            f"SELECT r.serial, r.bucket, r.origin FROM peer.{ROLLUP.name} p "
            f"JOIN main.{ROLLUP.name} r ON {same} WHERE r._ver = {int(ver)} AND EXISTS ("
            f"SELECT 1 FROM main.{NAME} b WHERE b.serial = r.serial AND b.bucket = r.bucket "
            "AND b.origin = r.origin)"
        )
    return _fold_keys(conn, keys, lambda w: _fold(conn, f"({_GROUP}) IN ({w})", ver))


def _absorb_into_days(conn: sqlite3.Connection, ver: int, peer: dict[str, list[str]]) -> int:
    """Blocks and hours that fall in a day we hold as a daily row (or that just arrived as
    one): blocks are folded into their hours first, then the hours into the day."""

    def day_of(a: str) -> str:
        return f"({a}.bucket - {a}.bucket % {DAY_S})"

    def on(a: str) -> str:
        return f"d.serial = {a}.serial AND d.bucket = {day_of(a)} AND d.origin = {a}.origin"

    daily = f"main.{DAILY_ROLLUP.name} d"
    keys = []
    if NAME in peer:
        keys.append(
            f"SELECT d.serial, d.bucket, d.origin FROM peer.{NAME} p JOIN {daily} ON {on('p')}"
        )
    if ROLLUP.name in peer:
        keys.append(
            f"SELECT d.serial, d.bucket, d.origin FROM peer.{ROLLUP.name} p JOIN {daily} ON {on('p')}"
        )
    if DAILY_ROLLUP.name in peer:
        keys.append(
            f"SELECT d.serial, d.bucket, d.origin FROM peer.{DAILY_ROLLUP.name} p JOIN {daily} "
            f"ON d.serial = p.serial AND d.bucket = p.bucket AND d.origin = p.origin "
            f"WHERE d._ver = {int(ver)}"
        )

    def fold(days: str) -> int:
        blocks = f"(b.serial, {day_of('b')}, b.origin) IN ({days})"
        return _fold_days(conn, blocks, f"(r.serial, {_DAY}, r.origin) IN ({days})", ver)[0]

    return _fold_keys(conn, keys, fold)


def _fold_keys(
    conn: sqlite3.Connection,
    selects: list[str],
    fold: Callable[[str], int],
    rows: Sequence[tuple[str, int, int]] = (),
) -> int:
    """Collect (serial, bucket, origin) keys from `selects` and `rows` into a temp table,
    then call `fold` with a subquery over them."""
    if not selects and not rows:
        return 0
    conn.execute("DROP TABLE IF EXISTS temp.absorb_keys")
    conn.execute(
        "CREATE TEMP TABLE absorb_keys (serial TEXT, bucket INTEGER, origin INTEGER, "
        "PRIMARY KEY (serial, bucket, origin)) WITHOUT ROWID"
    )
    try:
        for sql in selects:
            conn.execute(f"INSERT OR IGNORE INTO temp.absorb_keys {sql}")
        conn.executemany("INSERT OR IGNORE INTO temp.absorb_keys VALUES (?, ?, ?)", rows)
        if conn.execute("SELECT 1 FROM temp.absorb_keys LIMIT 1").fetchone() is None:
            return 0
        return int(fold("SELECT serial, bucket, origin FROM temp.absorb_keys"))
    finally:
        conn.execute("DROP TABLE IF EXISTS temp.absorb_keys")
