"""Power from the TUI against the SNMP-powered lab: `P` on the fleet table, confirmed by
typing, switches a real (simulated) PoE port through the TUI's own operation runner; the same
key in --readonly does nothing; `o` on the rack screen links an outlet and the status line
names it."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_tui_support import live_rows, wait_for

from fleet_tui.app import FleetApp
from fleet_tui.core.fleet.runtime import FleetConfig
from fleet_tui.core.sim.lab import LabOptions, PowerOptions
from fleet_tui.core.store.database import Store
from fleet_tui.demo import DEMO_COMMUNITY_ENV
from fleet_tui.demo.racks import RackedLab
from fleet_tui.screens.common.context import UiOptions
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.operations.power_menu import PowerMenu

COMMUNITY = "tui-power-community"


def _app(db: Path, readonly: bool = False) -> tuple[FleetApp, RackedLab]:
    options = LabOptions(power=PowerOptions(community=COMMUNITY, boot_s=0.5))
    lab = RackedLab(2, db=db, options=options)
    config = FleetConfig(db_path=db, lab=lab, poll_interval=0.5)
    ui = UiOptions(flush_seconds=0.1, animate=False, readonly=readonly)
    return FleetApp(config, ui, start_backend=True), lab


@pytest.fixture(autouse=True)
def _community(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEMO_COMMUNITY_ENV, COMMUNITY)


async def test_p_powers_the_selected_pi_off_hard_with_cut_typed_out(tmp_path: Path) -> None:
    app, lab = _app(tmp_path / "demo.db")
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: live_rows(fleet) == 2, 30.0)
        key = fleet.table.cursor_key
        pi = next(p for p in lab.pis if p.serial == key)
        await pilot.press("P")
        assert await wait_for(pilot, lambda: isinstance(app.screen, PowerMenu))
        await pilot.press("h")  # off --hard
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")  # nothing typed yet: not confirmed
        await pilot.pause(0.2)
        assert pi.powered
        await pilot.press(*"cut 1", "enter")
        assert await wait_for(pilot, lambda: not pi.powered, 20.0)
        other = next(p for p in lab.pis if p is not pi)
        assert other.powered
    with Store.open(tmp_path / "demo.db") as store:
        ops = store.rows("operations")
        assert [o["kind"] for o in ops] == ["power_off"] and ops[0]["status"] == "done"


async def test_readonly_p_does_nothing(tmp_path: Path) -> None:
    app, lab = _app(tmp_path / "demo.db", readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        fleet = app.screen_stack[0]
        assert await wait_for(pilot, lambda: live_rows(fleet) == 2, 30.0)
        await pilot.press("P")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, PowerMenu)
        assert all(pi.powered for pi in lab.pis)


async def test_rack_screen_names_the_outlet_and_o_links_another(tmp_path: Path) -> None:
    from test_tui_support import command_line

    from fleet_tui.screens.racks.outlet_dialog import OutletDialog
    from fleet_tui.screens.racks.rack import RackScreen

    app, lab = _app(tmp_path / "demo.db")
    async with app.run_test(size=(120, 40)) as pilot:
        fleet = app.screen_stack[0]
        assert await wait_for(pilot, lambda: live_rows(fleet) == 2, 30.0)
        await command_line(pilot, "rack R1")
        assert await wait_for(pilot, lambda: isinstance(app.screen, RackScreen))
        screen = app.screen
        assert isinstance(screen, RackScreen)

        def where() -> str:
            return str(screen.query_one("#rack-where").render())

        for _ in range(4):  # from the switch at the top down to the first Pi
            if screen.selected_serial() is not None:
                break
            await pilot.press("down")
        assert await wait_for(pilot, lambda: "outlet demo-sw-p" in where(), 10.0), where()
        serial = screen.selected_serial()
        mine = "demo-sw-p1" if serial == lab.pis[0].serial else "demo-sw-p2"
        other = "demo-sw-p2" if mine == "demo-sw-p1" else "demo-sw-p1"
        assert other not in where()
        await pilot.press("o")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OutletDialog))
        await pilot.press("down" if other == "demo-sw-p2" else "home", "enter")
        assert await wait_for(pilot, lambda: other in where() and mine in where(), 10.0), where()
    with Store.open(tmp_path / "demo.db") as store:
        row = store.get_row("outlets", other)
        assert row is not None and row["serial"] == serial


async def test_outlet_dialog_defines_an_snmp_v3_outlet_with_key_variables_only(
    tmp_path: Path,
) -> None:
    """`o` on the rack screen, a new PDU outlet over SNMP v3: user, auth and priv protocols and
    the names of the variables holding the keys; checked as `outlet add --snmp 3` is (a key
    typed where a variable name goes is refused, nothing written), then linked."""
    from test_tui_support import command_line, make_app
    from textual.widgets import Button, Input, Select, Static
    from walk_support import PI1, build_rack

    from fleet_tui.screens.racks.outlet_dialog import OutletDialog
    from fleet_tui.screens.racks.rack import RackScreen

    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        build_rack(store)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await command_line(pilot, "rack R2")
        assert await wait_for(pilot, lambda: isinstance(app.screen, RackScreen))
        screen = app.screen
        assert isinstance(screen, RackScreen)
        for _ in range(6):
            if screen.selected_serial() == PI1:
                break
            await pilot.press("down")
        assert screen.selected_serial() == PI1
        await pilot.press("o")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OutletDialog))
        dialog = app.screen
        assert not dialog.query_one("#outlet-v3").display  # v2c first: a community variable
        for widget_id, value in (("name", "pdu-a1"), ("host", "127.0.0.1:1161"), ("number", "4")):
            dialog.query_one(f"#outlet-{widget_id}", Input).value = value
        dialog.query_one("#outlet-kind", Select).value = "pdu"
        dialog.query_one("#outlet-snmp", Select).value = "3"
        await pilot.pause(0.1)
        assert dialog.query_one("#outlet-v3").display
        assert not dialog.query_one("#outlet-env").display
        dialog.query_one("#outlet-user", Input).value = "tech"
        dialog.query_one("#outlet-auth", Select).value = "sha256"
        dialog.query_one("#outlet-auth-env", Input).value = "s3cret key!"  # a key, not a name
        dialog.query_one("#outlet-priv", Select).value = "aes"
        dialog.query_one("#outlet-priv-env", Input).value = "PDU_PRIV"
        dialog.query_one("#outlet-add", Button).press()
        await pilot.pause(0.2)
        problem = str(dialog.query_one("#outlet-problem", Static).render())
        assert isinstance(app.screen, OutletDialog) and "--auth-key-env" in problem, problem
        dialog.query_one("#outlet-auth-env", Input).value = "PDU_AUTH"
        dialog.query_one("#outlet-add", Button).press()
        assert await wait_for(pilot, lambda: not isinstance(app.screen, OutletDialog))

        def linked() -> dict | None:
            with Store.open(db) as store:
                return store.get_row("outlets", "pdu-a1")

        assert await wait_for(pilot, lambda: linked() is not None, 10.0)
    row = linked()
    assert row is not None and row["serial"] == PI1 and row["snmp_version"] == "3"
    assert (row["snmp_user"], row["auth_proto"], row["auth_key_env"]) == (
        "tech",
        "sha256",
        "PDU_AUTH",
    )
    assert (row["priv_proto"], row["priv_key_env"], row["community_env"]) == (
        "aes",
        "PDU_PRIV",
        None,
    )
    assert b"s3cret" not in db.read_bytes()
