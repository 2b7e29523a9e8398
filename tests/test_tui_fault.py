"""`:fault` in the TUI: the demo's simulator faults injected from the command line, with the
same `HOST:KIND[=VALUE]` specs as `fleet-tui demo inject` (no HOST: the selected device)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_support import (
    command_line,
    demo_app,
    fleet_states,
    live_demo,
    make_app,
    post_fleet,
    wait_for,
)
from textual.command import CommandPalette
from textual.widgets import OptionList

from fleet_tui.app import FleetApp
from fleet_tui.core.sim.faults import FaultError
from fleet_tui.demo.fault_command import selected_device
from fleet_tui.demo.faults import FaultRequest, parse_fault_command
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.common import registry
from fleet_tui.screens.common.context import UiOptions
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen


def _notes(app: FleetApp) -> list[Any]:
    return list(app._notifications)


def _seen(app: FleetApp) -> set[str]:
    return {n.identity for n in _notes(app)}


def _new(app: FleetApp, title: str, seen: set[str]) -> Any:
    """The first notification titled `title` raised after `seen` was taken (None: not yet)."""
    return next((n for n in _notes(app) if n.title == title and n.identity not in seen), None)


def _noted(app: FleetApp, title: str, seen: set[str]) -> bool:
    return _new(app, title, seen) is not None


async def test_fault_on_the_selected_pi_shows_in_the_table_and_clear_recovers(
    tmp_path: Path,
) -> None:
    async with live_demo(tmp_path / "fleet.db") as (app, pilot, fleet):
        lab = app.running.lab
        assert lab is not None
        key = fleet.table.cursor_key
        assert key is not None
        pi = next(p for p in lab.pis if p.serial == key)
        other = next(p for p in lab.pis if p is not pi)
        other_key = other.serial

        def cell(row: str, column: str) -> str:
            return str(fleet.table.get_cell(row, column))

        assert cell(key, "status") != "critical" and cell(key, "throttle") == "ok"

        # no HOST: the row under the cursor
        seen = _seen(app)
        await command_line(pilot, "fault overheat")
        assert await wait_for(pilot, lambda: _noted(app, "Demo fault applied", seen), 15.0)
        assert pi.faults == {"overheat": ""} and other.faults == {}
        assert await wait_for(
            pilot,
            lambda: cell(key, "status") == "critical" and "thr" in cell(key, "throttle").split(","),
            15.0,
        ), (cell(key, "status"), cell(key, "throttle"))

        # a named Pi (its number, as the CLI takes it)
        seen = _seen(app)
        await command_line(pilot, f"fault {other.index + 1}:under-voltage")
        assert await wait_for(pilot, lambda: _noted(app, "Demo fault applied", seen), 15.0)
        assert other.faults == {"under-voltage": ""}
        assert await wait_for(pilot, lambda: cell(other_key, "status") == "critical", 15.0)

        # no argument: what is on now
        seen = _seen(app)
        await command_line(pilot, "fault")
        assert await wait_for(pilot, lambda: _noted(app, "Demo faults now", seen), 15.0)
        now = _new(app, "Demo faults now", seen)
        assert f"{pi.hostname}: overheat" in now.message
        assert f"{other.hostname}: under-voltage" in now.message

        # a Pi the lab does not have: one line, nothing changes
        seen = _seen(app)
        await command_line(pilot, "fault pi-9-999:disk-full")
        assert await wait_for(pilot, lambda: _noted(app, "Fault", seen), 15.0)
        error = _new(app, "Fault", seen)
        assert error.severity == "error" and "no simulated Pi 'pi-9-999'" in error.message
        assert "\n" not in error.message and "Traceback" not in error.message

        # clear: the selected Pi recovers (what it went through stays as `was …`)
        seen = _seen(app)
        await command_line(pilot, "fault clear")
        assert await wait_for(pilot, lambda: _noted(app, "Demo faults cleared", seen), 15.0)
        assert pi.faults == {} and other.faults == {"under-voltage": ""}
        assert await wait_for(
            pilot,
            lambda: (
                cell(key, "status") in ("ok", "warn") and cell(key, "throttle").startswith("was")
            ),
            15.0,
        ), (cell(key, "status"), cell(key, "throttle"))

        seen = _seen(app)
        await command_line(pilot, "fault clear all")
        assert await wait_for(pilot, lambda: _noted(app, "Demo faults cleared", seen), 15.0)
        assert other.faults == {}
        assert await wait_for(pilot, lambda: cell(other_key, "status") != "critical", 15.0)

        # typed in quick succession: applied in the order typed
        seen = _seen(app)
        await command_line(pilot, "fault all:disk-full")
        await command_line(pilot, "fault clear all:disk-full")
        assert await wait_for(pilot, lambda: _noted(app, "Demo faults cleared", seen), 15.0)
        assert pi.faults == {} and other.faults == {}
        await pilot.press("q")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("fault frobnicate", "unknown fault 'frobnicate'"),
        ("fault slow-link=forever", "slow-link wants seconds"),
        ("fault overheat=3", "overheat takes no value"),
        ("fault clear 1:melt", "unknown fault 'melt'"),
        ("fault [bold]x[/bold]", "unknown fault '[bold]x[/bold]'"),  # shown literally
    ],
)
async def test_invalid_fault_specs_are_one_line_errors(
    tmp_path: Path, line: str, expected: str
) -> None:
    app = demo_app(tmp_path / "fleet.db", UiOptions(animate=False), start_backend=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, line)
        assert await wait_for(pilot, lambda: bool(_notes(app)))
        (note,) = _notes(app)
        assert note.severity == "error" and not note.markup
        assert expected in note.message and "\n" not in note.message
        assert app.is_running and isinstance(app.screen, FleetScreen)


async def test_fault_is_demo_only(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        offered = [spec.name for spec, _, _ in registry.suggestions(app)]
        assert "fault" not in offered  # no faults to offer on a real fleet
        await command_line(pilot, "fault pi-4b-001:overheat")
        assert await wait_for(pilot, lambda: bool(_notes(app)))
        (note,) = _notes(app)
        assert note.severity == "error" and "demo-only" in note.message


async def test_help_palette_and_completion_offer_fault(tmp_path: Path) -> None:
    app = demo_app(tmp_path / "fleet.db", UiOptions(animate=False), start_backend=False)
    async with app.run_test(size=(80, 24)) as pilot:
        offered = {f"{spec.name} {arg}" for spec, arg, _ in registry.suggestions(app)}
        assert {"fault overheat", "fault ssh-up", "fault clear", "fault clear all"} <= offered
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        aliases = {name: also for name, _, also in app.screen.commands}  # type: ignore[attr-defined]
        assert aliases[":fault"] == ":faults"
        await pilot.press("escape", "ctrl+p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"overheat")

        def offered_in_palette() -> bool:
            results = app.screen.query_one(OptionList)
            prompts = [
                str(results.get_option_at_index(i).prompt) for i in range(results.option_count)
            ]
            return any(p.startswith("Demo fault: overheat") for p in prompts)

        assert await wait_for(pilot, offered_in_palette)


def test_fault_command_grammar() -> None:
    selected = parse_fault_command("overheat slow-link=250ms")
    assert [str(s) for s in selected.inject] == [":overheat", ":slow-link=0.25"]
    assert selected.wants_selection
    named = parse_fault_command("pi-5-002:ssh-down all:under-voltage")
    assert [str(s) for s in named.inject] == ["pi-5-002:ssh-down", "all:under-voltage"]
    assert not named.wants_selection
    assert parse_fault_command("ssh-up").inject[0].clears  # clears ssh-down, as in the CLI
    assert parse_fault_command("clear").clear == (("", None),)
    assert parse_fault_command("clear overheat 2 pi-5-002:ssh-up").clear == (
        ("", "overheat"),
        ("2", None),
        ("pi-5-002", "ssh-down"),
    )
    assert parse_fault_command("") == FaultRequest() and FaultRequest().empty
    with pytest.raises(FaultError):
        parse_fault_command("overheat bogus")


async def test_the_selected_device_is_the_cursor_row_or_the_open_device(tmp_path: Path) -> None:
    options = UiOptions(animate=False, flush_seconds=0.05)
    app = demo_app(tmp_path / "fleet.db", options, start_backend=False)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app, fleet_states()[:3])
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: fleet.table.row_count == 3)
        assert fleet.model is not None
        at = {r.state.endpoint: k for k, r in fleet.model.rows.items() if r.state is not None}
        first = selected_device(app)
        assert first is not None and at[first.endpoint or ""] == fleet.table.cursor_key
        await pilot.press("down")
        second = selected_device(app)
        assert second is not None and second != first
        fleet.open_row(at[second.endpoint or ""])
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert selected_device(app) == second
        # without a lab, a request for it says so (one line, no traceback)
        await command_line(pilot, "fault overheat")
        assert await wait_for(pilot, lambda: bool(_notes(app)))
        (note,) = _notes(app)
        assert note.severity == "error" and "not running" in note.message
