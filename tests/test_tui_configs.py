"""The `:config` screen on a simulated lab (real SSH, the real agent): the devices' three
ways, a push from the screen after a confirmation, drift after a hand edit, read-only."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import command_line, live_demo, make_app, seed_store, wait_for
from textual.widgets import Static

from fleet_tui.core.configs.book import ConfigBook
from fleet_tui.core.store.database import Store
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.deploy.configs import ConfigScreen

TEMPLATE = "host=${device.hostname}\nvalid=yes\n"


def _add_config(db: Path) -> None:
    with Store.open(db) as store:
        ConfigBook(store).add(
            "app", "/etc/app/app.conf", TEMPLATE, author="t", validate="grep -q valid=yes %s"
        )


def _states(screen: ConfigScreen) -> dict[str, str]:
    return {v.name: v.state for v in screen.views.values()}


def _diff_text(screen: ConfigScreen) -> str:
    return str(screen.query_one("#config-diff", Static).render())


async def test_push_from_the_screen_then_drift_after_a_hand_edit(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    async with live_demo(db) as (app, pilot, _fleet):
        lab = app.config.lab
        assert lab is not None
        for pi in lab.pis:
            (pi.root / "etc/app").mkdir(parents=True, exist_ok=True)
        _add_config(db)
        await command_line(pilot, "config app")
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        names = {pi.hostname for pi in lab.pis}
        assert await wait_for(pilot, lambda: set(_states(screen)) == names, 20.0)
        assert set(_states(screen).values()) == {"never-pushed"}

        await pilot.press("P")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # "Push" has the focus: not a dangerous kind
        files = [pi.root / "etc/app/app.conf" for pi in lab.pis]
        assert await wait_for(pilot, lambda: all(f.exists() for f in files), 30.0)
        assert files[0].read_text() == f"host={lab.pis[0].hostname}\nvalid=yes\n"
        assert await wait_for(pilot, lambda: set(_states(screen).values()) == {"in-sync"}, 30.0), (
            _states(screen)
        )

        files[0].write_text("host=edited by hand\n\x1b[31mred\n")
        await pilot.press("r")
        first = lab.pis[0].hostname
        assert await wait_for(pilot, lambda: _states(screen).get(first) == "drift", 20.0)
        table = screen.query_one("#config-devices")
        table.focus()
        while screen.view is None or screen.view.name != first:
            await pilot.press("down")
        text = _diff_text(screen)
        assert "drift: on the device vs pushed v1" in text
        assert "+\\x1b[31mred" in text and "\x1b" not in text


async def test_readonly_hides_push_and_rollback(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db, samples=False)
    _add_config(db)
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "config")
        screen = app.screen
        assert isinstance(screen, ConfigScreen)
        assert await wait_for(pilot, lambda: bool(screen.views))
        await pilot.press("P")
        await pilot.pause(0.2)
        assert app.screen is screen  # no dialog: refused
        assert not screen.check_action("push", ())
        # without a pipeline the devices' files are unknown, and say why
        assert set(_states(screen).values()) == {"unreadable"}
