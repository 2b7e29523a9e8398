"""A device whose hostname, model or agent output carries Rich markup or ANSI escapes is shown
literally everywhere: table, detail, notifications, palette and CSV."""

from __future__ import annotations

import csv
from pathlib import Path

from test_tui_support import (
    HOSTILE_HOST,
    HOSTILE_SERIAL,
    exported_csv,
    make_app,
    post_fleet,
    seed_store,
    wait_for,
)
from textual.coordinate import Coordinate
from textual.widgets import DataTable, Static

from fleet_tui.core.text import visible
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.device.device_panels import FactsPanel
from fleet_tui.screens.fleet.fleet import FleetScreen

LITERAL = visible(HOSTILE_HOST)  # '[bold red]evil[/]\\x1b[2J'


def line_text(widget: DataTable, y: int) -> str:
    return "".join(seg.text for seg in widget.render_line(y))


async def test_hostile_names_are_literal_in_table_detail_notifications_and_csv(
    tmp_path: Path, monkeypatch: object
) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    monkeypatch.setenv("XDG_DOCUMENTS_DIR", str(tmp_path))  # type: ignore[attr-defined]
    exports = tmp_path / "fleet-tui-exports"
    async with app.run_test(size=(120, 30)) as pilot:
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        key = HOSTILE_SERIAL
        assert await wait_for(
            pilot,
            lambda: (
                fleet.model is not None
                and key in fleet.model.rows
                and fleet.model.rows[key].state is not None
                and fleet.table.row_count == 10
            ),
        )
        table = fleet.table
        assert table.get_cell(key, "hostname").plain == LITERAL
        row = table.order.index(key)
        drawn = line_text(table, row + 1)  # +1: the header line
        # cut to its column, visibly (the device screen shows it in full)
        assert f" {LITERAL[:12]}… " in drawn and "\x1b" not in drawn
        # the palette: a markup parser would choke on "[/]" or eat "[bold red]"
        await pilot.press("ctrl+p", *"evil")
        await pilot.pause(0.4)
        await pilot.press("escape")
        # detail
        fleet.open_row(key)
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert isinstance(screen, DeviceScreen)
        assert await wait_for(
            pilot, lambda: screen.query_one("#device-events", DataTable).row_count == 1
        )
        title = str(screen.query_one("#device-title", Static).render())
        assert title.startswith(LITERAL)
        facts = screen.query_one("#device-facts", FactsPanel).plain
        assert "\\x1b]0;pwned\\x07" in facts and "\x1b" not in facts
        message = screen.query_one("#device-events", DataTable).get_cell_at(Coordinate(0, 2)).plain
        assert message == "output: [red]x[/red] \\x1b[31m"
        # a notification naming it (the action fails: no pipeline)
        await pilot.press("i")
        await pilot.pause(0.1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: any("Identify" in n.title for n in app._notifications))
        note = next(n for n in app._notifications if "Identify" in n.title)
        assert "\x1b" not in note.message
        await pilot.press("escape")
        # CSV of the fleet table
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("slash", *"evil", "enter", "x")
        await pilot.pause(0.1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: exported_csv(exports) is not None)
        out = exported_csv(exports)
        assert out is not None
        assert await wait_for(pilot, lambda: out.read_text(encoding="utf-8").count("\n") == 2)
    raw = out.read_bytes()
    assert b"\x1b" not in raw
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows[0]["hostname"] == LITERAL and rows[0]["serial"] == HOSTILE_SERIAL
