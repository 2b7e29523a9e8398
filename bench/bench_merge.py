"""Merge throughput: two 200k-row peers, LWW and append-only, against a raw INSERT … SELECT;
the cost of a local write; the size of a year of samples after compaction.

Run: python bench/bench_merge.py [--rows N] [--trials T] [--strict]. Prints a table and whether
the targets (LWW >= 250k rows/s, append-only >= 1M rows/s) are met; with --strict a miss
exits 1. Each merge is the whole `Store.merge` call as `fleet-tui merge` makes it: every peer
check (header, size, -wal, ids, clock, SQLite's page check, the sample blocks' shape), the
statements, the report with its per-cell details (computed beside the merge on a second
connection), conflict queries and COMMIT. The WAL checkpoint runs afterwards in the store's
maintenance thread; the "+ its WAL checkpoint" lines count it too. Each merge runs on a fresh
copy of the target; the best of T trials is shown (the machine is shared and noisy).

Append-only rows are measured twice. Samples, nearly all the append-only data there is, are
stored packed (one block per device, hour and technician: core/store/sample_blocks.py), so their
rate is samples per second; their baseline and floor are SQLite copying the same samples
stored one per row, as schema v2 did (`INSERT INTO samples SELECT * FROM peer.samples`, a
page-level transfer, and the same with named columns, row by row, into an empty table with
no index: no row-per-sample merge can beat that floor). Events, one row each, show what a
row-per-record append-only table merges at; the baseline is the same page-level copy of the
peer's table, in the same run.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_tui.core.store.database import Store  # noqa: E402
from fleet_tui.core.store.devices import DeviceBook  # noqa: E402
from fleet_tui.core.store.hlc import Stamp, site_tag  # noqa: E402
from fleet_tui.core.store.samples import SampleLog  # noqa: E402
from fleet_tui.core.store.schema import CLK, LEGACY_SAMPLES, TABLES, LwwTable  # noqa: E402
from fleet_tui.core.sync.exchange import Exchange  # noqa: E402
from fleet_tui.core.sync.peer_merge import PeerMerge  # noqa: E402
from fleet_tui.core.sync.report import MergeReport  # noqa: E402

LWW_TARGET = 250_000
APPEND_TARGET = 1_000_000
PIS = 200
Row = tuple[str, str, str, str]


def fill_devices(store: Store, n: int, offset: int, wall: int) -> None:
    """n device rows with every column stamped, written straight through SQL (fast setup)."""
    t = TABLES["devices"]
    assert isinstance(t, LwwTable)
    cols = [c.name for c in t.value_columns]
    names = ", ".join(["serial", *(f"{c}, {c}{CLK}" for c in cols)])
    marks = ", ".join("?" for _ in range(1 + 2 * len(cols)))
    rows = []
    for i in range(offset, offset + n):
        stamp = Stamp(wall + i % 1000, 0, site_tag(store.site_id)).encode()
        vals: list[object] = [f"{i:012x}"]
        for c in cols:
            v: object = 0 if c == "deleted" else (float(i) if c == "last_seen" else f"{c}-{i}")
            if c == "port":
                v = 22
            vals += [v, stamp]
        rows.append(vals)
    c = store._conn
    c.execute("BEGIN")
    c.executemany(f"INSERT INTO devices ({names}) VALUES ({marks})", rows)
    hlc = Stamp(wall + 1000, 0, site_tag(store.site_id)).encode()
    c.execute("UPDATE meta SET value = ? WHERE key = 'hlc'", (hlc,))
    c.execute("COMMIT")


def fill_samples(store: Store, n: int, start: float) -> None:
    """n one-minute samples of PIS Pis from `start` on, through the store as the poller writes
    them (ungated: one transaction)."""
    SampleLog(store).record_many(
        [
            (
                f"10000000{i % PIS:08x}",
                {
                    "time": start + 60 * (i // PIS) + i % 7,
                    "temperature_c": 40 + i % 30 + 0.1 * (i % 10),
                    "cpu_percent": float(i % 100),
                    "throttled": 0,
                    "load": [0.25 * (i % 8)],
                    "mem_percent": 30.5,
                    "disk_percent": 41.2,
                    "core_volts": 0.86,
                },
            )
            for i in range(1, n + 1)
        ]
    )


def fill_events(store: Store, n: int, start: float) -> None:
    """n events of PIS Pis (rows of their own: the append-only tables other than samples)."""
    with store.write() as c:
        for i in range(1, n + 1):
            row = {
                "serial": f"10000000{i % PIS:08x}",
                "time": start + i,
                "kind": "health",
                "message": f"temperature {40 + i % 30} C",
            }
            store.append(c, "events", row)


def legacy_copy(peer: Path, out: Path) -> Path:
    """The peer's samples one row each, as schema v2 kept them: the baseline's table."""
    out.unlink(missing_ok=True)
    c = sqlite3.connect(out, isolation_level=None)
    c.execute(LEGACY_SAMPLES.ddl())
    c.execute("ATTACH ? AS peer", (str(peer),))
    cols = ", ".join(col.name for col in LEGACY_SAMPLES.all_columns())
    c.execute("BEGIN")
    c.execute(f"INSERT INTO main.samples ({cols}) SELECT {cols} FROM peer.samples ORDER BY 1, 2")
    c.execute("COMMIT")
    c.close()
    return out


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def fresh_copy(src: Path, dst: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dst}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(src, dst)
    return dst


def best_merge(
    target: Path, peer: Path, work: Path, trials: int
) -> tuple[float, float, MergeReport]:
    """Best time of `trials` merges of `peer`, each into a fresh copy of `target`; and the
    best time of the merge plus the WAL checkpoint the store's maintenance thread then does."""
    best = best_all = float("inf")
    report = None
    for _ in range(trials):
        with Store.open(fresh_copy(target, work)) as s:
            start = time.perf_counter()
            report = PeerMerge(s).merge(peer)
            best = min(best, time.perf_counter() - start)
            s.maintenance_idle(60.0)
            best_all = min(best_all, time.perf_counter() - start)
    assert report is not None
    return best, best_all, report


