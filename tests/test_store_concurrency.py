"""Several Store instances on one file: in one process, in two processes, beside the CLI.

Every write transaction derives its sequence numbers, HLC stamp and version from the file
under SQLite's write lock, so writers interleave without colliding, and no stamp or version
handed out by one of them is stale with respect to the others.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from fleet_tui.cli import main
from fleet_tui.core.net.hostkeys import HostKeys
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.hlc import Clock, wall_ms
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.store.schema import CLK, TABLES, LwwTable
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.peer_merge import PeerMerge

ROOT = Path(__file__).resolve().parent.parent


def _freeze(*stores: Store) -> None:
    """Stop wall time for the stores' clocks: every stamp then comes from the counter, so
    two instances with private clocks would hand out equal stamps (deterministically)."""
    now = wall_ms()
    for s in stores:
        s.clock = Clock(s.site_id, s.clock.last, now_ms=lambda: now)


def _cell_clock(s: Store, table: str, key: str, column: str) -> int:
    t = TABLES[table]
    assert isinstance(t, LwwTable)
    row = s._conn.execute(f"SELECT {column}{CLK} FROM {table} WHERE {t.key} = ?", (key,)).fetchone()
    return int(row[0])


def _dump(s: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every replicated row, without the local `_ver`."""
    out = {}
    for name, t in TABLES.items():
        cols = [c.name for c in t.all_columns() if c.name != "_ver"]
        out[name] = s._conn.execute(
            f"SELECT {', '.join(cols)} FROM {name} ORDER BY {', '.join(cols[:3])}"
        ).fetchall()
    return out


def _origin_seqs(path: Path, table: str, origin: int) -> list[int]:
    c = sqlite3.connect(path)
    try:
        rows = c.execute(
            f"SELECT seq FROM {table} WHERE origin = ? ORDER BY seq", (origin,)
        ).fetchall()
    finally:
        c.close()
    return [r[0] for r in rows]


# ---- (1) two instances in one process ----------------------------------------------------------


