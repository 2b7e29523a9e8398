"""The device detail's tabs: events, throttle history, the pinned host key and its history,
label/notes/tags. Each table or panel renders what it is given; the screen owns the data.

At 80 columns: times are short (`when`: today's time, else MM-DD HH:MM; `x` exports the full
ones), and messages, flags, endpoints and fingerprints wrap within their column instead of
being cut, the last column taking the width left."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Static, TabbedContent, TabPane

from fleet_tui.core.net.ssh import fingerprint
from fleet_tui.core.records import DeviceRecord, EventRecord, HostKeyEvent
from fleet_tui.screens.common.format import cell, literal, stamp, when
from fleet_tui.screens.common.keyed_table import KeyedTable
from fleet_tui.screens.device.device_data import ThrottleChange

EVENT_COLUMNS = [("when", "When", 11), ("kind", "Kind", 17), ("message", "Message", 30)]
THROTTLE_COLUMNS = [("since", "Since", 11), ("now", "Now", 30), ("boot", "Since boot", 30)]
KEY_COLUMNS = [
    ("when", "When", 11),
    ("reason", "Reason", 10),
    ("endpoint", "Endpoint", 21),
    ("fingerprint", "Fingerprint", 25),  # SHA256:… is 50 cells: two lines at 80 columns
]
# the tab's table, focused when the tab is chosen by key
TAB_TABLES = {"events": "#device-events", "throttle": "#device-throttle", "hostkey": "#device-keys"}


class EventsTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(EVENT_COLUMNS, id=id, wrap=("message",), flex="message")

    def show(self, events: Sequence[EventRecord], now: float | None = None) -> None:
        rows = {f"{e.origin}:{e.seq}": e for e in events}
        self.sync(
            list(rows),
            lambda k: (cell(when(rows[k].time, now)), cell(rows[k].kind), cell(rows[k].message)),
            set(rows),
        )


def flags(names: Sequence[str]) -> str:
    return ", ".join(names)


class ThrottleTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(
            THROTTLE_COLUMNS, zebra_stripes=False, id=id, wrap=("now", "boot"), flex="boot"
        )

    def show(self, changes: Sequence[ThrottleChange], now: float | None = None) -> None:
        rows = {f"{c.time}": c for c in changes}
        self.sync(
            list(rows),
            lambda k: (
                cell(when(rows[k].time, now)),
                cell(flags(rows[k].current) or "ok"),
                cell(flags(rows[k].sticky) or "-"),
            ),
            set(rows),
        )


class PinnedKey(Static):
    def show(self, key: str | None, since: float | None) -> None:
        if key:  # 75 cells: one line at 80 columns
            text = Text.assemble(("pinned ", "bold"), stamp(since)[:16], "  ")
            text.append_text(literal(fingerprint(key)))
        else:
            text = Text("no host key pinned for this endpoint yet")
        self.update(text)


class KeyHistoryTable(KeyedTable):
    def __init__(self, id: str | None = None) -> None:
        super().__init__(
            KEY_COLUMNS,
            zebra_stripes=False,
            id=id,
            wrap=("endpoint", "fingerprint"),
            flex="fingerprint",
        )

    def show(self, history: Sequence[HostKeyEvent], now: float | None = None) -> None:
        rows = {f"{e.origin}:{e.seq}": e for e in history}
        self.sync(
            list(rows),
            lambda k: (
                cell(when(rows[k].time, now)),
                cell(rows[k].reason),
                cell(rows[k].endpoint),
                cell(fingerprint(rows[k].key)),
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
