"""The TUI, driven headlessly: the fleet table fills with the simulated fleet, live."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import demo_app
from textual.widgets import DataTable


async def _wait_for(pilot: object, condition: object, seconds: float = 15.0) -> bool:
    for _ in range(int(seconds / 0.1)):
        if condition():  # type: ignore[operator]
            return True
        await pilot.pause(0.1)  # type: ignore[attr-defined]
    return False


async def test_fleet_table_fills_with_the_simulated_fleet_and_q_stops_it(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "fleet.db", devices=4, poll_interval=0.5)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#fleet-table", DataTable)

        def column(key: str) -> list[str]:
            index = table.get_column_index(key)
            return [str(table.get_cell_at((row, index))).strip() for row in range(table.row_count)]

        def filled() -> bool:
            temps = column("temp")
            return len(temps) == 4 and all(t[:1].isdigit() for t in temps)

        assert await _wait_for(pilot, filled), "table did not fill with 4 live devices"
        assert sorted(column("hostname")) == [
            "pi-3bp-003",
            "pi-4b-001",
            "pi-5-002",
            "pi-zero2w-004",
        ]
        assert set(column("model")) == {"3B+", "4B", "5B", "Zero2W"}
        lab = app.running.lab if app.running else None
        assert lab is not None
        rows = app.screen.model.rows  # type: ignore[attr-defined]
        first_seen = {key: row.last_seen for key, row in rows.items()}
        # Live refresh: every Pi is seen again while the app runs (the column says HH:MM).
        assert await _wait_for(
            pilot, lambda: all(row.last_seen != first_seen[key] for key, row in rows.items()), 5.0
        )
        assert all(len(seen) == 5 and seen[2] == ":" for seen in column("seen"))
        await pilot.press("q")
        await pilot.pause(0.5)
    assert app.backend_stopped
    assert all(not pi.processes and pi.server is None for pi in lab.pis)
