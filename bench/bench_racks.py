"""Rack view speed: first frame of `:rack` on 20 racks × 42U with 1,000 placed Pis, and one
live refresh.

Run: python bench/bench_racks.py [--racks N] [--devices N] [--repeat N] [--strict]. Builds a
database with RackBook (one room of N racks, 4-slot trays from the top, the devices placed in
them), then runs the real FleetApp headless at 160x48 (pipeline off) and times, from `:rack
R01` until the elevation is drawn: the room's racks are read, laid out and painted. Baselines
measured in the same run: the same screen on one empty rack, and for a refresh, every line
redrawn (what a naive refresh does) against redrawing only the changed devices' lines. Target:
first frame under 200 ms. --strict: a miss exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_tui import print_table, states  # noqa: E402

from fleet_tui.app import FleetApp  # noqa: E402
from fleet_tui.core.fleet.runtime import FleetConfig  # noqa: E402
from fleet_tui.core.racks.book import RackBook  # noqa: E402
from fleet_tui.core.store.database import Store  # noqa: E402
from fleet_tui.core.store.devices import DeviceBook  # noqa: E402
from fleet_tui.screens.common.context import UiOptions  # noqa: E402
from fleet_tui.screens.common.messages import DeviceUpdated  # noqa: E402
from fleet_tui.screens.racks.rack import RackScreen  # noqa: E402

FIRST_FRAME_TARGET_S = 0.2
SLOTS = 4
SIZE = (160, 48)


def build_db(path: Path, racks: int, devices: int) -> None:
    """`racks` racks of 42U in one room; `devices` Pis in 4-slot trays, spread evenly."""
    with Store.open(path) as store:
        for i in range(devices):
            DeviceBook(store).upsert(
                f"{i:016x}",
                hostname=f"pi-{i:04d}",
                address=f"10.0.{i // 250}.{i % 250}",
                port=22,
                model="Raspberry Pi 4 Model B Rev 1.4",
            )
        book = RackBook(store)
        ids = [book.add_rack(f"R{r + 1:02d}", room="hall", site="dc") for r in range(racks)]
        per_rack = -(-devices // racks) if racks else 0
        for r, rack_id in enumerate(ids):
            mine = range(r * per_rack, min(devices, (r + 1) * per_rack))
            for t in range(-(-len(mine) // SLOTS)):
                book.set_tray(rack_id, 42 - t, SLOTS)
            with store.write() as c:  # one transaction per rack: the build, not what is timed
                for k, i in enumerate(mine):
                    fields = {
                        "serial": f"{i:016x}",
                        "rack_id": rack_id,
                        "unit": 42 - k // SLOTS,
                        "slot": k % SLOTS + 1,
                        "face": "front",
                        "deleted": 0,
                    }
                    store.lww_set(c, "placements", f"pl-{i:08x}", fields)


def make_app(db: Path) -> FleetApp:
    options = UiOptions(flush_seconds=3600, records_seconds=3600, animate=False)
    return FleetApp(FleetConfig(db_path=db), options, start_backend=False)


async def first_frame(db: Path, rack: str) -> float:
    """Seconds from `:rack` to the elevation painted with its racks."""
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)  # the fleet screen settled: it is not what is timed
        t0 = time.perf_counter()
        screen = RackScreen(rack)
        app.push_screen(screen)
        for _ in range(2000):  # bounded: 20 s
            if screen.data is not None and screen.view.painted:
                break
            await pilot.pause(0.002)
        return time.perf_counter() - t0


async def refreshes(db: Path, devices: int, repeat: int) -> dict[str, float]:
    """Median ms of one live refresh of the devices on screen, keyed vs everything redrawn."""
    app = make_app(db)
    out: dict[str, list[float]] = {}
    async with app.run_test(size=SIZE) as pilot:
        screen = RackScreen("R01")
        app.push_screen(screen)
        for _ in range(2000):
            if screen.data is not None and screen.view.painted:
                break
            await pilot.pause(0.01)

        async def timed(name: str, temp: float, n: int, naive: bool) -> None:
            batch = states(devices, temp)[:n]
            for s in batch:
                app.post_message(DeviceUpdated(s))
            await pilot.pause()  # deliver (they only queue the states)
            t = time.perf_counter()
            if naive:  # apply the same readings, then draw every line again
                pending, screen._pending = screen._pending, {}
                assert screen.fleet is not None
                screen.fleet.apply_states(pending.values())
                screen.view.redraw()
            else:
                screen.flush()
            await pilot.pause()  # the repaint
            out.setdefault(name, []).append((time.perf_counter() - t) * 1000)

        await timed("warm-up", 49.0, devices, False)  # facts too: not a steady-state tick
        for r in range(repeat):
            await timed(
                "baseline: all devices changed, every line redrawn", 50.0 + r, devices, True
            )
            await timed("all devices changed, their lines redrawn", 60.0 + r, devices, False)
            await timed("baseline: 10 devices changed, every line redrawn", 70.0 + r, 10, True)
            await timed("10 devices changed, their lines redrawn", 80.0 + r, 10, False)
    out.pop("warm-up")
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--racks", type=int, default=20)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-racks-") as tmp:
        small, big = Path(tmp) / "small.db", Path(tmp) / "big.db"
        t = time.perf_counter()
        build_db(small, 1, 0)
        build_db(big, args.racks, args.devices)
        print(
            f"database: {args.racks} racks x 42U, {args.devices:,} placed devices "
            f"(built in {time.perf_counter() - t:.1f} s)"
        )
        gc.collect()
        base = statistics.median(asyncio.run(first_frame(small, "R01")) for _ in range(3))
        ready = statistics.median(asyncio.run(first_frame(big, "R01")) for _ in range(3))
        refresh = asyncio.run(refreshes(big, args.devices, args.repeat))
    rows = [
        (f"`:rack R01` first frame (headless, {SIZE[0]}x{SIZE[1]}, median of 3)", "ms", "ratio")
    ]
    rows.append(("one empty rack (baseline)", f"{base * 1000:.0f}", "1.00"))
    rows.append(
        (
            f"{args.racks} racks x 42U, {args.devices:,} devices (the room's racks)",
            f"{ready * 1000:.0f}",
            f"{ready / base:.2f}",
        )
    )
    print_table("", rows)
    for n in ("all devices", "10 devices"):
        baseline = refresh[f"baseline: {n} changed, every line redrawn"]
        ours = refresh[f"{n} changed, their lines redrawn"]
        rows = [(f"one live refresh, {n} changed (median of {args.repeat})", "ms", "ratio")]
        rows.append(("baseline: every line redrawn", f"{baseline:.1f}", "1.00"))
        rows.append(("only the changed devices' lines", f"{ours:.1f}", f"{ours / baseline:.2f}"))
        print_table("", rows)
    met = ready < FIRST_FRAME_TARGET_S
    print(
        f"target: first frame < {FIRST_FRAME_TARGET_S * 1000:.0f} ms: {'met' if met else 'MISSED'}"
    )
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
