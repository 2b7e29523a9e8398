"""Quitting the TUI while this process runs operations asks first: wait, quit anyway (the
operations are left interrupted, resumable), or cancel them and then quit. Nothing running:
`q` just quits."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from test_tui_support import live_demo, wait_for

from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.store.database import Store
from fleet_tui.screens.common.dialogs import ChoiceDialog, ConfirmDialog


async def _identify_slowly(app: Any, pilot: Any) -> None:
    """Identify every Pi of the lab, each answering 5 s late: the operation runs a while."""
    lab = app.running.lab
    await asyncio.wrap_future(app.backend.submit(lab.apply("all:slow-link=5")))
    await pilot.press("a", "i")
    assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    await pilot.press("enter")
    assert await wait_for(pilot, lambda: any(e.progress.running == 2 for e in app.news.now()), 10.0)


def _question(app: Any) -> str:
    assert isinstance(app.screen, ChoiceDialog)
    return app.screen._body.plain


async def test_quit_asks_while_an_operation_runs_and_wait_stays(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, fleet):
        await _identify_slowly(app, pilot)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        text = _question(app)
        assert "1 operation still running: Identify 2 devices (0 of 2 done)" in text
        assert "marked interrupted" in text and ":ops" in text
        await pilot.press("q")  # asked already: one question, not two
        await pilot.pause(0.1)
        assert sum(isinstance(s, ChoiceDialog) for s in app.screen_stack) == 1
        await pilot.press("enter")  # "Wait" has the focus
        assert await wait_for(pilot, lambda: app.screen is fleet)
        await pilot.pause(0.3)
        assert app.return_code is None  # still here, the operation still running
        assert any(e.event in ("started", "step") for e in app.news.now())

        await pilot.press("q")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.click("#choice-cancel")  # cancel them, then quit
        assert await wait_for(pilot, lambda: app.return_code is not None, 30.0)
    with Store.open(db, readonly=True) as store:
        (op,) = OperationJournal(store).operations()
        assert op.status is OpStatus.CANCELLED
        steps = OperationJournal(store).steps(op.id)
        assert {s.status for s in steps} == {StepStatus.CANCELLED}


async def test_quit_anyway_leaves_the_operation_interrupted_for_the_next_start(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, fleet):
        await _identify_slowly(app, pilot)
        await pilot.press("ctrl+q")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        await pilot.click("#choice-quit")
        assert await wait_for(pilot, lambda: app.return_code is not None, 30.0)
    with Store.open(db) as store:
        journal = OperationJournal(store)
        (op,) = journal.operations()
        assert op.status is OpStatus.INTERRUPTED
        assert journal.progress(op.id).unknown == 2  # in flight: outcome unknown
        assert [o.id for o in journal.reap()] == [op.id]  # what the next start reports


async def test_quit_with_nothing_running_does_not_ask(tmp_path: Path) -> None:
    async with live_demo(tmp_path / "fleet.db", devices=1) as (app, pilot, fleet):
        await pilot.press("colon")
        await pilot.pause(0.05)
        await pilot.press(*"quit", "enter")
        assert await wait_for(pilot, lambda: app.return_code is not None, 15.0)
        assert not any(isinstance(s, ChoiceDialog) for s in app.screen_stack)


async def test_a_deployment_running_in_the_app_is_named_in_the_question(tmp_path: Path) -> None:
    """`:deploy` runs a deployment in an app worker of the group `deploy-run`."""
    release = threading.Event()
    async with live_demo(tmp_path / "fleet.db", devices=1) as (app, pilot, fleet):
        app.run_worker(
            lambda: release.wait(30), thread=True, group="deploy-run", description="deploy web@2.0"
        )
        await pilot.press("q")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ChoiceDialog))
        text = _question(app)
        assert "1 operation still running: Deploy web@2.0" in text and ":deploy" in text
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: app.screen is fleet)
        release.set()  # the deployment ended: nothing to ask about any more
        await pilot.pause(0.2)
        await pilot.press("q")
        assert await wait_for(pilot, lambda: app.return_code is not None, 15.0)
