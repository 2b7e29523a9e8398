"""Merge throughput: two 200k-row peers, LWW and append-only, against a raw INSERT … SELECT.

Run: python bench/bench_merge.py [--rows N] [--strict]. Prints a table and whether the targets
(LWW >= 250k rows/s, append-only >= 1M rows/s) are met; with --strict a miss exits 1.
Rates are for the whole merge call of one table (peer checks, statement, commit).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.hlc import Stamp, site_tag  # noqa: E402
from core.schema import CLK, TABLES, LwwTable  # noqa: E402
from core.store import Store  # noqa: E402

LWW_TARGET = 250_000
APPEND_TARGET = 1_000_000


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
            v: object = 0 if c == "deleted" else (float(i) if c in ("last_seen",) else f"{c}-{i}")
            if c == "port":
                v = 22
            vals += [v, stamp]
        rows.append(vals)
    c = store._conn
    c.execute("BEGIN")
    c.executemany(f"INSERT INTO devices ({names}) VALUES ({marks})", rows)
    c.execute(
        "UPDATE meta SET value = ? WHERE key = 'hlc'",
        (Stamp(wall + 1000, 0, site_tag(store.site_id)).encode(),),
    )
    c.execute("COMMIT")


def fill_samples(store: Store, n: int) -> None:
    c = store._conn
    c.execute("BEGIN")
    c.executemany(
        "INSERT INTO samples (origin, seq, serial, time, temperature_c, cpu_percent, throttled,"
        " load1) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (store.site_id, i, f"{i % 200:012x}", 1e9 + i, 40 + i % 30, i % 100, 0, 0.5)
            for i in range(1, n + 1)
        ),
    )
    c.execute("COMMIT")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def raw_copy(local: Path, peer: Path, table: str) -> float:
    """Baseline: INSERT … SELECT of the peer's rows into an empty copy of the table."""
    c = sqlite3.connect(local, isolation_level=None)
    c.execute("ATTACH ? AS peer", (str(peer),))
    ddl = c.execute("SELECT sql FROM peer.sqlite_schema WHERE name = ?", (table,)).fetchone()[0]
    c.execute("BEGIN")
    c.execute(
        ddl.replace(f"TABLE {table}", "TABLE raw_copy", 1).replace(
            f"TABLE IF NOT EXISTS {table}", "TABLE raw_copy", 1
        )
    )
    t = timed(lambda: c.execute(f"INSERT INTO raw_copy SELECT * FROM peer.{table}"))
    c.execute("ROLLBACK")
    c.close()
    return t


def bench(rows: int, tmp: Path) -> list[tuple[str, str, str, str]]:
    out: list[tuple[str, str, str, str]] = []
    wall = int(time.time() * 1000) - 60_000
    a, b = Store.open(tmp / "a.db"), Store.open(tmp / "b.db")
    # LWW: half of B's rows are new to A, half overlap A's with newer clocks on B's side
    fill_devices(a, rows, 0, wall)
    fill_devices(b, rows, rows // 2, wall + 5000)
    fill_samples(a, rows)
    fill_samples(b, rows)
    snap = b.snapshot(tmp / "b-snap.db")
    b.close()

    only = {"devices"}
    from core.sync import merge as m

    def merge_only(names: set[str]) -> float:
        orig = m.TABLES
        m.TABLES = {k: v for k, v in orig.items() if k in names}  # type: ignore[misc]
        try:
            return timed(lambda: a.merge(snap, details=False))
        finally:
            m.TABLES = orig  # type: ignore[misc]

    t_lww = merge_only(only)
    t_raw = raw_copy(tmp / "a.db", snap, "devices")
    out.append(
        (
            "LWW merge (devices, 16 cols)",
            f"{rows / t_lww:,.0f} rows/s",
            f"{rows / t_raw:,.0f} rows/s",
            f"{t_raw / t_lww:.2f}",
        )
    )
    t_app = merge_only({"samples"})
    t_raw = raw_copy(tmp / "a.db", snap, "samples")
    out.append(
        (
            "append merge (samples)",
            f"{rows / t_app:,.0f} rows/s",
            f"{rows / t_raw:,.0f} rows/s",
            f"{t_raw / t_app:.2f}",
        )
    )
    t_full = timed(lambda: a.merge(snap))  # again, everything, with report details: no-op
    out.append(("idempotent re-merge, all tables", f"{2 * rows / t_full:,.0f} rows/s", "", ""))
    a.close()

    # local write cost: a stamped LWW write / a sample, each its own transaction
    s = Store.open(tmp / "w.db")
    n = 3000
    t_upsert = timed(lambda: [s.upsert_device("x", last_seen=float(i)) for i in range(n)])
    t_sample = timed(
        lambda: [s.record_health("x", {"time": float(i), "temperature_c": 1.0}) for i in range(n)]
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
    out.append(
        (
            "local LWW write (upsert_device)",
            f"{t_upsert * per:.1f} µs",
            f"{t_plain * per:.1f} µs",
            f"{t_upsert / t_plain:.2f}x cost",
        )
    )
    out.append(
        (
            "local append (record_health)",
            f"{t_sample * per:.1f} µs",
            f"{t_plain * per:.1f} µs",
            f"{t_sample / t_plain:.2f}x cost",
        )
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        rows = bench(args.rows, Path(d))
    head = ("what", "fleet-tui", "raw INSERT…SELECT", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    for r in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
    lww = float(rows[0][1].split()[0].replace(",", ""))
    app = float(rows[1][1].split()[0].replace(",", ""))
    ok = lww >= LWW_TARGET and app >= APPEND_TARGET
    print(
        f"targets: LWW >= {LWW_TARGET:,}/s, append >= {APPEND_TARGET:,}/s: "
        f"{'met' if ok else 'MISSED'}"
    )
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
