"""At 80×24 (a jump host's terminal, no mouse): what a technician reads is there in full.

`?` help wraps on every screen that has it (nothing cut, no sideways scrolling, the commands
and their aliases included); the fleet table shows Host to Address without scrolling sideways,
also with a scrollbar; the device screen shows the model, the kernel and event messages in
full; sparklines carry their scale and do not turn noise into a cliff; `:ops` and the sync
screen keep their messages and columns. Checked on the drawn screen, as a technician sees it.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from test_tui_support import (
    FLEET,
    NOW,
    command_line,
    fleet_states,
    make_app,
    post_fleet,
    seed_store,
    state,
    utc,
    wait_for,
)
from textual.widgets import Input

from fleet_tui.app import FleetApp
from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.journal import DeviceTarget, OperationJournal
from fleet_tui.core.ops.model import OpStatus, StepStatus
from fleet_tui.core.store.database import Store
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.screens.command_mode.help import HelpScreen
from fleet_tui.screens.common.sparkline import BARS, SCALES, bars
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.operations.operations import OperationsScreen
from fleet_tui.screens.sync.sync import SyncScreen

_ = utc
SIZE = (80, 24)
SERIAL = FLEET[0][1]


def screen_lines(app: FleetApp) -> list[str]:
    """The terminal as drawn: 24 lines of plain text (what `tmux capture-pane` would show)."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(
        app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    )
    return console.export_text(styles=False).splitlines()


def words(text: str) -> list[str]:
    return text.split()


def fleet(app: FleetApp) -> FleetScreen:
    screen = app.screen_stack[0]
    assert isinstance(screen, FleetScreen)
    return screen


async def loaded(pilot: Any, app: FleetApp, states: list[DeviceState] | None = None) -> None:
    states = fleet_states() if states is None else states
    post_fleet(app, states)
    screen = fleet(app)

    def ready() -> bool:
        m = screen.model
        return (
            m is not None
            and not screen._pending
            and all(s.key in m.rows and m.rows[s.key].state is not None for s in states)
        )

    assert await wait_for(pilot, ready)
    await pilot.pause(0.1)


async def open_device(pilot: Any, app: FleetApp, serial: str = SERIAL) -> DeviceScreen:
    fleet(app).open_row(serial)
    assert await wait_for(
        pilot,
        lambda: isinstance(app.screen, DeviceScreen) and app.screen.detail.record is not None,
    )
    screen = app.screen
    assert isinstance(screen, DeviceScreen)
    await pilot.pause(0.2)  # the next live flush
    return screen


# ---- ? help ----------------------------------------------------------------------------------
async def read_help(pilot: Any, app: FleetApp) -> tuple[HelpScreen, str]:
    """Open `?` and page through it: everything it showed, line by line."""
    await pilot.press("question_mark")
    assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
    help_screen = app.screen
    assert isinstance(help_screen, HelpScreen)
    await pilot.pause(0.1)
    seen: list[str] = []
    for _ in range(12):
        lines = screen_lines(app)
        assert len(lines) == SIZE[1] and all(len(line) <= SIZE[0] for line in lines)
        seen += lines
        await pilot.press("pagedown")
        await pilot.pause(0.05)
        if screen_lines(app) == lines:
            break
    return help_screen, "\n".join(seen)


def assert_all_readable(help_screen: HelpScreen, shown: str) -> None:
    """Every key's description and id, and every command with its aliases, word for word
    (wrapped onto more lines is fine, cut is not); nothing needs scrolling sideways."""
    for widget in help_screen.query("*"):
        if widget.is_scrollable:
            assert widget.virtual_size.width <= widget.scrollable_content_region.width, widget
    present = set(words(shown))
    missing = []
    for key, what, bid in help_screen._keys:
        missing += [w for w in [*words(what), *words(key), *words(bid)] if w not in present]
    for name, what, also in help_screen.commands:
        missing += [w for w in [name, *words(what), *words(also)] if w not in present]
    assert not missing, f"cut or missing at 80×24: {missing}"


