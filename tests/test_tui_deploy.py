"""The `:deploy` screen against the simulated lab: a release deployed from the screen in
waves (pre-flight shown, typed confirmation), its progress per wave and device, a paused one
resumed and one aborted with their keys, the history, and `--readonly` looking only."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from deploy_support import answers, current, give_ports, make_release
from test_tui_support import command_line, live_demo, make_app, wait_for
from textual.widgets import Button, Input, ProgressBar, Static

from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.deploy.steps import DeploymentBook, DeployStatus
from fleet_tui.core.store.database import Store
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.deploy.deploy import DeployScreen, WaveBar
from fleet_tui.screens.deploy.deploy_dialogs import StartDialog


def _add(db: Path, base: Path, version: str, **kw: Any) -> str:
    with Store.open(db) as store:
        record, _ = ReleaseBook(store).add(make_release(base, version, **kw))
    return record.id


async def _open(app: Any, pilot: Any) -> DeployScreen:
    await command_line(pilot, "deploy")
    assert await wait_for(pilot, lambda: isinstance(app.screen, DeployScreen))
    screen = app.screen
    assert isinstance(screen, DeployScreen)
    return screen


async def _start(app: Any, pilot: Any, screen: DeployScreen, to: str = "*") -> ConfirmDialog:
    """d on the release under the cursor, the filter typed, Check: the confirmation."""
    table = screen.query_one("#deploy-releases", KeyedTable)
    assert await wait_for(pilot, lambda: table.row_count > 0, 10.0)
    await pilot.press("d")
    assert await wait_for(pilot, lambda: isinstance(app.screen, StartDialog))
    app.screen.query_one("#deploy-to", Input).value = to
    app.screen.query_one("#deploy-batch", Input).value = "1"
    await pilot.press("enter")
    assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), 20.0)
    dialog = app.screen
    assert isinstance(dialog, ConfirmDialog)
    return dialog


def _deployments(db: Path) -> list[Any]:
    with Store.open(db, readonly=True) as store:
        return DeploymentBook(store).all()


async def test_deploy_from_the_screen_shows_waves_and_devices_live(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, _):
        ports = give_ports(app.running.lab.pis)
        _add(db, tmp_path / "rel", "1.0")
        screen = await _open(app, pilot)
        dialog = await _start(app, pilot, screen)
        body = str(dialog.query_one(".dialog-body").render())
        assert "Pre-flight: every device is ready" in body and "2 device(s)" in body
        await pilot.press(*"web@1.0 2", "enter")  # the typed confirmation
        assert await wait_for(pilot, lambda: screen.view.shown is not None, 20.0)
        assert await wait_for(
            pilot,
            lambda: screen.view.shown is not None and screen.view.shown.status is DeployStatus.DONE,
            90.0,
        )
        for port in ports.values():
            assert await answers(port, "1.0")
        await pilot.press("2")

        def waves_full() -> bool:  # two wave bars, each mounted with its bar full
            bars = list(screen.query(WaveBar))
            return len(bars) == 2 and all(
                [p.percentage for p in b.query(ProgressBar)] == [1.0] for b in bars
            )

        assert await wait_for(pilot, waves_full, 5.0)
        devices = screen.query_one("#deploy-devices", KeyedTable)
        assert await wait_for(pilot, lambda: devices.row_count == 2, 5.0)
        row = devices.get_row_at(0)
        assert str(row[2]) == "commit" and str(row[3]) == "ok"
        assert "on 1.0" in str(row[5])
        (done,) = _deployments(db)
        assert done.status is DeployStatus.DONE and done.plan.filter == "*"
        await pilot.press("3")
        history = screen.query_one("#deploy-history", KeyedTable)
        assert await wait_for(pilot, lambda: history.row_count == 1, 5.0)


async def test_preflight_refusal_is_shown_before_asking_and_abort_asks(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, _):
        give_ports(app.running.lab.pis)
        _add(db, tmp_path / "rel", "1.0", deadline=20)
        lab = app.running.lab
        first = lab.pis[0]
        await asyncio.wrap_future(app.backend.submit(lab.apply(f"{first.hostname}:under-voltage")))
        screen = await _open(app, pilot)
        dialog = await _start(app, pilot, screen)
        body = str(dialog.query_one(".dialog-body").render())
        assert "Pre-flight refuses 1" in body and "under-voltage" in body
        await pilot.press("escape")  # not confirmed: nothing is created
        assert await wait_for(pilot, lambda: app.screen is screen)
        assert _deployments(db) == []


async def test_no_releases_says_how_to_add_one(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        empty = screen.query_one("#deploy-no-releases", Static)
        assert await wait_for(pilot, lambda: empty.display, 5.0)
        assert "fleet-tui release add PATH" in str(empty.render())


async def test_readonly_looks_only(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    _add(db, tmp_path / "rel", "1.0")
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await _open(app, pilot)
        table = screen.query_one("#deploy-releases", KeyedTable)
        assert await wait_for(pilot, lambda: table.row_count == 1, 5.0)
        assert not screen.query_one("#deploy-no-releases", Static).display
        assert str(table.get_row_at(0)[4]) == "here"
        for key in ("d", "A", "p", "b"):
            await pilot.press(key)
            await pilot.pause(0.1)
            assert app.screen is screen
        assert _deployments(db) == []


async def _running(pilot: Any, screen: DeployScreen) -> str:
    """The id of the deployment the screen shows, once it runs (bounded)."""

    def running() -> bool:
        d = screen.view.shown
        return d is not None and d.status is DeployStatus.RUNNING

    assert await wait_for(pilot, running, 30.0), "the deployment never ran"
    assert screen.view.shown is not None
    return screen.view.shown.id


async def _shown_status(
    pilot: Any, screen: DeployScreen, status: DeployStatus, release: str = ""
) -> bool:
    def reached() -> bool:
        d = screen.view.shown
        return d is not None and d.status is status and d.release_id.startswith(release)

    return await wait_for(pilot, reached, 90.0)


def _status_line(screen: DeployScreen) -> str:
    return str(screen.query_one("#deploy-status", Static).render())


async def test_pause_key_stops_after_the_wave_and_resume_key_finishes(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, _):
        ports = give_ports(app.running.lab.pis)
        _add(db, tmp_path / "rel", "1.0", post="sleep 2")  # each device takes 2 s+
        screen = await _open(app, pilot)
        await _start(app, pilot, screen)
        await pilot.press(*"web@1.0 2", "enter")
        dep_id = await _running(pilot, screen)
        await pilot.press("p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # Pause is focused: not a dangerous one
        assert await _shown_status(pilot, screen, DeployStatus.PAUSED)
        assert "paused before wave 2" in _status_line(screen)
        (d,) = _deployments(db)
        assert d.id == dep_id and d.status is DeployStatus.PAUSED
        second = d.plan.waves[1][0]
        await pilot.pause(1.0)  # the next wave would have started by now
        assert [current(pi) for pi in app.running.lab.pis if pi.serial == second] == [None]
        await pilot.press("u")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await _shown_status(pilot, screen, DeployStatus.DONE)
        assert "paused" not in _status_line(screen)
        for port in ports.values():
            assert await answers(port, "1.0")


async def test_abort_key_stops_the_deployment_and_leaves_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=3) as (app, pilot, _):
        give_ports(app.running.lab.pis)
        _add(db, tmp_path / "rel", "1.0", post="sleep 2")
        screen = await _open(app, pilot)
        await _start(app, pilot, screen)
        await pilot.press(*"web@1.0 3", "enter")
        await _running(pilot, screen)
        await pilot.press("A")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        await pilot.press("enter")  # Cancel is focused on a dangerous one: nothing happens
        assert await wait_for(pilot, lambda: app.screen is screen)
        assert screen.view.shown is not None and screen.view.shown.status is DeployStatus.RUNNING
        await pilot.press("A")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        dialog.query_one("#confirm", Button).press()
        assert await _shown_status(pilot, screen, DeployStatus.ABORTED)
        (d,) = _deployments(db)
        later = {serial for wave in d.plan.waves[1:] for serial in wave}
        assert later, "the plan has waves after the canary"
        await pilot.pause(1.0)
        assert [current(pi) for pi in app.running.lab.pis if pi.serial in later] == [None] * len(
            later
        )
        devices = screen.query_one("#deploy-devices", KeyedTable)
        assert await wait_for(pilot, lambda: devices.row_count == 3, 5.0)


async def test_rollback_key_on_a_history_row_asks_the_version(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, _):
        ports = give_ports(app.running.lab.pis)
        _add(db, tmp_path / "rel", "1.0")
        _add(db, tmp_path / "rel", "2.0")
        screen = await _open(app, pilot)
        releases = screen.query_one("#deploy-releases", KeyedTable)
        assert await wait_for(pilot, lambda: releases.row_count == 2, 10.0)
        for row, version in ((0, "1.0"), (1, "2.0")):
            await pilot.press("1")
            releases.move_cursor(row=row)
            assert str(releases.get_row_at(row)[1]) == version
            await _start(app, pilot, screen)
            await pilot.press(*f"web@{version} 2", "enter")
            assert await _shown_status(pilot, screen, DeployStatus.DONE, f"web@{version}")
        for port in ports.values():
            assert await answers(port, "2.0")
        await pilot.press("3")
        history = screen.query_one("#deploy-history", KeyedTable)
        assert await wait_for(pilot, lambda: history.row_count == 2, 5.0)
        newest = next(i for i in range(2) if "web@2.0" in str(history.get_row_at(i)[3]))
        while history.cursor_row != newest:  # the cursor to the 2.0 deployment's row
            await pilot.press("up" if history.cursor_row > newest else "down")
        await pilot.press("b")
        assert await wait_for(pilot, lambda: isinstance(app.screen, StartDialog))
        asked = app.screen.query_one("#deploy-version", Input)
        assert asked.value == "1.0"  # the version before the one rolled back, editable
        app.screen.query_one("#deploy-batch", Input).value = "100%"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog), 20.0)
        await pilot.press(*"web@1.0 2", "enter")
        assert await _shown_status(pilot, screen, DeployStatus.DONE, "web@1.0")
        assert screen.view.shown is not None and screen.view.shown.kind == "rollback"
        for port in ports.values():
            assert await answers(port, "1.0")
