"""Thermal dashboard speed: the first frame of `:thermal` with 1,000 devices in 20 racks.

Run: python bench/bench_thermal.py [--devices N] [--racks N] [--samples N] [--repeat N]
[--strict]. Builds a database of N Pis in trays of 4 slots across the racks (42U each), a day of
health samples, ambient probes on every rack and some policies firing, then times:

- the read model (core/thermal/dashboard.py `load_thermal`: one pass over the tables), against
  a naive baseline measured in the same run: one query per device for its newest sample and
  its placement (what a screen written row by row does);
- the real FleetApp headless at 80x24 (pipeline off): from `:thermal` to the heat maps and the
  hottest list on screen, against the same screen on an empty database.

Target: the first frame under 200 ms with 1,000 devices. --strict: a miss exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_tui.app import FleetApp  # noqa: E402
from fleet_tui.core.fleet.runtime import FleetConfig  # noqa: E402
from fleet_tui.core.models import AmbientReading  # noqa: E402
from fleet_tui.core.racks.book import RackBook  # noqa: E402
from fleet_tui.core.store.ambient import AmbientLog  # noqa: E402
from fleet_tui.core.store.database import Store  # noqa: E402
from fleet_tui.core.store.devices import DeviceBook  # noqa: E402
from fleet_tui.core.store.samples import SampleLog  # noqa: E402
from fleet_tui.core.thermal.dashboard import load_thermal  # noqa: E402
from fleet_tui.screens.common.context import UiOptions  # noqa: E402
from fleet_tui.screens.common.keyed_table import KeyedTable  # noqa: E402
from fleet_tui.screens.thermal.thermal import HOTTEST, ThermalScreen  # noqa: E402

TARGET_S = 0.2
NOW = time.time()
SLOTS = 4
MODELS = ("Raspberry Pi 4 Model B Rev 1.4", "Raspberry Pi 5 Model B Rev 1.0")


def build_db(path: Path, devices: int, racks: int, samples: int) -> None:
    with Store.open(path) as store:
        book = DeviceBook(store)
        for i in range(devices):
            book.upsert(
                f"{i:016x}",
                hostname=f"pi-{i:04d}",
                address=f"10.0.{i // 250}.{i % 250}",
                port=22,
                model=MODELS[i % 2],
                last_seen=NOW - 60,
            )
        rb = RackBook(store)
        per_rack = -(-devices // racks) if racks else 0
        rack_ids = [
            rb.add_rack(f"R{r + 1}", room="hall", site="dc", budget_w=400.0) for r in range(racks)
        ]
        with store.write() as c:
            for r, rack_id in enumerate(rack_ids):
                state = rb.state(rack_id)
                for k in range(-(-per_rack // SLOTS)):
                    rb.write_tray(c, state, 42 - k, SLOTS)
                for j in range(per_rack):
                    i = r * per_rack + j
                    if i < devices:
                        rb.write_place(
                            c, state, f"{i:016x}", 42 - j // SLOTS, j % SLOTS + 1, "front"
                        )
        items: list[tuple[str, Mapping[str, object]]] = []
        for j in range(samples):
            i = j % devices
            items.append(
                (
                    f"{i:016x}",
                    {
                        "time": NOW - 86400 + j * 86400 / max(1, samples),
                        "temperature_c": 40 + (i * 7 + j) % 45,
                        "load": [0.2 + (i % 4)],
                        "throttled": {"raw": "0x50005" if i % 97 == 0 else "0x0"},
                        "fan": {"rpm": 3000} if i % 2 else None,
                        **({"pmic": {"total_w": 5.5}} if i % 2 else {}),
                    },
                )
            )
        SampleLog(store).record_many(items)
        ambient = AmbientLog(store)
        for r in range(racks):
            ambient.record(
                f"{r * per_rack:016x}",
                [
                    AmbientReading(name="inlet", kind="temp", value=23.0 + r % 3),
                    AmbientReading(name="top of rack", kind="temp", value=30.0 + r % 4),
                ],
                NOW - 30,
            )
        with store.write() as c:
            for i in range(0, devices, 50):
                c.execute(
                    "INSERT INTO policy_state VALUES ('hot', ?, 'firing', ?, 82.0)",
                    (f"{i:016x}", NOW - 300),
                )


def naive(store: Store) -> int:
    """Baseline: one query per device for its newest sample and its placement."""
    n = 0
    for d in DeviceBook(store).all():
        store.query(
            "SELECT data FROM sample_blocks WHERE serial = ? ORDER BY bucket DESC LIMIT 1",
            (d.serial,),
        )
        store.rows("placements", "serial = ?", (d.serial,))
        n += 1
    return n


def timed(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


async def first_frame(db: Path, devices: int) -> float:
    """Seconds from pushing :thermal to the first frame drawn with its data (heat maps and
    the hottest list): the frame the app writes to the terminal after the read model arrived."""
    app = FleetApp(
        FleetConfig(db_path=db), UiOptions(flush_seconds=3600, animate=False), start_backend=False
    )
    marks: dict[str, float] = {}
    display = app._display

    def drawn(screen: Any, renderable: Any) -> None:
        if isinstance(screen, ThermalScreen) and screen.view is not None:
            marks.setdefault("frame", time.perf_counter())
        display(screen, renderable)

    app._display = drawn  # type: ignore[method-assign]
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        app.read_store()  # the app's read connection, opened at its start in real use
        t = time.perf_counter()
        screen = ThermalScreen()
        app.push_screen(screen)
        for _ in range(4000):  # bounded: 20 s
            await pilot.pause(0.005)
            if "frame" in marks:
                break
        rows = screen.query_one("#thermal-hot", KeyedTable).row_count
        assert rows == min(devices, HOTTEST), rows
        return marks["frame"] - t


def print_table(title: str, rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(title)
    for n, r in enumerate(rows):
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--racks", type=int, default=20)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db, empty = Path(tmp) / "big.db", Path(tmp) / "empty.db"
        t = time.perf_counter()
        build_db(db, args.devices, args.racks, args.samples)
        built = time.perf_counter() - t
        build_db(empty, 0, 0, 0)
        with Store.open(db) as store:
            view = load_thermal(store)
            assert len(view.devices) == args.devices and len(view.elevations) == args.racks
            model_s = timed(lambda: load_thermal(store), args.repeat)
            naive_s = timed(lambda: naive(store), args.repeat)
        frames = [
            asyncio.run(first_frame(db, args.devices)) for _ in range(max(1, args.repeat // 2))
        ]
        frame_s = statistics.median(frames)
        empty_s = statistics.median(
            [asyncio.run(first_frame(empty, 0)) for _ in range(max(1, args.repeat // 2))]
        )
    print(
        f"thermal dashboard: {args.devices} devices in {args.racks} racks, {args.samples} samples"
        f" (database built in {built:.1f} s)"
    )
    ok = frame_s < TARGET_S
    print_table(
        "",
        [
            ("what", "ms", "ratio", "note"),
            ("read model (load_thermal)", f"{model_s * 1000:.1f}", "1.00", "one pass"),
            (
                "baseline: a query per device",
                f"{naive_s * 1000:.1f}",
                f"{naive_s / model_s:.2f}",
                "sample + placement each",
            ),
            (
                ":thermal first frame",
                f"{frame_s * 1000:.1f}",
                "1.00",
                f"target < {TARGET_S * 1000:.0f} ms: {'met' if ok else 'MISSED'}",
            ),
            (
                "baseline: :thermal on an empty db",
                f"{empty_s * 1000:.1f}",
                f"{empty_s / frame_s:.2f}",
                "the screen's own cost",
            ),
        ],
    )
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