async def test_help_wraps_instead_of_cutting_on_every_screen(tmp_path: Path, utc: None) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    with Store.open(db) as store:  # an operation, so :ops has steps
        journal = OperationJournal(store)
        op = journal.create("identify", "Identify 1 device", [DeviceTarget(SERIAL, "pi-4b-001")])
        journal.set_step(op.id, SERIAL, StepStatus.OK, "LED blinking for 30 s")
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        screens = []
        # the fleet
        help_screen, shown = await read_help(pilot, app)
        assert_all_readable(help_screen, shown)
        assert "UV under-voltage" in shown  # what the table's short forms mean
        screens.append("Fleet")
        await pilot.press("escape")
        # a device
        await open_device(pilot, app)
        help_screen, shown = await read_help(pilot, app)
        assert_all_readable(help_screen, shown)
        screens.append("Device")
        await pilot.press("escape", "escape")
        # :ops
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        help_screen, shown = await read_help(pilot, app)
        assert_all_readable(help_screen, shown)
        screens.append("Operations")
        await pilot.press("escape", "escape")
        # :sync, its peer field focused (the field's own keys come last, in a paragraph)
        await command_line(pilot, "sync")
        assert await wait_for(pilot, lambda: isinstance(app.screen, SyncScreen))
        help_screen, shown = await read_help(pilot, app)
        assert_all_readable(help_screen, shown)
        screens.append("Sync")
        assert screens == ["Fleet", "Device", "Operations", "Sync"]


async def test_help_lists_commands_right_after_the_keys(tmp_path: Path) -> None:
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("question_mark")
        assert await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.pause(0.1)
        await pilot.press("pagedown")  # one page down: the commands, aliases beside them
        await pilot.pause(0.1)
        page = "\n".join(screen_lines(app))
        assert re.search(r":config +Config files .* :configs :cfg", page)  # the first, a-z
        assert re.search(r":device +Device detail .* :dev :d", page)


# ---- the fleet table ---------------------------------------------------------------------------
def many_states(n: int) -> list[DeviceState]:
    """`n` devices on a site LAN (the longest IPv4 addresses, port 22): a scrollbar."""
    out = []
    for i in range(n):
        spec = (f"pi-4b-{i:03d}", f"20000000b{i:07x}", FLEET[0][2], 50.0 + i % 30, "0x50005")
        s = state(i, (*spec, True, None))
        out.append(
            s.model_copy(
                update={
                    "address": f"192.168.100.{200 + i % 55}",
                    "port": 22,
                    "endpoint": f"192.168.100.{200 + i % 55}:22",
                }
            )
        )
    return out


def columns_of(header: str) -> Mapping[str, int]:
    return {m.group(0).rstrip("▲▼"): m.start() for m in re.finditer(r"\S+", header)}


async def test_the_fleet_table_shows_host_to_address_at_80_columns(tmp_path: Path) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        lines = screen_lines(app)
        header = lines[1]
        assert list(columns_of(header))[:8] == [
            "Host",
            "Status",
            "Temp",
            "Throttle",
            "Model",
            "Up",
            "Seen",
            "Address",
        ]
        table = "\n".join(lines[2:12])
        for host in ("pi-4b-001", "pi-zero2w-004", "pi-cm4-005", "pi-old-099"):
            assert re.search(rf"(^|\s){host}\s", table), host
        assert "127.0.0.1:2201" in table and "10.0.0.99 " in table  # port 22: not shown
        assert "was UV,thr" in table and "UV,thr" in table  # throttle words, not cut
        assert "unreachable" in table and "critical" in table
        assert "[bold red]ev…" in table  # too long: cut visibly, never silently

        # hundreds of rows: the scrollbar takes a column, Address still fits
        post_fleet(app, many_states(40))
        assert await wait_for(pilot, lambda: fleet(app).table.row_count == 50)
        await pilot.pause(0.1)
        lines = screen_lines(app)
        rows = [line for line in lines[2:21] if "pi-4b-0" in line]
        assert len(rows) >= 10
        for line in rows:
            assert re.search(r" (127\.0\.0\.1:22\d\d|192\.168\.100\.2\d\d) ", line), line
            assert "…" not in line


