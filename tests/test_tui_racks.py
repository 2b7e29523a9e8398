"""The rack screens driven by keys, as a technician would: `:racks`, `:rack A1`, arrows over
units and slots, the overlay, move, place with the fleet's filter, remove, identify on the
simulated lab, and --readonly refusing every write. The racks are real rows made by RackBook
in a real store (tests/rack_support.py); the pipeline is off except for identify."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path
from typing import Any

from rack_support import SERIALS, UNPLACED, seed_racks
from test_tui_support import (
    FLEET,
    HOSTILE_HOST,
    command_line,
    exported_csv,
    fleet_states,
    live_demo,
    make_app,
    post_fleet,
    state,
    utc,
    wait_for,
)
from textual.widgets import Input

from fleet_tui.core.models import Health
from fleet_tui.core.ops.journal import OperationJournal
from fleet_tui.core.racks.book import RackBook
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.common.dialogs import ConfirmDialog, ExportDialog
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.racks.rack import RackScreen
from fleet_tui.screens.racks.rack_model import Overlay
from fleet_tui.screens.racks.rack_picker import DevicePicker
from fleet_tui.screens.racks.racks import RacksScreen


def rack(app: Any) -> RackScreen:
    screen = app.screen
    assert isinstance(screen, RackScreen)
    return screen


def selected(app: Any) -> tuple[str, int | None, int | None] | None:
    view = rack(app).view
    where = view.where()
    if where is None:
        return None
    return view.columns[view.rack].elevation.rack.name, where[1], where[2]


def where_line(app: Any) -> str:
    return str(rack(app).query_one("#rack-where").render())


def screen_text(app: Any) -> str:
    """The rack view's lines as plain text (what a technician reads)."""
    view = rack(app).view
    return "\n".join(view.render_line(y).text for y in range(view.size.height))


def placement(db: Path, serial: str) -> tuple[str, int, int | None] | None:
    with Store.open(db, readonly=True) as store:
        book = RackBook(store)
        p = book.placement_of(serial)
        if p is None:
            return None
        name = {r.id: r.name for r in book.racks()}[p.rack_id]
        return name, p.unit, p.slot


async def opened(pilot: Any, app: Any, name: str = "A1") -> RackScreen:
    post_fleet(app)
    await pilot.pause(0.1)
    await command_line(pilot, f"rack {name}")
    assert await wait_for(
        pilot, lambda: isinstance(app.screen, RackScreen) and app.screen.data is not None
    )
    await pilot.pause(0.1)
    return rack(app)


async def test_racks_list_shows_every_rack_and_enter_opens_the_elevation(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        await command_line(pilot, "racks")
        assert await wait_for(pilot, lambda: isinstance(app.screen, RacksScreen))
        screen = app.screen
        assert isinstance(screen, RacksScreen)
        assert await wait_for(pilot, lambda: screen.table.row_count >= 3)
        rows = {
            screen.table.get_row(k)[2].plain: screen.table.get_row(k) for k in screen.table.order
        }
        a1 = [str(c) for c in rows["A1"]]
        # site, room, rack, height, used, free, devices placed, draw, budget
        assert a1[:7] == ["hq", "lab", "A1", "42", "7", "35", "7"]
        assert a1[8] == "120 W" and a1[7].endswith("est.")
        assert [str(c) for c in rows["A3"]][3:7] == ["24", "1", "23", "0"]
        while (
            screen.table.cursor_key
            and screen.table.get_row(screen.table.cursor_key)[2].plain != "A2"
        ):
            await pilot.press("down")
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: isinstance(app.screen, RackScreen) and app.screen.data is not None
        )
        assert selected(app) == ("A2", 42, 1)


