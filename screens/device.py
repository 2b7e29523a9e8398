"""Device detail: facts, live health with last-hour sparklines, throttle history, events,
the pinned host key and its history, label/notes/tags editing, identify and reboot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Sparkline, Static, TabbedContent, TabPane

from core.export import EventRow, HostKeyRow, ThrottleRow, iso
from core.models import DeviceState
from core.policy import Severity, evaluate
from core.ssh import fingerprint
from core.text import visible
from screens import actions
from screens.context import ReadOnlyError, fleet_context
from screens.device_data import (
    HOUR,
    METRICS,
    DeviceDetail,
    Point,
    load_detail,
    point_of_health,
    series,
    throttle_changes,
)
from screens.device_edit import DeviceEdit, EditDeviceDialog, describe_changes
from screens.exporting import export_rows
from screens.fleet_model import FleetRow
from screens.format import SEVERITY_STYLE, cell, duration, literal, short_os, stamp
from screens.keyed_table import KeyedTable
from screens.registry import CommandError, CommandSpec, register_command

MODIFYING = {"identify", "reboot", "edit"}
EVENT_COLUMNS = [("when", "When", 19), ("kind", "Kind", 16), ("message", "Message", 60)]
THROTTLE_COLUMNS = [("since", "Since", 19), ("now", "Now", 24), ("boot", "Since boot", 40)]
KEY_COLUMNS = [
    ("when", "When", 19),
    ("reason", "Reason", 14),
    ("fingerprint", "Fingerprint", 51),
    ("endpoint", "Endpoint", 21),
]
RELOAD_S = 30.0


@dataclass(frozen=True)
class DeviceRef:
    key: str  # the fleet row key (the live pipeline's key when it is live)
    hostname: str
    serial: str | None
    endpoint: str | None

    @classmethod
    def of(cls, row: FleetRow) -> DeviceRef:
        endpoint = (
            row.state.endpoint if row.state else (row.record.endpoint if row.record else None)
        )
        return cls(row.key, row.hostname, row.serial, endpoint)


class DetailLoaded(Message, bubble=False):
    def __init__(self, detail: DeviceDetail) -> None:
        super().__init__()
        self.detail = detail


class DeviceScreen(Screen[None]):
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
        yield Static(id="device-title")
        with Horizontal(id="device-top"):
            yield Static(id="device-facts")
            with Vertical(id="device-health"):
                for name, _, _ in METRICS:
                    with Horizontal(classes="metric"):
                        yield Static(id=f"metric-{name}", classes="metric-value")
                        yield Sparkline([], id=f"spark-{name}", classes="metric-spark")
        with TabbedContent(id="device-tabs", initial="events"):
            with TabPane("1 Events", id="events"):
                yield KeyedTable(EVENT_COLUMNS, id="device-events")
            with TabPane("2 Throttle", id="throttle"):
                yield KeyedTable(THROTTLE_COLUMNS, id="device-throttle", zebra_stripes=False)
            with TabPane("3 Host key", id="hostkey"):
                yield Static(id="hostkey-pinned")
                yield KeyedTable(KEY_COLUMNS, id="device-keys", zebra_stripes=False)
            with TabPane("4 Notes", id="notes"):
                yield Static(id="device-notes")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.title = "fleet-tui"
        self.sub_title = visible(self.ref.hostname, 64)
        ctx = fleet_context(self.app)
        self._live = ctx.live_state(self.ref.key)
        if self._live and self._live.health:
            self._points.append(point_of_health(self._live.health))
        self.set_interval(ctx.options.flush_interval, self._flush_live)
        self.set_interval(RELOAD_S * (4 if ctx.options.low_bandwidth else 1), self.load)
        self._render_all()
        self.load()
        self.query_one("#device-events", KeyedTable).focus()

    # ---- data -------------------------------------------------------------------------
    @property
    def serial(self) -> str | None:
        live = self._live
        if live is not None and live.facts and live.facts.serial:
            return live.facts.serial
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
        if state.key == self.ref.key:
            self._pending = state

    def _flush_live(self) -> None:
        state, self._pending = self._pending, None
        if state is None:
            return
        self._live = state
        if state.health is not None and (
            not self._points or state.health.time > self._points[-1].time
        ):
            self._points.append(point_of_health(state.health))
        cutoff = fleet_context(self.app).options.now() - HOUR
        while self._points and self._points[0].time < cutoff:
            self._points.pop(0)
        with self.app.batch_update():
            self._render_title()
            self._render_facts()
            self._render_health()

    # ---- rendering -----------------------------------------------------------------------
    def _render_all(self) -> None:
        with self.app.batch_update():
            self._render_title()
            self._render_facts()
            self._render_health()
            self._render_events()
            self._render_throttle()
            self._render_keys()
            self._render_notes()

    def _render_title(self) -> None:
        status = evaluate(self._live, fleet_context(self.app).options.policy)
        rec = self.detail.record
        text = literal(self.ref.hostname, "bold")
        if rec and rec.label:
            text.append(" (")
            text.append_text(literal(rec.label))
            text.append(")")
        text.append("  ")
        text.append(status.severity.value, style=SEVERITY_STYLE[status.severity])
        if status.reasons and status.severity is not Severity.OK:
            text.append(" — ")
            text.append_text(literal("; ".join(status.reasons)))
        if fleet_context(self.app).options.readonly:
            text.append("  READ-ONLY", style="bold")
        self.query_one("#device-title", Static).update(text)

    def _render_facts(self) -> None:
        live, rec = self._live, self.detail.record
        facts = live.facts if live else None

        def pick(name: str) -> object:
            value = getattr(facts, name, None) if facts else None
            return value if value is not None else getattr(rec, name, None) if rec else None

        health = live.health if live else None
        last_seen = live.last_seen if live and live.last_seen else (rec.last_seen if rec else None)
        rows: list[tuple[str, object]] = [
            ("serial", self.serial),
            ("model", pick("model")),
            ("os", short_os(pick("os_name"))),  # type: ignore[arg-type]
            ("kernel", f"{pick('kernel') or '?'} {pick('arch') or ''}".strip()),
            ("address", self.endpoint),
            (
                "up",
                f"{duration(health.uptime_s if health else None)}  seen {stamp(last_seen)[11:]}",
            ),
            ("rack", f"{self.detail.rack or '-'}  agent {pick('agent_version') or '?'}"),
        ]
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, (name, value) in enumerate(rows):
            text.append(f"{name:<8}", style="bold")
            text.append_text(literal("?" if value is None else value))
            if i < len(rows) - 1:
                text.append("\n")
        self.query_one("#device-facts", Static).update(text)

    def _render_health(self) -> None:
        latest = self._points[-1] if self._points else None
        for name, label, fmt in METRICS:
            value = latest.values.get(name) if latest else None
            shown = fmt.format(value) if value is not None else "?"
            self.query_one(f"#metric-{name}", Static).update(
                Text.assemble((f"{label:<6}", "bold"), f"{shown:>8}")
            )
            data = series(self._points, name)
            # one reading is not a trend (Textual would draw it as a full bar)
            self.query_one(f"#spark-{name}", Sparkline).data = data if len(data) > 1 else []

    def _render_events(self) -> None:
        rows = {f"{e.origin}:{e.seq}": e for e in self.detail.events}
        self.query_one("#device-events", KeyedTable).sync(
            list(rows),
            lambda k: (cell(stamp(rows[k].time)), cell(rows[k].kind), cell(rows[k].message)),
            set(rows),
        )

    def _render_throttle(self) -> None:
        rows = {f"{c.time}": c for c in throttle_changes(self._points)}
        self.query_one("#device-throttle", KeyedTable).sync(
            list(rows),
            lambda k: (
                cell(stamp(rows[k].time)),
                cell(",".join(rows[k].current) or "ok"),
                cell(",".join(rows[k].sticky) or "-"),
            ),
            set(rows),
        )

    def _render_keys(self) -> None:
        d = self.detail
        if d.pinned_key:
            text = Text.assemble(
                ("pinned  ", "bold"),
                literal(fingerprint(d.pinned_key)),
                f"  since {stamp(d.pinned_at)}",
            )
        else:
            text = Text("no host key pinned for this endpoint yet")
        self.query_one("#hostkey-pinned", Static).update(text)
        rows = {f"{e.origin}:{e.seq}": e for e in d.key_history}
        self.query_one("#device-keys", KeyedTable).sync(
            list(rows),
            lambda k: (
                cell(stamp(rows[k].time)),
                cell(rows[k].reason),
                cell(fingerprint(rows[k].key)),
                cell(rows[k].endpoint),
            ),
            set(rows),
        )

    def _render_notes(self) -> None:
        rec = self.detail.record
        text = Text()
        text.append("label  ", style="bold")
        text.append_text(literal(rec.label if rec and rec.label else "-"))
        text.append("\ntags   ", style="bold")
        text.append_text(literal(", ".join(rec.tags) if rec and rec.tags else "-"))
        text.append("\nnotes\n", style="bold")
        notes = rec.notes if rec and rec.notes else "-"
        for line in notes.splitlines() or ["-"]:
            text.append_text(literal(line, limit=4000))
            text.append("\n")
        self.query_one("#device-notes", Static).update(text)

    # ---- keys -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in MODIFYING and fleet_context(self.app).options.readonly:
            return False
        return True

    def action_back(self) -> None:
        self.dismiss()

    def action_tab(self, tab: str) -> None:
        self.query_one("#device-tabs", TabbedContent).active = tab
        table = {
            "events": "#device-events",
            "throttle": "#device-throttle",
            "hostkey": "#device-keys",
        }.get(tab)
        if table:
            self.query_one(table, KeyedTable).focus()

    def action_reload(self) -> None:
        self.load()

    def _target(self) -> list[actions.Target]:
        return [actions.Target(self.ref.key, self.ref.hostname, self.serial)]

    def action_identify(self) -> None:
        actions.request(self, "identify", self._target())

    def action_reboot(self) -> None:
        actions.request(self, "reboot", self._target())

    def action_edit(self) -> None:
        ctx = fleet_context(self.app)
        if ctx.options.readonly:
            self.app.notify("Edit refused: read-only mode", severity="warning", markup=False)
            return
        serial = self.serial
        if serial is None:
            self.app.notify(
                "Not reached yet: a device can be edited once its serial is known",
                severity="warning",
                markup=False,
            )
            return
        rec = self.detail.record
        current = DeviceEdit.model_construct(
            label=rec.label or "" if rec else "",
            notes=rec.notes or "" if rec else "",
            tags=tuple(rec.tags) if rec else (),
        )

        def saved(edit: DeviceEdit | None) -> None:
            if edit is not None:
                self._save(serial, edit)

        self.app.push_screen(EditDeviceDialog(visible(self.ref.hostname, 64), current), saved)

    @work(
        thread=True,
        exclusive=True,
        group="device-edit",
        exit_on_error=False,
        description="saving label, notes and tags",
    )
    def _save(self, serial: str, edit: DeviceEdit) -> None:
        ctx = fleet_context(self.app)
        try:
            store = ctx.write_store()
        except ReadOnlyError:
            ctx.report_error("Edit refused", "read-only mode")
            return
        rec = store.get_device(serial)
        changes = edit.changes(
            rec.label if rec else None, rec.notes if rec else None, list(rec.tags) if rec else []
        )
        if not changes:
            self.app.call_from_thread(self.app.notify, "Nothing changed", markup=False)
            return
        store.upsert_device(serial, **changes)
        store.record_event(serial, "edit", describe_changes(changes))
        self.app.call_from_thread(
            self.app.notify, describe_changes(changes), title="Saved", markup=False
        )
        self.app.call_from_thread(self.load)  # workers are started from the UI thread
        reload_fleet = getattr(self.app.screen_stack[0], "load_records", None)
        if reload_fleet is not None:
            self.app.call_from_thread(reload_fleet)

    # ---- export -----------------------------------------------------------------------
    def action_export(self) -> None:
        tab = self.query_one("#device-tabs", TabbedContent).active
        host = self.ref.hostname
        if tab == "events":
            export_rows(
                self,
                "the device's events",
                "events",
                EventRow,
                lambda: [
                    EventRow(
                        time=iso(e.time),
                        serial=e.serial,
                        hostname=host,
                        kind=e.kind,
                        message=e.message,
                    )
                    for e in self.detail.events
                ],
            )
        elif tab == "throttle":
            export_rows(
                self,
                "the throttle history",
                "throttle",
                ThrottleRow,
                lambda: [
                    ThrottleRow(
                        time=iso(c.time),
                        hostname=host,
                        throttled_now=c.current,
                        throttled_past=c.sticky,
                    )
                    for c in throttle_changes(self._points)
                ],
            )
        elif tab == "hostkey":
            export_rows(
                self,
                "the host key history",
                "hostkeys",
                HostKeyRow,
                lambda: [
                    HostKeyRow(
                        time=iso(k.time),
                        hostname=host,
                        endpoint=k.endpoint,
                        reason=k.reason,
                        fingerprint=fingerprint(k.key),
                        key=k.key,
                    )
                    for k in self.detail.key_history
                ],
            )
        else:
            self.app.notify("No table on this tab (1-3 have tables)", markup=False)


# ---- `:device` ----------------------------------------------------------------------------


def _open_device(app: App[Any], arg: str) -> None:
    from screens.fleet import FleetScreen
    from screens.fleet_model import find_rows

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
    while len(app.screen_stack) > 1 and not isinstance(app.screen, FleetScreen):
        app.pop_screen()
    app.push_screen(DeviceScreen(DeviceRef.of(rows[0])))


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
