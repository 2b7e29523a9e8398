"""`:power`: per rack and per power source, the draw against the rack's budget (measured by a
Pi 5's PMIC, else estimated from the model and load: the two are always told apart), every
device's draw and under-voltage now / since boot, and each outlet's state as last recorded.

Read in a worker from the store (core/thermal/power.py), refreshed every few seconds.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static

from fleet_tui.core.text import visible
from fleet_tui.core.thermal.power import DeviceDraw, Group, PowerView, RackPower, load_power
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.format import Cell, cell, when
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandSpec, register_command

REFRESH_S = 5.0
RACK_COLUMNS = [
    ("what", "Rack / source", 16),
    ("draw", "Draw", 24),
    ("budget", "Budget", 12),
    ("devices", "Pis", 3),
]
DEVICE_COLUMNS = [
    ("host", "Host", 16),
    ("watts", "W", 6),
    ("kind", "Kind", 9),
    ("uv", "Under-volt", 11),
    ("source", "Source", 20),
]
HELP = (
    "Draw: measured where the hardware measures (a Pi 5's PMIC), else an estimate from the "
    "model's idle and full-load draw scaled by its load; a rack's line says how much of each. "
    "Budget: the rack's power budget (fleet-tui rack add --budget); over it shows red. "
    "Under-volt: now / since boot (the firmware's flags). Outlets: the state last recorded, "
    "with its time."
)


class PowerLoaded(Message, bubble=False):
    def __init__(self, view: PowerView) -> None:
        super().__init__()
        self.view = view


def budget_cell(r: RackPower) -> Cell:
    if r.budget_w is None:
        return cell("no budget", "dim")
    share = r.total.total_w / r.budget_w * 100 if r.budget_w else 0.0
    return cell(f"{share:.0f}% of {r.budget_w:g} W", "bold red" if r.over_budget else "")


def draw_cell(g: Group) -> Cell:
    return cell(g.describe(), "" if g.measured_w and not g.estimated_w else "italic")


class PowerScreen(Screen[None]):
    HELP_LEGEND = HELP
    BINDINGS = [
        Binding("escape", "back", "Back", id="power.back", tooltip="back to the previous screen"),
        Binding("r", "reload", "Reload", id="power.reload", tooltip="read the store again"),
    ]

    def __init__(self) -> None:
        super().__init__(id="power")
        self.view: PowerView | None = None
        self._rows: dict[str, tuple[str, Group, RackPower | None]] = {}
        self._devices: dict[str, DeviceDraw] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="power-summary")
        yield KeyedTable(RACK_COLUMNS, id="power-racks", wrap=("draw",), flex="draw")
        yield KeyedTable(DEVICE_COLUMNS, id="power-devices", flex="source")
        yield Static(id="power-outlets")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "power"
        self.set_interval(REFRESH_S, self.load)
        self.load()
        self.query_one("#power-racks", KeyedTable).focus()

    @work(thread=True, exclusive=True, group="power", exit_on_error=False, description="power")
    def load(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is not None:
            self.post_message(PowerLoaded(load_power(store)))

    def on_power_loaded(self, message: PowerLoaded) -> None:
        self.view = view = message.view
        rows: dict[str, tuple[str, Group, RackPower | None]] = {}
        for r in view.racks:
            rows[r.rack_id] = (visible(r.rack, 30), r.total, r)
            for name, g in sorted(r.sources.items()):
                rows[f"{r.rack_id}\x00{name}"] = (f"  {visible(name, 40)}", g, None)
        if view.unplaced.devices:
            rows["\x00unplaced"] = ("not in a rack", view.unplaced, None)
        self._rows = rows
        self._devices = {d.serial: d for d in view.devices}
        measured = sum(1 for d in view.devices if d.measured)
        estimated = sum(1 for d in view.devices if d.watts is not None and not d.measured)
        over = [r.rack for r in view.racks if r.over_budget]
        summary = Text(f"{measured} measured · {estimated} estimated", end="")
        uv = sum(1 for d in view.devices if d.under_voltage_now)
        if uv:
            summary.append(f" · {uv} under-voltage now", style="bold red")
        if over:
            summary.append(f" · over budget: {visible(', '.join(over), 60)}", style="bold red")
        with self.app.batch_update():
            self.query_one("#power-summary", Static).update(summary)
            self.query_one("#power-racks", KeyedTable).sync(list(rows), self._rack_cells, set(rows))
            self.query_one("#power-devices", KeyedTable).sync(
                list(self._devices), self._device_cells, set(self._devices)
            )
            self.query_one("#power-outlets", Static).update(self._outlets(view))

    def _rack_cells(self, key: str) -> list[Cell]:
        label, g, rack = self._rows[key]
        return [
            cell(label, "bold" if rack is not None else ""),
            draw_cell(g),
            budget_cell(rack) if rack is not None else cell(""),
            cell(str(g.devices)),
        ]

    def _device_cells(self, serial: str) -> list[Cell]:
        d = self._devices[serial]
        watts = f"{d.watts:.1f}" if d.watts is not None else "-"
        kind_style = "" if d.measured else ("italic" if d.watts is not None else "dim")
        uv = "now" if d.under_voltage_now else ("since boot" if d.under_voltage_since_boot else "-")
        uv_style = "bold red" if d.under_voltage_now else ("yellow" if uv != "-" else "dim")
        return [
            cell(d.hostname),
            cell(watts, kind_style),
            cell(d.kind, kind_style),
            cell(uv, uv_style),
            cell(visible(d.source, 60), "dim" if d.source.startswith("no ") else ""),
        ]

    def _outlets(self, view: PowerView) -> Text:
        if not view.outlets:
            return Text("no outlets defined (fleet-tui outlet add)", style="dim")
        now = fleet_context(self.app).options.now()
        out = Text("Outlets: ", style="bold", end="")
        parts = []
        for o in view.outlets:
            if o.state is None:
                parts.append(f"{o.source} state not recorded")
            else:
                at = f" at {when(o.state_time, now)}" if o.state_time else ""
                parts.append(f"{o.source} {o.state}{at}")
        out.append(visible("; ".join(parts), 400))
        return out

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()


def _open(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(PowerScreen())


register_command(
    CommandSpec(
        "power",
        ("pw", "watts"),
        "Power dashboard",
        "draw per rack and source against its budget (measured vs estimate), under-voltage",
        _open,
    )
)