async def test_every_unit_is_drawn_top_first_with_slots_hostnames_and_status_words(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 60)) as pilot:
        await opened(pilot, app)
        assert await wait_for(pilot, lambda: "unreachable" in screen_text(app))
        lines = screen_text(app).splitlines()
        labels = [line.split()[0] for line in lines[1:] if line[:4].strip().startswith("U")]
        assert labels[:4] == ["U42", "U41", "U40", "U39"] and "U1" in labels
        text = screen_text(app)
        assert "poe-switch core-sw-1" in text and "pdu pdu-a" in text
        u40 = next(line for line in lines if line.startswith("U40"))
        assert "1 pi-4b-001" in u40 and " ok" in u40 and "2 pi-5-002" in u40 and "warn" in u40
        # literally: the markup is text, the escape shown as \x1b, never sent to the terminal
        assert HOSTILE_HOST.split("\x1b")[0] + "\\x1b" in text
        assert "\x1b" not in text and "\\x1b[2J" in text
        assert "4 · empty" in text and "· free" in text
        assert "pi-4b-006" in text and "unreachable" in text
        assert "pi-4b-007" not in text  # not placed


async def test_arrows_move_over_units_and_slots_and_into_the_next_rack(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        assert selected(app) == ("A1", 42, None)  # the switch, its top unit
        await pilot.press("down")
        assert selected(app) == ("A1", 40, 1)  # U41 is the switch's too: skipped
        await pilot.press("right", "right")
        assert selected(app) == ("A1", 40, 3)
        await pilot.press("down")
        assert selected(app) == ("A1", 39, 3)
        assert "A1 U39 slot 3" in where_line(app) and "free" in where_line(app)
        await pilot.press("up", "left", "left")
        assert selected(app) == ("A1", 40, 1)
        assert "pi-4b-001" in where_line(app) and SERIALS[0] in where_line(app)
        await pilot.press("end")
        assert selected(app) == ("A1", 1, None)
        view = rack(app).view
        assert view.scroll_y > 0  # U1 is scrolled into view at 80x24
        assert "U1 " in screen_text(app)
        await pilot.press("right")  # past the last slot: the next rack of the room
        assert selected(app)[0] == "A2"
        assert view.scroll_x > 0  # at 80 columns one rack shows at a time
        await pilot.press("home", "enter")
        assert selected(app) == ("A2", 42, 1)
        assert isinstance(app.screen, RackScreen)  # an empty slot: nothing to open
        await pilot.press("left")
        await pilot.press("home", "down")
        assert selected(app) == ("A1", 40, 1)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DeviceScreen))
        assert app.screen.ref.key == SERIALS[0]


async def test_the_overlay_cycles_status_temperature_and_power(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app)
        line = lambda: next(x for x in screen_text(app).splitlines() if x.startswith("U40"))  # noqa: E731
        assert await wait_for(pilot, lambda: " ok│" in line())
        await pilot.press("t")
        assert screen.view.overlay is Overlay.TEMPERATURE
        assert "48.3°C" in line() and "74.9°C" in line()
        assert "°C" in str(screen.query_one("#rack-legend").render())
        await pilot.press("t")
        assert screen.view.overlay is Overlay.POWER
        assert " W est." in line()  # a Pi 4 without a power meter: estimated
        u38 = next(x for x in screen_text(app).splitlines() if x.startswith("U38"))
        assert "—" in u38  # unreachable: unknown
        await pilot.press("t")
        assert screen.view.overlay is Overlay.STATUS and " ok│" in line()


async def test_live_updates_redraw_the_device_in_place(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await opened(pilot, app)
        await pilot.press("t")  # temperature
        hot = state(0, FLEET[0])
        assert hot.health is not None
        health = Health(**{**hot.health.model_dump(), "temperature_c": 85.2})
        post_fleet(app, [hot.model_copy(update={"health": health})])
        assert await wait_for(pilot, lambda: "85.2°C" in screen_text(app))
        await pilot.press("t", "t")  # back to status: the policy's word for 85 °C
        u40 = next(x for x in screen_text(app).splitlines() if x.startswith("U40"))
        assert "critical" in u40.split("│")[0]
        assert screen.view.where() is not None


async def test_move_picks_a_slot_with_arrows_and_enter_escape_cancels(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("down")  # U40 slot 1: pi-4b-001
        await pilot.press("m")
        assert "Moving pi-4b-001" in where_line(app)
        await pilot.press("right", "right", "right", "escape")
        assert rack(app).view.moving is None
        assert placement(db, SERIALS[0]) == ("A1", 40, 1)
        await pilot.press("left", "left", "left", "m", "down", "right", "right")  # U39 slot 3
        assert "to A1 U39 slot 3" in where_line(app)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: placement(db, SERIALS[0]) == ("A1", 39, 3))
        assert await wait_for(pilot, lambda: "3 pi-4b-001" in screen_text(app))
        assert selected(app) == ("A1", 39, 3)  # the cursor stays with it
        # a taken slot is refused with the reason, nothing written
        await pilot.press("m", "left")  # onto slot 2: pi-zero2w-004
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: any("taken" in str(n.message) for n in app._notifications)
        )
        assert placement(db, SERIALS[0]) == ("A1", 39, 3)
    with Store.open(db, readonly=True) as store:
        said = [e.message for e in EventLog(store).recent(SERIALS[0])]
    assert any("moved from A1 U40 slot 1 to A1 U39 slot 3" in m for m in said), said


