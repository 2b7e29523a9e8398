"""Device detail: facts, last-hour health, throttle history, events, host key, editing, and
identify/reboot behind a confirmation (refused in --readonly)."""

from __future__ import annotations

from pathlib import Path

from test_tui_support import FLEET, NOW, make_app, post_fleet, seed_store, state, utc, wait_for
from textual.widgets import Button, DataTable, Input, Static, TextArea

from fleet_tui.app import FleetApp
from fleet_tui.core.models import DeviceState, Health
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.device.device_edit import EditDeviceDialog
from fleet_tui.screens.device.device_panels import FactsPanel, MetricLine
from fleet_tui.screens.fleet.fleet import FleetScreen

_ = utc
SERIAL = FLEET[0][1]


async def open_first(pilot: object, app: FleetApp) -> DeviceScreen:
    post_fleet(app)
    fleet = app.screen_stack[0]
    assert isinstance(fleet, FleetScreen)
    assert await wait_for(
        pilot,
        lambda: (
            fleet.model is not None
            and SERIAL in fleet.model.rows
            and fleet.model.rows[SERIAL].state is not None
        ),
    )
    fleet.open_row(SERIAL)
    assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
    screen = app.screen
    assert isinstance(screen, DeviceScreen)
    assert await wait_for(pilot, lambda: screen.detail.record is not None)
    return screen


def text(screen: DeviceScreen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_detail_shows_facts_health_history_events_and_host_key(
    tmp_path: Path, utc: None
) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot, app)
        assert "pi-4b-001 (front door)  ok" in text(screen, "#device-title")
        facts = screen.query_one("#device-facts", FactsPanel).plain
        assert SERIAL in facts and "bookworm" in facts and "R1" in facts
        # the live reading (newer than every stored sample) is shown by the next live flush
        assert await wait_for(pilot, lambda: "48.3°C" in text(screen, "#metric-temperature_c"))
        spark = screen.query_one("#metric-temperature_c", MetricLine)
        assert len(spark.readings) == 121  # an hour of samples + live
        events = screen.query_one("#device-events", DataTable)
        assert events.row_count == 2
        throttle = screen.query_one("#device-throttle", DataTable)
        rows = [[str(c) for c in throttle.get_row_at(i)] for i in range(throttle.row_count)]
        assert ["09:30:00", "under_voltage, throttled", "under_voltage, throttled"] in rows
        assert "SHA256:" in text(screen, "#hostkey-pinned")
        assert screen.query_one("#device-keys", DataTable).row_count == 1


async def test_live_health_moves_the_sparkline_and_the_status(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot, app)
        spark = screen.query_one("#metric-temperature_c", MetricLine)
        before = len(spark.readings)
        hot = state(0, FLEET[0])
        assert hot.health is not None
        hot.health = hot.health.model_copy(update={"time": NOW + 2, "temperature_c": 85.5})
        post_fleet(app, [hot])
        assert await wait_for(pilot, lambda: "critical" in text(screen, "#device-title"))
        assert "temp 85.5°C ≥ 80" in text(screen, "#device-title")
        assert len(spark.readings) == before + 1 and spark.readings[-1][1] == 85.5
        assert "85.5°C" in text(screen, "#metric-temperature_c")


async def test_a_pi_with_a_fan_shows_its_fan_line_and_one_without_does_not(
    tmp_path: Path,
) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot, app)
        row = screen.query_one("#metric-fan_rpm")
        assert not row.display  # no fan reading this hour
        # a rule with the title, then seven metrics
        assert screen.query_one("#device-health").outer_size.height == 8
        cooled = state(0, FLEET[0])
        assert cooled.health is not None
        fan = {"kind": "cooling_fan", "rpm": 3120, "pwm": 97, "mode": "auto"}
        cooled.health = Health.model_validate(
            {**cooled.health.model_dump(), "time": NOW + 2, "fan": fan}
        )
        post_fleet(app, [cooled])
        assert await wait_for(pilot, lambda: "3120rpm" in text(screen, "#metric-fan_rpm"))
        assert row.display
        await pilot.pause(0.05)
        assert screen.query_one("#device-health").outer_size.height == 9
        assert screen.query_one("#device-top").outer_size.height == 9  # the facts beside it
        assert "48.3°C" in text(screen, "#metric-temperature_c")  # the other lines stay
        assert "Power" in text(screen, "#metric-power_w")


