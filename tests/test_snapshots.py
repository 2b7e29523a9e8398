"""Snapshots at 80×24 (a jump host's terminal) and 160×48, from a fixed fleet with the pipeline
off and the clock frozen. Update after a deliberate change: pytest --snapshot-update."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from test_tui_support import (
    FLEET,
    command_line,
    fleet_states,
    make_app,
    post_fleet,
    seed_store,
    state,
    utc,
    wait_for,
)

from fleet_tui.app import FleetApp
from fleet_tui.core.store.database import Store
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen

_ = utc
SIZES = [(80, 24), (160, 48)]
Compare = Callable[..., bool]


def _app(tmp_path: Path, **kwargs: Any) -> FleetApp:
    db = tmp_path / "fleet.db"
    seed_store(db)
    app = make_app(db, **kwargs)
    app.sub_title = "fleet.db"  # not the temporary path
    return app


async def _loaded(pilot: Any) -> None:
    app = pilot.app
    states = fleet_states()
    post_fleet(app, states)
    fleet = app.screen_stack[0]
    assert isinstance(fleet, FleetScreen)

    def ready() -> bool:
        m = fleet.model
        return (
            m is not None
            and fleet.table.row_count == 10
            and not fleet._pending
            and all(
                m.rows.get(s.key) is not None and m.rows[s.key].state is not None for s in states
            )
        )

    assert await wait_for(pilot, ready)


def _then(*steps: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
    async def run(pilot: Any) -> None:
        await _loaded(pilot)
        for step in steps:
            await step(pilot)
        await pilot.pause(0.1)

    return run


def _press(*keys: str) -> Callable[[Any], Awaitable[None]]:
    async def step(pilot: Any) -> None:
        await pilot.press(*keys)
        await pilot.pause(0.1)

    return step


async def _device(pilot: Any) -> None:
    fleet = pilot.app.screen_stack[0]
    fleet.open_row(FLEET[0][1])  # by serial
    assert await wait_for(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, DeviceScreen)
            and pilot.app.screen.detail.record is not None
        ),
    )


@pytest.mark.parametrize("size", SIZES)
def test_fleet_overview(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_then())


@pytest.mark.parametrize("size", SIZES)
def test_fleet_filtered_sorted_marked(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    steps = _then(_press("s", "S", "space", "space"), _press("slash", *"!status:ok"))
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=steps)


@pytest.mark.parametrize("size", SIZES)
def test_device_detail(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=_then(_device))


@pytest.mark.parametrize("size", SIZES)
def test_help_on_the_fleet(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    assert snap_compare(
        _app(tmp_path), terminal_size=size, run_before=_then(_press("question_mark"))
    )


def test_help_commands_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    """One page down from the keys: every `:` command with its aliases, wrapped, not cut."""
    steps = _then(_press("question_mark"), _press("pagedown"))
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_help_on_the_device_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    steps = _then(_device, _press("question_mark"))
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def _many_devices(n: int) -> Callable[[Any], Awaitable[None]]:
    """`n` more Pis on a site LAN (port 22, the longest IPv4 addresses): a scrollbar."""

    async def step(pilot: Any) -> None:
        from fleet_tui.core.models import DeviceState

        states: list[DeviceState] = []
        for i in range(n):
            raw = ("0x0", "0x50005", "0x50000", "0x80008")[i % 4]
            spec = (f"pi-4b-{100 + i}", f"20000000b{i:07x}", FLEET[0][2], 45.0 + i, raw)
            address = f"192.168.100.{200 + i}"
            states.append(
                state(i, (*spec, True, None)).model_copy(
                    update={"address": address, "port": 22, "endpoint": f"{address}:22"}
                )
            )
        post_fleet(pilot.app, states)
        fleet = pilot.app.screen_stack[0]
        assert await wait_for(pilot, lambda: fleet.table.row_count == 10 + n and not fleet._pending)

    return step


def test_fleet_table_at_80x24_without_scrolling_sideways(
    snap_compare: Compare, tmp_path: Path, utc: None
) -> None:
    """Host, status, temperature, throttling, model, uptime, last seen and address of every
    row in 80 columns, with a scrollbar, marks and the longest IPv4 addresses."""
    steps = _then(_many_devices(30), _press("space", "space"))
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_device_host_key_tab_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    """The fingerprint in full (two lines in its column), the pin's date on one line."""
    steps = _then(_device, _press("3"))
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


@pytest.mark.parametrize("size", SIZES)
def test_reboot_confirmation_for_marked_devices(
    snap_compare: Compare, tmp_path: Path, size: tuple[int, int], utc: None
) -> None:
    steps = _then(_press("down", "space", "space", "R"))
    assert snap_compare(_app(tmp_path), terminal_size=size, run_before=steps)