async def test_place_picks_an_unplaced_device_with_the_fleet_filter(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("down", "right", "right", "right")  # U40 slot 4: empty
        await pilot.press("p")
        assert await wait_for(pilot, lambda: isinstance(app.screen, DevicePicker))
        picker = app.screen
        assert isinstance(picker, DevicePicker)
        assert await wait_for(pilot, lambda: picker.table.row_count == 3)
        assert set(picker.table.order) == set(UNPLACED)  # only devices not in a rack
        await pilot.press(*"model:5")
        assert await wait_for(pilot, lambda: picker.table.order == [SERIALS[7]])
        await pilot.press("backspace", *"4B", "space", *"!status:ok")  # pi-4b-007 is ok
        assert await wait_for(pilot, lambda: picker.table.row_count == 0)
        await pilot.press("space", *"x(")  # a bad regex: said, the list kept
        assert "bad regex" in str(picker.query_one("#picker-count").render())
        for _ in range(len("model:4B !status:ok x(")):
            await pilot.press("backspace")
        await pilot.press(*"pi-5")
        assert await wait_for(pilot, lambda: picker.table.order == [SERIALS[7]])
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: placement(db, SERIALS[7]) == ("A1", 40, 4))
        assert await wait_for(pilot, lambda: "4 pi-5-008" in screen_text(app))
        # an occupied slot: p says what is there instead of opening the picker
        await pilot.press("p")
        await pilot.pause(0.1)
        assert isinstance(app.screen, RackScreen)
        assert any("is taken by pi-5-008" in str(n.message) for n in app._notifications)


async def test_remove_asks_then_takes_the_device_out(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("down", "down", "down")  # U38: pi-4b-006, full width
        assert selected(app) == ("A1", 38, None)
        await pilot.press("d")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("escape")  # no: nothing changes
        await pilot.pause(0.1)
        assert placement(db, SERIALS[5]) == ("A1", 38, None)
        await pilot.press("d")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("tab", "enter")  # danger: the focus starts on Cancel
        assert await wait_for(pilot, lambda: placement(db, SERIALS[5]) is None)
        assert await wait_for(
            pilot,
            lambda: (
                next(x for x in screen_text(app).splitlines() if x.startswith("U38")).split()[1:3]
                == ["·", "free"]
            ),
        )


async def test_x_exports_the_rack_as_csv(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db, export_dir=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ExportDialog))
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: exported_csv(tmp_path, "rack-A1") is not None)
        assert await wait_for(
            pilot, lambda: any("written to" in str(n.message) for n in app._notifications)
        )
    path = exported_csv(tmp_path, "rack-A1")
    assert path is not None
    rows = list(csv.DictReader(path.open()))
    got = {(r["unit"], r["slot"], r["hostname"]) for r in rows if r["serial"]}
    assert ("40", "1", "pi-4b-001") in got and ("38", "", "pi-4b-006") in got
    assert any(r["kind"] == "poe-switch" and r["label"] == "core-sw-1" for r in rows)


