"""The fleet overview driven by keys, as a technician would: filter, sort, mark, live updates,
open a device, `:` commands, `?` help and the palette. The pipeline is off; a fixed fleet is
posted into the app exactly as the pipeline posts it."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import FLEET, fleet_states, make_app, post_fleet, seed_store, state, wait_for
from textual.widgets import Input

from fleet_tui.app import FleetApp
from fleet_tui.core.models import DeviceState, Health
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen


def fleet(app: FleetApp) -> FleetScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, FleetScreen)
    return screen


def shown(app: FleetApp) -> list[str]:
    s = fleet(app)
    assert s.model is not None
    return [s.model.rows[k].hostname for k in s.table.order]


def cursor_host(app: FleetApp) -> str | None:
    s = fleet(app)
    key = s.table.cursor_key
    return s.model.rows[key].hostname if key and s.model else None


def summary(app: FleetApp) -> str:
    return str(fleet(app).query_one("#fleet-summary").render())


async def started(pilot: object, app: FleetApp, rows: int = 10) -> None:
    states = fleet_states()
    post_fleet(app, states)

    def ready() -> bool:
        s = fleet(app)
        live = s.model is not None and all(
            st.key in s.model.rows and s.model.rows[st.key].state is not None for st in states
        )
        return live and s.table.row_count == rows and not s._pending

    assert await wait_for(pilot, ready)


async def test_rows_show_status_words_and_stored_devices(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        table = fleet(app).table
        status = {
            h: str(table.get_cell(k, "status"))
            for h, k in zip(shown(app), table.order, strict=True)
        }
        assert status["pi-cm4-005"] == "critical"
        assert status["pi-5-002"] == "warn"
        assert status["pi-4b-006"] == "unreachable"
        assert status["pi-old-099"] == "unknown"  # in the database, not contacted this session
        assert status["pi-4b-001"] == "ok"
        assert "2 critical" in summary(app) and "1 unreachable" in summary(app)


async def test_slash_filters_by_regex_and_bang_inverts(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, rows=9)
        await pilot.press("slash", *"pi-5")
        assert await wait_for(pilot, lambda: shown(app) == ["pi-5-002", "pi-5-008"])
        await pilot.press("enter")
        assert fleet(app).query_one("#fleet-filter", Input).has_class("hidden")
        assert "/pi-5" in summary(app)
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"!pi-")  # edit: replace with an inverse
        assert await wait_for(pilot, lambda: len(shown(app)) == 1)
        await pilot.press("enter", "escape")  # esc on the table clears the filter
        assert await wait_for(pilot, lambda: len(shown(app)) == 9)


async def test_field_filters_and_a_bad_regex_keeps_the_last_good_filter(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("slash", *"status:critical")
        assert await wait_for(pilot, lambda: shown(app) == ["pi-3bp-003", "pi-cm4-005"])
        await pilot.press("space", *"(oops")
        await pilot.pause(0.1)
        assert shown(app) == ["pi-3bp-003", "pi-cm4-005"]
        assert "bad regex" in summary(app)
        await pilot.press("escape")  # cancel the edit: back to what it was before `/`
        assert await wait_for(pilot, lambda: len(shown(app)) == 10)
        await pilot.press("slash", *"tag:lab rack:R1", "enter")
        assert await wait_for(pilot, lambda: shown(app) == ["pi-4b-001"])


async def test_sort_keys_and_cursor_stays_on_its_device_through_live_updates(
    tmp_path: Path,
) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, rows=9)
        await pilot.press("s", "s")  # host -> status -> temp
        assert fleet(app).model.sort_key == "temp"  # type: ignore[union-attr]
        assert shown(app)[:2] == ["pi-4b-001", "[bold red]evil[/]\x1b[2J"]
        await pilot.press("S")
        assert shown(app)[0] == "pi-cm4-005"
        await pilot.press(*["up"] * 9)
        for _ in range(9):
            if cursor_host(app) == "pi-5-008":
                break
            await pilot.press("down")
        assert cursor_host(app) == "pi-5-008"
        before = shown(app).index("pi-5-008")
        # pi-5-008 heats up: it moves up the table and the cursor moves with it
        hot = state(7, FLEET[7])
        assert hot.health is not None
        hot.health = Health(**{**hot.health.model_dump(), "temperature_c": 79.0})
        post_fleet(app, [hot])
        assert await wait_for(pilot, lambda: shown(app).index("pi-5-008") < before)
        assert cursor_host(app) == "pi-5-008"
        assert fleet(app).table.row_count == 9  # updated in place, not added again
        assert str(fleet(app).table.get_cell(hot.key, "temp")) == "79.0°C"


async def test_updates_that_do_not_reorder_leave_cursor_and_scroll_alone(tmp_path: Path) -> None:
    states = []
    for i in range(60):
        s = state(0, FLEET[0]).model_copy(update={"key": f"s{i:03d}", "port": 3000 + i}, deep=True)
        assert s.facts is not None
        s.facts.hostname, s.facts.serial = f"pi-{i:03d}", f"s{i:03d}"
        states.append(s)
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app, states)
        table = fleet(app).table
        assert await wait_for(pilot, lambda: table.row_count == 60)
        await pilot.press(*["down"] * 30)
        cursor, scroll = table.cursor_row, table.scroll_y
        assert scroll > 0 and cursor_host(app) == "pi-030"
        for s in states:  # every device reports a new temperature
            assert s.health is not None
            s.health = s.health.model_copy(update={"temperature_c": 61.5})
        post_fleet(app, states)
        assert await wait_for(pilot, lambda: str(table.get_cell("s030", "temp")) == "61.5°C")
        await pilot.pause(0.1)
        assert (table.cursor_row, table.scroll_y) == (cursor, scroll)
        assert cursor_host(app) == "pi-030" and table.row_count == 60


async def test_space_marks_rows_and_marks_survive_filtering(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, rows=9)
        await pilot.press("down", "space", "space")  # marks rows 1 and 2, cursor moves down
        s = fleet(app)
        marked = sorted(s.model.rows[k].hostname for k in s.marked)  # type: ignore[union-attr]
        assert marked == ["pi-3bp-003", "pi-4b-001"]
        assert str(s.table.get_cell(s.table.order[1], "mark")) == "*"
        assert "2 marked" in summary(app)
        assert [t.hostname for t in s.targets()] == ["pi-3bp-003", "pi-4b-001"]
        await pilot.press("slash", *"pi-5", "enter")
        assert "2 marked" in summary(app)
        await pilot.press("escape", "escape")  # first clears the filter, then the marks
        assert not s.marked
        await pilot.press("a")
        assert len(s.marked) == 9
        await pilot.press("u")
        assert not s.marked


async def test_enter_opens_the_device_and_esc_comes_back_to_the_same_row(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("down", "down", "down")
        host = cursor_host(app)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert isinstance(app.screen, DeviceScreen) and app.screen.ref.hostname == host
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert cursor_host(app) == host


async def test_colon_commands_with_aliases_and_errors(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("colon", *"dev pi-5-002", "enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert app.screen.ref.hostname == "pi-5-002"  # type: ignore[attr-defined]
        await pilot.press("colon", *"fl status:critical", "enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert await wait_for(pilot, lambda: shown(app) == ["pi-3bp-003", "pi-cm4-005"])
        await pilot.press("colon", *"frobnicate", "enter")
        await pilot.pause(0.1)
        assert any("unknown command :frobnicate" in str(n.message) for n in app._notifications)
        await pilot.press("colon", *"d pi-", "enter")
        await pilot.pause(0.1)
        assert any("devices match" in str(n.message) for n in app._notifications)
        await pilot.press("colon", *"h", "enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_question_mark_shows_the_keys_of_the_current_screen(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        ids = {k[2] for k in app.screen._keys}  # type: ignore[attr-defined]
        assert {"fleet.filter", "fleet.mark", "fleet.sort", "fleet.reboot", "app.quit"} <= ids
        await pilot.press("escape")
        await pilot.press("enter")  # into a device: its help lists its own keys
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        ids = {k[2] for k in app.screen._keys}  # type: ignore[attr-defined]
        assert {"device.back", "device.edit", "device.identify"} <= ids
        assert "fleet.filter" not in ids
        await pilot.press("question_mark")  # ? again closes it
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))


async def test_palette_runs_screen_commands_and_filters(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        await pilot.press("ctrl+p", *"show status critical")
        await pilot.pause(0.5)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: shown(app) == ["pi-3bp-003", "pi-cm4-005"])
        await pilot.press("ctrl+p", *"open device pi-5-008")
        await pilot.pause(0.5)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))


async def test_states_posted_before_the_screen_exists_are_not_lost(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app, fleet_states()[:3])
        assert await wait_for(pilot, lambda: fleet(app).table.row_count == 3)


async def test_readonly_fleet_refuses_actions_and_hides_them_everywhere(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db", readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        s = fleet(app)
        ids = {b.binding.id for b in s.active_bindings.values()}
        assert "fleet.filter" in ids and not {"fleet.identify", "fleet.reboot"} & ids
        assert "READ-ONLY" in summary(app)
        await pilot.press("space", "i", "R")
        await pilot.pause(0.1)
        assert app.screen is s  # nothing asked, nothing done
        s.action_reboot()  # a direct call (palette, future code) is refused too
        await pilot.pause(0.05)
        assert any("refused: read-only" in n.message for n in app._notifications)
        assert app.screen is s
        assert await palette_hits(pilot, app, "reboot") == []


async def palette_hits(pilot: object, app: FleetApp, query: str) -> list[str]:
    from textual.command import CommandList, CommandPalette

    await pilot.press("ctrl+p", *query)  # type: ignore[attr-defined]
    await pilot.pause(0.5)  # type: ignore[attr-defined]
    palette = app.screen
    assert isinstance(palette, CommandPalette)
    found = palette.query_one(CommandList)
    hits = [str(found.get_option_at_index(i).prompt) for i in range(found.option_count)]
    await pilot.press("escape")  # type: ignore[attr-defined]
    return hits


async def test_palette_offers_reboot_when_not_readonly(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, rows=9)
        assert any(h.startswith("Reboot") for h in await palette_hits(pilot, app, "reboot"))


def candidate_state(port: int, name: str) -> DeviceState:
    """A Pi found on the network whose agent has not answered: core's provisional identity."""
    return DeviceState(
        key=f"candidate:127.0.0.1:{port}",
        endpoint=f"127.0.0.1:{port}",
        address="127.0.0.1",
        port=port,
        name=name,
    )


