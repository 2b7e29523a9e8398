"""Property tests of the merge (issue 5): convergence, algebra, no lost appends, LWW = oracle,
and file merge agreeing with incremental sync. Settings kept modest: the file runs in seconds."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.hlc import wall_ms
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.store.schema import CLK, TABLES, AppendTable, LwwTable, SampleBlockTable
from fleet_tui.core.sync.exchange import Exchange
from fleet_tui.core.sync.mailbox import DirMailbox, sync_with
from fleet_tui.core.sync.peer_merge import PeerMerge

SERIALS = ["s0", "s1", "s2"]
SAMPLE_T0 = 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 3000  # ten minutes before an hour ends
COLUMNS = {
    "hostname": st.sampled_from(["pi-a", "pi-b", None]),
    "label": st.sampled_from(["x", "y", "z"]),
    "port": st.integers(1, 3),
}

op = st.one_of(
    st.sampled_from(sorted(COLUMNS)).flatmap(
        lambda col: st.tuples(
            st.just("set"), st.integers(0, 4), st.sampled_from(SERIALS), st.just(col), COLUMNS[col]
        )
    ),
    st.tuples(st.just("forget"), st.integers(0, 4), st.sampled_from(SERIALS)),
    st.tuples(st.just("restore"), st.integers(0, 4), st.sampled_from(SERIALS)),
    st.tuples(st.just("append"), st.integers(0, 4), st.text("abc", max_size=3)),
    # health samples: n readings of one Pi, m minutes into the run (blocks grow, hours split)
    st.tuples(st.just("sample"), st.integers(0, 4), st.integers(1, 120), st.integers(0, 150)),
    st.tuples(st.just("merge"), st.integers(0, 4), st.integers(0, 4)),
)

EXAMPLES = int(os.environ.get("FLEET_PROPERTY_EXAMPLES", "12"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def dump(s: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Everything replicated, without the local `_ver`."""
    out = {}
    with s.locked() as conn:
        for name, t in TABLES.items():
            cols = [c.name for c in t.all_columns() if c.name != "_ver"]
            key = (
                t.key
                if isinstance(t, LwwTable)
                else ", ".join(t.key)
                if isinstance(t, SampleBlockTable)
                else ", ".join(cols[:3])
            )
            out[name] = conn.execute(
                f"SELECT {', '.join(cols)} FROM {name} ORDER BY {key}"
            ).fetchall()
    return out


class World:
    """n replicas plus an oracle of every LWW cell write and every appended row."""

    def __init__(self, root: Path, n: int) -> None:
        self.root = root
        for i in range(n):
            (root / f"r{i}").mkdir(parents=True)
        self.stores = [Store.open(root / f"r{i}" / "fleet.db") for i in range(n)]
        self.writes: dict[tuple[str, str], list[tuple[int, Any]]] = {}
        self.appended: set[tuple[int, int, str]] = set()
        self.sampled: set[tuple[int, int, float]] = set()  # (origin, seq, time) of each sample
        self.snaps = itertools.count()
        self.last_ms = 0

    def close(self) -> None:
        for s in self.stores:
            s.close()

    def _observe_write(self, s: Store, serial: str) -> None:
        stamp = s.clock.last
        t = TABLES["devices"]
        assert isinstance(t, LwwTable)
        row = s._conn.execute("SELECT * FROM devices WHERE serial = ?", (serial,)).fetchone()
        names = [d[1] for d in s._conn.execute("PRAGMA table_info(devices)")]
        cells = dict(zip(names, row, strict=True))
        for c in t.value_columns:
            if cells[c.name + CLK] == stamp:
                self.writes.setdefault((serial, c.name), []).append((stamp, cells[c.name]))

    def _distinct_ms(self) -> None:
        """Start each edit in a millisecond of its own. Two edits in one millisecond are
        concurrent for the HLC and ordered by site id, which differs between two worlds: the
        worlds could then disagree without either being wrong. Bounded wait (~1 ms)."""
        for _ in range(2000):
            if wall_ms() > self.last_ms:
                break
            time.sleep(0.0001)
        self.last_ms = wall_ms()

    def snapshot(self, i: int) -> Path:
        return Exchange(self.stores[i]).snapshot(self.root / "usb" / f"{next(self.snaps)}.db")

    def apply(self, o: tuple[Any, ...]) -> None:
        kind, i = o[0], o[1] % len(self.stores)
        s = self.stores[i]
        if kind in ("set", "forget", "restore"):
            self._distinct_ms()
        if kind == "set":
            DeviceBook(s).upsert(o[2], **{o[3]: o[4]})
            self._observe_write(s, o[2])
        elif kind == "forget":
            DeviceBook(s).forget(o[2])
            self._observe_write(s, o[2])
        elif kind == "restore":
            DeviceBook(s).upsert(o[2], label="back")
            self._observe_write(s, o[2])
        elif kind == "append":
            EventLog(s).record(None, "note", o[2])
            self.appended.add((s.origin, s.last_seq("events"), o[2]))
        elif kind == "sample":
            first = s.last_seq("samples") + 1
            times = [SAMPLE_T0 + 60.0 * o[3] + k for k in range(o[2])]
            SampleLog(s).record_many(
                [("pi", {"time": t, "temperature_c": 40.0 + k % 9}) for k, t in enumerate(times)]
            )
            self.sampled |= {(s.origin, first + k, t) for k, t in enumerate(times)}
        else:
            j = o[2] % len(self.stores)
            if j != i:
                PeerMerge(s).merge(self.snapshot(j))

    def gossip(self) -> None:
        """Every replica merges every other one's snapshot, twice over."""
        for _ in range(2):
            snaps = [self.snapshot(j) for j in range(len(self.stores))]
            for i, j in itertools.permutations(range(len(self.stores)), 2):
                PeerMerge(self.stores[i]).merge(snaps[j])


