"""Issue 2: the demo's fleet table lists all 12 simulated Pis within 5 s.

Measures, in one run: the headless pipeline alone (baseline: lab up, discovered, connected,
agent uploaded, first health) and the TUI (App.run_test) until every row shows a temperature.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from textual.widgets import DataTable

from fleet_tui.app import FleetApp
from fleet_tui.core.fleet.runtime import FleetConfig, RunningFleet, run_fleet
from fleet_tui.core.models import DeviceState
from fleet_tui.core.sim.lab import SimLab

DEVICES = 12
TARGET_S = 5.0


async def headless_seconds(db: Path) -> float:
    stop = asyncio.Event()
    seen: dict[str, DeviceState] = {}
    running: list[RunningFleet] = []

    def on_update(state: DeviceState) -> None:
        if state.replaces is not None:
            seen.pop(state.replaces, None)
        seen[state.key] = state
        if sum(1 for s in seen.values() if s.health) == DEVICES:
            stop.set()

    start = time.perf_counter()
    task = asyncio.create_task(
        run_fleet(FleetConfig(db, lab=SimLab(DEVICES)), on_update, stop, running.append)
    )
    await asyncio.wait_for(stop.wait(), 30)
    elapsed = time.perf_counter() - start
    await task
    return elapsed


async def tui_seconds(db: Path) -> float:
    start = time.perf_counter()
    app = FleetApp(FleetConfig(db, lab=SimLab(DEVICES)))
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#fleet-table", DataTable)
        temp = table.get_column_index("temp")
        for _ in range(300):
            if table.row_count == DEVICES and all(
                str(table.get_cell_at((r, temp))).strip()[:1].isdigit() for r in range(DEVICES)
            ):
                break
            await pilot.pause(0.05)
        elapsed = time.perf_counter() - start
        await pilot.press("q")
    return elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = asyncio.run(headless_seconds(Path(tmp) / "a.db"))
        tui = asyncio.run(tui_seconds(Path(tmp) / "b.db"))
    print(f"{'measure':<44} {'seconds':>8} {'target':>8}")
    print(f"{'headless pipeline, 12 Pis to first health':<44} {base:>8.2f} {'':>8}")
    print(f"{'TUI start to 12 live rows':<44} {tui:>8.2f} {TARGET_S:>8.1f}")
    print(f"{'TUI / headless':<44} {tui / base:>8.2f}x")


if __name__ == "__main__":
    main()