async def test_a_candidate_row_becomes_its_serial_keeping_mark_and_cursor(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app, rows=9)
        s = fleet(app)
        table = s.table
        connecting = candidate_state(2299, "pi-new-010")
        post_fleet(app, [connecting])
        assert await wait_for(pilot, lambda: table.row_count == 10)
        assert str(table.get_cell(connecting.key, "status")) == "unknown"
        await pilot.press(*["up"] * 10)
        for _ in range(10):
            if cursor_host(app) == "pi-new-010":
                break
            await pilot.press("down")
        await pilot.press("space", "up")  # mark it (the cursor moves down), back onto it
        assert s.marked == {connecting.key} and cursor_host(app) == "pi-new-010"
        await pilot.press("i")  # no verified serial: refused, no dialog
        await pilot.pause(0.1)
        assert app.screen is s
        assert any("no verified serial" in n.message for n in app._notifications)

        # its agent answers: core re-keys it to its serial and says which key it replaces
        answered = state(0, FLEET[0]).model_copy(
            update={
                "key": "10000000a0000010",
                "replaces": connecting.key,
                "endpoint": connecting.endpoint,
                "port": connecting.port,
                "name": connecting.name,
            },
            deep=True,
        )
        assert answered.facts is not None
        answered.facts.hostname, answered.facts.serial = "pi-new-010", answered.key
        later = answered.model_copy(update={"replaces": None}, deep=True)  # the next reading
        post_fleet(app, [answered, later])
        assert await wait_for(pilot, lambda: answered.key in table.order and not s._pending)
        assert s.model is not None and connecting.key not in s.model.rows
        assert connecting.key not in table.order and table.row_count == 10  # one row remains
        assert s.marked == {answered.key} and str(table.get_cell(answered.key, "mark")) == "*"
        assert cursor_host(app) == "pi-new-010" and table.cursor_key == answered.key
        assert [t.key for t in s.targets()] == [answered.key]
        assert connecting.key not in app.live_states()


