"""What a technician trips over in the first ten minutes at the keyboard (issue 14): `:` mode
completes with tab and lists every command; the filter matches what the table shows (and
field terms the rest), and the counts follow it; the device screen shows what an operation
just did without `r`; keys that do not apply say why instead of doing nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_tui_support import (
    FLEET,
    command_line,
    fleet_states,
    live_demo,
    make_app,
    post_fleet,
    seed_store,
    wait_for,
)
from textual.widgets import Input, Static

from fleet_tui.app import FleetApp
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus, Progress, StepStatus
from fleet_tui.core.ops.runner import OperationRunner
from fleet_tui.core.policy import StatusPolicy
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.command_mode.command_line import CommandPrompt
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.common import registry
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.messages import OperationUpdated
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.filters import FleetFilter, completions
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.fleet.fleet_model import FleetModel
from fleet_tui.screens.operations import operations as operations_screen
from fleet_tui.screens.operations.operations import OperationsScreen
from fleet_tui.screens.sync.sync import SyncScreen


def _fleet(app: FleetApp) -> FleetScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, FleetScreen)
    return screen


def _shown(app: FleetApp) -> list[str]:
    s = _fleet(app)
    assert s.model is not None
    return [s.model.rows[k].hostname for k in s.table.order]


def _summary(app: FleetApp) -> str:
    return str(_fleet(app).query_one("#fleet-summary").render())


def _notified(app: FleetApp, words: str) -> bool:
    return any(words in str(n.message) for n in app._notifications)


async def _started(pilot: Any, app: FleetApp, rows: int = 10) -> None:
    states = fleet_states()
    post_fleet(app, states)

    def ready() -> bool:
        s = _fleet(app)
        live = s.model is not None and all(
            st.key in s.model.rows and s.model.rows[st.key].state is not None for st in states
        )
        return live and s.table.row_count == rows and not s._pending

    assert await wait_for(pilot, ready)


def _prompt(app: FleetApp) -> Input:
    assert isinstance(app.screen, CommandPrompt)
    return app.screen.query_one("#command-input", Input)


# ---- 1. `:` mode ----------------------------------------------------------------------------


async def test_tab_takes_the_grey_suggestion_then_cycles(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app, rows=9)
        await pilot.press("colon", "h", "e")
        assert await wait_for(pilot, lambda: _prompt(app).value == "he")
        await pilot.press("tab")  # the grey "lp"
        assert await wait_for(pilot, lambda: _prompt(app).value == "help")
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")

        # an alias completes its command's arguments (devices by hostname, in order)
        await pilot.press("colon", *"dev pi-5")
        await pilot.pause(0.1)
        words = app.screen._suggestions  # type: ignore[attr-defined]
        assert "device pi-5-002" in words and all(w.isprintable() for w in words)
        await pilot.press("tab")
        assert await wait_for(pilot, lambda: _prompt(app).value == "dev pi-5-002")
        await pilot.press("tab")
        assert _prompt(app).value == "dev pi-5-008"
        await pilot.press("tab")  # past the last: back to what was typed
        assert _prompt(app).value == "dev pi-5"
        await pilot.press("shift+tab")
        assert _prompt(app).value == "dev pi-5-008"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert app.screen.ref.hostname == "pi-5-008"  # type: ignore[attr-defined]


async def test_the_prompt_lists_every_command_and_says_what_the_typed_one_does(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app, rows=9)
        await pilot.press("colon")
        assert await wait_for(pilot, lambda: isinstance(app.screen, CommandPrompt))
        assert "tab completes" in _prompt(app).placeholder
        names = [spec.name for spec in registry.commands()]
        assert {"fleet", "device", "help", "quit", "sync", "ops", "fault", "racks"} <= set(names)
        hint = app.screen.query_one("#command-hint", Static)
        await pilot.pause()
        listed = str(hint.render())
        assert all(name in listed.split(" · ") for name in names), listed  # every one
        assert hint.display and 1 <= hint.size.height <= 4  # wrapped when they need more
        await pilot.press("s", "y")
        assert await wait_for(pilot, lambda: "merge a peer file" in str(hint.render()))
        assert hint.display
        await pilot.press("escape")

        await command_line(pilot, "he")  # enter on a prefix: says what it is short for
        assert await wait_for(pilot, lambda: _notified(app, "did you mean :help?"))
        assert not isinstance(app.screen, HelpScreen)


# ---- 2. the filter matches what is shown; counts follow it ----------------------------------


def _model() -> FleetModel:
    m = FleetModel(StatusPolicy())
    m.apply_states(fleet_states())
    return m


def _hosts(m: FleetModel, text: str) -> list[str]:
    m.set_filter(FleetFilter.parse(text))
    return [m.rows[k].hostname for k in m.visible()]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # hostnames and the model as shown (5B), not a revision ("Rev 1.5") or a port
        ("5", ["pi-5-002", "pi-5-008", "pi-cm4-005"]),
        ("2207", []),  # pi-4b-007's port: not on screen
        ("a000000", []),  # every serial: not a name
        ("127.0.0.1", []),
        ("addr:2207", ["pi-4b-007"]),
        ("address:127.0.0.1:2203", ["pi-3bp-003"]),
        ("serial:a0000003", ["pi-3bp-003"]),
        ("sn:A0000003,a0000004", ["pi-3bp-003", "pi-zero2w-004"]),
        ("host:zero", ["pi-zero2w-004"]),
        ("os:debian !host:pi-", ["[bold red]evil[/]\x1b[2J"]),
        ("!addr:2201 model:4B status:ok", ["[bold red]evil[/]\x1b[2J", "pi-4b-007"]),
    ],
)
def test_a_bare_term_matches_names_shown_and_field_terms_the_rest(
    text: str, expected: list[str]
) -> None:
    m = _model()
    assert _hosts(m, text) == expected
    assert len(_hosts(m, "bookworm")) == len(FLEET)  # the OS column's codename


async def test_the_counts_say_what_the_filter_hides(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app, rows=9)
        assert "2 critical" in _summary(app) and "2 warn" in _summary(app)
        await pilot.press("space", "space")  # mark the first two rows
        await pilot.press("slash", *"pi-5", "enter")
        assert await wait_for(pilot, lambda: _shown(app) == ["pi-5-002", "pi-5-008"])
        line = _summary(app)
        assert "2/9 shown" in line
        assert "1 of 2 warn" in line  # pi-5-002 shown, pi-zero2w-004 hidden
        assert "0 of 2 critical" in line and "0 of 1 unreachable" in line
        assert "0 of 2 marked" in line
        await pilot.press("escape")  # clear the filter: plain counts again
        assert await wait_for(pilot, lambda: len(_shown(app)) == 9)
        line = _summary(app)
        assert "2 warn" in line and " of " not in line and "2 marked" in line


# ---- 3. the device screen shows what an operation just did ----------------------------------


class _Caller:
    async def call(
        self,
        serial: str,
        method: str,
        params: dict[str, Any] | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> object:
        return {}


async def test_a_step_is_announced_after_its_event_is_written(tmp_path: Path) -> None:
    """Whoever reloads on a step (the device screen) finds its request and outcome logged."""
    with Store.open(tmp_path / "fleet.db") as store:
        seen: list[tuple[StepStatus, list[str]]] = []

        def watch(event: OperationEvent) -> None:
            if event.step is not None:
                kinds = [e.kind for e in EventLog(store).recent("10000000a0000001")]
                seen.append((event.step.status, kinds))

        runner = OperationRunner(store, _Caller(), who="ana@laptop", on_event=watch)
        await runner.run("identify", [DeviceTarget("10000000a0000001", "pi-4b-001")])
        assert seen == [
            (StepStatus.RUNNING, ["identify"]),
            (StepStatus.OK, ["identify_done", "identify"]),
        ]


async def test_the_device_screen_reloads_when_a_step_of_its_device_starts(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    serial = FLEET[0][1]
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app)
        _fleet(app).open_row(serial)
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert isinstance(screen, DeviceScreen)
        assert await wait_for(pilot, lambda: len(screen.detail.events) == 2)
        with Store.open(db) as store:  # what the pipeline does when a step starts
            journal = OperationJournal(store)
            op = journal.create("identify", "Identify 1 device", [DeviceTarget(serial, "x")])
            step = journal.set_step(op.id, serial, StepStatus.RUNNING)
            EventLog(store).record(serial, "identify", "identify requested by ana")
        app.post_message(OperationUpdated(OperationEvent("step", op, Progress(running=1), step)))
        assert await wait_for(
            pilot, lambda: "identify requested by ana" in [e.message for e in screen.detail.events]
        )


async def test_identify_from_the_fleet_shows_in_the_device_screen_without_r(
    tmp_path: Path,
) -> None:
    """In the simulated lab: identify started on the fleet screen, the device opened at once;
    its events (request and outcome) and the sudo line follow without `r`. Reboot with sudo
    refused shows `sudo refused` live."""
    async with live_demo(tmp_path / "fleet.db", devices=1) as (app, pilot, fleet):
        await pilot.press("i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert isinstance(screen, DeviceScreen)

        def kinds() -> list[str]:
            return [e.kind for e in screen.detail.events]

        assert await wait_for(pilot, lambda: {"identify", "identify_done"} <= set(kinds()), 20)
        # the simulated LED is writable: identify needed no sudo, and the line says so
        clock = screen.query_one("#device-clock", Static)
        assert "sudo not needed since boot" in str(clock.render())

        await command_line(pilot, "fault sudo-denied")
        await pilot.press("R")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press(*screen.ref.hostname, "enter")
        assert await wait_for(pilot, lambda: "reboot_failed" in kinds(), 20)
        assert await wait_for(pilot, lambda: "sudo refused" in str(clock.render()), 10)


# ---- elsewhere: keys that seemed to do nothing, views that needed `r` -----------------------


async def test_sorting_by_a_column_off_screen_scrolls_to_it(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app, rows=9)
        screen = _fleet(app)
        table = screen.table
        for _ in range(12):  # hostname → status → … → serial, the last column
            await pilot.press("s")
        assert await wait_for(pilot, lambda: getattr(screen.model, "sort_key", "") == "serial")
        assert await wait_for(pilot, lambda: table.scroll_x > 0)
        last = table.ordered_columns[-1]
        x = sum(c.get_render_width(table) for c in table.ordered_columns[:-1])
        view = table.scrollable_content_region.width
        assert table.scroll_x <= x and x + last.get_render_width(table) <= table.scroll_x + view
        assert "▲" in str(last.label)
        await pilot.press("s")  # round to hostname: back to the start
        assert await wait_for(pilot, lambda: getattr(screen.model, "sort_key", "") == "hostname")
        assert await wait_for(pilot, lambda: table.scroll_x == 0)


def test_filter_completions_are_field_names_then_values() -> None:
    values = {"model": {"4B", "CM4", "Zero2W"}, "tag": {"lab", "poe", "two words"}}
    assert completions("st", values) == ["status:"]
    assert completions("pi-4b !m", values) == ["pi-4b !model:"]
    assert completions("model:", values) == ["model:4B", "model:CM4", "model:Zero2W"]
    assert completions("m:z", values) == ["m:Zero2W"]
    assert completions("status:ok,u", values) == ["status:ok,unknown", "status:ok,unreachable"]
    assert completions("tag:", values) == ["tag:lab", "tag:poe"]  # not expressible: left out
    assert completions("pi-4", values) == [] and completions("nope:x", values) == []
    hostile = {"host": {"pi-1", "evil\x1b[2J"}}  # never typed into the field for the user
    assert completions("host:", hostile) == ["host:pi-1"]


async def test_tab_in_the_filter_completes_and_keeps_the_focus(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await _started(pilot, app)
        field = _fleet(app).query_one("#fleet-filter", Input)
        await pilot.press("slash", "s", "t", "tab")
        assert await wait_for(pilot, lambda: field.value == "status:")
        await pilot.press("c", "tab")
        assert await wait_for(pilot, lambda: field.value == "status:critical")
        await pilot.press("space", *"!tag:l", "tab")
        assert await wait_for(pilot, lambda: field.value == "status:critical !tag:lab")
        await pilot.press("space", *"pi", "tab")  # a bare regex: nothing to complete
        await pilot.pause(0.1)
        assert field.has_focus and field.value == "status:critical !tag:lab pi"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: _shown(app) == ["pi-3bp-003", "pi-cm4-005"])


async def test_ops_keys_that_do_not_apply_say_why(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        journal = OperationJournal(store)
        op = journal.create("identify", "Identify 1 device", [DeviceTarget("a1", "pi-a")])
        journal.set_step(op.id, "a1", StepStatus.OK, "LED blinking")
        journal.finish(op, OpStatus.DONE)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert isinstance(screen, OperationsScreen)
        assert await wait_for(pilot, lambda: screen.selected is not None)
        await pilot.press("c")
        assert await wait_for(
            pilot, lambda: _notified(app, "Only a running operation can be cancelled")
        )
        await pilot.press("R")
        assert await wait_for(
            pilot, lambda: _notified(app, "Only an interrupted operation can be resumed")
        )
        await pilot.press("d")
        assert await wait_for(
            pilot, lambda: _notified(app, "Only an interrupted operation can be dismissed")
        )


async def test_the_ops_screen_shows_an_operation_another_process_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations_screen, "OTHERS_S", 0.2, raising=False)
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert isinstance(screen, OperationsScreen)
        await pilot.pause(0.3)
        assert screen.selected is None
        with Store.open(db) as store:  # `fleet-tui reboot` in another pane
            OperationJournal(store).create("reboot", "Reboot 1 device", [DeviceTarget("a1", "a")])
        assert await wait_for(pilot, lambda: screen.selected is not None, 3.0)


async def test_merge_before_a_preview_says_what_to_do_first(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "sync")
        assert await wait_for(pilot, lambda: isinstance(app.screen, SyncScreen))
        await pilot.press("tab")  # from the peer field to the tables, where keys are keys
        await pilot.press("m")
        assert await wait_for(pilot, lambda: _notified(app, "then enter to preview it"))
        assert isinstance(app.screen, SyncScreen)
