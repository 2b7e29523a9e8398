"""Device detail: facts, live health with last-hour sparklines, the Pi's clock offset and sudo,
throttle history, events, the pinned host key and its history, label/notes/tags editing,
identify and reboot.

The screen owns the data (the stored detail, live updates, the last hour of points) and hands
it to its widgets: device_panels (title, facts, health, clock/sudo), device_tabs (events,
throttle, host key, notes). Identify, reboot and editing live in device_actions; `x` in
device_export."""

from __future__ import annotations

from dataclasses import replace

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Footer, Header, TabbedContent

from fleet_tui.core.models import DeviceState
from fleet_tui.core.ops.events import OperationEvent
from fleet_tui.core.policy import evaluate
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.device.device_actions import DeviceActions
from fleet_tui.screens.device.device_data import (
    HOUR,
    DeviceDetail,
    Point,
    load_detail,
    point_of_health,
    throttle_changes,
)
from fleet_tui.screens.device.device_export import export_tab
from fleet_tui.screens.device.device_panels import (
    ClockSudoLine,
    DeviceTitle,
    FactsPanel,
    HealthPanel,
)
from fleet_tui.screens.device.device_ref import DeviceRef
from fleet_tui.screens.device.device_tabs import (
    TAB_TABLES,
    EventsTable,
    KeyHistoryTable,
    NotesPanel,
    PinnedKey,
    ThrottleTable,
    compose_tabs,
)
from fleet_tui.screens.operations.operations_bar import OperationsBar

__all__ = ["DeviceRef", "DeviceScreen"]

RELOAD_S = 30.0


class DetailLoaded(Message, bubble=False):
    def __init__(self, detail: DeviceDetail) -> None:
        super().__init__()
        self.detail = detail