async def test_a_device_moving_or_reconnecting_keeps_its_table_row(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        await started(pilot, app)
        s = fleet(app)
        table = s.table
        removed: list[object] = []
        added: list[object] = []
        remove_row, add_row = table.remove_row, table.add_row
        table.remove_row = lambda key: (removed.append(key), remove_row(key))[1]  # type: ignore[method-assign]
        table.add_row = lambda *c, **kw: (added.append(kw.get("key")), add_row(*c, **kw))[1]  # type: ignore[method-assign]
        moved = state(1, FLEET[1]).model_copy(
            update={"endpoint": "10.0.0.52:22", "address": "10.0.0.52", "port": 22}
        )
        down = state(2, FLEET[2]).model_copy(update={"reachable": False, "error": "link lost"})
        post_fleet(app, [moved, down])
        assert await wait_for(
            pilot,
            lambda: str(table.get_cell(moved.key, "address")) == "10.0.0.52",  # port 22 not shown
        )
        assert await wait_for(
            pilot, lambda: str(table.get_cell(down.key, "status")) == "unreachable"
        )
        post_fleet(app, [state(2, FLEET[2])])  # reconnected
        assert await wait_for(
            pilot, lambda: str(table.get_cell(down.key, "status")) != "unreachable"
        )
        assert removed == [] and added == [] and table.row_count == 10
