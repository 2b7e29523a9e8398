"""A snapshot of the `:deploy` screen at 80×24: a deployment stopped after its canary (a
progress bar per wave, the devices' steps, a hostile step output shown literally), a release
whose content is elsewhere, the clock frozen. Update after a deliberate change:
pytest --snapshot-update (look at it first)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deploy_support import make_release
from test_tui_support import NOW, command_line, make_app, utc, wait_for

from fleet_tui.app import FleetApp
from fleet_tui.core.deploy.releases import ReleaseBook
from fleet_tui.core.deploy.steps import DeploymentBook, DeploymentRecord, DeployStatus, Plan
from fleet_tui.core.store.database import Store
from fleet_tui.screens.deploy.deploy import DeployScreen

_ = utc
Compare = Callable[..., bool]


def seed_deployment(db: Path, base: Path) -> str:
    """web@1.0 here, web@2.0 known from a merge with its content elsewhere, a deployment of
    web@1.0 to three Pis stopped after its canary failed (a hostile output in its reason)."""
    with Store.open(db) as store:
        release, _ = ReleaseBook(store).add(make_release(base, "1.0"))
        store.set_row(
            "releases",
            "web@2.0",
            name="web",
            version="2.0",
            manifest=json.dumps(release.manifest.to_json() | {"version": "2.0"}),
            sha256="ab" * 32,
            created=NOW,
            files=4,
            size=200_000,
            who="bo@laptop",
        )
        book = DeploymentBook(store)
        plan = Plan(
            release="web@1.0",
            filter="tag:lab",
            waves=[["S1"], ["S2"], ["S3"]],
            hostnames={"S1": "pi-canary", "S2": "pi-two", "S3": "pi-three"},
            canary=1,
        )
        d = DeploymentRecord(
            id="d20240501-120000-beef",
            release_id="web@1.0",
            status=DeployStatus.STOPPED,
            plan=plan,
            created=NOW - 60,
            finished=NOW - 30,
            who="ana@laptop",
            message="1 device(s) failed in the canary, more than --max-failures 0",
        )
        book.create(d)
        book.record_step(d.id, "S1", "preflight", "ok", "on nothing yet", 0.4, 0)
        book.record_step(d.id, "S1", "send", "ok", "4 of 4 files sent", 1.2, 0)
        book.record_step(d.id, "S1", "health", "failed", "[red]boom\x1b[2J exited 1", 4.0, 0)
    return d.id


def _app(tmp_path: Path, **kwargs: Any) -> FleetApp:
    db = tmp_path / "fleet.db"
    seed_deployment(db, tmp_path / "rel")
    app = make_app(db, **kwargs)
    app.sub_title = "fleet.db"
    return app


def _deploy(*keys: str) -> Callable[[Any], Any]:
    async def run(pilot: Any) -> None:
        app = pilot.app
        await command_line(pilot, "deploy")

        def ready() -> bool:
            s = app.screen
            return isinstance(s, DeployScreen) and s.view.shown is not None

        assert await wait_for(pilot, ready)
        await pilot.pause(0.1)
        if keys:
            await pilot.press(*keys)
        await pilot.pause(0.3)

    return run


def test_deploy_releases_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    """web@1.0 here, web@2.0 elsewhere."""
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=_deploy())


def test_deploy_stopped_after_the_canary_at_80x24(
    snap_compare: Compare, tmp_path: Path, utc: None
) -> None:
    """Three wave bars, the canary failed at its health check (its output literal)."""
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=_deploy("2"))
