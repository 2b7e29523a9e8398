"""The Pi's clock and sudo in the TUI: a demo Pi given `clock-skew=-259200` warns in the fleet
and on its device screen, and recovers when cleared; the device screen says what sudo allows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_support import (
    command_line,
    fleet_states,
    live_demo,
    make_app,
    post_fleet,
    seed_store,
    utc,
    wait_for,
)
from textual.widgets import Static

from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen

_ = utc


def _text(screen: Any, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_a_skewed_demo_pi_warns_in_the_fleet_and_on_its_screen_until_cleared(
    tmp_path: Path,
) -> None:
    async with live_demo(tmp_path / "fleet.db") as (app, pilot, fleet):
        lab = app.running.lab
        assert lab is not None
        key = fleet.table.cursor_key
        assert key is not None and fleet.model is not None
        pi = next(p for p in lab.pis if p.serial == key)
        model = fleet.model

        def reasons() -> tuple[str, ...]:
            return model.rows[key].status.reasons

        assert not any(r.startswith("clock") for r in reasons())

        await command_line(pilot, "fault clock-skew=-259200")
        assert await wait_for(pilot, lambda: "clock 3d behind" in reasons(), 15.0), reasons()
        assert pi.faults == {"clock-skew": "-259200"}
        status = str(fleet.table.get_cell(key, "status"))
        assert status in ("warn", "critical")

        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert await wait_for(
            pilot, lambda: "clock 3d behind" in _text(screen, "#device-title"), 10.0
        )
        line = _text(screen, "#device-clock")
        assert "clock 3d behind" in line and "sudo not needed since boot" in line

        await command_line(pilot, "fault clear")  # the open device screen's Pi
        assert await wait_for(
            pilot, lambda: "clock in step" in _text(screen, "#device-clock"), 15.0
        ), _text(screen, "#device-clock")
        assert "clock" not in _text(screen, "#device-title")
        assert pi.faults == {}
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: not any(r.startswith("clock") for r in reasons()))
        await pilot.press("q")


@pytest.mark.parametrize(
    ("sudo", "skew", "shown"),
    [
        (True, 0.2, "clock in step  sudo allowed"),
        (False, 720.0, "clock 12m ahead  sudo refused (see hardware/README.md for the sudoers"),
        (None, -259200.0, "clock 3d behind  sudo not needed since boot"),
        ("absent", None, "clock ?  sudo ?"),
    ],
)
async def test_the_device_screen_says_what_sudo_allows(
    tmp_path: Path, utc: None, sudo: bool | None | str, skew: float | None, shown: str
) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    states = fleet_states()
    first = states[0]
    assert first.facts is not None
    first.facts.capabilities = {} if sudo == "absent" else {"sudo": sudo}  # type: ignore[dict-item]
    first.clock_skew_s = skew
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app, states)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(
            pilot,
            lambda: (
                fleet.model is not None
                and fleet.model.rows.get(first.key) is not None
                and fleet.model.rows[first.key].state is not None
            ),
        )
        fleet.open_row(first.key)
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert await wait_for(pilot, lambda: shown in _text(screen, "#device-clock")), _text(
            screen, "#device-clock"
        )
        title = _text(screen, "#device-title")
        assert ("clock" in title) == (abs(skew or 0) > 300)
