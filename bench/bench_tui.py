"""TUI speed: time to first frame on a big database, and the cost of one live refresh.

Run: python bench/bench_tui.py [--devices N] [--samples N] [--strict]. Builds a database of
1,000 devices and 1,000,000 health samples, then runs the real FleetApp headless (pipeline off,
the same code path otherwise) and prints two tables with ratios against baselines measured in
the same run: the app on an empty database, and a DataTable cleared and refilled (what a naive
refresh does). Target: first frame with the big database under 1 s. --strict: a miss exits 1.
Then, if tmux is installed, bench/tmux_80x24.sh runs the real demo in an 80x24 terminal and
compares the bytes written per second with and without --low-bandwidth.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from fleet_tui.app import FleetApp  # noqa: E402
from fleet_tui.core.fleet.runtime import FleetConfig  # noqa: E402
from fleet_tui.core.models import DeviceState, Facts, Health, Throttled  # noqa: E402
from fleet_tui.core.store.database import Store  # noqa: E402
from fleet_tui.core.store.devices import DeviceBook  # noqa: E402
from fleet_tui.core.store.samples import SampleLog  # noqa: E402
from fleet_tui.screens.common.context import UiOptions  # noqa: E402
from fleet_tui.screens.common.messages import DeviceUpdated  # noqa: E402
from fleet_tui.screens.fleet.fleet import FleetScreen  # noqa: E402

FIRST_FRAME_TARGET_S = 1.0
NOW = time.time()


def build_db(path: Path, devices: int, samples: int) -> None:
    with Store.open(path) as store:
        for i in range(devices):
            DeviceBook(store).upsert(
                f"{i:016x}",
                hostname=f"pi-{i:04d}",
                address=f"10.0.{i // 250}.{i % 250}",
                port=22,
                model="Raspberry Pi 4 Model B Rev 1.4",
                last_seen=NOW - 60,
                tags=["rack" + str(i % 10)],
            )
        chunk = 100_000
        for start in range(0, samples, chunk):
            items: list[tuple[str, Mapping[str, object]]] = []
            for j in range(start, min(samples, start + chunk)):
                items.append(
                    (
                        f"{j % devices:016x}",
                        {
                            "time": NOW - 86400 + j * 86400 / samples,
                            "temperature_c": 40 + j % 30,
                            "cpu_percent": j % 100,
                            "throttled": {"raw": "0x0"},
                            "load": [0.5],
                        },
                    )
                )
            SampleLog(store).record_many(items)


def states(devices: int, temp: float) -> list[DeviceState]:
    out = []
    for i in range(devices):
        facts = Facts(
            hostname=f"pi-{i:04d}",
            model="Raspberry Pi 4 Model B Rev 1.4",
            serial=f"{i:016x}",
            os_name="Debian GNU/Linux 12 (bookworm)",
        )
        health = Health(
            time=NOW,
            uptime_s=3600 + i,
            temperature_c=temp + (i % 7) / 10,
            throttled=Throttled(raw="0x0"),
            mem_total_mb=4096,
            mem_available_mb=3000,
            disk_total_mb=30000,
            disk_free_mb=20000,
        )
        out.append(
            DeviceState(
                key=f"{i:016x}",  # the serial: the device's identity
                endpoint=f"10.0.{i // 250}.{i % 250}:22",
                address=f"10.0.{i // 250}.{i % 250}",
                port=22,
                name=f"pi-{i:04d}",
                reachable=True,
                facts=facts,
                health=health,
                last_seen=NOW,
            )
        )
    return out


def make_app(db: Path) -> FleetApp:
    # flush only when we ask (a huge interval), so each refresh is timed on its own
    options = UiOptions(flush_seconds=3600, animate=False)
    return FleetApp(FleetConfig(db_path=db), options, start_backend=False)


async def first_frame(db: Path, rows: int) -> tuple[float, float]:
    """Seconds from constructing the app to (its first frame, the store's rows on screen)."""
    marks: dict[str, float] = {}

    def hook(message: Any) -> None:
        if isinstance(message, events.Ready) and "ready" not in marks:
            marks["ready"] = time.perf_counter()

    t0 = time.perf_counter()
    app = make_app(db)
    async with app.run_test(size=(80, 24), message_hook=hook) as pilot:
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        for _ in range(2000):  # bounded: 20 s
            if fleet.table.row_count >= rows and "ready" in marks:
                break
            await pilot.pause(0.01)
        shown = fleet.first_rows_shown or time.perf_counter()
        await pilot.pause()
    return marks["ready"] - t0, (shown - t0) if rows else 0.0


async def refreshes(db: Path, devices: int, repeat: int) -> dict[str, float]:
    """Median ms of one flush + repaint, for several kinds of live refresh."""
    app = make_app(db)
    out: dict[str, list[float]] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        for _ in range(2000):
            if fleet.table.row_count >= devices:
                break
            await pilot.pause(0.01)

        async def timed(name: str, batch: list[DeviceState]) -> None:
            for s in batch:
                app.post_message(DeviceUpdated(s))
            await pilot.pause()  # deliver the messages (they only queue the states)
            t = time.perf_counter()
            fleet.flush()
            await pilot.pause()  # the repaint
            out.setdefault(name, []).append((time.perf_counter() - t) * 1000)

        await timed("first", states(devices, 50.0))
        for r in range(repeat):
            await timed("live refresh: all rows changed, by key", states(devices, 51.0 + r))
            await timed("live refresh: 10 rows changed, by key", states(devices, 60.0 + r)[:10])
            await timed("live refresh: nothing changed", [])
        fleet.sort_by("temp", reverse=True)
        for r in range(repeat):
            await timed(
                "live refresh: all rows, sorted by temp (reorder)", states(devices, 70.0 + r)
            )
        table = fleet.table
        cells = {k: [c for c in (table.get_row(k))] for k in table.order}
        for _ in range(repeat):  # baseline: what a naive refresh does
            t = time.perf_counter()
            with app.batch_update():
                table.clear()
                for key, row in cells.items():
                    table.add_row(*row, key=key)
            await pilot.pause()
            out.setdefault("baseline: clear + refill the DataTable", []).append(
                (time.perf_counter() - t) * 1000
            )
    return {k: statistics.median(v) for k, v in out.items() if k != "first"}


def print_table(title: str, rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(title)
    for r in rows:
        print("  " + "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strict", action="store_true")
    parser.add_argument("--no-tmux", action="store_true", help="skip the real-terminal run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        empty, big = Path(tmp) / "empty.db", Path(tmp) / "big.db"
        Store.open(empty).close()
        t = time.perf_counter()
        build_db(big, args.devices, args.samples)
        print(
            f"database: {args.devices:,} devices, {args.samples:,} samples "
            f"({big.stat().st_size / 1e6:.0f} MB, built in {time.perf_counter() - t:.1f} s)"
        )
        gc.collect()  # the build's garbage is not the app's
        runs = [asyncio.run(first_frame(empty, 0)) for _ in range(3)]
        base_ready = statistics.median(r[0] for r in runs)
        runs = [asyncio.run(first_frame(big, args.devices)) for _ in range(3)]
        ready = statistics.median(r[0] for r in runs)
        shown = statistics.median(r[1] for r in runs)
        refresh = asyncio.run(refreshes(big, args.devices, args.repeat))
    rows = [("first frame (headless, 80x24, median of 3)", "ms", "ratio")]
    rows.append(("empty database (baseline)", f"{base_ready * 1000:.0f}", "1.00"))
    rows.append(
        (
            f"{args.devices:,} devices / {args.samples:,} samples: first frame",
            f"{ready * 1000:.0f}",
            f"{ready / base_ready:.2f}",
        )
    )
    rows.append(
        (
            f"{args.devices:,} devices / {args.samples:,} samples: all rows on screen",
            f"{shown * 1000:.0f}",
            f"{shown / base_ready:.2f}",
        )
    )
    print_table("", rows)
    base = refresh.pop("baseline: clear + refill the DataTable")
    rows = [(f"one refresh of {args.devices:,} rows (median of {args.repeat})", "ms", "ratio")]
    rows.append(("baseline: clear + refill the DataTable", f"{base:.1f}", "1.00"))
    for name, ms in refresh.items():
        rows.append((name, f"{ms:.1f}", f"{ms / base:.2f}"))
    print_table("", rows)
    met = shown < FIRST_FRAME_TARGET_S
    print(
        f"target: all rows on screen < {FIRST_FRAME_TARGET_S:.0f} s: {'met' if met else 'MISSED'}"
    )
    if not args.no_tmux and shutil.which("tmux"):
        print()  # the real app in a real 80x24 terminal, normal vs --low-bandwidth
        script = Path(__file__).resolve().parent / "tmux_80x24.sh"
        subprocess.run(
            ["bash", str(script), "12", "5"],
            check=False,
            timeout=300,
            env={**os.environ, "PY": sys.executable},
        )
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