async def test_edit_label_tags_notes_saves_to_the_store_and_logs_it(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot, app)
        await pilot.press("e")
        assert await wait_for(pilot, lambda: isinstance(app.screen, EditDeviceDialog))
        dialog = app.screen
        label = dialog.query_one("#edit-label", Input)
        assert label.value == "front door"
        label.value = "rack A, unit 1"
        dialog.query_one("#edit-tags", Input).value = "lab bad tag!"
        await pilot.press("ctrl+s")
        assert await wait_for(
            pilot, lambda: "tag" in str(dialog.query_one("#edit-problem").render())
        )
        assert isinstance(app.screen, EditDeviceDialog)  # stays open until it is right
        dialog.query_one("#edit-tags", Input).value = "lab, spare"
        dialog.query_one("#edit-notes", TextArea).text = "PoE from switch port 7"
        await pilot.press("ctrl+s")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert await wait_for(
            pilot,
            lambda: (
                screen.detail.record is not None and screen.detail.record.label == "rack A, unit 1"
            ),
        )
        assert "rack A, unit 1" in text(screen, "#device-title")
        assert "PoE from switch port 7" in text(screen, "#device-notes")
    with Store.open(db, readonly=True) as store:
        rec = DeviceBook(store).get(SERIAL)
        assert rec is not None and rec.label == "rack A, unit 1" and rec.tags == ["lab", "spare"]
        assert rec.notes == "PoE from switch port 7"
        edits = [
            e for e in EventLog(store).recent(SERIAL) if e.kind == "edit" and "rack A" in e.message
        ]
        assert len(edits) == 1


async def test_reboot_needs_the_hostname_typed_and_esc_cancels(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_first(pilot, app)
        await pilot.press("R")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        dialog = app.screen
        confirm = dialog.query_one("#confirm", Button)
        assert confirm.disabled
        await pilot.press(*"pi-4b-00")
        assert confirm.disabled
        await pilot.press("escape")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
    with Store.open(db, readonly=True) as store:
        assert not [e for e in EventLog(store).recent(SERIAL) if e.kind.startswith("reboot")]


async def test_an_action_on_an_unconnected_device_fails_in_one_notification(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_first(pilot, app)
        await pilot.press("R")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press(*"pi-4b-001", "enter")
        assert await wait_for(
            pilot, lambda: any("Reboot: not started" in n.title for n in app._notifications)
        )
        note = next(n for n in app._notifications if "Reboot" in n.title)
        assert "no live connection" in note.message and note.severity == "error"
        assert "pi-4b-001" in note.message
    with Store.open(db, readonly=True) as store:  # nothing was asked of the device
        assert "reboot" not in [e.kind for e in EventLog(store).recent(SERIAL)]


async def test_readonly_hides_and_refuses_edit_identify_reboot(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_first(pilot, app)
        shown = {b.binding.id for b in screen.active_bindings.values()}
        assert "device.back" in shown
        assert not {"device.edit", "device.identify", "device.reboot"} & shown
        assert "READ-ONLY" in text(screen, "#device-title")
        await pilot.press("e", "i", "R")
        await pilot.pause(0.1)
        assert app.screen is screen  # no dialog opened
        screen.action_edit()  # even called directly (palette, a future caller), it refuses
        await pilot.pause(0.05)
        assert any("read-only" in n.message for n in app._notifications)
        assert app.screen is screen
    with Store.open(db, readonly=True) as store:
        rec = DeviceBook(store).get(SERIAL)
        assert rec is not None and rec.label == "front door"


async def test_a_candidates_screen_follows_it_to_its_serial(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=(80, 24)) as pilot:
        connecting = DeviceState(
            key="candidate:127.0.0.1:2201",
            endpoint="127.0.0.1:2201",
            address="127.0.0.1",
            port=2201,
            name="pi-4b-001",
        )
        post_fleet(app, [connecting])
        fleet = app.screen_stack[0]
        assert isinstance(fleet, FleetScreen)
        assert await wait_for(pilot, lambda: connecting.key in fleet.table.order)
        fleet.open_row(connecting.key)
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        screen = app.screen
        assert isinstance(screen, DeviceScreen) and screen.serial is None
        await pilot.press("e")  # nothing to edit until the serial is known
        await pilot.pause(0.1)
        assert app.screen is screen
        assert any("serial is known" in n.message for n in app._notifications)
        post_fleet(app, [state(0, FLEET[0]).model_copy(update={"replaces": connecting.key})])
        assert await wait_for(pilot, lambda: screen.ref.key == SERIAL)
        assert await wait_for(pilot, lambda: screen.detail.record is not None)
        assert await wait_for(pilot, lambda: "front door" in text(screen, "#device-title"))
        # the live reading (newer than every stored sample) is shown by the next live flush
        assert await wait_for(pilot, lambda: "48.3°C" in text(screen, "#metric-temperature_c"))