# ---- the device screen -------------------------------------------------------------------------
async def test_the_device_screen_shows_model_kernel_and_messages_in_full(
    tmp_path: Path, utc: None
) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    long = (
        "reboot failed: 127.0.0.1:2205: unreachable (connection refused) after 3 attempts "
        "over 20 s; the device may still be booting"
    )
    with Store.open(db) as store:
        EventLog(store).record(FLEET[4][1], "reboot_failed", long)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        cm4 = state(4, FLEET[4])
        assert cm4.facts is not None
        cm4 = cm4.model_copy(
            update={"facts": cm4.facts.model_copy(update={"kernel": "6.12.25+rpt-rpi-2712"})}
        )
        await loaded(pilot, app, [*fleet_states()[:4], cm4])
        await open_device(pilot, app, FLEET[4][1])
        await pilot.pause(0.1)
        shown = "\n".join(screen_lines(app))
        assert "Pi Compute Module 4 Rev 1.1" in shown  # the model, less "Raspberry"
        assert "6.12.25+rpt-rpi-2712 aarch64" in shown
        assert "reboot_failed" in shown
        present = words(shown)
        assert all(w in present for w in words(long)), "the event message is cut"

        await pilot.press("escape")
        await open_device(pilot, app)
        shown = "\n".join(screen_lines(app))
        assert "identify requested by tech from fleet-tui" in shown


def noisy_hour(temps: tuple[float, float]) -> list[tuple[str, dict[str, object]]]:
    return [
        (
            SERIAL,
            {
                "time": NOW - 3600 + 30 * k,
                "temperature_c": temps[k % 2],
                "cpu_percent": 4 + k % 2,
                "load": [0.2],
                "mem_total_mb": 4096,
                "mem_available_mb": 3000,
            },
        )
        for k in range(120)
    ]


def health_line(lines: list[str], label: str) -> str:
    """The health panel's line of one metric, from its label on."""
    line = next(line for line in lines if re.search(rf"\b{label} ", line))
    return line[line.index(f"{label} ") :]


async def test_sparklines_show_their_scale_and_keep_noise_flat(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db, samples=False)
    with Store.open(db) as store:
        SampleLog(store).record_many(noisy_hour((66.0, 66.1)))
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        live = state(0, FLEET[0])
        assert live.health is not None
        live.health = live.health.model_copy(update={"temperature_c": 66.1, "cpu_percent": 5.0})
        await loaded(pilot, app, [live])
        await open_device(pilot, app)
        lines = screen_lines(app)
        temp = health_line(lines, "Temp")
        assert temp.rstrip().endswith("60–70°C"), temp  # the scale, with its unit
        drawn = {c for c in temp if c in BARS}
        assert len(drawn) == 1, temp  # 0.1 °C of noise: one height, not ▁ and █
        cpu = health_line(lines, "CPU")
        assert cpu.rstrip().endswith("0–100%") and {c for c in cpu if c in BARS} == {"▁"}
        assert "0–1" in health_line(lines, "Load")
        assert "no readings" in health_line(lines, "Power")  # a Pi 4 has no PMIC


async def test_a_pi_whose_clock_is_days_off_draws_its_live_readings_at_now(
    tmp_path: Path,
) -> None:
    seed_store(tmp_path / "fleet.db")
    app = make_app(tmp_path / "fleet.db")
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        screen = await open_device(pilot, app)
        line = screen.query_one("#metric-temperature_c")
        before = len(line.readings)  # type: ignore[attr-defined]
        behind = state(0, FLEET[0])  # booted without NTP: its clock 3 days behind
        assert behind.health is not None
        behind.health = behind.health.model_copy(
            update={"time": NOW + 1 - 259200, "temperature_c": 71.5}
        )
        behind.clock_skew_s = -259200
        post_fleet(app, [behind])
        assert await wait_for(pilot, lambda: len(line.readings) == before + 1)  # type: ignore[attr-defined]
        t, value = line.readings[-1]  # type: ignore[attr-defined]
        assert value == 71.5 and abs(t - (NOW + 1)) < 1
        assert health_line(screen_lines(app), "Temp").rstrip().endswith("°C")