def best_remerge(work: Path, peer: Path, trials: int) -> float:
    """Merging the same peer again: every row is already here (a re-read USB stick)."""
    with Store.open(work) as s:
        return min(timed(lambda: PeerMerge(s).merge(peer)) for _ in range(trials))


def raw_copy(peer: Path, table: str, work: Path, trials: int, rowwise: bool = False) -> float:
    """Baseline: SQLite's own INSERT … SELECT of the peer's table into an empty one, committed.
    `rowwise`: name the columns, so SQLite inserts row by row instead of copying pages (the
    floor for any merge, which must look at each row)."""
    ddl = (
        sqlite3.connect(peer)
        .execute("SELECT sql FROM sqlite_schema WHERE name = ?", (table,))
        .fetchone()[0]
    )
    best = float("inf")
    for _ in range(trials):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{work}{suffix}").unlink(missing_ok=True)
        c = sqlite3.connect(work, isolation_level=None)
        c.execute("PRAGMA journal_mode = WAL")
        c.execute("PRAGMA synchronous = NORMAL")
        c.execute(ddl.replace("IF NOT EXISTS ", ""))
        c.execute("ATTACH ? AS peer", (str(peer),))
        cols = "*"
        if rowwise:
            cols = ", ".join(r[1] for r in c.execute(f"PRAGMA main.table_info({table})"))
        start = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute(f"INSERT INTO main.{table} SELECT {cols} FROM peer.{table}")
        c.execute("COMMIT")
        best = min(best, time.perf_counter() - start)
        c.close()
    return best


def rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f} rows/s"


def line(what: str, rows: int, seconds: float, base: float) -> Row:
    return (what, rate(rows, seconds), rate(rows, base), f"{base / seconds:.2f}")