def test_command_mode_completion(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    steps = _then(_press("colon", *"dev pi-5-0"))
    assert snap_compare(_app(tmp_path), terminal_size=(80, 24), run_before=steps)


def test_readonly_device_detail(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    assert snap_compare(
        _app(tmp_path, readonly=True), terminal_size=(80, 24), run_before=_then(_device)
    )


def test_no_color_keeps_status_readable(
    snap_compare: Compare, tmp_path: Path, utc: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = _app(tmp_path)
    assert app.no_color
    assert snap_compare(app, terminal_size=(80, 24), run_before=_then())


def _walk_app(tmp_path: Path) -> FleetApp:
    from walk_support import build_rack

    db = tmp_path / "fleet.db"
    with Store.open(db) as store:
        build_rack(store)
    app = make_app(db)
    app.sub_title = "fleet.db"
    return app


def _thermal_app(tmp_path: Path) -> FleetApp:
    from thermal_tui_support import seed_thermal

    db = tmp_path / "fleet.db"
    seed_thermal(db)
    app = make_app(db)
    app.sub_title = "fleet.db"
    return app


async def _walk_open(pilot: Any) -> None:
    from fleet_tui.screens.racks.walkthrough import WalkScreen

    app = pilot.app
    await command_line(pilot, "walk R2")
    assert await wait_for(
        pilot,
        lambda: (
            isinstance(app.screen, WalkScreen)
            and "slot 1" in str(app.screen.query_one("#walk-where").render())
        ),
    )
    await pilot.pause(0.1)


async def _walk_to_the_end(pilot: Any) -> None:
    """y, e, e (pi-5-002 missing), its serial scanned in the next slot, a code that matches
    nothing at U8, then n at the rear of U8 (it stays and asks), and ↓ to the summary."""
    from fleet_tui.screens.racks.walkthrough import SCANNER_GAP_S, WalkScreen

    await _walk_open(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WalkScreen)
    for key in ("y", "e", "e"):
        await pilot.press(key)
        await pilot.pause(SCANNER_GAP_S * 3)
    for code in ("10000000ABCDEF01", "NOPE-1"):
        await pilot.press(*code, "enter")
        await pilot.pause(0.2)
    await pilot.press("n")
    assert await wait_for(pilot, lambda: "scan what is there" in str(screen.last))
    await pilot.press("down")
    assert await wait_for(
        pilot, lambda: "Summary" in str(screen.query_one("#walk-summary").render())
    )
    await pilot.pause(0.1)


def test_walkthrough_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    assert snap_compare(_walk_app(tmp_path), terminal_size=(80, 24), run_before=_walk_open)


def test_walkthrough_summary_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    assert snap_compare(_walk_app(tmp_path), terminal_size=(80, 24), run_before=_walk_to_the_end)


def _configs(tmp_path: Path) -> FleetApp:
    """A config pushed to one Pi (v1) as another text than its template gives now; no
    pipeline: the devices' files are unknown, and the screen says so."""
    from fleet_tui.core.configs.book import ConfigBook, PushRecord
    from fleet_tui.core.store.database import Store

    app = _app(tmp_path)
    with Store.open(tmp_path / "fleet.db") as store:
        book = ConfigBook(store)
        book.add(
            "app",
            "/etc/app/app.conf",
            "host=${device.hostname}\n",
            author="t",
            restart="app.service",
        )
        book.add("ntp", "/etc/systemd/timesyncd.conf", "[Time]\nNTP=${site.name}\n", author="t")
        version = book.version("app")
        book.record_push(
            PushRecord(
                "app", FLEET[0][1], version.key, "0" * 64, "host=x\n", "written", "", "op", "t", 0.0
            )
        )
    return app


def test_config_screen_at_80x24(snap_compare: Compare, tmp_path: Path, utc: None) -> None:
    async def open_configs(pilot: Any) -> None:
        from test_tui_support import command_line

        from fleet_tui.screens.deploy.configs import ConfigScreen

        await command_line(pilot, "config app")
        assert await wait_for(
            pilot,
            lambda: isinstance(pilot.app.screen, ConfigScreen) and bool(pilot.app.screen.views),
        )

    steps = _then(open_configs, _press("tab", "down", "down"))
    assert snap_compare(_configs(tmp_path), terminal_size=(80, 24), run_before=steps)


def _command(line: str, table: str, rows: int) -> Callable[[Any], Awaitable[None]]:
    async def step(pilot: Any) -> None:
        from test_tui_support import command_line

        await command_line(pilot, line)
        assert await wait_for(
            pilot, lambda: pilot.app.screen.query_one(table).row_count >= rows, 10.0
        )
        await pilot.pause(0.3)

    return step


@pytest.mark.parametrize(
    ("line", "table", "rows"),
    [
        ("thermal", "#thermal-hot", 10),
        ("power", "#power-devices", 10),
        ("policies", "#policies-events", 3),
    ],
    ids=["thermal", "power", "policies"],
)
def test_thermal_power_policies_at_80x24(
    snap_compare: Compare, tmp_path: Path, utc: None, line: str, table: str, rows: int
) -> None:
    """:thermal (heat map with °C and words, ambient per rack, hottest, trend), :power
    (measured apart from estimates, the budget, outlets as recorded), :policies (rules and
    the firing/clearing events)."""
    steps = _then(_command(line, table, rows))
    assert snap_compare(_thermal_app(tmp_path), terminal_size=(80, 24), run_before=steps)
