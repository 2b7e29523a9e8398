"""The device detail's tabs: events, throttle history, the pinned host key and its history,
label/notes/tags. Each table or panel renders what it is given; the screen owns the data."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static, TabbedContent, TabPane

from fleet_tui.core.net.ssh import fingerprint
from fleet_tui.core.records import DeviceRecord, EventRecord, HostKeyEvent
from fleet_tui.screens.device_data import ThrottleChange
from fleet_tui.screens.format import cell, literal, stamp
from fleet_tui.screens.keyed_table import KeyedTable

EVENT_COLUMNS = [("when", "When", 19), ("kind", "Kind", 16), ("message", "Message", 60)]
THROTTLE_COLUMNS = [("since", "Since", 19), ("now", "Now", 24), ("boot", "Since boot", 40)]
KEY_COLUMNS = [
    ("when", "When", 19),
    ("reason", "Reason", 14),
    ("fingerprint", "Fingerprint", 51),
    ("endpoint", "Endpoint", 21),
]
# the tab's table, focused when the tab is chosen by key
TAB_TABLES = {"events": "#device-events", "throttle": "#device-throttle", "hostkey": "#device-keys"}


class EventsTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(EVENT_COLUMNS, id=id)

    def show(self, events: Sequence[EventRecord]) -> None:
        rows = {f"{e.origin}:{e.seq}": e for e in events}
        self.sync(
            list(rows),
            lambda k: (cell(stamp(rows[k].time)), cell(rows[k].kind), cell(rows[k].message)),
            set(rows),
        )


class ThrottleTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(THROTTLE_COLUMNS, zebra_stripes=False, id=id)

    def show(self, changes: Sequence[ThrottleChange]) -> None:
        rows = {f"{c.time}": c for c in changes}
        self.sync(
            list(rows),
            lambda k: (
                cell(stamp(rows[k].time)),
                cell(",".join(rows[k].current) or "ok"),
                cell(",".join(rows[k].sticky) or "-"),
            ),
            set(rows),
        )


class PinnedKey(Static):
    def show(self, key: str | None, since: float | None) -> None:
        if key:
            text = Text.assemble(
                ("pinned  ", "bold"), literal(fingerprint(key)), f"  since {stamp(since)}"
            )
        else:
            text = Text("no host key pinned for this endpoint yet")
        self.update(text)


class KeyHistoryTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(KEY_COLUMNS, zebra_stripes=False, id=id)

    def show(self, history: Sequence[HostKeyEvent]) -> None:
        rows = {f"{e.origin}:{e.seq}": e for e in history}
        self.sync(
            list(rows),
            lambda k: (
                cell(stamp(rows[k].time)),
                cell(rows[k].reason),
                cell(fingerprint(rows[k].key)),
                cell(rows[k].endpoint),
            ),
            set(rows),
        )


class NotesPanel(Static):
    def show(self, rec: DeviceRecord | None) -> None:
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
        self.update(text)


def compose_tabs() -> ComposeResult:
    """The tabs, for the screen's compose (`yield from compose_tabs()`)."""
    with TabbedContent(id="device-tabs", initial="events"):
        with TabPane("1 Events", id="events"):
            yield EventsTable(id="device-events")
        with TabPane("2 Throttle", id="throttle"):
            yield ThrottleTable(id="device-throttle")
        with TabPane("3 Host key", id="hostkey"):
            yield PinnedKey(id="hostkey-pinned")
            yield KeyHistoryTable(id="device-keys")
        with TabPane("4 Notes", id="notes"):
            yield NotesPanel(id="device-notes")