def bench_lww(rows: int, tmp: Path, trials: int) -> list[Row]:
    wall = int(time.time() * 1000) - 60_000
    with Store.open(tmp / "lww-a.db") as a:
        fill_devices(a, rows, 0, wall)
    with Store.open(tmp / "lww-b.db") as b:
        # half of B's rows are new to A, half overlap A's with newer clocks on B's side
        fill_devices(b, rows, rows // 2, wall + 5000)
        peer = Exchange(b).snapshot(tmp / "lww-peer.db")
    work = tmp / "lww-work.db"
    t, t_all, report = best_merge(tmp / "lww-a.db", peer, work, trials)
    assert report.tables["devices"].added == rows // 2, report.tables["devices"]
    assert report.tables["devices"].updated == rows - rows // 2
    base = raw_copy(peer, "devices", tmp / "raw.db", trials)
    floor = raw_copy(peer, "devices", tmp / "raw.db", trials, rowwise=True)
    again = best_remerge(work, peer, trials)
    return [
        line("LWW merge (devices, 16 cols, ½ new ½ newer)", rows, t, base),
        line("  + its WAL checkpoint (background)", rows, t_all, base),
        line("  floor: row-by-row INSERT…SELECT, empty", rows, floor, base),
        line("LWW re-merge, nothing new", rows, again, base),
    ]


def bench_append(rows: int, tmp: Path, trials: int) -> list[Row]:
    start = time.time() - 2 * 86400 + 3600  # inside the raw tier: nothing is compacted
    for name in ("app-a.db", "app-b.db"):  # two technicians polling the same Pis
        with Store.open(tmp / name) as s:
            fill_samples(s, rows, start)
    for name in ("ev-a.db", "ev-b.db"):
        with Store.open(tmp / name) as s:
            fill_events(s, rows, start)
    with Store.open(tmp / "app-b.db") as b:
        peer = Exchange(b).snapshot(tmp / "app-peer.db")
        blocks = b._conn.execute("SELECT count(*) FROM sample_blocks").fetchone()[0]
    with Store.open(tmp / "ev-b.db") as b:
        ev_peer = Exchange(b).snapshot(tmp / "ev-peer.db")
    work = tmp / "app-work.db"
    t, t_all, report = best_merge(tmp / "app-a.db", peer, work, trials)
    assert report.tables["samples"].added == rows and report.compacted == 0
    legacy = legacy_copy(peer, tmp / "app-legacy.db")
    base = raw_copy(legacy, "samples", tmp / "raw.db", trials)
    floor = raw_copy(legacy, "samples", tmp / "raw.db", trials, rowwise=True)
    again = best_remerge(work, peer, trials)
    Store.open(tmp / "empty.db").close()
    t_empty, _, _ = best_merge(tmp / "empty.db", peer, work, trials)
    t_ev, _, report = best_merge(tmp / "ev-a.db", ev_peer, work, trials)
    assert report.tables["events"].added == rows
    ev_base = raw_copy(ev_peer, "events", tmp / "raw.db", trials)
    return [
        line(f"append merge: samples, all new ({blocks:,} blocks)", rows, t, base),
        line("  + its WAL checkpoint (background)", rows, t_all, base),
        line("  floor: row-by-row INSERT…SELECT, empty", rows, floor, base),
        line("append re-merge, nothing new", rows, again, base),
        line("append merge into an empty store", rows, t_empty, base),
        line("append merge: events, one row each, all new", rows, t_ev, ev_base),
    ]


def bench_writes(tmp: Path) -> list[Row]:
    """A stamped LWW write and a sample, each its own transaction, against a plain insert."""
    s = Store.open(tmp / "w.db")
    n = 3000
    devices, samples = DeviceBook(s), SampleLog(s)
    t_upsert = timed(lambda: [devices.upsert("x", last_seen=float(i)) for i in range(n)])
    t_sample = timed(
        lambda: [samples.record(f"p{i}", {"time": 1e9 + i, "temperature_c": 1.0}) for i in range(n)]
    )
    s.close()
    c = sqlite3.connect(tmp / "plain.db", isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA synchronous = NORMAL")
    c.execute("CREATE TABLE plain (k TEXT PRIMARY KEY, v REAL)")

    def plain() -> None:
        for i in range(n):
            c.execute("BEGIN")
            c.execute("INSERT OR REPLACE INTO plain VALUES ('x', ?)", (float(i),))
            c.execute("COMMIT")

    t_plain = timed(plain)
    c.close()
    per = 1e6 / n
    return [
        (
            "local LWW write (DeviceBook.upsert)",
            f"{t_upsert * per:.1f} µs",
            f"{t_plain * per:.1f} µs",
            f"{t_upsert / t_plain:.2f}x cost",
        ),
        (
            "local append (SampleLog.record)",
            f"{t_sample * per:.1f} µs",
            f"{t_plain * per:.1f} µs",
            f"{t_sample / t_plain:.2f}x cost",
        ),
    ]


def fill_minutes(store: Store, pis: int, start: float, minutes: int, seq0: int) -> int:
    """One sample a minute from each of `pis` Pis, generated inside SQLite (fast), packed
    into hourly blocks the way the store packs them (core/store/sample_blocks.py)."""
    c = store._conn
    c.execute("BEGIN")
    c.execute(
        "WITH RECURSIVE m(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM m WHERE k < :mins - 1), "
        "p(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM p WHERE i < :pis - 1), "
        "r AS (SELECT printf('10000000%08x', i) AS serial, :seq0 + k * :pis + i AS seq, "
        ":start + 60 * k + i % 7 AS t, json_array(:seq0 + k * :pis + i, :start + 60 * k + i % 7, "
        "45 + (k * 7 + i) % 23 * 0.5, (k * 13 + i) % 100, CASE WHEN (k + i) % 997 = 0 THEN 327685 "
        "ELSE 0 END, ((k + i) % 40) / 10.0, 30 + (k % 50) / 5.0, 41.5, 0.86, 3.1 + (k % 9) / 10.0, "
        "CASE WHEN i % 3 = 0 THEN 3000 + (k % 5) * 100 END) AS rec FROM m, p ORDER BY k, i) "
        "INSERT INTO sample_blocks (serial, bucket, origin, part, n, seq_hi, data) "
        "SELECT serial, CAST(t / 3600 AS INTEGER) * 3600 AS bucket, :origin, 0, count(*), "
        "max(seq), '[' || group_concat(substr(rec, 2, length(rec) - 2), ',') || ']' FROM r "
        "GROUP BY serial, bucket",
        {"mins": minutes, "pis": pis, "origin": store.origin, "seq0": seq0, "start": start},
    )
    c.execute("COMMIT")
    return seq0 + minutes * pis


def year_size_rows(tmp: Path, pis: int = 4, span_days: int = 365) -> list[Row]:
    """A year (`span_days`) of one-minute samples: raw, and after compaction (2 days raw,
    30 days of hourly buckets, daily buckets before that).

    Measured through the real compaction on `pis` Pis (each Pi's rows are independent and
    alike), then scaled to PIS Pis; the file sizes are of snapshots (what travels)."""
    from fleet_tui.core.store import compaction

    day = 86400.0
    now = time.time()
    start = now - span_days * day
    year = tmp / "year.db"
    seq = 1
    with Store.open(year) as s:
        for month in range(span_days // 30 + 1):  # 30 days at a time, then the rest
            t0 = start + month * 30 * day
            days = min(30.0, (now - t0) / day)
            if days <= 0:
                break
            seq = fill_minutes(s, pis, t0, int(days * 1440), seq)
            s.compact(older_than_s=compaction.RAW_HORIZON_S, now=now)
        raw_left = s._conn.execute("SELECT sum(n) FROM sample_blocks").fetchone()[0]
        buckets = s._conn.execute("SELECT count(*) FROM sample_rollups").fetchone()[0]
        days = s._conn.execute("SELECT count(*) FROM sample_rollups_daily").fetchone()[0]
        compacted = Exchange(s).snapshot(tmp / "year-snap.db").stat().st_size
    with Store.open(tmp / "raw-day.db") as s:  # the uncompacted cost per sample
        fill_minutes(s, pis, now - day, 1440, 1)
        per_row = Exchange(s).snapshot(tmp / "raw-day-snap.db").stat().st_size / (1440 * pis)
    scale = PIS / pis
    total = (seq - 1) * scale
    raw_bytes = per_row * total
    mb = 1024 * 1024
    return [
        (
            f"{'year' if span_days == 365 else f'{span_days} days'}, {PIS} Pis, 1-min samples "
            f"({total / 1e6:.0f}M): file",
            f"{compacted * scale / mb:,.0f} MB",
            f"{raw_bytes / mb:,.0f} MB raw",
            f"{compacted / (raw_bytes / scale):.3f}",
        ),
        (
            f"  = {raw_left * scale / 1e3:,.0f}k raw (2 days) + {buckets * scale / 1e3:,.0f}k "
            f"hours + {days * scale / 1e3:,.0f}k days",
            f"(measured: {pis} Pis x{scale:.0f})",
            "",
            "",
        ),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--year-pis", type=int, default=4, help="Pis measured for the year's size")
    ap.add_argument("--year-days", type=int, default=365, help="days in that 'year'")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        lww = bench_lww(args.rows, tmp, args.trials)
        app = bench_append(args.rows, tmp, args.trials)
        rows = [*lww, *app, *bench_writes(tmp), *year_size_rows(tmp, args.year_pis, args.year_days)]
    head = ("what", "fleet-tui", "raw INSERT…SELECT", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    lww_rate = float(lww[0][1].split()[0].replace(",", ""))
    app_rate = float(app[0][1].split()[0].replace(",", ""))
    ok = lww_rate >= LWW_TARGET and app_rate >= APPEND_TARGET
    print(
        f"targets: LWW >= {LWW_TARGET:,}/s: {'met' if lww_rate >= LWW_TARGET else 'MISSED'}; "
        f"append (samples) >= {APPEND_TARGET:,}/s: "
        f"{'met' if app_rate >= APPEND_TARGET else 'MISSED'} "
        "(row-per-record tables such as events: see their line; not a target)"
    )
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
