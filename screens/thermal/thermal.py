"""`:thermal`: per rack a heat map of units × slots (°C and a word for the state), the hottest
devices with their throttle flags and fan, the highlighted one's trend over the last hour or
day (samples and rollups), and each rack's ambient sensors.

Read in a worker from the store (core/thermal/dashboard.py), with the live fleet's newest
readings laid over it; refreshed every few seconds. `F` sets a Pi 5's fan (full / automatic)
through the operation runner; `--readonly` refuses it.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from fleet_tui.core.models import Health
from fleet_tui.core.ops.journal import DeviceTarget
from fleet_tui.core.records import SampleRecord
from fleet_tui.core.store.samples import SampleLog
from fleet_tui.core.text import visible
from fleet_tui.core.thermal.dashboard import DeviceThermal, ThermalView, load_thermal
from fleet_tui.core.thermal.fan import PI5
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.format import Cell, cell
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandError, CommandSpec, register_command, run_line
from fleet_tui.screens.common.sparkline import SCALES, metric_text
from fleet_tui.screens.common.text_lines import TextLines
from fleet_tui.screens.thermal.thermal_render import (
    STATE_STYLE,
    fan_text,
    flags_text,
    heat_maps,
    summary_line,
)

REFRESH_S = 5.0
HOTTEST = 50  # the hottest devices listed (every device: fleet-tui thermal, export thermal)
SPANS = {"hour": 3600.0, "day": 86400.0}
COLUMNS = [
    ("host", "Host", 16),
    ("temp", "°C", 5),
    ("state", "State", 8),
    ("flags", "Flags", 9),
    ("fan", "Fan", 11),
    ("where", "Where", 20),
]
HELP = (
    "Heat map: one line per unit holding Pis (top of the rack first), one cell per slot: "
    "°C and ok/warm/hot/critical (narrow cells: o/w/h/c; warm is within 10 °C of the status "
    "warning level, hot at it, critical at the critical level). Flags: UV under-voltage, cap "
    "frequency capped, thr throttled, soft soft limit; past: since boot. Fan: rpm and mode "
    "(auto, manual, full). Trend: the highlighted device's temperature, hour or day (t). "
    "enter opens the device."
)


class ThermalLoaded(Message, bubble=False):
    def __init__(self, view: ThermalView) -> None:
        super().__init__()
        self.view = view


class TrendLoaded(Message, bubble=False):
    def __init__(self, serial: str, span: str, samples: list[SampleRecord]) -> None:
        super().__init__()
        self.serial, self.span, self.samples = serial, span, samples


class ThermalScreen(Screen[None]):
    HELP_LEGEND = HELP
    BINDINGS = [
        Binding("escape", "back", "Back", id="thermal.back", tooltip="back to the previous screen"),
        Binding(
            "t", "trend", "Hour/day", id="thermal.trend", tooltip="trend over an hour or a day"
        ),
        Binding("F", "fan", "Fan", id="thermal.fan", tooltip="a Pi 5's fan: full, or automatic"),
        Binding("r", "reload", "Reload", id="thermal.reload", tooltip="read the store again"),
    ]

    def __init__(self) -> None:
        super().__init__(id="thermal")
        self.view: ThermalView | None = None
        self.span = "hour"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="thermal-summary")
        yield TextLines(id="thermal-maps")  # only the racks on screen are drawn
        yield KeyedTable(COLUMNS, id="thermal-hot", flex="where")
        yield Static(id="thermal-trend")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "thermal"
        self.set_interval(REFRESH_S, self.load)
        self.load()
        self.query_one("#thermal-hot", KeyedTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "fan" and fleet_context(self.app).options.readonly:
            return False
        return True

    # ---- data -------------------------------------------------------------------------------
    def load(self) -> None:
        ctx = fleet_context(self.app)
        live = {
            s.serial: s.health
            for s in ctx.live_states().values()
            if s.serial and s.health is not None and s.reachable
        }
        self._load(live, ctx.options.now())

    @work(thread=True, exclusive=True, group="thermal", exit_on_error=False, description="thermal")
    def _load(self, live: dict[str, Health], now: float) -> None:
        ctx = fleet_context(self.app)
        store = ctx.read_store()
        if store is not None:
            self.post_message(
                ThermalLoaded(load_thermal(store, ctx.options.policy, live=live, now=now))
            )

    @work(
        thread=True, exclusive=True, group="thermal-trend", exit_on_error=False, description="trend"
    )
    def _load_trend(self, serial: str, span: str, now: float) -> None:
        store = fleet_context(self.app).read_store()
        if store is not None:
            samples = SampleLog(store).recent(serial, now - SPANS[span])
            self.post_message(TrendLoaded(serial, span, samples))

    def on_thermal_loaded(self, message: ThermalLoaded) -> None:
        self.view = view = message.view
        maps = self.query_one("#thermal-maps", TextLines)
        width = max(20, maps.scrollable_content_region.width or self.size.width - 2)
        table = self.query_one("#thermal-hot", KeyedTable)
        keys = [d.serial for d in view.devices[:HOTTEST]]
        with self.app.batch_update():
            self.query_one("#thermal-summary", Static).update(summary_line(view))
            maps.show(heat_maps(view, width))
            table.sync(keys, self._cells, set(keys))
        self._trend()

    def _cells(self, serial: str) -> list[Cell]:
        assert self.view is not None
        d = self.view.by_serial[serial]
        temp = f"{d.temperature_c:.1f}" if d.temperature_c is not None else "-"
        return [
            cell(d.hostname),
            cell(temp, STATE_STYLE.get(d.state, "")),
            cell(d.state, STATE_STYLE.get(d.state, "")),
            cell(*flags_text(d)),
            cell(fan_text(d)),
            cell(visible(d.where or "not in a rack", 40), "" if d.where else "dim"),
        ]

    @property
    def selected(self) -> DeviceThermal | None:
        key = self.query_one("#thermal-hot", KeyedTable).cursor_key
        return self.view.by_serial.get(key) if self.view is not None and key else None

    @on(DataTable.RowSelected, "#thermal-hot")
    def _selected(self) -> None:
        self.action_open_device()

    @on(DataTable.RowHighlighted, "#thermal-hot")
    def _highlighted(self) -> None:
        self._trend()

    def _trend(self) -> None:
        d = self.selected
        if d is None:
            self.query_one("#thermal-trend", Static).update(Text("no devices yet", style="dim"))
            return
        self._load_trend(d.serial, self.span, fleet_context(self.app).options.now())

    def on_trend_loaded(self, message: TrendLoaded) -> None:
        d = self.selected
        if d is None or d.serial != message.serial or message.span != self.span:
            return
        now = fleet_context(self.app).options.now()
        readings = [
            (s.time, s.temperature_c) for s in message.samples if s.temperature_c is not None
        ]
        width = max(30, self.size.width - 2)
        value = f"{d.temperature_c:.1f}°C" if d.temperature_c is not None else "-"
        line = metric_text(
            "1 h" if self.span == "hour" else "24 h",
            value,
            readings,
            (now - SPANS[self.span], now),
            SCALES["temperature_c"],
            width,
        )
        out = Text(end="")
        head = Text(f"{d.hostname}: ", style="bold", end="")
        head.append("; ".join(d.reasons) or d.state, style=STATE_STYLE.get(d.state, ""))
        head.truncate(width, overflow="ellipsis")
        out.append_text(head)
        out.append("\n")
        out.append_text(line)
        self.query_one("#thermal-trend", Static).update(out)

    # ---- actions ----------------------------------------------------------------------------
    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_trend(self) -> None:
        self.span = "day" if self.span == "hour" else "hour"
        self.app.notify(f"Trend over the last {self.span}", markup=False)
        self._trend()

    def action_open_device(self) -> None:
        d = self.selected
        if d is None:
            return
        try:
            run_line(self.app, f"device {d.serial}")
        except CommandError as e:
            self.app.notify(str(e), severity="warning", markup=False)

    def action_fan(self) -> None:
        d = self.selected
        if d is None:
            return
        if not d.model.startswith(PI5):
            self.app.notify(
                f"{d.hostname}: fan control is for a Pi 5's fan; this is "
                f"{visible(d.model, 40) or 'a Pi of unknown model'}",
                title="Fan",
                severity="warning",
                markup=False,
            )
            return
        manual = d.fan_mode in ("manual", "full")
        params: dict[str, Any] = {"mode": "auto"} if manual else {"mode": "manual", "percent": 100}
        fleet_context(self.app).start_operation("fan", [DeviceTarget(d.serial, d.hostname)], params)
        what = "automatic control" if manual else "full"
        self.app.notify(f"{d.hostname}: fan to {what} (logged as an operation)", markup=False)


def _open(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(ThermalScreen())


register_command(
    CommandSpec(
        "thermal",
        ("th", "temps"),
        "Thermal dashboard",
        "per rack a heat map (°C and state), hottest devices, trend, flags, fans, ambient",
        _open,
    )
)
