"""Operations in the TUI against the simulated lab: many devices at once with a progress bar,
the `:ops` screen (steps, cancel, dismiss), and an operation a crash left interrupted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from test_tui_support import command_line, live_demo, make_app, wait_for
from textual.widgets import ProgressBar, Static

from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.racks.walk_blink import WalkBlink
from fleet_tui.core.store.database import Store
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.operations.operations import OperationsScreen
from fleet_tui.screens.operations.operations_bar import OperationLine, OperationsBar


async def _slow(app: Any, seconds: float) -> None:
    """Every simulated Pi answers `seconds` late (the lab runs on the pipeline's loop)."""
    lab = app.running.lab
    await asyncio.wrap_future(app.backend.submit(lab.apply(f"all:slow-link={seconds}")))


def _notified(app: Any, title: str) -> bool:
    return any(title in (n.title or "") for n in app._notifications)


async def test_identify_many_devices_shows_progress_then_the_result(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=3) as (app, pilot, fleet):
        await _slow(app, 1.0)
        await pilot.press("a", "i")  # mark every row, identify the marked
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        bar = fleet.query_one(OperationsBar)
        assert await wait_for(pilot, lambda: len(bar.query(OperationLine)) == 1, 10.0)
        assert not bar.has_class("hidden")
        progress = bar.query_one(ProgressBar)
        assert progress.total == 3 and (progress.progress or 0) < 3  # shown while it runs
        assert await wait_for(pilot, lambda: _notified(app, "Identify: 3 accepted"), 20.0)
        assert progress.progress == 3
        assert "done: 3 ok" in str(bar.query_one(".operation-counts").render())
    with Store.open(db, readonly=True) as store:
        (op,) = OperationJournal(store).operations()
        assert op.kind == "identify" and op.status is OpStatus.DONE and op.total == 3
        assert {s.status for s in OperationJournal(store).steps(op.id)} == {StepStatus.OK}


async def test_the_ops_screen_lists_steps_and_cancels_a_running_operation(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, fleet):
        await _slow(app, 4.0)
        await pilot.press("a", "i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: len(fleet.query(OperationLine)) == 1, 10.0)
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert await wait_for(pilot, lambda: len(screen.steps) == 2, 10.0)
        assert {s.status for s in screen.steps} == {StepStatus.RUNNING}
        await pilot.press("c")
        assert await wait_for(
            pilot,
            lambda: screen.selected is not None and screen.selected.status is OpStatus.CANCELLED,
            15.0,
        )
        assert await wait_for(
            pilot, lambda: {s.status for s in screen.steps} == {StepStatus.CANCELLED}, 10.0
        )
        assert "may have reached the device" in screen.steps[0].message


async def test_an_operation_left_running_by_a_dead_process_is_reported_and_dismissable(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:  # what a crashed fleet-tui left behind
        journal = OperationJournal(store)
        op = journal.create(
            "reboot", "Reboot 2 devices", [DeviceTarget("a1", "pi-a"), DeviceTarget("b2", "pi-b")]
        )
        journal.set_step(op.id, "a1", StepStatus.RUNNING)
        store.set_row("operations", op.id, pid=2**22 + 3, pid_start="gone")
    async with live_demo(db, devices=1) as (app, pilot, fleet):
        assert await wait_for(pilot, lambda: _notified(app, "Operation interrupted"), 10.0)
        note = next(n for n in app._notifications if n.title == "Operation interrupted")
        assert "1 unknown, 1 not run" in note.message and ":ops" in note.message
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert await wait_for(
            pilot,
            lambda: screen.selected is not None and screen.selected.status is OpStatus.INTERRUPTED,
        )
        await pilot.press("d")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(
            pilot,
            lambda: screen.selected is not None and screen.selected.status is OpStatus.ABANDONED,
        )


def _row_titles(table: Any) -> list[str]:
    return [str(table.get_row_at(i)[2]) for i in range(table.row_count)]


async def test_a_walks_finished_blinks_fold_into_one_row(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        journal = OperationJournal(store)
        reboot = journal.create("reboot", "Reboot 1 device", [DeviceTarget("z9", "pi-z")])
        journal.set_step(reboot.id, "z9", StepStatus.OK)
        journal.finish(reboot, OpStatus.DONE)
        walk = WalkBlink(session="walk-1", rack="R2")
        requests = [
            r
            for n in (1, 2, 3)
            for r in walk.show(DeviceTarget(f"s{n}", f"pi-{n}"), f"R2 U10 slot {n}")
        ]
        assert len(requests) == 5  # three blinks, the two before the last stopped
        for i, r in enumerate(requests):
            op = journal.create("identify", r.title, [r.target], r.params)
            last = i == len(requests) - 1  # the blink a crash left: its own row, to act on
            journal.set_step(
                op.id, r.target.serial, StepStatus.INTERRUPTED if last else StepStatus.OK
            )
            journal.finish(op, OpStatus.INTERRUPTED if last else OpStatus.DONE)
            store.set_row("operations", op.id, created=reboot.created + i + 1)  # in order
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert isinstance(screen, OperationsScreen)
        table = screen.query_one("#ops-table", KeyedTable)
        assert await wait_for(pilot, lambda: table.row_count == 3, 10.0)
        assert _row_titles(table) == ["Walk R2 U10 slot 3", "Walk R2: 2 blinks", "Reboot 1 device"]
        fold = table.get_row_at(1)
        assert str(fold[3]) == "done" and str(fold[4]) == "4 operations: 4 ok"
        table.move_cursor(row=1)
        await pilot.pause()
        assert screen.selected is None  # a fold is no operation to cancel or resume
        detail = str(screen.query_one("#ops-detail", Static).render())
        assert "Walk R2: 2 blinks" in detail and "enter lists them" in detail
        await pilot.press("enter")  # the fold's blinks, each on its own row
        assert await wait_for(pilot, lambda: table.row_count == 6)
        assert _row_titles(table)[1:5] == [
            "Off: Walk R2 U10 slot 2",
            "Walk R2 U10 slot 2",
            "Off: Walk R2 U10 slot 1",
            "Walk R2 U10 slot 1",
        ]
        assert screen.selected is not None and screen.selected.title == "Off: Walk R2 U10 slot 2"
        assert await wait_for(pilot, lambda: [s.serial for s in screen.steps] == ["s2"])
        await pilot.press("enter")  # folded again
        assert await wait_for(pilot, lambda: table.row_count == 3)
        assert table.cursor_row == 1 and screen.selected is None
        await pilot.press("a")  # every operation
        assert await wait_for(pilot, lambda: table.row_count == 6)
        await pilot.press("a")
        assert await wait_for(pilot, lambda: table.row_count == 3)