def test_two_instances_in_one_process_interleave(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    a, b = Store.open(db), Store.open(db)
    try:
        assert a.origin == b.origin
        _freeze(a, b)
        stamps: list[int] = []
        logs = {"a": SampleLog(a), "b": SampleLog(b)}
        for i in range(40):
            for name, s in (("a", a), ("b", b)):
                EventLog(s).record("100", "poll", f"{name}-{i}")
                logs[name].record(f"{name}-pi", {"time": 1e9 + 60 * i, "temperature_c": 40.0})
                SampleLog(s).record_many([(f"{name}-pi", {"time": 2e9 + i, "temperature_c": 1.0})])
                DeviceBook(s).upsert("100", label=f"{name}-{i}")
                stamps.append(s.clock.last)
                HostKeys(s).pin(f"10.0.0.{i}:22", f"key-{name}-{i}", "100")
                stamps.append(s.clock.last)
        assert all(x < y for x, y in zip(stamps, stamps[1:], strict=False)), "HLC not increasing"
        assert Exchange(a).count_changes(0) == Exchange(b).count_changes(0)
        seqs = {t: _origin_seqs(db, t, a.origin) for t in ("events", "samples", "host_key_history")}
        assert seqs["events"] == list(range(1, 81))
        assert seqs["samples"] == list(range(1, 161))
        assert seqs["host_key_history"] == list(range(1, 81))
        dev = DeviceBook(b).get("100")
        assert dev is not None and dev.label == "b-39"
        assert _cell_clock(a, "devices", "100", "label") == stamps[-2]  # the newest write won
        assert int(str(a.meta()["hlc"])) == stamps[-1]
    finally:
        a.close()
        b.close()


def test_sync_cursor_covers_writes_of_another_instance(tmp_path: Path) -> None:
    """A change set's cursor bumps the version in the file: the other instance's next write is
    stamped above it, so the next incremental change set carries it."""
    db = tmp_path / "fleet.db"
    a, b = Store.open(db), Store.open(db)
    try:
        DeviceBook(b).upsert("100", label="first")
        cursor, rows = Exchange(a).write_changes(tmp_path / "d1.db", since=0)
        assert rows == 1
        DeviceBook(b).upsert("200", label="second")
        EventLog(b).record("200", "note", "after the cursor")
        assert Exchange(a).count_changes(cursor) == 2 and Exchange(b).count_changes(cursor) == 2
        _, rows = Exchange(a).write_changes(tmp_path / "d2.db", since=cursor)
        assert rows == 2
        assert a.version == b.version
    finally:
        a.close()
        b.close()


def test_compaction_by_one_instance_never_reuses_the_others_sequence_numbers(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    a, b = Store.open(db, maintenance=False), Store.open(db, maintenance=False)
    try:
        now = time.time()
        old = [
            ("p1", {"time": now - 30 * 86400 + 60 * i, "temperature_c": 40.0}) for i in range(30)
        ]
        SampleLog(b).record_many(old)  # seq 1..30, all due for compaction
        assert a.compact(older_than_s=7 * 86400, now=now) == 30
        SampleLog(a).record_many([("p1", {"time": now, "temperature_c": 41.0})])
        SampleLog(b).record_many([("p1", {"time": now + 1, "temperature_c": 42.0})])
        assert _origin_seqs(db, "samples", a.origin) == [31, 32]
    finally:
        a.close()
        b.close()
    with Store.open(db) as c:  # and after a restart
        SampleLog(c).record_many([("p1", {"time": now + 2, "temperature_c": 43.0})])
        assert _origin_seqs(db, "samples", c.origin) == [31, 32, 33]


# ---- (2) two processes ------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from fleet_tui.core.store.database import Store
    from fleet_tui.core.store.devices import DeviceBook
    from fleet_tui.core.store.events import EventLog
    from fleet_tui.core.store.samples import SampleLog
    from fleet_tui.core.sync.exchange import Exchange

    db, name, n, out, deltas = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
    s = Store.open(db)
    go = Path(db).with_name("go")
    deadline = time.monotonic() + 10
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.001)
    stamps, cursor, files = [], 0, []
    for i in range(n):
        EventLog(s).record(None, name, f"{name}-{i}")
        SampleLog(s).record_many([(f"{name}-pi", {"time": 1e9 + i, "temperature_c": float(i)})])
        DeviceBook(s).upsert("shared", label=f"{name}-{i}")
        stamps.append([s.clock.last, f"{name}-{i}"])
        DeviceBook(s).upsert(f"own-{name}", notes=str(i))
        if deltas != "-" and i % 20 == 0:
            f = Path(deltas) / f"{i}.db"
            cursor, _ = Exchange(s).write_changes(f, since=cursor)
            files.append(str(f))
        time.sleep(0.001)  # SQLite's lock is not fair: a tight loop would starve the other
    origin = s.origin
    s.close()
    Path(out).write_text(json.dumps(
        {"stamps": stamps, "cursor": cursor, "deltas": files, "origin": origin}
    ))
    """
)


def test_two_processes_write_concurrently(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    deltas = tmp_path / "deltas"
    deltas.mkdir()
    n = 150
    procs = {}
    for name, d in (("a", str(deltas)), ("b", "-")):
        out = tmp_path / f"{name}.json"
        procs[name] = (
            subprocess.Popen(
                [sys.executable, str(script), str(db), name, str(n), str(out), d],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
            out,
        )
    time.sleep(0.3)  # both imported and opened: start together
    (tmp_path / "go").touch()
    results = {}
    for name, (p, out) in procs.items():
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, f"writer {name} failed:\n{err}"
        results[name] = json.loads(out.read_text())

    with Store.open(db) as s:
        origin = s.origin
        assert {r["origin"] for r in results.values()} == {origin}
        # every row kept, sequence numbers dense and unique
        assert _origin_seqs(db, "events", origin) == list(range(1, 2 * n + 1))
        assert _origin_seqs(db, "samples", origin) == list(range(1, 2 * n + 1))
        kinds = [k for (k,) in s._conn.execute("SELECT kind FROM events ORDER BY seq")]
        switches = sum(x != y for x, y in zip(kinds, kinds[1:], strict=False))
        assert switches >= 10, f"the writers hardly overlapped ({switches} switches)"
        messages = {e.message for e in EventLog(s).recent(limit=10 * n)}
        assert messages == {f"{x}-{i}" for x in "ab" for i in range(n)}
        # LWW: every stamp distinct, each process's increasing, the highest one's value won
        writes = [(st, v) for r in results.values() for st, v in r["stamps"]]
        assert len({st for st, _ in writes}) == len(writes)
        for r in results.values():
            own = [st for st, _ in r["stamps"]]
            assert own == sorted(own)
        top_stamp, top_value = max(writes)
        dev = DeviceBook(s).get("shared")
        assert dev is not None and dev.label == top_value
        assert _cell_clock(s, "devices", "shared", "label") == top_stamp
        assert int(str(s.meta()["hlc"])) >= top_stamp
        # incremental change sets (written by a while b wrote) lose nothing
        final = tmp_path / "deltas" / "final.db"
        Exchange(s).write_changes(final, since=results["a"]["cursor"])
        sent: set[int] = set()
        for f in [*results["a"]["deltas"], str(final)]:
            sent |= set(_origin_seqs(Path(f), "events", origin))
        assert sent == set(range(1, 2 * n + 1))

        # a peer merged afterwards converges both ways
        (tmp_path / "peer").mkdir()
        with Store.open(tmp_path / "peer" / "fleet.db") as peer:
            DeviceBook(peer).upsert("shared", notes="from the peer")
            EventLog(peer).record(None, "peer", "hello")
            PeerMerge(s).merge(Exchange(peer).snapshot(tmp_path / "usb" / "peer.db"))
            PeerMerge(peer).merge(Exchange(s).snapshot(tmp_path / "usb" / "main.db"))
            assert _dump(s) == _dump(peer)
            merged = DeviceBook(peer).get("shared")
            assert merged is not None and merged.label == top_value
            assert merged.notes == "from the peer"


# ---- (3) the command line beside an open store ------------------------------------------------


def test_cli_edit_and_forget_beside_an_open_store(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    tui = Store.open(db)
    try:
        DeviceBook(tui).upsert("100", hostname="pi-a", label="rack 1")
        DeviceBook(tui).upsert("200", hostname="pi-b")
        for i in range(5):
            EventLog(tui).record("100", "poll", f"seen {i}")
        tui_samples = SampleLog(tui)
        tui_samples.record("100", {"temperature_c": 40.0})
        edit = subprocess.run(
            [sys.executable, "-m", "fleet_tui.cli", "--db", str(db), "device", "edit", "pi-a"]
            + ["--note", "fan rattles", "--tag", "lab"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert edit.returncode == 0, edit.stderr
        assert main(["--db", str(db), "device", "forget", "pi-b"]) == 0  # logs an event
        # the open store goes on writing: after the CLI's stamps and sequence numbers
        DeviceBook(tui).upsert("100", label="rack 2")
        EventLog(tui).record("100", "poll", "seen again")
        tui_samples.record("100", {"temperature_c": 50.0})

        dev = DeviceBook(tui).get("100")
        assert dev is not None
        assert (dev.label, dev.notes, dev.tags) == ("rack 2", "fan rattles", ["lab"])
        assert DeviceBook(tui).get("200") is None
        assert _cell_clock(tui, "devices", "100", "label") > _cell_clock(
            tui, "devices", "100", "notes"
        )
        assert [e.kind for e in EventLog(tui).recent(limit=100)].count("forget") == 1
        assert _origin_seqs(db, "events", tui.origin) == list(range(1, 8))
        assert _origin_seqs(db, "samples", tui.origin) == [1, 2]
    finally:
        tui.close()