def test_an_axis_spans_what_each_metric_needs() -> None:
    temp = SCALES["temperature_c"]
    assert temp.axis([66.0, 66.1]) == (60.0, 70.0)  # at least 10 °C
    assert temp.axis([45.0, 54.5]) == (45.0, 55.0)
    assert temp.axis([38.0, 83.0]) == (35.0, 85.0)  # wider data: wider axis
    assert SCALES["cpu_percent"].axis([3.0, 4.0]) == (0.0, 100.0)
    assert SCALES["load1"].axis([3.93]) == (0.0, 4.0)
    assert SCALES["power_w"].axis([3.2, 7.0]) == (0.0, 10.0)
    lo, hi = SCALES["core_volts"].axis([0.85])
    assert (lo, hi) == (0.7, 0.9) and SCALES["core_volts"].label((lo, hi)) == "0.7–0.9V"


def test_bars_are_time_slices_with_gaps_left_blank() -> None:
    readings = [(0.0, 10.0), (10.0, 10.0), (50.0, 90.0), (59.0, 100.0)]
    assert bars(readings, 0.0, 60.0, 6, (0.0, 100.0)) == "▂▂   █"
    assert bars([], 0.0, 60.0, 4, (0.0, 1.0)) == "    "


# ---- :ops and :sync ------------------------------------------------------------------------------
async def test_ops_steps_keep_their_messages_and_serials(tmp_path: Path) -> None:
    db = tmp_path / "fleet.db"
    seed_store(db)
    reason = (
        "127.0.0.1:2202: unreachable (connection refused) after 3 attempts over 20 s; "
        "nothing was sent"
    )
    with Store.open(db) as store:
        journal = OperationJournal(store)
        targets = [DeviceTarget(FLEET[i][1], FLEET[i][0]) for i in range(2)]
        op = journal.create("reboot", "Reboot 2 devices", targets)
        journal.set_step(op.id, FLEET[0][1], StepStatus.OK, "reboot accepted")
        journal.set_step(op.id, FLEET[1][1], StepStatus.FAILED, reason)
        journal.finish(op, OpStatus.PARTIAL)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await command_line(pilot, "ops")
        assert await wait_for(pilot, lambda: isinstance(app.screen, OperationsScreen))
        screen = app.screen
        assert await wait_for(pilot, lambda: len(screen.steps) == 2)  # type: ignore[attr-defined]
        await pilot.pause(0.1)
        shown = "\n".join(screen_lines(app))
        present = words(shown)
        assert all(w in present for w in words(reason)), "the failure reason is cut"
        assert FLEET[1][1] in shown and "1 ok, 1 failed" in shown
        assert op.id[-4:] in shown  # what `fleet-tui ops show` takes


async def test_sync_edits_fit_80_columns(tmp_path: Path) -> None:
    from test_sync_screen import _peer_pair

    db, peer = _peer_pair(tmp_path)
    app = make_app(db)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("colon")
        app.screen.query_one("#command-input", Input).value = f"sync {peer}"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: isinstance(app.screen, SyncScreen))
        assert await wait_for(pilot, lambda: app.screen.outcome is not None, 10.0)  # type: ignore[attr-defined]
        await pilot.press("2")
        await pilot.pause(0.1)
        lines = screen_lines(app)
        header = next(line.strip() for line in lines if line.strip().startswith("Table"))
        assert list(columns_of(header)) == ["Table", "Key", "Column", "Ours", "Theirs", "Kept"]
        row = next(line for line in lines if line.strip().startswith("devices"))
        assert row.split() == ["devices", "s2", "label", "shelf", "A", "shelf", "B", "ours"]
        edits = app.screen.query_one("#sync-edits")
        assert edits.virtual_size.width <= edits.scrollable_content_region.width  # no sideways


@pytest.mark.parametrize(("width", "text"), [(9, "pi-4b-001"), (8, "pi-4b-0…"), (1, "…")])
def test_a_cut_cell_ends_in_an_ellipsis(width: int, text: str) -> None:
    from fleet_tui.screens.common.format import fit

    assert fit("pi-4b-001", width) == text
