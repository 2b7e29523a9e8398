"""The user's config file: key remaps by binding id, `:` aliases, thresholds, low-bandwidth;
and the `:` table staying open to screens that register later."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_tui_support import make_app, post_fleet, wait_for

from fleet_tui import cli
from fleet_tui.app import FleetApp
from fleet_tui.config import load_config
from fleet_tui.keymap import build_keymap, known_bindings
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.common import registry
from fleet_tui.screens.fleet.fleet import FleetScreen


@pytest.fixture
def clean_registry() -> Iterator[None]:
    saved = dict(registry._COMMANDS)
    yield
    registry._COMMANDS.clear()
    registry._COMMANDS.update(saved)
    registry.set_user_aliases({})


def test_config_file_values_defaults_and_problems(tmp_path: Path) -> None:
    cfg, problems = load_config(tmp_path / "missing.toml")
    assert problems == [] and cfg.refresh.poll == 2.0 and cfg.status.temp_critical_c == 80
    path = tmp_path / "config.toml"
    path.write_text(
        'low_bandwidth = true\n[refresh]\nlow_bandwidth_poll = 30\n[keys]\n"fleet.filter" = "f"\n'
        '[aliases]\nhot = "fleet status:critical"\n[status]\ntemp_warn_c = 65\n'
        '[sync]\npeer = "jump:fleet.db"\n',  # another part's section is left alone
        encoding="utf-8",
    )
    cfg, problems = load_config(path)
    assert problems == []
    assert cfg.low_bandwidth and cfg.poll_interval(True) == 30 and cfg.table_interval(True) == 2.0
    assert cfg.keys == {"fleet.filter": "f"} and cfg.aliases["hot"] == "fleet status:critical"
    assert cfg.status.temp_warn_c == 65
    path.write_text("[status]\ntemp_warn_c = 95\n", encoding="utf-8")  # above critical
    cfg, problems = load_config(path)
    assert cfg.status.temp_warn_c == 70 and "above" in problems[0]
    path.write_text("[keys\n", encoding="utf-8")
    cfg, problems = load_config(path)
    assert problems and "using defaults" in problems[0]


def test_keymap_validation() -> None:
    known = known_bindings(FleetApp)
    assert {"app.quit", "app.help", "app.command", "fleet.filter", "device.reboot"} <= set(known)
    keymap, problems = build_keymap(
        {"fleet.filter": "f", "fleet.nothing": "z", "fleet.sort": "ctrl r", "fleet.mark": "s"},
        known,
    )
    assert keymap["fleet.filter"] == "f"
    assert "fleet.nothing" not in keymap and any("no binding has this id" in p for p in problems)
    assert any("'ctrl r' is not a key list" in p for p in problems)
    assert any("'s' is bound to fleet.mark and fleet.sort" in p for p in problems)


def test_keys_command_lists_binding_ids(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["keys"]) == 0
    out = capsys.readouterr().out
    assert "fleet.filter" in out and "device.reboot" in out


async def test_remapped_keys_work_and_help_shows_them(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db", keymap={"fleet.filter": "f", "app.help": "f1"})
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: fleet.table.row_count == 9)
        await pilot.press("slash")
        assert fleet.query_one("#fleet-filter").has_class("hidden")  # `/` no longer filters
        await pilot.press("f")
        assert not fleet.query_one("#fleet-filter").has_class("hidden")
        await pilot.press("escape", "f1")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        keys = {bid: key for key, _, bid in app.screen._keys}  # type: ignore[attr-defined]
        assert keys["fleet.filter"] == "f"


async def test_user_aliases_and_screens_registered_later(
    tmp_path: Path, clean_registry: None
) -> None:
    assert registry.set_user_aliases({"hot": "fleet status:critical", "fleet": "device"}) == [
        "alias 'fleet' shadows the built-in :fleet; ignored"
    ]
    opened: list[str] = []
    registry.register_command(
        registry.CommandSpec(
            "racks",
            ("rk",),
            "Rack elevation",
            "racks with health",
            lambda app, arg: opened.append(arg),
            argument="[RACK]",
        )
    )
    assert "rk" in registry.words() and "hot" in registry.words()
    with pytest.raises(ValueError):
        registry.register_command(
            registry.CommandSpec("thermal", ("rk",), "x", "x", lambda a, b: None)
        )
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: fleet.table.row_count == 9)
        await pilot.press("colon", *"hot", "enter")
        assert await wait_for(pilot, lambda: fleet.table.row_count == 2)
        await pilot.press("colon", *"rk R1", "enter")
        assert await wait_for(pilot, lambda: opened == ["R1"])
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        aliases = {name: also for name, _, also in app.screen.commands}  # type: ignore[attr-defined]
        assert aliases[":racks"] == ":rk" and aliases[":hot"] == "your alias"


async def test_a_broken_screen_module_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fleet_tui import screens

    broken = tmp_path / "pkg"
    broken.mkdir()
    (broken / "zz_broken.py").write_text("raise RuntimeError('half-written screen')\n")
    monkeypatch.setattr(screens, "__path__", [*screens.__path__, str(broken)])
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(
            pilot, lambda: any("half-written screen" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, FleetScreen)
