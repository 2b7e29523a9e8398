"""`:walk RACK` against the simulated lab: the real TUI, real SSH, the real agent. Walking a
rack of two placed Pis blinks the ACT LED of the Pi whose position is up (its trigger file
changes) and puts the previous one's back when the walk moves on, stops or ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_support import command_line, live_demo, wait_for

from fleet_tui import cli
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.hardware.actions import current_trigger
from fleet_tui.screens.racks.walkthrough import SCANNER_GAP_S, WalkScreen


def _trigger(pi: Any) -> str:
    return current_trigger((pi.root / "sys/class/leds/ACT/trigger").read_text())


async def _open_walk(app: Any, pilot: Any) -> WalkScreen:
    await command_line(pilot, "walk R1")
    assert await wait_for(pilot, lambda: isinstance(app.screen, WalkScreen))
    screen = app.screen
    assert isinstance(screen, WalkScreen)
    return screen


async def test_walking_a_rack_blinks_the_expected_pi_and_restores_the_previous(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, _fleet):
        lab = app.running.lab
        first, second = lab.pis[0], lab.pis[1]
        usual = _trigger(first)
        assert usual != "timer" and _trigger(second) == usual
        with Store.open(db) as store:
            book = RackBook(store)
            rack = book.add_rack("R1", room="Lab", site="HQ", height_u=8)
            book.set_tray(rack, 4, 2)
            book.place(first.serial, rack, 4, 1)
            book.place(second.serial, rack, 4, 2)
            journal = OperationJournal(store)  # an operation from before the walk
            earlier = journal.create("reboot", "Reboot 1 device", [DeviceTarget("ab12", "pi-x")])
            journal.finish(earlier, OpStatus.DONE)

        screen = await _open_walk(app, pilot)
        # the first position: the first Pi blinks, the second does not
        assert await wait_for(pilot, lambda: _trigger(first) == "timer", 15.0)
        assert _trigger(second) == usual
        # down: the walk moves on to slot 2 — the first Pi's LED is back, the second blinks
        await pilot.press("down")
        assert await wait_for(pilot, lambda: _trigger(second) == "timer", 15.0)
        assert await wait_for(pilot, lambda: _trigger(first) == usual, 15.0)
        # back and forth fast: only the Pi whose position is up blinks in the end
        await pilot.press("up", "down", "up")
        assert await wait_for(
            pilot, lambda: _trigger(first) == "timer" and _trigger(second) == usual, 15.0
        )
        # s stops the walk: nothing blinks any more
        await pilot.press("s")
        assert await wait_for(pilot, lambda: not isinstance(app.screen, WalkScreen))
        assert await wait_for(pilot, lambda: _trigger(first) == usual, 15.0)
        assert _trigger(second) == usual

        # resumed: y at each position moves the blink on; the end of the walk stops it
        screen = await _open_walk(app, pilot)
        assert await wait_for(pilot, lambda: _trigger(first) == "timer", 15.0)
        await pilot.press("y")
        await pilot.pause(SCANNER_GAP_S * 3)
        assert await wait_for(pilot, lambda: _trigger(second) == "timer", 15.0)
        assert await wait_for(pilot, lambda: _trigger(first) == usual, 15.0)
        await pilot.press("y")
        await pilot.pause(SCANNER_GAP_S * 3)
        assert await wait_for(
            pilot, lambda: "Summary" in str(screen.query_one("#walk-summary").render())
        )
        assert await wait_for(pilot, lambda: _trigger(second) == usual, 15.0)
        assert _trigger(first) == usual

    # every blink was an operation titled after the walk and the position ...
    with Store.open(db, readonly=True) as store:
        titles = [op.title for op in OperationJournal(store).operations()]
    assert "Walk R1 U4 slot 1" in titles and "Off: Walk R1 U4 slot 1" in titles
    walk_ops = sum(1 for t in titles if "Walk R1 " in t)
    assert walk_ops >= 8
    # ... and `fleet-tui ops` shows them as one line: the earlier operation stays in view
    capsys.readouterr()
    assert cli.main(["--db", str(db), "ops", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3, lines
    assert "Walk R1: " in lines[1] and f"{walk_ops} operations: " in lines[1]
    assert "Reboot 1 device" in lines[2]
    assert cli.main(["--db", str(db), "ops", "--all", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all("Walk R1 U4 slot" in line for line in lines[1:]) and len(lines) == 3
