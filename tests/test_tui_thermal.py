"""The :thermal, :power and :policies screens: what a technician sees at 80x24 from a seeded
fleet, the keys (trend span, fan, policy on/off with a confirmation), --readonly refusing
edits, and the fan key on a live simulated Pi 5."""

from __future__ import annotations

import sys
from pathlib import Path

from test_tui_layout import screen_lines
from test_tui_support import FLEET, command_line, live_demo, make_app, post_fleet, utc, wait_for
from thermal_tui_support import seed_thermal

from fleet_tui.core.policies.book import PolicyBook
from fleet_tui.core.sim.pi_paths import fan_hwmon_dir
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.text_lines import TextLines
from fleet_tui.screens.thermal.policies import PoliciesScreen
from fleet_tui.screens.thermal.power import PowerScreen
from fleet_tui.screens.thermal.thermal import ThermalScreen

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from bench_thermal import build_db  # noqa: E402  (a room of racks, as the benchmark builds)

_ = utc


async def _open(pilot, line: str, screen: type, table: str, rows: int) -> None:  # type: ignore[no-untyped-def]
    post_fleet(pilot.app)
    await command_line(pilot, line)
    assert await wait_for(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, screen)
            and pilot.app.screen.query_one(table, KeyedTable).row_count >= rows
        ),
    )
    await pilot.pause(0.2)