class DeviceScreen(DeviceActions):
    BINDINGS = [
        Binding(
            "escape",
            "back",
            "Back",
            id="device.back",
            tooltip="back to the previous screen",
            key_display="esc",
        ),
        Binding("e", "edit", "Edit", id="device.edit", tooltip="label, notes and tags"),
        Binding(
            "i", "identify", "Identify", id="device.identify", tooltip="blink the ACT LED for 30 s"
        ),
        Binding(
            "R",
            "reboot",
            "Reboot",
            id="device.reboot",
            tooltip="reboot (type the hostname to confirm)",
        ),
        Binding(
            "P",
            "power",
            "Power",
            id="device.power",
            tooltip="power on/off/cycle through its outlet",
            show=False,
        ),
        Binding(
            "x", "export", "Export", id="device.export", tooltip="CSV of the table on this tab"
        ),
        Binding(
            "r",
            "reload",
            "Reload",
            id="device.reload",
            tooltip="re-read history from the database",
            show=False,
        ),
        Binding("1", "tab('events')", "Events", id="device.tab_events", show=False),
        Binding("2", "tab('throttle')", "Throttle", id="device.tab_throttle", show=False),
        Binding("3", "tab('hostkey')", "Host key", id="device.tab_hostkey", show=False),
        Binding("4", "tab('notes')", "Notes", id="device.tab_notes", show=False),
    ]

    def __init__(self, ref: DeviceRef) -> None:
        super().__init__(id="device")
        self.ref = ref
        self.detail = DeviceDetail()
        self._live: DeviceState | None = None
        self._pending: DeviceState | None = None
        self._points: list[Point] = []

    # ---- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield DeviceTitle(id="device-title")
        with Horizontal(id="device-top"):
            facts = FactsPanel(id="device-facts")
            facts.border_title = "facts"
            yield facts
            health = HealthPanel(id="device-health")
            health.border_title = "last hour → now"
            yield health
        yield ClockSudoLine(id="device-clock")
        yield from compose_tabs()
        yield OperationsBar()
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "fleet-tui"
        self.sub_title = visible(self.ref.hostname, 64)
        ctx = fleet_context(self.app)
        self._live = ctx.live_state(self.ref.key)
        if self._live and self._live.health:
            self._points.append(point_of_health(self._live.health, self._live.clock_skew_s))
        self.set_interval(ctx.options.flush_interval, self._flush_live)
        self.set_interval(RELOAD_S * (4 if ctx.options.low_bandwidth else 1), self.load)
        self._render_all()
        self.load()
        self.query_one("#device-events", KeyedTable).focus()

    # ---- data -------------------------------------------------------------------------
    def operation_updated(self, event: OperationEvent) -> None:
        self.query_one(OperationsBar).operation_updated(event)
        step = event.step
        if step is not None and step.serial == self.serial:
            # a step of this device started or ended, wherever the operation was started:
            # its events tab shows the request and the outcome (core writes the event first)
            self.load()

    @property
    def serial(self) -> str | None:
        return self.ref.serial

    @property
    def endpoint(self) -> str | None:
        return self._live.endpoint if self._live is not None else self.ref.endpoint

    @work(
        thread=True,
        exclusive=True,
        group="device-detail",
        exit_on_error=False,
        description="reading the device's history",
    )
    def load(self) -> None:
        ctx = fleet_context(self.app)
        store = ctx.read_store()
        if store is None:
            return
        detail = load_detail(store, self.serial, self.endpoint, ctx.options.now())
        self.post_message(DetailLoaded(detail))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        self.detail = message.detail
        stored = message.detail.points
        last = stored[-1].time if stored else 0.0
        self._points = stored + [p for p in self._points if p.time > last]
        self._render_all()

    def device_updated(self, state: DeviceState) -> None:
        if state.replaces is not None and state.replaces == self.ref.key:
            # the candidate shown here reported its serial: follow it, read what is stored
            self.ref = replace(self.ref, key=state.key)
            self._pending = state
            self.load()
        elif state.key == self.ref.key:
            self._pending = state

    def _flush_live(self) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        self._live = state
        point = point_of_health(state.health, state.clock_skew_s) if state.health else None
        if point is not None and (not self._points or point.time > self._points[-1].time):
            self._points.append(point)
        cutoff = fleet_context(self.app).options.now() - HOUR
        while self._points and self._points[0].time < cutoff:
            self._points.pop(0)
        with self.app.batch_update():
            self._render_live()

    # ---- rendering -----------------------------------------------------------------------
    def _render_all(self) -> None:
        with self.app.batch_update():
            self._render_live()
            d, now = self.detail, fleet_context(self.app).options.now()
            self.query_one("#device-events", EventsTable).show(d.events, now)
            changes = throttle_changes(self._points)
            self.query_one("#device-throttle", ThrottleTable).show(changes, now)
            self.query_one("#hostkey-pinned", PinnedKey).show(d.pinned_key, d.pinned_at)
            self.query_one("#device-keys", KeyHistoryTable).show(d.key_history, now)
            self.query_one("#device-notes", NotesPanel).show(d.record)

    def _render_live(self) -> None:
        """What a live update can change: title, facts, health and the clock/sudo line."""
        self._render_title()
        self._render_facts()
        self._render_health()
        self._render_clock()

    def _render_title(self) -> None:
        options = fleet_context(self.app).options
        self.query_one("#device-title", DeviceTitle).show(
            self.ref.hostname,
            self.detail.record,
            evaluate(self._live, options.policy),
            options.readonly,
        )

    def _render_facts(self) -> None:
        self.query_one("#device-facts", FactsPanel).show(
            self._live, self.detail.record, self.serial, self.endpoint, self.detail.rack
        )

    def _render_health(self) -> None:
        # a fan's line makes the health panel, and the facts beside it, one line taller
        now = fleet_context(self.app).options.now()
        self.query_one("#device-health", HealthPanel).show(self._points, now)

    def _render_clock(self) -> None:
        self.query_one("#device-clock", ClockSudoLine).show(
            self._live, self.detail.record, fleet_context(self.app).options.policy
        )

    # ---- keys (identify, reboot and edit: DeviceActions) --------------------------------
    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one("#device-tabs", TabbedContent).active = tab
        table = TAB_TABLES.get(tab)
        if table:
            self.query_one(table, KeyedTable).focus()

    def action_reload(self) -> None:
        self.load()

    def action_export(self) -> None:
        tab = self.query_one("#device-tabs", TabbedContent).active
        export_tab(self, tab, self.ref.hostname, self.detail, self._points)