async def test_readonly_refuses_every_write_and_says_why(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db, readonly=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        assert "READ-ONLY" in str(rack(app).query_one("#rack-legend").render())
        await pilot.press("down")
        for key in ("m", "d", "i"):
            await pilot.press(key)
            await pilot.pause(0.05)
            assert isinstance(app.screen, RackScreen), key
        await pilot.press("right", "right", "right", "p")  # the empty slot 4
        await pilot.pause(0.05)
        assert isinstance(app.screen, RackScreen)
        said = [str(n.message) for n in app._notifications]
        for verb in ("Move", "Remove", "Identify", "Place"):
            assert any(m.startswith(f"{verb} refused: read-only mode") for m in said), (verb, said)
        assert rack(app).view.moving is None
        await pilot.press("t", "question_mark")  # looking is allowed: overlay and help
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
    assert placement(db, SERIALS[0]) == ("A1", 40, 1)


async def test_help_and_the_command_line_know_the_rack_screens(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        ids = {k[2] for k in help_screen._keys}
        assert {"rack.move", "rack.place", "rack.remove", "rack.identify", "rack.overlay"} <= ids
        assert {"rack.export", "rack.open"} <= ids
        assert {c[0] for c in help_screen.commands} >= {":rack", ":racks"}
        await pilot.press("escape")
        await command_line(pilot, "rack nowhere")
        assert await wait_for(
            pilot,
            lambda: any("unknown rack 'nowhere'" in str(n.message) for n in app._notifications),
        )


async def test_identify_from_the_rack_blinks_the_simulated_pi(tmp_path: Path) -> None:
    """Through the operation runner, on the real agent of a simulated Pi placed in a rack."""
    db = tmp_path / "fleet.db"
    async with live_demo(db, devices=2) as (app, pilot, fleet):
        pi = app.running.lab.pis[0]

        def seed() -> None:
            book = RackBook(app.write_store())
            rack_id = book.add_rack("D1", room="demo", site="lab", height_u=12)
            book.set_tray(rack_id, 12, 4)
            book.place(pi.serial, rack_id, 12, 1)

        await asyncio.to_thread(seed)
        await command_line(pilot, "rack D1")
        assert await wait_for(
            pilot, lambda: isinstance(app.screen, RackScreen) and app.screen.data is not None
        )
        assert selected(app) == ("D1", 12, 1)
        await pilot.press("i")
        assert await wait_for(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("enter")
        assert await wait_for(
            pilot,
            lambda: any(
                "Identify" in (n.title or "") and "accepted" in (n.title or "")
                for n in app._notifications
            ),
            20.0,
        )
    with Store.open(db, readonly=True) as store:
        (op,) = OperationJournal(store).operations()
        assert op.kind == "identify" and [
            s.serial for s in OperationJournal(store).steps(op.id)
        ] == [pi.serial]


_ = (fleet_states, utc)


async def test_an_unknown_rack_stays_put_and_tab_completes_every_rack_in_the_store(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    with Store.open(db) as s:  # no device in it, never opened in this session
        RackBook(s).add_rack("Spare9", room="store", site="hq", height_u=12)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        post_fleet(app)
        fleet = app.screen
        await pilot.pause(0.1)
        await command_line(pilot, "rack nowhere")
        assert await wait_for(
            pilot,
            lambda: any(
                str(n.message) == "unknown rack 'nowhere' (:racks lists them)"
                for n in app._notifications
            ),
        )
        await pilot.pause(0.2)
        assert app.screen is fleet  # no empty rack screen pushed over the fleet
        await pilot.press("colon", *"rack Sp")
        await pilot.pause(0.1)
        await pilot.press("tab")
        assert await wait_for(pilot, lambda: app.screen.query_one(Input).value == "rack Spare9")
        await pilot.press("enter")
        assert await wait_for(
            pilot, lambda: isinstance(app.screen, RackScreen) and app.screen.data is not None
        )
        assert [e.rack.name for e in rack(app).data.elevations] == ["Spare9"]  # type: ignore[union-attr]


async def test_a_unit_claimed_twice_after_a_merge_is_flagged_on_the_elevation(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fleet.db"
    seed_racks(db)
    with Store.open(db) as s:  # what a merge leaves: equipment over pi-4b-006 (U38)
        a1 = RackBook(s).find_rack("A1").id
        fields = {"rack_id": a1, "unit": 38, "height_u": 1, "kind": "shelf", "label": "tools"}
        s.set_row("rack_items", "item-merged", **fields)
    app = make_app(db)
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot, app)
        lines = screen_text(app).splitlines()
        u38 = next(line for line in lines if line.lstrip().startswith("U38"))
        assert "⚠" in u38 and "shelf tools" in u38
        assert not any("⚠" in line for line in lines if line.lstrip().startswith("U40"))