async def test_thermal_heat_map_hottest_trend_and_ambient(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_thermal(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "thermal", ThermalScreen, "#thermal-hot", 7)
        text = "\n".join(screen_lines(app))
        assert "R1 (lab) · inlet 24 °C, top of rack 31 °C" in text
        assert "U12 48°C ok" in text and "83°C critical" in text and "75°C hot" in text
        assert "R2 (lab) · [red]probe[/] 27 °C" in text  # a sensor's name, literally
        assert "1 critical · 1 hot · 2 warm · 1 throttled now · 1 policy firing" in text
        table = app.screen.query_one("#thermal-hot", KeyedTable)
        assert table.order[0] == FLEET[4][1]  # the hottest first
        assert "pi-cm4-005: 83.1 °C >= 80; policy hot firing" in text
        assert " 1 h    83.1°C" in text
        await pilot.press("t")
        assert await wait_for(pilot, lambda: " 24 h   83.1°C" in "\n".join(screen_lines(app)))
        await pilot.press("down", "down", "down")  # pi-3bp-003: throttled and under-voltage now
        assert await wait_for(
            pilot,
            lambda: "pi-3bp-003: now: under-voltage, throttled" in "\n".join(screen_lines(app)),
        )
        assert "UV,thr" in "\n".join(screen_lines(app))
        await pilot.press("F")  # a Pi 3B+: refused, nothing started
        await pilot.pause(0.1)
        assert any("fan control is for a Pi 5's fan" in str(n.message) for n in app._notifications)


async def test_power_draw_against_budget_measured_apart(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_thermal(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "power", PowerScreen, "#power-devices", 9)
        text = "\n".join(screen_lines(app))
        assert "2 measured · 6 estimated · 1 under-voltage now" in text
        assert "17.6 W (6.2 measured + 11.4 estimate)" in text and "88% of 20 W" in text
        assert "poe sw1-p3     6.2 W (measured)" in text
        assert "pi-5-002         6.2    measured" in text
        assert "pi-3bp-003       2.7    estimate  now" in text
        assert "Outlets: poe sw1-p3 state not recorded" in text


async def test_policies_toggle_with_confirmation_and_readonly(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_thermal(db)
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "policies", PoliciesScreen, "#policies-table", 6)
        text = "\n".join(screen_lines(app))
        assert "hot fired: temperature 83.1 °C" in text and "hot cleared" in text
        assert "read-only" in text
        await pilot.press("space")
        await pilot.pause(0.2)
        assert isinstance(app.screen, PoliciesScreen)  # no dialog: refused
    with Store.open(db) as store:
        assert PolicyBook(store).get("ambient-hot").enabled
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "policies", PoliciesScreen, "#policies-table", 6)
        await pilot.press("space")  # ambient-hot, the first row
        await pilot.pause(0.2)
        assert await wait_for(pilot, lambda: app.screen.query("#confirm"))
        await pilot.press("enter")  # the dialog's action button, focused
        table = app.screen.query_one("#policies-table", KeyedTable)
        assert await wait_for(pilot, lambda: "no" in str(table.get_row("ambient-hot")[1]))
    with Store.open(db) as store:
        assert not PolicyBook(store).get("ambient-hot").enabled
        said = [e.message for e in EventLog(store).recent() if e.kind == "policy"]
    assert any(m.startswith("policy ambient-hot disabled by ") for m in said)


async def test_fan_key_on_a_live_pi5(tmp_path: Path) -> None:
    async with live_demo(tmp_path / "fleet.db") as (app, pilot, _fleet):
        pi5 = app.config.lab.pis[1]
        assert pi5.model.has_fan
        fan = fan_hwmon_dir(pi5.root)
        await command_line(pilot, "thermal")
        assert await wait_for(
            pilot,
            lambda: (
                isinstance(app.screen, ThermalScreen)
                and app.screen.view is not None
                and pi5.serial in app.screen.view.by_serial
            ),
            15.0,
        )
        table = app.screen.query_one("#thermal-hot", KeyedTable)
        table.move_cursor(row=table.order.index(pi5.serial))
        await pilot.press("F")
        assert await wait_for(pilot, lambda: (fan / "pwm1_enable").read_text().strip() == "1", 15)
        assert (fan / "pwm1").read_text().strip() == "255"
        assert await wait_for(
            pilot,
            lambda: (
                app.screen.view is not None
                and app.screen.view.by_serial[pi5.serial].fan_mode == "manual"
            ),
            15.0,
        )
        await pilot.press("F")
        assert await wait_for(pilot, lambda: (fan / "pwm1_enable").read_text().strip() == "2", 15)


async def test_thermal_draws_the_racks_on_screen_and_scrolls_to_the_others(
    tmp_path: Path, utc: None
) -> None:
    """Twelve racks: the first is drawn at once, the ones below the fold only once scrolled to
    (the heat maps are one line-by-line widget), and every rack is there to scroll to (racks
    in name order: R9 is the last)."""
    db = tmp_path / "fleet.db"
    build_db(db, 96, 12, 400)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "thermal")
        assert await wait_for(
            pilot,
            lambda: isinstance(app.screen, ThermalScreen) and app.screen.view is not None,
        )
        await pilot.pause(0.2)
        maps = app.screen.query_one("#thermal-maps", TextLines)
        text = "\n".join(screen_lines(app))
        assert "R1 (hall) · inlet 23 °C, top of rack 30 °C" in text
        assert "R9 (hall)" not in text and "R9 (hall)" in maps.plain
        drawn = len(maps._cache)
        assert 0 < drawn <= maps.size.height  # not the other racks' lines
        maps.scroll_end(animate=False, immediate=True)
        assert await wait_for(pilot, lambda: "R9 (hall)" in "\n".join(screen_lines(app)))
        assert "narrow: o w h c" in "\n".join(screen_lines(app))  # the legend, last


async def test_policies_say_in_one_line_when_nothing_has_fired(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    Store.open(db).close()  # a fleet database where no policy ever fired
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot, "policies", PoliciesScreen, "#policies-table", 1)
        text = "\n".join(screen_lines(app))
        assert "no policy has fired or cleared yet" in text
        assert "Message" not in text  # no empty table of headers
        with Store.open(db) as store:
            EventLog(store).record(None, "policy", "policy hot fired: temperature 81.0 °C")
        await pilot.press("r")
        assert await wait_for(
            pilot, lambda: "policy hot fired: temperature 81.0" in "\n".join(screen_lines(app))
        )
        text = "\n".join(screen_lines(app))
        assert "Message" in text and "no policy has fired or cleared yet" not in text
