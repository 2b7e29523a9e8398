"""Snapshots of the rack screens at 80×24 and 160×48: a 42U rack with trays, equipment, a
full-width Pi and free units (tests/rack_support.py), the fleet posted live, the clock frozen.
Update after a deliberate change: pytest --snapshot-update (look at them first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from rack_support import seed_racks
from test_tui_support import command_line, make_app, post_fleet, utc, wait_for

from fleet_tui.app import FleetApp
from fleet_tui.screens.racks.rack import RackScreen
from fleet_tui.screens.racks.racks import RacksScreen

_ = utc
SIZES = [(80, 24), (160, 48)]
Compare = Callable[..., bool]


def _app(tmp_path: Path, **kwargs: Any) -> FleetApp:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db, **kwargs)
    app.sub_title = "fleet.db"  # not the temporary path
    return app


def _rack(*keys: str, name: str = "A1") -> Callable[[Any], Awaitable[None]]:
    async def run(pilot: Any) -> None:
        app = pilot.app
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert await wait_for(
            pilot, lambda: fleet.model is not None and len(fleet.model.rows) == 10
        )
        await command_line(pilot, f"rack {name}")

        def ready() -> bool:
            s = app.screen
            return isinstance(s, RackScreen) and s.data is not None and not s._pending

        assert await wait_for(pilot, ready)
        await pilot.pause(0.1)
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.2)

    return run


@pytest.mark.parametrize("size", SIZES)
def test_rack_elevation(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    """The cursor on pi-5-002 (U40 slot 2); at 160 the room's three racks side by side."""
    steps = _rack("down", "right")
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=steps)


def test_rack_temperature_overlay_at_80x24(
    snap_compare: Compare, tmp_path: Path, utc: None
) -> None:
    steps = _rack("down", "down", "t")
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_rack_power_overlay_at_160x48(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    steps = _rack("t", "t")
    assert snap_compare(_app(tmp_path), terminal_size=(160, 48), run_before=steps)


def test_rack_scrolled_to_the_bottom_at_80x24(
    snap_compare: Compare, tmp_path: Path, utc: None
) -> None:
    steps = _rack("end")
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_rack_place_picker_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    steps = _rack("down", "right", "right", "right", "p", *"pi-")
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_rack_moving_a_device_readonly_at_80x24(
    snap_compare: Compare, tmp_path: Path, utc: None
) -> None:
    steps = _rack("down", "m")
    assert snap_compare(_app(tmp_path, readonly=True), terminal_size=(80, 24), run_before=steps)


@pytest.mark.parametrize("size", SIZES)
def test_racks_list(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    async def run(pilot: Any) -> None:
        app = pilot.app
        post_fleet(app)
        await pilot.pause(0.2)
        await command_line(pilot, "racks")
        assert await wait_for(
            pilot, lambda: isinstance(app.screen, RacksScreen) and app.screen.table.row_count == 5
        )
        await pilot.pause(1.2)  # the draw column follows the live readings (once a second)

    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=run)