def oracle_value(writes: list[tuple[int, Any]]) -> Any:
    """Highest clock wins; equal clocks: NULL lowest, then by value (the merge's order)."""

    def rank(w: tuple[int, Any]) -> tuple[Any, ...]:
        v = w[1]
        return (
            w[0],
            v is not None,
            0 if isinstance(v, int | float) else 1,
            v if v is not None else 0,
        )

    return max(writes, key=rank)[1]


@pytest.mark.timeout(60 + 300 + 5 * EXAMPLES)  # Hypothesis's own shrink limit is 300 s
@SETTINGS
@given(n=st.integers(2, 5), ops=st.lists(op, max_size=25))
def test_replicas_converge_and_match_oracle(n: int, ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        w = World(Path(d), n)
        try:
            for o in ops:
                w.apply(o)
            w.gossip()
            states = [dump(s) for s in w.stores]
            assert all(st_ == states[0] for st_ in states[1:]), "replicas diverged"
            s0 = w.stores[0]
            for (serial, col), writes in w.writes.items():
                got = s0._conn.execute(
                    f"SELECT {col} FROM devices WHERE serial = ?", (serial,)
                ).fetchone()[0]
                assert got == oracle_value(writes), (serial, col, writes)
            events = {(e.origin, e.seq, e.message) for e in EventLog(s0).recent(limit=10_000)}
            assert events == w.appended, "an appended row was lost"
            samples = set(s0._conn.execute("SELECT origin, seq, time FROM samples").fetchall())
            assert samples == w.sampled, "a sample was lost or made up"
        finally:
            w.close()


@pytest.mark.timeout(60 + 300 + 5 * EXAMPLES)  # Hypothesis's own shrink limit is 300 s
@SETTINGS
@given(ops=st.lists(op, max_size=20))
def test_merge_is_commutative_associative_idempotent(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        w = World(root, 3)
        try:
            for o in ops:
                if o[0] != "merge":  # independent histories
                    w.apply(o)
            a, b, c = (w.snapshot(i) for i in range(3))

            def fresh(src: Path, name: str) -> Store:
                p = root / name / "fleet.db"
                p.parent.mkdir()
                shutil.copy(src, p)
                return Store.open(p)  # a copy: mints its own site id, keeps the rows

            x = fresh(a, "x")
            PeerMerge(x).merge(b)
            PeerMerge(x).merge(c)
            y = fresh(a, "y")
            PeerMerge(y).merge(c)
            PeerMerge(y).merge(b)
            bc = fresh(b, "bc")
            PeerMerge(bc).merge(c)
            z = fresh(a, "z")
            PeerMerge(z).merge(Exchange(bc).snapshot(root / "usb" / "bc.db"))
            assert dump(x) == dump(y) == dump(z)
            before = dump(x)
            assert PeerMerge(x).merge(b).changed == 0 and PeerMerge(x).merge(c).changed == 0
            assert dump(x) == before
            for s in (x, y, z, bc):
                s.close()
        finally:
            w.close()


@pytest.mark.timeout(60 + 300 + 5 * EXAMPLES)  # Hypothesis's own shrink limit is 300 s
@SETTINGS
@given(n=st.integers(2, 4), ops=st.lists(op, max_size=20), rounds=st.integers(1, 3))
def test_file_merge_and_incremental_sync_agree(
    n: int, ops: list[tuple[Any, ...]], rounds: int
) -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        w = World(root / "files", n)
        v = World(root / "mail", n)
        box = DirMailbox(root / "box")
        try:
            # the same local history on both worlds, merges replaced by syncs in world v
            for o in ops:
                if o[0] == "merge":
                    w.apply(o)
                    i = o[1] % n
                    asyncio.run(sync_with(v.stores[i], box, "box"))
                    continue
                w.apply(o)
                v.apply(o)
            w.gossip()
            for _ in range(rounds + 1):
                for s in v.stores:
                    asyncio.run(sync_with(s, box, "box"))
            strip = _without_sites
            assert strip(dump(w.stores[0])) == strip(dump(v.stores[0]))
            assert all(dump(s) == dump(v.stores[0]) for s in v.stores)
        finally:
            w.close()
            v.close()


def _without_sites(state: dict[str, list[tuple[Any, ...]]]) -> dict[str, Any]:
    """Two worlds have different site ids: compare values only (clocks, origins differ)."""
    out: dict[str, Any] = {}
    for name, rows in state.items():
        t = TABLES[name]
        if isinstance(t, LwwTable):
            names = [c.name for c in t.all_columns() if c.name != "_ver"]
            keep = [k for k, c in enumerate(names) if not c.endswith(CLK)]
            out[name] = sorted(tuple(r[k] for k in keep) for r in rows)
        elif isinstance(t, AppendTable):  # not origin/seq, not the wall time of the append
            names = [c.name for c in t.all_columns() if c.name != "_ver"]
            keep = [k for k, c in enumerate(names) if c not in ("origin", "seq", "time")]
            out[name] = sorted(repr(tuple(r[k] for k in keep)) for r in rows)
        elif isinstance(t, SampleBlockTable):  # everything but the origin
            names = [c.name for c in t.all_columns() if c.name != "_ver"]
            keep = [k for k, c in enumerate(names) if c != "origin"]
            out[name] = sorted(repr(tuple(r[k] for k in keep)) for r in rows)
        else:
            out[name] = sorted(repr(r) for r in rows)
    return out
