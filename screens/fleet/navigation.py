"""`:fleet` and `:device`: the commands that move between the fleet overview and a device.

Here, not in either screen's module, because they need both (the fleet screen opens device
screens; `:device` finds its row in the fleet screen's model): screens import each other one
way only.
"""

from __future__ import annotations

from typing import Any

from textual.app import App

from fleet_tui.core.text import visible
from fleet_tui.screens.common.registry import CommandError, CommandSpec, register_command
from fleet_tui.screens.device.device import DeviceScreen
from fleet_tui.screens.fleet.fleet import FleetScreen
from fleet_tui.screens.fleet.fleet_model import find_rows


def fleet_screen(app: App[Any]) -> FleetScreen:
    """Back to the fleet overview (it is the bottom of the stack) and return it."""
    while len(app.screen_stack) > 1 and not isinstance(app.screen, FleetScreen):
        app.pop_screen()
    screen = app.screen
    if not isinstance(screen, FleetScreen):
        raise RuntimeError("the fleet screen is not running")
    return screen


def _open_fleet(app: App[Any], arg: str) -> None:
    screen = fleet_screen(app)
    if arg:
        screen.set_filter_text(arg)


register_command(
    CommandSpec(
        "fleet",
        ("fl", "f", "devices"),
        "Fleet overview",
        "every device; an argument sets the filter, e.g. :fleet status:critical",
        _open_fleet,
        argument="[FILTER]",
    )
)


def _open_device(app: App[Any], arg: str) -> None:
    fleet = app.screen_stack[0] if app.screen_stack else None
    if not isinstance(fleet, FleetScreen) or fleet.model is None:
        raise CommandError("the fleet is not loaded yet")
    if not arg:
        key = fleet.table.cursor_key
        if key is None:
            raise CommandError("no device under the cursor; give a hostname or serial")
        rows = [fleet.model.rows[key]]
    else:
        rows = find_rows(fleet.model, arg)
    if not rows:
        raise CommandError(f"no device matches {visible(arg)!r}")
    if len(rows) > 1:
        names = ", ".join(visible(r.hostname) for r in rows[:5])
        raise CommandError(f"{len(rows)} devices match {visible(arg)!r}: {names}…")
    fleet_screen(app)  # back to the overview first, so device screens never pile up
    app.push_screen(DeviceScreen(rows[0].device_ref()))


register_command(
    CommandSpec(
        "device",
        ("dev", "d"),
        "Device detail",
        "one device by hostname, serial, address or label (default: the row under the cursor)",
        _open_device,
        argument="[HOST|SERIAL]",
    )
)
