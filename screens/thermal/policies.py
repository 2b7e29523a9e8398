"""`:policies`: the protective policies (on/off, where each comes from, its rule) and every
firing and clearing in one place (events of kind "policy", newest first). `space` turns the
highlighted policy on or off after a confirmation; `--readonly` refuses it.
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

from fleet_tui.core.ops.process import operator
from fleet_tui.core.policies.book import PolicyBook
from fleet_tui.core.policies.engine import EVENT_KIND
from fleet_tui.core.policies.model import Policy
from fleet_tui.core.records import EventRecord
from fleet_tui.core.store.devices import DeviceBook
from fleet_tui.core.store.events import EventLog
from fleet_tui.core.text import visible
from fleet_tui.screens.common.context import fleet_context
from fleet_tui.screens.common.dialogs import ConfirmDialog
from fleet_tui.screens.common.format import Cell, cell, when
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.common.registry import CommandSpec, register_command

REFRESH_S = 5.0
EVENTS_SHOWN = 300
POLICY_COLUMNS = [
    ("name", "Policy", 17),
    ("on", "On", 3),
    ("origin", "From", 7),
    ("rule", "Rule", 40),
]
EVENT_COLUMNS = [("when", "When", 11), ("host", "Host", 14), ("message", "Message", 40)]
NO_EVENTS = "no policy has fired or cleared yet"
HELP = (
    "A policy fires when its metric stays at or above its threshold for its hold time, and "
    "clears at its lower clear level (no flapping around a threshold). From: default "
    "(built in), config ([policies.NAME] in config.toml) or store (fleet-tui policy set, or "
    "space here; merged with other copies). Firings and clearings, and what the actions did, "
    "are listed below (events of kind policy)."
)


class PoliciesLoaded(Message, bubble=False):
    def __init__(
        self, policies: list[Policy], events: list[EventRecord], names: dict[str, str]
    ) -> None:
        super().__init__()
        self.policies, self.events, self.names = policies, events, names


class PoliciesScreen(Screen[None]):
    HELP_LEGEND = HELP
    BINDINGS = [
        Binding(
            "escape", "back", "Back", id="policies.back", tooltip="back to the previous screen"
        ),
        Binding(
            "space", "toggle_policy", "On/off", id="policies.toggle", tooltip="enable or disable"
        ),
        Binding("r", "reload", "Reload", id="policies.reload", tooltip="read the store again"),
    ]

    def __init__(self) -> None:
        super().__init__(id="policies")
        self.policies: dict[str, Policy] = {}
        self.events: dict[str, EventRecord] = {}
        self.names: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(id="policies-summary")
        yield KeyedTable(POLICY_COLUMNS, id="policies-table", wrap=("rule",), flex="rule")
        yield KeyedTable(EVENT_COLUMNS, id="policies-events", wrap=("message",), flex="message")
        yield Static(Text(NO_EVENTS), id="policies-none")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "policies"
        self.set_interval(REFRESH_S, self.load)
        self.load()
        self.query_one("#policies-table", KeyedTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "toggle_policy" and fleet_context(self.app).options.readonly:
            return False
        return True

    @work(
        thread=True, exclusive=True, group="policies", exit_on_error=False, description="policies"
    )
    def load(self) -> None:
        store = fleet_context(self.app).read_store()
        if store is None:
            return
        policies = PolicyBook(store, _config_policies(self.app)).all()
        events = [e for e in EventLog(store).recent(limit=EVENTS_SHOWN * 4) if e.kind == EVENT_KIND]
        names = {d.serial: d.hostname or d.serial for d in DeviceBook(store).all()}
        self.post_message(PoliciesLoaded(policies, events[:EVENTS_SHOWN], names))

    def on_policies_loaded(self, message: PoliciesLoaded) -> None:
        self.policies = {p.name: p for p in message.policies}
        self.events = {f"{e.origin}/{e.seq}": e for e in message.events}
        self.names = message.names
        on = sum(1 for p in message.policies if p.enabled)
        summary = Text(f"{on} of {len(message.policies)} policies on", end="")
        if fleet_context(self.app).options.readonly:
            summary.append(" · read-only", style="dim")
        with self.app.batch_update():
            self.query_one("#policies-summary", Static).update(summary)
            self.query_one("#policies-table", KeyedTable).sync(
                list(self.policies), self._policy_cells, set(self.policies)
            )
            events = self.query_one("#policies-events", KeyedTable)
            events.sync(list(self.events), self._event_cells, set(self.events))
            events.display = bool(self.events)  # not an empty table of headers: one line
            self.query_one("#policies-none", Static).display = not self.events

    def _policy_cells(self, name: str) -> list[Cell]:
        p = self.policies[name]
        return [
            cell(p.name, "bold" if p.enabled else "dim"),
            cell("yes" if p.enabled else "no", "green" if p.enabled else "dim"),
            cell(p.origin),
            cell(p.body.describe(), "" if p.enabled else "dim"),
        ]

    def _event_cells(self, key: str) -> list[Cell]:
        e = self.events[key]
        style = (
            "bold red"
            if " fired: " in e.message
            else ("green" if " cleared: " in e.message else "")
        )
        host = self.names.get(e.serial or "", e.serial or "(fleet)")
        return [
            cell(when(e.time, fleet_context(self.app).options.now())),
            cell(visible(host, 40)),
            cell(visible(e.message, 400), style),
        ]

    def action_back(self) -> None:
        self.dismiss()

    def action_reload(self) -> None:
        self.load()

    def action_toggle_policy(self) -> None:
        key = self.query_one("#policies-table", KeyedTable).cursor_key
        p = self.policies.get(key or "")
        if p is None:
            return
        verb = "Disable" if p.enabled else "Enable"
        body = Text(f"{p.name}: {p.body.describe()}\n")
        body.append("Stored in the fleet database (merged with other copies); logged.")
        dialog = ConfirmDialog(f"{verb} policy {p.name}?", body, verb)

        def answered(ok: bool | None) -> None:
            if ok:
                self._toggle(p.name, not p.enabled)

        self.app.push_screen(dialog, answered)

    @work(thread=True, group="policies-write", exit_on_error=False, description="policy")
    def _toggle(self, name: str, enabled: bool) -> None:
        store = fleet_context(self.app).write_store()
        PolicyBook(store, _config_policies(self.app)).enable(name, enabled, who=operator())
        self.app.call_from_thread(self.load)


def _config_policies(app: App[Any]) -> list[Policy]:
    """The config file's [policies.NAME], as the running fleet uses them (FleetConfig)."""
    policies = getattr(getattr(app, "config", None), "policies", None)
    return [p for p in policies if isinstance(p, Policy)] if isinstance(policies, list) else []


def _open(app: App[Any], arg: str) -> None:
    while len(app.screen_stack) > 1:
        app.pop_screen()
    app.push_screen(PoliciesScreen())


register_command(
    CommandSpec(
        "policies",
        ("pol", "policy"),
        "Policies",
        "protective policies on/off, and every firing and clearing",
        _open,
    )
)
